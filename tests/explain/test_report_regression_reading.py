"""A regression (or sequence) report read by someone deciding whether to ship, with known
answers: a failed method's attention maps are not drawn, the deletion / insertion curves and
checks are in the target's units, a sequence's input is plotted in its own units, the Verdict
card says what the overview says, a float32-stored 52 reads 52, and the long axis title and the
waterfall's numbers have the room they need."""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np
import pytest

from explain.record import Explanations
from explain.report import check_plots as cp
from explain.report import explain_section as es
from explain.report import local_plots as lp
from explain.report import render_html
from explain.report.beeswarm import TITLE_CHARS, beeswarm_figure
from explain.report.sections import Figures
from explain.types import Attribution, MethodChoice
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")


def _check(name: str, method: str, status: str, value: float = 0.1, **extra: Any) -> dict:
    return {"name": name, "method": method, "value": value, "threshold": 0.2, "status": status,
            "detail": "", "extra": extra}  # fmt: skip


def _card(html: str, marker: str) -> str:
    """The text of the card that opens with ``marker`` (up to the next card)."""
    start = html.index(marker)
    end = html.find('<div class="card', start + len(marker))
    return html[start : end if end > 0 else None]


# --- 1. a failed method's attention maps --------------------------------------------------


def _with_attention_checks(status: str) -> dict[str, Any]:
    """mnist1d's transformer with an ``attention`` method (as explain names it) whose
    infidelity check has ``status``; the maps carry no method name, as older runs stored them."""
    data = copy.deepcopy(fx.sequence_classification())
    exp = data["explanations"]
    exp["global"]["attention"] = copy.deepcopy(exp["global"]["integrated_gradients"])
    exp["methods"].append({"method": "attention", "chosen": False, "reason": "rollout"})
    exp["checks"] += [_check("completeness", "attention", "pass"),
                      _check("infidelity", "attention", status)]  # fmt: skip
    exp["attention"].pop("method", None)
    return data


def test_a_failed_methods_attention_maps_are_not_drawn() -> None:
    """The page said 'Not drawn: attention, because infidelity failed' and drew the maps below
    with no badge, captioned 'bright cells carry the weight'."""
    data = _with_attention_checks("fail")
    figs = Figures()
    view = es.explanations(data, figs)
    att = view["attention"]
    assert att["figure"] is None and not any(f.startswith("fig-attention") for f in figs.figures)
    assert att["badges"] == [{"method": "attention", "status": "fail"}]
    assert att["note"].startswith("Not drawn: attention, the method that reads these maps, "
                                  "failed its checks (infidelity failed: the map does not "
                                  "predict how the output changes")  # fmt: skip
    html = render_html(data)
    card = _card(html, "<h3>Attention maps")
    assert "bright cells carry the weight" not in card and 'class="plot"' not in card
    assert "attention · fail" in card
    row = re.search(r"<tr class=\"trust-fail\"><td><code>attention</code>.*?</tr>", html)
    assert row and "no: dropped" in row.group(0)  # the trust table agrees with the card
    # a method that passed: the maps are drawn, under its badge
    data = _with_attention_checks("pass")
    figs = Figures()
    att = es.explanations(data, figs)["attention"]
    assert att["figure"] in figs.figures
    assert att["badges"] == [{"method": "attention", "status": "pass"}]
    assert "bright cells carry the weight" in _card(render_html(data), "<h3>Attention maps")
    # the maps name the method that judges them: another name is honoured
    data["explanations"]["attention"]["method"] = "attention_rollout"  # failed randomisation
    assert es.explanations(data, Figures())["attention"]["figure"] is None


# --- 2. deletion / insertion in the target's units ----------------------------------------


def _regression(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """The diabetes fixture with y_mean 100 and y_std 20 (the target: 'progression')."""
    data = copy.deepcopy(fx.regression())
    data["run"]["data_info"]["preprocessing"].update({"y_mean": [100.0], "y_std": [20.0]})
    data["explanations"]["checks"] = checks
    return data


def test_deletion_and_insertion_are_in_the_targets_units() -> None:
    """Known answer: a standardized curve 0.5, 0, -0.5 reads 110, 100, 90 (z * 20 + 100); its
    area over fractions 0 to 1 (0) reads 100, the random order's 0.1 reads 102 and the
    threshold 0.05 reads 101. A magnitude map's distances scale only: 0.5 reads 10. The axis
    had said 'output' over standardized values beside a report in the target's units."""
    frac = [0.0, 0.5, 1.0]
    plain = _check("deletion", "integrated_gradients", "pass", 0.0, fractions=frac,
                   curve=[0.5, 0.0, -0.5], random_curve=[0.5, 0.1, -0.3], random_auc=0.1,
                   span=1.0, magnitude=False)  # fmt: skip
    plain["threshold"] = 0.05
    dist = _check("insertion", "saliency", "pass", 0.25, fractions=frac, curve=[0.5, 0.25, 0.0],
                  random_curve=[0.5, 0.4, 0.0], random_auc=0.325, span=0.5,
                  magnitude=True)  # fmt: skip
    data = _regression([plain, dist, _check("completeness", "integrated_gradients", "pass")])
    figs = Figures()
    view = es.explanations(data, figs)
    fig = figs.figures[view["curves"]["figure"]]
    lines = {t["name"]: t["y"] for t in fig["data"]}
    assert lines["integrated_gradients"] == pytest.approx([110.0, 100.0, 90.0])
    assert lines["integrated_gradients (random order)"] == pytest.approx([110.0, 102.0, 94.0])
    assert lines["saliency (|change|)"] == pytest.approx([10.0, 5.0, 0.0])  # distances: x 20
    axis = fig["layout"]["yaxis"]["title"]["text"]
    assert axis == "predicted progression (|change| where marked)"
    rows = {(c["name"], c["method"]): c for c in view["checks"]}
    deletion = rows[("deletion", "integrated_gradients")]
    assert (deletion["value"], deletion["threshold"]) == ("100", "101")
    # the gap to random is a share of the span (0.1 of 1 standardized; the span reads 20)
    assert deletion["detail"] == (
        "area under the predicted progression as inputs are removed in attribution order: 100 vs "
        "102 in random order (in progression's units), below it by 10% of 20 (how far the output "
        "moves from the inputs to the baseline); a pass needs more than 10% below."
    )
    assert rows[("insertion", "saliency")]["value"] == "5"  # 0.25 x 20
    # a distance back to f(x): below random is faithful; (0.325 - 0.25) / 0.5 = 15% of 0.5 x 20
    assert "below it by 15% of 10 (how far" in rows[("insertion", "saliency")]["detail"]
    assert "clearly below random" not in render_html(data)
    assert rows[("completeness", "integrated_gradients")]["value"] == "0.1"  # untouched
    html = render_html(data)
    assert "100 vs 102 in random order (in progression&#39;s units), below it by 10%" in html


def test_the_curves_axis_says_what_it_measures_without_the_targets_scale() -> None:
    check = _check("deletion", "ig", "pass", fractions=[0, 1], curve=[1, 0], magnitude=False)
    assert cp.curves_axis([check], regression=False) == "probability of the explained class"
    assert cp.curves_axis([check], True) == "model output (standardized target)"
    assert cp.curves_axis([check], True, "price") == "predicted price"
    data = copy.deepcopy(fx.tabular_classification())
    figs = Figures()
    fig = figs.figures[es.explanations(data, figs)["curves"]["figure"]]
    assert fig["layout"]["yaxis"]["title"]["text"] == "probability of the explained class"


# --- 3. a sequence's input in its own units -----------------------------------------------


def test_a_sequences_input_is_plotted_in_its_own_units() -> None:
    """sine_forecast's example 78 ends at a raw -0.735, standardized -1.136 (mean -0.00167,
    std 0.6458): the panel had plotted -1.136 beside a next value of -0.4593 in raw units."""
    data = copy.deepcopy(fx.sequence_classification())
    prep = data["run"]["data_info"]["preprocessing"]
    prep["inputs"] = {"method": "standardize", "fitted_on": "train", "per": "feature",
                      "mean": [-0.0016742419549620484], "std": [0.645776985778291]}  # fmt: skip
    exp = data["explanations"]
    z = -1.13589
    for item in exp["local"]:
        item["input"][-1][0] = z
    figs = Figures()
    card = es.explanations(data, figs)["local"][0]
    fig = figs.figures[card["figure"]]
    assert fig["data"][0]["y"][-1] == pytest.approx(-0.7352, abs=1e-4)
    assert fig["layout"]["yaxis"]["title"]["text"] == "input (own units)"
    # without the statistics the axis says the values are standardized
    prep["inputs"] = {"method": "standardize", "fitted_on": "train"}
    figs = Figures()
    card = es.explanations(data, figs)["local"][0]
    fig = figs.figures[card["figure"]]
    assert fig["data"][0]["y"][-1] == pytest.approx(z)
    assert fig["layout"]["yaxis"]["title"]["text"] == "input (standardized)"


# --- 4. the Verdict card ------------------------------------------------------------------


def test_the_verdict_card_says_when_a_baseline_beats_the_winner() -> None:
    """lin.csv: ridge 0.09824 against the winner's 0.1056; the overview said 'ship it
    instead' and the card headed Verdict only gave the network's test score."""
    data = copy.deepcopy(fx.regression())  # test rmse 54.66, interval 50.05-59.27
    data["baselines"] = {"metric": "rmse", "baselines": [
        {"name": "mean predictor", "kind": "trivial", "metrics": {"rmse": 77.0}},
        {"name": "ridge regression", "kind": "classical", "metrics": {"rmse": 45.0}},
    ]}  # fmt: skip
    card = _card(render_html(data), '<div class="card verdict">')
    said = ("The ridge regression beats the winner on this test split (rmse 45 against 54.66, "
            "beyond the winner&#39;s 95% interval): ship it instead")  # fmt: skip
    assert said in card and 'class="bad"' in card
    assert data["verdict"] in card  # the paragraph stays, after the decision
    data["baselines"]["baselines"][1]["metrics"]["rmse"] = 60.0  # worse than the winner
    card = _card(render_html(data), '<div class="card verdict">')
    assert "ship it instead" not in card and data["verdict"] in card


# --- 5. a float32 target that is a whole number -------------------------------------------


def test_a_whole_number_target_stored_in_float32_reads_whole() -> None:
    """diabetes' example 8: y = 52, stored standardized in float32 (mean 153.32, std 77.53);
    the card read 'true 51.99' (4 digits of z, then unstandardized)."""
    mean, std = 153.32142857142858, 77.52880413508358
    y = np.float32((np.array([52.0, 174.0, 302.0]) - mean) / std)
    X = np.zeros((3, 2), dtype=np.float32)
    ig = np.ones((3, 2), dtype=np.float32)
    exp = Explanations(
        task="regression", modality="tabular", input_shape=(2,), feature_names=["a", "b"],
        class_names=[], X=X, y=y, predicted=y, probability=np.full(3, np.nan),
        attributions={"integrated_gradients": Attribution(
            "integrated_gradients", ig, np.zeros(3, dtype=np.int64), "zeros")},
        choices=[MethodChoice("integrated_gradients", True, "")], checks=[],
        samples={"low_error": [0, 1, 2]},
    )  # fmt: skip
    from explain.report_view import report_view

    view = report_view(exp)
    data = copy.deepcopy(fx.regression())
    data["run"]["data_info"]["preprocessing"].update({"y_mean": [mean], "y_std": [std]})
    data["run"]["data_info"]["feature_names"] = ["a", "b"]
    cards = es.explanations({**data, "explanations": view}, Figures())["local"]
    assert [c["label"] for c in cards] == ["52", "174", "302"]


def test_the_residual_plots_hover_rounds_away_float32_noise() -> None:
    from explain.report.winner_plots import residual_figure

    fig = residual_figure([51.99999, 174.0], [50.0, 170.0], "y")  # shown in the browser test
    assert fig is not None and "true %{x:,.6~r}" in fig["data"][0]["hovertemplate"]


# --- 6. and 7. room for the beeswarm's title and the waterfall's numbers -------------------


def test_a_long_beeswarm_title_wraps_instead_of_running_off_the_card() -> None:
    """'SHAP value: effect on the predicted disease progression (its units)', 67 characters,
    had lost its 'S' at the card's left edge in a half-width card."""
    target = lp.TargetUnits(153.3, 77.5, "disease progression")
    rng = np.random.default_rng(0)
    shap = {"method": "shap_exact", "values": rng.normal(size=(20, 3)).tolist(),
            "inputs": rng.normal(size=(20, 3)).tolist(), "base_value": 0.0}  # fmt: skip
    fig = beeswarm_figure(shap, ["age", "bmi", "s5"], (), None, target)
    assert fig is not None
    title = fig["layout"]["xaxis"]["title"]["text"]
    lines = title.split("<br>")
    assert " ".join(lines) == "SHAP value: effect on the predicted disease progression (its units)"
    assert len(lines) == 2 and all(len(line) <= TITLE_CHARS for line in lines)
    assert fig["layout"]["margin"]["b"] == 50 + 16  # room below for the second line


def test_the_waterfalls_numbers_are_short_and_have_room_beside_the_bars() -> None:
    """lin.csv's example 89: base 0.103, then -1.25, -0.82, -0.00663 to -1.97; the -0.00663
    sat left of a bar at the plot's edge and ran into 'x3 = -0.08697'. big.csv's -3.23e+06
    now reads -3.23M."""
    assert lp.bar_number(-3.23e6, sign=True) == "-3.23M" and lp.bar_number(5.11e6) == "5.11M"
    assert lp.bar_number(999.6) == "1k" and lp.bar_number(-0.00663, True) == "-0.00663"
    steps, end = lp.waterfall_steps([-1.25, -0.82, -0.00663], ["x2", "x1", "x3"], 0.103)
    fig = lp.waterfall_figure(steps, 0.103, end, "base value", "predicted y")
    lo, hi = fig["layout"]["xaxis"]["range"]
    widest = max(len(t) for d in fig["data"] for t in d["text"])  # "-0.00663": 8
    left_edge = min(s[1] + s[2] for s in steps)  # the x3 bar ends at -1.97
    room_px = (left_edge - lo) / (hi - lo) * lp.PLOT_PX
    assert room_px >= lp.CHAR_PX * widest  # its number fits left of it in a 240-px plot
