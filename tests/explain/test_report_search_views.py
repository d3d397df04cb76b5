"""The Search section shows the whole search: pruned trials at their last reported value and
over-budget ones at their measured cost in the history and Pareto figures, families that never
completed a trial, importances only on enough complete trials, and a leaderboard with the
searched hyperparameters and the winner first. Known answers from a hand-made trial list."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from explain.report import plots, render_report, trial_states
from explain.report.search_section import (
    MIN_IMPORTANCE_TRIALS,
    _leaderboard,
    hparams_text,
    search,
)
from explain.report.sections import Figures
from tests.conftest import explain_helper

RUN = {"metric": "accuracy", "directions": ["maximize"]}
OVER = "params 250,112 > max_params 200,000"


def t(number: int, state: str, family: str, **kw: Any) -> dict[str, Any]:
    """One trial row as nas/reporting.py writes it (cost from its params)."""
    params = kw.pop("params", 1000 * (number + 1))
    row = {"number": number, "state": state, "family": family, "params": params,
           "flops": 2 * params, "latency_ms": params / 1e4, "metric": None, "values": [],
           "reason": None, "last_value": None, "last_step": None, "hparams": {}, "depth": None,
           "end_s": float(number)}  # fmt: skip
    row.update(kw)
    if state == "complete":
        row["values"] = [row["metric"]]
    return row


def trials() -> list[dict[str, Any]]:
    """Two complete fnn trials, three pruned (one without any reported value), two over
    budget, one failed; the transformer family never completed a trial."""
    return [
        t(0, "complete", "fnn", metric=0.80, last_value=0.79, last_step=20),
        t(
            1,
            "pruned",
            "cnn",
            last_value=0.55,
            last_step=3,
            reason="pruned by the pruner after epoch 3",
        ),  # fmt: skip
        t(2, "over_budget", "cnn", params=250_112, reason=OVER),
        t(3, "complete", "fnn", metric=0.85, last_value=0.86, last_step=20),
        t(4, "pruned", "transformer", last_value=0.40, last_step=1),
        t(5, "over_budget", "transformer", params=300_000, reason=OVER),
        t(6, "pruned", "transformer", last_value=0.42, last_step=2),
        t(7, "failed", "fnn", reason="RuntimeError: CUDA out of memory"),
        t(8, "pruned", "cnn"),  # stopped before it reported anything
    ]


def named(fig: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [tr for tr in fig["data"] if str(tr.get("name", "")).startswith(prefix)]


# --- the history ------------------------------------------------------------------------------


def test_history_shows_pruned_trials_at_their_last_value_and_the_rest_along_the_bottom() -> None:
    fig = plots.history_figure(trials(), True, "accuracy")
    (done,) = named(fig, "complete")
    assert done["x"] == [0, 3] and done["y"] == [0.80, 0.85]  # the metric, not the last value
    assert fig["data"][1]["name"] == "best so far" and fig["data"][1]["y"] == [0.80, 0.85]
    pruned = named(fig, "pruned")
    valued = [tr for tr in pruned if tr.get("yaxis") != "y2"]
    (bare,) = [tr for tr in pruned if tr.get("yaxis") == "y2"]
    assert valued[0]["x"] == [1, 4, 6] and valued[0]["y"] == [0.55, 0.40, 0.42]
    assert bare["x"] == [8] and bare["y"] == [trial_states.STRIP_Y]
    (over,) = named(fig, "over budget")
    assert over["x"] == [2, 5] and over["yaxis"] == "y2" and over["y"] == [trial_states.STRIP_Y] * 2
    assert all(OVER.replace(">", "&gt;") in text for text in over["text"])  # the reason, escaped
    (failed,) = named(fig, "failed")
    assert failed["x"] == [7] and failed["yaxis"] == "y2"
    strip, metric_axis = fig["layout"]["yaxis2"], fig["layout"]["yaxis"]
    assert strip["range"] == [0, 1] and strip["domain"][1] < metric_axis["domain"][0]  # below
    # every trial appears exactly once
    shown = sorted(x for tr in fig["data"] if tr["name"] != "best so far" for x in tr["x"])
    assert shown == list(range(9))
    markers = {tr["name"]: tr["marker"]["symbol"] for tr in fig["data"] if "marker" in tr}
    assert len(set(markers.values())) == 4  # complete, pruned, over budget, failed: own markers


def test_a_search_where_nothing_completed_still_has_a_history() -> None:
    only = [r for r in trials() if r["state"] != "complete"]
    fig = plots.history_figure(only, True, "accuracy")
    assert fig is not None  # no legend entry for a "complete" or "best so far" not drawn
    assert not named(fig, "complete") and not named(fig, "best so far")
    (valued,) = [tr for tr in named(fig, "pruned") if tr.get("yaxis") != "y2"]
    assert valued["y"] == [0.55, 0.40, 0.42]
    nothing = [r for r in only if r["state"] == "over_budget"]  # no value to draw at all
    assert plots.history_figure(nothing, True, "accuracy") is None


# --- the Pareto front -------------------------------------------------------------------------


def test_pareto_shows_pruned_at_last_value_and_over_budget_at_their_cost() -> None:
    fig = plots.pareto_figure(trials(), True, "accuracy", winner=3)
    buttons = fig["layout"]["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == ["parameters", "FLOPs", "latency (ms)"]
    for b, (key, _label) in zip(buttons, plots.COSTS):
        group = [tr for tr, v in zip(fig["data"], b["args"][0]["visible"]) if v]
        names = [tr["name"] for tr in group]
        assert names[:3] == ["complete", f"front: accuracy vs {_label}", "winner"]
        cost = {r["number"]: r[key] for r in trials()}
        (pruned,) = [tr for tr in group if tr["name"].startswith("pruned") and "yaxis" not in tr]
        assert pruned["x"] == [cost[1], cost[4], cost[6]] and pruned["y"] == [0.55, 0.40, 0.42]
        (over,) = [tr for tr in group if tr["name"].startswith("over budget")]
        assert over["x"] == [cost[2], cost[5]] and over["yaxis"] == "y2"
        assert over["x"][0] == {"params": 250_112, "flops": 500_224, "latency_ms": 25.0112}[key]
        assert all("max_params 200,000" in text for text in over["text"])
        (winner,) = [tr for tr in group if tr["name"] == "winner"]
        assert winner["x"] == [cost[3]] and winner["y"] == [0.85]
        # the log ticks cover the over-budget costs too
        assert max(b["args"][1]["xaxis.tickvals"]) >= cost[5]
    # buttons show one cost's traces at a time, all of them
    visible = [b["args"][0]["visible"] for b in buttons]
    assert [sum(v) for v in visible] == [len(fig["data"]) // 3] * 3
    assert all(sum(col) == 1 for col in zip(*visible))
    assert fig["data"][0]["visible"] and not fig["data"][-1]["visible"]


def test_pareto_of_only_over_budget_trials_draws_them() -> None:
    over = [r for r in trials() if r["state"] == "over_budget"]
    fig = plots.pareto_figure(over, True, "accuracy")
    first = [tr for tr in fig["data"] if tr["visible"]]
    assert [tr["x"] for tr in first] == [[250_112, 300_000]]


# --- families and importances -----------------------------------------------------------------


def test_family_that_never_completed_says_so() -> None:
    rows = plots.family_rows(trials(), maximize=True)
    assert [(r["family"], r["trials"], r["total"]) for r in rows] == [
        ("fnn", 2, 3), ("cnn", 0, 3), ("transformer", 0, 3)
    ]  # fmt: skip
    by = {r["family"]: r for r in rows}
    assert by["fnn"]["number"] == 3 and by["fnn"]["metric"] == 0.85
    assert by["fnn"]["trials_s"] == "2 complete of 3 (1 failed)"
    assert by["transformer"]["trials_s"] == "0 complete of 3 (2 pruned, 1 over budget)"
    assert by["cnn"]["trials_s"] == "0 complete of 3 (2 pruned, 1 over budget)"
    fig = plots.family_figure(rows, "accuracy")
    assert fig["data"][0]["x"] == ["fnn"]  # no bar for a family without a metric

    view = search({"run": RUN, "trials": trials()}, Figures())
    panel = view["panels"][4]
    assert "transformer: 0 complete of 3 (2 pruned, 1 over budget)" in panel["help"]
    table = {r["family"]: r for r in panel["families"]}
    assert table["transformer"]["metric_s"] == "never completed"
    assert table["transformer"]["number_s"] == "–" and table["fnn"]["number_s"] == "3"


def _many(n_complete: int) -> list[dict[str, Any]]:
    rows = [t(i, "complete", "fnn", metric=0.5 + i / 100) for i in range(n_complete)]
    return rows + [t(n_complete + i, "pruned", "fnn", last_value=0.3) for i in range(5)]


def test_importances_say_how_many_complete_trials_and_hide_under_twenty() -> None:
    imp = {"fnn.units": 0.6, "train.lr": 0.4}
    for n, shown in ((MIN_IMPORTANCE_TRIALS - 1, False), (MIN_IMPORTANCE_TRIALS, True)):
        figs = Figures()
        panel = search({"run": RUN, "trials": _many(n), "importances": imp}, figs)["panels"][3]
        assert f"Computed from {n} complete trials." in panel["help"]
        if shown:
            fig = figs.figures[panel["figure"]]
            assert fig["data"][0]["x"] == [0.4, 0.6]
        else:
            assert panel["figure"] is None
            assert panel["note"].startswith(f"Hidden: only {n} complete trials")
            assert str(MIN_IMPORTANCE_TRIALS) in panel["note"]
    assert MIN_IMPORTANCE_TRIALS == 20


def test_panel_help_counts_every_state() -> None:
    view = search({"run": RUN, "trials": trials()}, Figures())
    tally = "2 complete, 4 pruned, 2 over budget, 1 failed"
    assert view["tally"] == tally
    assert f"Trials: {tally}." in view["panels"][0]["help"]
    assert f"Trials: {tally}." in view["panels"][2]["help"]


# --- the leaderboard --------------------------------------------------------------------------


def test_hparams_text() -> None:
    hp = {"family": "cnn", "cnn.n_blocks": 5, "cnn.kernel": 5, "lr": 0.003}
    assert hparams_text(hp) == "cnn.n_blocks=5 · cnn.kernel=5 · lr=0.003"
    assert hparams_text({"train.lr": 1.23456e-05, "act": "gelu", "bn": True}) == (
        "train.lr=1.23e-05 · act=gelu · bn=True"
    )
    assert hparams_text(None) == "" and hparams_text({}) == ""


def test_leaderboard_puts_the_winner_first_with_its_hparams_and_depth() -> None:
    rows = trials()
    rows[3].update(hparams={"family": "fnn", "fnn.units": 64, "train.lr": 0.003}, depth=4)
    board = _leaderboard(rows, winner=3)
    assert [r["winner"] for r in board] == [True] + [False] * 8
    assert [r["cells"][0][0] for r in board] == [3, 0, 1, 2, 4, 5, 6, 7, 8]
    first = board[0]["cells"]
    assert first[3] == (0.85, "0.85") and first[8] == (4, "4")
    assert first[9] == ("fnn.units=64 · train.lr=0.003",) * 2
    assert board[2]["cells"][3] == ("", "–")  # a pruned trial has no metric to sort by
    assert board[3]["cells"][10] == (OVER, OVER) and board[3]["state"] == "over_budget"
    assert not any(r["winner"] for r in _leaderboard(rows, winner=None))


def test_rendered_leaderboard_marks_the_winner_and_escapes_hparams(tmp_path: Path) -> None:
    fx = explain_helper("report_fixtures")
    data = copy.deepcopy(fx.tabular_classification(n_local=2))
    win = data["best"]["trial"]
    for r in data["trials"]:
        r["hparams"] = {"family": r["family"], f"{r['family']}.units": 8 * (r["number"] + 1),
                        "train.opt": "<b>x</b>" if r["number"] == win else "adamw"}  # fmt: skip
        r["depth"] = 2
    html = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    table = html[
        html.index('id="leaderboard"') : html.index("</table>", html.index('id="leaderboard"'))
    ]
    bodies = re.findall(r"<tr class=\"([^\"]*)\">(.*?)</tr>", table, re.S)
    assert len(bodies) == len(data["trials"])
    first_class, first_cells = bodies[0]
    assert first_class == "state-complete winner" and "badge-winner" in first_cells
    assert f'<td data-v="{win}">{win} <span class="badge badge-winner">winner</span>' in first_cells
    family = data["trials"][win]["family"]
    assert f"{family}.units={8 * (win + 1)} · train.opt=&lt;b&gt;x&lt;/b&gt;" in first_cells
    assert sum("badge-winner" in cells for _, cells in bodies) == 1
    assert "badge-start" not in table  # the fixture's trials were all sampled
    data["trials"][win]["warm_start"] = True  # the winner is a starting point: both badges
    html = render_report(data, tmp_path / "s.html").read_text(encoding="utf-8")
    table = html[html.index('id="leaderboard"') :]
    table = table[: table.index("</table>")]
    assert table.count('class="badge badge-start"') == 1
    assert (f'{win} <span class="badge badge-winner">winner</span> <span class="badge '
            'badge-start" title="a starting point nas tries before sampling">start</span>'
            in table)  # fmt: skip
    heads = re.findall(r"<th scope=\"col\" tabindex=\"0\">(.*?)</th>", table)
    assert heads[3] == "accuracy" and heads[8:] == ["depth", "hyperparameters", "reason"]
    m = re.search(r'<script type="application/json" id="report-figures">(.*?)</script>', html, re.S)
    figures = json.loads(m.group(1))
    pruned = sum(r["state"] == "pruned" for r in data["trials"])
    hist = next(f for k, f in figures.items() if k.startswith("fig-history-"))
    in_strip = [tr for tr in hist["data"] if str(tr.get("name", "")).startswith("pruned")]
    assert sum(len(tr["x"]) for tr in in_strip) == pruned  # the fixture's have no last value


# --- what a chart of few trials draws (an outside tester's /tmp/oC/rl2, /tmp/oC/p1) -------------


def test_the_metric_axis_keeps_to_the_data_and_the_metrics_scale() -> None:
    """One complete trial at accuracy 0.11 (and seven over budget): the axis ran -0.5 to 1."""
    one = [t(2, "complete", "fnn", metric=0.1148)] + [t(n, "over_budget", "fnn") for n in (0, 1)]
    for fig in (plots.history_figure(one, True, "accuracy"),
                plots.pareto_figure(one, True, "accuracy", winner=2)):  # fmt: skip
        lo, hi = fig["layout"]["yaxis"]["range"]
        assert 0 <= lo < 0.1148 < hi <= 1 and hi - lo <= 0.1 + 1e-9
    assert plots.value_range([0.99, 1.0], "accuracy")[1] == 1.0  # never past the scale
    assert plots.value_range([0.0, 0.02], "roc_auc")[0] == 0.0
    lo, hi = plots.value_range([12.0, 30.0], "rmse")
    assert lo < 12 and hi > 30
    assert plots.value_range([], "accuracy") is None


def test_a_chart_of_one_complete_trial_lists_only_what_it_draws() -> None:
    """ "best so far" and "Pareto front" were in the legend with nothing drawn."""
    one = [t(2, "complete", "fnn", metric=0.1148), t(0, "over_budget", "fnn")]
    names = [tr["name"] for tr in plots.history_figure(one, True, "accuracy")["data"]]
    assert "best so far" not in names and "complete" in names
    fig = plots.pareto_figure(one, True, "accuracy", winner=2)
    names = {tr["name"] for tr in fig["data"]}
    assert not any(n.startswith("front") for n in names)
    assert "complete" not in names and "winner" in names  # the only complete one is the star


def test_the_studys_own_front_has_its_own_legend_entry() -> None:
    """The orange dots (the study's front of all objectives) had no legend entry."""
    rows = [t(0, "complete", "fnn", metric=0.9884, params=41858),
            t(1, "complete", "fnn", metric=0.9884, params=19074),
            t(8, "complete", "rnn", metric=0.9302, params=3426)]  # fmt: skip
    fig = plots.pareto_figure(rows, True, "accuracy", winner=1, study_front=[1, 8])
    shown = [tr for tr in fig["data"] if tr["visible"]]
    own = [tr for tr in shown if tr["name"] == "on the study's front (all objectives)"]
    assert len(own) == 1 and own[0]["x"] == [3426]  # and the winner, trial 1, a star
    (grey,) = [tr for tr in shown if tr["name"] == "complete"]
    assert grey["x"] == [41858]  # dominated: a tie on accuracy with more parameters
    (line,) = [tr for tr in shown if tr["name"].startswith("front:")]
    assert line["x"] == [3426, 19074]
    view = search({"run": {**RUN, "objectives": ["accuracy", "params"]}, "trials": rows,
                   "pareto": [1, 8]}, Figures())  # fmt: skip
    caption = view["panels"][2]["help"]
    assert "no other is at least as good on both and better on one" in caption
    assert "beats" not in caption and "orange dots are the study's own Pareto front" in caption


def test_kept_models_of_a_front_show_the_costs_it_was_chosen_on(tmp_path: Path) -> None:
    """A front on accuracy and FLOPs listed its kept models by parameters only, where an fnn
    of 5.6x fewer FLOPs looked bigger than a transformer, and by test accuracy only, while
    they are ranked by validation (/tmp/oY 2). Both scores and the searched costs are shown,
    then the parameters."""
    fx = explain_helper("report_fixtures")
    data = copy.deepcopy(fx.tabular_classification(n_local=2))
    data["run"]["objectives"] = ["accuracy", "flops", "latency_ms"]
    data["top"] = [
        {"rank": 1, "trial": 1, "family": "transformer", "summary": "t <b>", "val": {
            "accuracy": 0.98}, "test": {"accuracy": 0.8778},
         "cost": {"params": 17_700, "flops": 1_412_352, "latency_ms": 0.5384}},
        {"rank": 2, "trial": 11, "family": "fnn", "summary": "f", "val": {"accuracy": 0.95},
         "test": {"accuracy": 0.9111}, "cost": {"params": 32_700, "flops": 64_000}},
    ]  # fmt: skip
    view = search(data, Figures())
    assert view["top_costs"] == ["FLOPs", "latency ms", "params"]
    costs = [r["costs"] for r in view["top"]]
    assert costs == [["1.41 M", "0.538", "17.7 k"], ["64 k", "–", "32.7 k"]]
    scores = [(r["val"], r["metric"]) for r in view["top"]]
    assert scores == [("0.98", "0.8778"), ("0.95", "0.9111")]
    html = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    kept = html[html.index("<h3>Top models kept</h3>") :].split("</table>")[0]
    heads = re.findall(r"<th>(.*?)</th>", kept)
    assert heads == ["rank", "trial", "family", "validation accuracy", "test accuracy", "FLOPs",
                     "latency ms", "params", "architecture"]  # fmt: skip
    assert "<td>1.41 M</td>" in kept and "<code>t &lt;b&gt;</code>" in kept
    data["run"]["objectives"] = ["accuracy"]  # one objective: the parameters, as before
    assert search(data, Figures())["top_costs"] == ["params"]
