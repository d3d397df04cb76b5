"""The view model of the Search section: the history and Pareto figures with every trial
(complete, pruned at its last reported value, over budget at its measured cost), the
importances with the trials they rest on, each family's best (or why it has none) and the
leaderboard with the searched hyperparameters and the winner first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from explain.report import plots
from explain.report._format import fmt_num, fmt_seconds, fmt_si
from explain.report.decision import metric_label
from explain.report.schema import ReportData
from explain.report.sections import Figures, mapping, panel

MAX_LEADERBOARD = 2000  # rows; a study larger than this is read in optuna-dashboard
#: Importances computed from fewer complete trials than this are mostly noise: not shown.
MIN_IMPORTANCE_TRIALS = 20
#: The leaderboard's columns; the metric stays the fourth (index 3).
COLUMNS = ("#", "state", "family", None, "params", "FLOPs", "latency ms", "time", "depth",
           "hyperparameters", "reason")  # fmt: skip
#: The class of the cells whose text may wrap (at spaces only); every other cell stays on one line.
#: The hyperparameters stay on one line too, cut with an ellipsis (their title and a click show
#: them whole): wrapped, they had made each row ~100 px tall, 4 rows in the 440 px box.
WRAPPED = {"hyperparameters": "hp", "reason": "wrap"}


def hparam_value(v: Any) -> str:
    """One searched value, short: 0.003, 1e-05, 64, relu."""
    if isinstance(v, float) and not isinstance(v, bool):
        return f"{v:.3g}"
    return str(v)


def hparams_text(hparams: Any) -> str:
    """The searched parameters as one line, "cnn.n_blocks=5 · cnn.kernel=5 · lr=0.003"
    (the family has its own column); "" when the trial has none."""
    if not isinstance(hparams, Mapping):
        return ""
    return " · ".join(f"{k}={hparam_value(v)}" for k, v in hparams.items() if k != "family")


def _leaderboard(trials: list[Mapping[str, Any]], winner: Any = None) -> list[dict[str, Any]]:
    """Rows of (sort key, shown text) cells, the winner first, then by trial number; each row
    says whether it is the winner, whether it is a starting point, and its state (its class)."""
    ordered = sorted(trials, key=lambda t: (t.get("number") != winner, plots.trial_order(t)))
    rows = []
    for t in ordered[:MAX_LEADERBOARD]:
        hp = hparams_text(t.get("hparams"))
        cells = [
            (t.get("number"), fmt_num(t.get("number"))),
            (t.get("state"), str(t.get("state") or "").replace("_", " ")),
            (t.get("family"), t.get("family") or "–"),
            (t.get("metric"), fmt_num(t.get("metric"))),
            (t.get("params"), fmt_si(t.get("params"))),
            (t.get("flops"), fmt_si(t.get("flops"))),
            (t.get("latency_ms"), fmt_num(t.get("latency_ms"), 3)),
            (t.get("seconds"), fmt_seconds(t.get("seconds"))),
            (t.get("depth"), fmt_num(t.get("depth"))),
            (hp, hp or "–"),
            (t.get("reason"), t.get("reason") or ""),
        ]
        rows.append({
            "winner": winner is not None and t.get("number") == winner,
            "start": bool(t.get("warm_start")),  # one of nas's starting points (not sampled)
            "state": str(t.get("state") or ""),
            "cells": [(k if plots.is_number(k) else str(k or ""), text) for k, text in cells],
        })  # fmt: skip
    return rows


def _family_help(metric: str, rows: list[dict[str, Any]]) -> str:
    """The families card's line, naming the families that never completed a trial."""
    never = [r for r in rows if not r["trials"]]
    text = (f"The best {metric_label(metric)} each family reached, side by side, with its cost "
            "in the table.")  # fmt: skip
    if never:
        text += " Never completed a trial (no bar): " + "; ".join(
            f"{r['family']}: {r['trials_s']}" for r in never
        ) + "."  # fmt: skip
    return text


def search(data: ReportData, figs: Figures) -> dict[str, Any]:
    """Best so far, the leaderboard, the Pareto front, importances and the families."""
    run, best = mapping(data, "run"), mapping(data, "best")
    trials = [t for t in data.get("trials") or [] if isinstance(t, Mapping)]
    metric, up = str(run.get("metric") or "metric"), plots.maximizes(run)
    word = "higher" if up else "lower"
    counts = plots.state_counts(trials)
    tally = plots.state_words(counts) or "no trials"
    n_complete = len(plots.complete_trials(trials))
    families = plots.family_rows(trials, up)
    importances = data.get("importances") if n_complete >= MIN_IMPORTANCE_TRIALS else None
    imp_note = (
        f"Hidden: only {n_complete} complete trial{'s' * (n_complete != 1)}, and importances "
        f"from fewer than {MIN_IMPORTANCE_TRIALS} are mostly noise."
        if n_complete < MIN_IMPORTANCE_TRIALS
        else "Importances need complete trials sharing the parameters; Optuna found none."
    )
    marks = (
        "grey dots are complete trials, triangles pruned ones at their last reported value, "
        "crosses along the bottom over-budget ones (never trained)"
    )
    return {
        "panels": [
            panel(
                "Best so far, by trial",
                f"The line is the best {metric_label(metric)} found up to each trial ({word} is "
                "better); "
                f"{marks}. Trials: {tally}.",
                figs.add("history", lambda: plots.history_figure(trials, up, metric)),
                "No trial completed or reported a value, so there is no history to draw.",
            ),
            panel(
                "Best so far, over time",
                "The same as the left, against wall-clock time: "
                "a flat end means more time bought little.",
                figs.add("history-time", lambda: plots.history_figure(trials, up, metric, "end_s")),
                "The trials carry no timing.",
            ),
            panel(
                "Pareto front: metric against cost",
                f"The line links the complete trials on the front of {metric} and the cost "
                "shown: no other is at least as good on both and better on one. The star is "
                "the winner"
                + (
                    "; orange dots are the study's own Pareto front, of all its objectives"
                    if isinstance(data.get("pareto"), list)
                    else ""
                )  # fmt: skip
                + f"; {marks}, at their measured cost; buttons switch the cost. Trials: {tally}.",
                figs.add(
                    "pareto",
                    lambda: plots.pareto_figure(
                        trials, up, metric, best.get("trial"), data.get("pareto")
                    ),
                ),
                "No trial has a recorded cost.",
            ),
            panel(
                "Parameter importances",
                "How much of the variation in the metric each "
                "searched parameter explains (Optuna's default evaluator, PED-ANOVA); longer bars "
                f"matter more. Computed from {n_complete} complete "
                f"trial{'s' * (n_complete != 1)}.",
                figs.add("importances", lambda: plots.importance_figure(importances)),
                imp_note,
                complete=n_complete,
            ),
            panel(
                "Best of each family",
                _family_help(metric, families),
                figs.add("families", lambda: plots.family_figure(families, metric)),
                "No family completed a trial.",
                families=[
                    {
                        **r,
                        "params_s": fmt_si(r.get("params")) if r["trials"] else "–",
                        "flops_s": fmt_si(r.get("flops")) if r["trials"] else "–",
                        "metric_s": fmt_num(r.get("metric")) if r["trials"] else "never completed",
                        "latency_s": fmt_num(r.get("latency_ms"), 3) if r["trials"] else "–",
                        "number_s": fmt_num(r.get("number")) if r["trials"] else "–",
                    }
                    for r in families
                ],
            ),
        ],
        "leaderboard": _leaderboard(trials, best.get("trial")),
        "columns": [{"name": c or metric, "cls": WRAPPED.get(c or "", "")} for c in COLUMNS],
        "winner": best.get("trial"),
        "counts": counts,
        "tally": tally,
        "truncated": max(0, len(trials) - MAX_LEADERBOARD),
        "metric": metric,
        "pareto": isinstance(data.get("pareto"), list),  # a search of several objectives
        "top_costs": [label for _, label in _top_costs(run)],
        "top": [
            {
                "rank": t.get("rank"),
                "trial": t.get("trial"),
                "family": t.get("family"),
                "summary": t.get("summary"),
                "val": fmt_num((t.get("val") or {}).get(metric)),
                "metric": fmt_num((t.get("test") or {}).get(metric)),
                "costs": [
                    _top_cost(key, (t.get("cost") or {}).get(key)) for key, _ in _top_costs(run)
                ],
            }
            for t in data.get("top") or []
            if isinstance(t, Mapping)
        ],
    }


_COST_LABELS = {"params": "params", "flops": "FLOPs", "latency_ms": "latency ms",
                "memory_mb": "memory MiB"}  # fmt: skip


def _top_costs(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The costs the kept models are shown with: those the search optimised (its objectives
    after the metric: a front on FLOPs is read by its FLOPs, not its parameters, /tmp/oY),
    then the parameter count."""
    wanted = [o for o in list(run.get("objectives") or [])[1:] if o in _COST_LABELS]
    keys = list(dict.fromkeys([*wanted, "params"]))
    return [(k, _COST_LABELS[k]) for k in keys]


def _top_cost(key: str, value: Any) -> str:
    if key in ("latency_ms", "memory_mb"):
        return fmt_num(value, 3)
    return fmt_si(value)
