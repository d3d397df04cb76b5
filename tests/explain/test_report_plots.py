"""The report's figure data: pure functions from report data to Plotly dicts, and escaping.

As Optuna does for its plots: test the numbers here, smoke-test the rendering elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from explain.report import check_plots as cp
from explain.report import explain_plots as ep
from explain.report import local_plots as lp
from explain.report import plots, winner_plots
from explain.report._format import clean, fmt_prob, plot_text, round_sig, script_json
from explain.report.attention_plots import attention_figure
from explain.report.beeswarm import beeswarm_data


def trial(number: int, metric: float | None, state: str = "complete", **kw: Any) -> dict:
    return {"number": number, "state": state, "metric": metric, "family": "fnn", **kw}


# --- pure figure data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "maximize", "expected"),
    [
        ([0.5, 0.4, 0.7, None, 0.6, 0.9], True, [0.5, 0.5, 0.7, 0.7, 0.7, 0.9]),
        ([3.0, 4.0, 2.0, None, 2.5, 1.0], False, [3.0, 3.0, 2.0, 2.0, 2.0, 1.0]),
        ([None, float("nan"), 2.0], True, [None, None, 2.0]),
        ([], True, []),
    ],
)
def test_best_so_far(values: list, maximize: bool, expected: list) -> None:
    assert plots.best_so_far(values, maximize) == expected


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.99947816, "0.999"),  # was "1": rounded to 0.9995 first, then to 3 digits
        (0.99945587, "0.999"),
        (0.99996, "> 0.999"),  # "1.000" to three decimals, and it is not 1
        (0.70248473, "0.702"),  # was "0.703" (0.7025 after the first rounding)
        (0.5, "0.500"),
        (0.0004, "< 0.001"),
        (1.0, "1"),
        (0.0, "0"),
        (None, "–"),
    ],
)
def test_a_probability_is_rounded_once_and_never_reads_1_unless_it_is(p, shown) -> None:
    assert fmt_prob(p) == shown


def test_pareto_mask_maximize_and_minimize() -> None:
    metric, cost = [0.9, 0.8, 0.95, 0.85, 0.95], [100, 10, 1000, 50, 2000]
    # (0.95, 2000) is dominated by (0.95, 1000): same metric, more cost.
    assert plots.pareto_mask(metric, cost, maximize=True) == [True, True, True, True, False]
    assert plots.pareto_mask([0.9, 0.8], [10, 20], maximize=True) == [True, False]
    rmse, cost = [5.0, 4.0, 6.0, 4.0], [10, 100, 5, 200]
    assert plots.pareto_mask(rmse, cost, maximize=False) == [True, True, True, False]
    assert plots.pareto_mask([0.5, 0.5], [1, 1], maximize=True) == [True, True]  # ties survive


def test_maximizes_reads_the_direction_then_the_metric_name() -> None:
    assert plots.maximizes({"directions": ["minimize"], "metric": "accuracy"}) is False
    assert plots.maximizes({"metric": "rmse"}) is False
    assert plots.maximizes({"metric": "balanced_accuracy"}) is True


def test_best_by_family_picks_each_familys_best_and_orders_them() -> None:
    trials = [
        trial(0, 0.7, family="fnn"),
        trial(1, 0.9, family="cnn"),
        trial(2, 0.8, family="fnn"),
        trial(3, None, "pruned", family="rnn"),
        trial(4, 0.95, "failed", family="rnn"),
    ]
    rows = plots.best_by_family(trials, maximize=True)
    assert [(r["family"], r["number"], r["trials"]) for r in rows] == [("cnn", 1, 1), ("fnn", 2, 2)]
    low = plots.best_by_family(trials, maximize=False)
    assert [(r["family"], r["number"]) for r in low] == [("fnn", 0), ("cnn", 1)]


def test_history_figure_over_trials_and_time() -> None:
    trials = [trial(0, 0.5, end_s=3.0), trial(1, None, "pruned"), trial(2, 0.7, end_s=1.0)]
    fig = plots.history_figure(trials, True, "accuracy")
    assert fig["data"][0]["x"] == [0, 2] and fig["data"][1]["y"] == [0.5, 0.7]
    by_time = plots.history_figure(trials, True, "accuracy", by="end_s")
    assert by_time["data"][0]["x"] == [1.0, 3.0] and by_time["data"][1]["y"] == [0.7, 0.7]
    assert plots.history_figure([trial(0, None, "failed")], True, "accuracy") is None


def test_pareto_figure_marks_front_and_winner_per_cost() -> None:
    trials = [
        trial(i, m, params=p, flops=p * 2, latency_ms=p / 100)
        for i, (m, p) in enumerate([(0.9, 100), (0.8, 10), (0.95, 1000), (0.85, 500)])
    ]
    fig = plots.pareto_figure(trials, True, "accuracy", winner=2, study_front=[1])
    # (the rest, the study's front, the front of the pair, winner) x (params, FLOPs, latency)
    assert len(fig["data"]) == 12
    rest, own, front, winner = fig["data"][:4]
    assert front["x"] == [10, 100, 1000] and winner["x"] == [1000] and winner["y"] == [0.95]
    assert rest["x"] == [100, 500] and rest["name"] == "complete"
    assert own["x"] == [10] and own["marker"]["color"] == plots.COLORS[1]  # its legend entry
    assert own["name"] == "on the study's front (all objectives)"
    buttons = fig["layout"]["updatemenus"][0]["buttons"]
    assert [b["args"][0]["visible"].count(True) for b in buttons] == [4, 4, 4]
    assert buttons[1]["args"][0]["visible"][4:8] == [True] * 4
    assert plots.pareto_figure([trial(0, 0.9)], True, "accuracy") is None  # no cost at all


def test_confusion_figure_dims_and_row_shares() -> None:
    fig = winner_plots.confusion_figure([[8, 2, 0], [1, 9, 0], [0, 0, 0]], ["a", "b"])
    heat = fig["data"][0]
    assert np.shape(heat["z"]) == (3, 3) and heat["x"] == heat["y"] == ["a", "b", "2"]
    assert heat["z"][0] == [0.8, 0.2, 0.0] and heat["z"][2] == [0, 0, 0]  # empty row: no NaN
    assert heat["text"][1] == [1, 9, 0]
    assert winner_plots.confusion_figure([[1, 2]], ["a"]) is None  # not square
    assert winner_plots.confusion_figure([], []) is None


def test_thin_and_residuals() -> None:
    assert winner_plots.thin(5, 10) == [0, 1, 2, 3, 4]
    idx = winner_plots.thin(10_000, 100)
    assert len(idx) == 100 and idx[0] == 0 and idx[-1] == 9_999
    fig = winner_plots.residual_figure([1.0, 2.0, None], [1.5, 1.0, 3.0])
    assert fig["data"][2]["y"] == [0.5, -1.0]  # predicted - true, the None pair dropped


def test_curves_figure_skips_missing_columns() -> None:
    search = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2, "val_metric": 0.5}]
    retrain = [{"epoch": 1, "train_loss": 0.9, "val_loss": None, "val_metric": None}]
    fig = winner_plots.curves_figure(search, retrain, "accuracy")
    assert [t["name"] for t in fig["data"]] == [
        "train loss",
        "val loss",
        "val accuracy",
        "train loss (retrain)",
    ]
    assert winner_plots.curves_figure(None, [], "accuracy") is None


def test_pick_local_takes_every_category_in_turn() -> None:
    items = [{"index": i, "category": c} for i, c in enumerate("aaaaabbc")]
    picked = lp.pick_local(items, k=5)
    assert [p["index"] for p in picked] == [0, 5, 7, 1, 6]
    assert len(lp.pick_local(items * 10)) == lp.MAX_LOCAL


def test_beeswarm_data_orders_spreads_and_colours() -> None:
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(500, 4))
    values = inputs * np.array([0.1, 3.0, 1.0, 0.0])
    rows = beeswarm_data(values, inputs, ["a", "b", "c", "d"], top=3, max_points=200)
    assert [r["name"] for r in rows] == ["b", "c", "a"]
    for rank, r in enumerate(rows):
        assert len(r["x"]) == len(r["y"]) == len(r["color"]) == 200
        assert all(rank - 0.4 - 1e-9 <= y <= rank + 0.4 + 1e-9 for y in r["y"])
        assert min(r["color"]) == 0.0 and max(r["color"]) == 1.0
    assert beeswarm_data(values, None, [], top=1)[0]["color"] is None
    assert beeswarm_data([], [], []) == []


def test_top_features_and_names() -> None:
    assert ep.top_features([0.1, -3.0, 2.0, float("nan")], 2) == [1, 2]
    assert ep.names_for(["a"], 3) == ["a", "x1", "x2"]


def test_heatmap_grid_has_one_axis_pair_per_map() -> None:
    maps = [(f"class {i}", np.arange(12.0).reshape(3, 4)) for i in range(7)]
    fig = ep.heatmap_grid(maps, cols=3, joint=True)
    assert len(fig["data"]) == 7 and "xaxis7" in fig["layout"] and "yaxis7" in fig["layout"]
    assert max(np.max(t["z"]) for t in fig["data"]) == pytest.approx(1.0)
    assert fig["layout"]["coloraxis"]["cmin"] == 0  # non-negative maps: a sequential scale
    assert ep.heatmap_grid([]) is None


def test_attention_figure_menu_and_size_cap() -> None:
    att = {"layers": np.full((2, 3, 4, 4), 0.25).tolist(), "tokens": ["a", "b"]}
    fig = attention_figure(att)
    labels = [b["label"] for b in fig["layout"]["updatemenus"][0]["buttons"]]
    assert len(labels) == 2 * (1 + 3) and labels[0].startswith("layer 1 · mean")
    assert fig["data"][0]["x"] == ["a", "b", "t2", "t3"]
    small = attention_figure(att, max_values=10)
    assert len(small["layout"]["updatemenus"][0]["buttons"]) == 2  # means only
    assert attention_figure({"layers": []}) is None


def test_agreement_matrix_is_symmetric() -> None:
    rows = [
        {"method": "ig vs dl", "value": 0.8},
        {"method": "ig vs occ", "value": 0.2},
        {"method": "broken", "value": 1.0},
    ]
    methods, m = cp.agreement_matrix(rows)
    assert methods == ["dl", "ig", "occ"]
    assert m[0] == [1.0, 0.8, None] and m[1][2] == m[2][1] == 0.2


def test_local_figures_per_modality() -> None:
    tab = {"input": [1.0, 2.0, 3.0], "attributions": {"ig": [0.1, -2.0, 0.5]}}
    fig = lp.local_figure(tab, "tabular", ["a", "b", "c"])
    assert fig["data"][0]["y"][-1] == "b = 2"  # the largest |attribution| on top
    img = {"input": np.zeros((1, 4, 4)).tolist(), "attributions": {"ig": np.ones((1, 4, 4))}}
    fig = lp.local_figure(img, "image", [])
    assert len(fig["data"]) == 2 and fig["data"][0]["coloraxis"] == "coloraxis2"
    seq = {"input": np.zeros((6, 2)).tolist(), "attributions": {"ig": np.ones((6, 2))}}
    fig = lp.local_figure(seq, "sequence", ["u", "v"])
    assert [t["name"] for t in fig["data"]] == ["u", "v", "ig"]
    assert lp.local_figure({"attributions": {}}, "tabular", []) is None


# --- escaping and numbers --------------------------------------------------------------------


def test_round_sig_and_clean() -> None:
    assert round_sig(0.000123456) == 0.0001235 and round_sig(123456.0) == 123500.0
    assert clean({"a": [np.float32(1.23456), float("nan"), np.int64(3), (1, float("inf"))]}) == {
        "a": [1.235, None, 3, [1, None]]
    }


def test_script_json_cannot_close_the_script_element() -> None:
    obj = {"name": "</script><script>alert(1)</script>", "x": [1.5, float("nan")]}
    text = str(script_json(obj))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": obj["name"], "x": [1.5, None]}


def test_plot_text_escapes_plotly_markup() -> None:
    assert plot_text("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert plot_text("a & b") == "a &amp; b"


def test_whole_numbers_get_whole_ticks_and_a_metric_its_own_scale() -> None:
    """An outsider's report ran the learning curve's accuracy axis from 0 to 2 and put trial
    ticks at 0.5 and 1.5."""
    search = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "val_metric": v}
              for e, v in ((1, 0.97), (2, 0.99), (3, 0.995))]  # fmt: skip
    fig = winner_plots.curves_figure(search, None, "accuracy")
    lo, hi = fig["layout"]["yaxis2"]["range"]
    assert 0.9 < lo < 0.97 and 0.995 < hi <= 1.0
    assert fig["layout"]["xaxis"]["dtick"] == 1 and fig["layout"]["xaxis"]["tickformat"] == "d"
    two = plots.history_figure([trial(0, 0.5), trial(1, 0.7)], True, "accuracy")
    assert two["layout"]["xaxis"]["dtick"] == 1
    many = plots.history_figure([trial(i, 0.5) for i in range(95)], True, "accuracy")
    assert many["layout"]["xaxis"]["dtick"] == 10
    one = plots.history_figure([trial(0, 0.5)], True, "accuracy")
    assert one["layout"]["xaxis"]["tickvals"] == [0]  # not -1, 0, 1
    by_time = plots.history_figure([trial(0, 0.5, end_s=2.5)], True, "accuracy", by="end_s")
    assert "dtick" not in by_time["layout"]["xaxis"]  # seconds are not whole
