"""The view model of the overview, search and reproduce sections (and what every section
shares: the figure registry and the panel card).

Each section is a dict the templates read; figures are registered in :class:`Figures` and
referred to by id, so the page embeds them once, as JSON, after Plotly's script.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from explain.report import plots
from explain.report._format import fmt_num, fmt_seconds, fmt_si, pretty_json
from explain.report._style import Figure
from explain.report.schema import ReportData

Panel = dict[str, Any]
MAX_LEADERBOARD = 2000  # rows; a study larger than this is read in optuna-dashboard
_BUDGET = (
    ("max_params", "parameters", fmt_si),
    ("max_flops", "FLOPs", fmt_si),
    ("max_latency_ms", "latency (ms)", fmt_num),
    ("max_memory_mb", "memory (MB)", fmt_num),
)


class Figures:
    """Collects figures under unique element ids; a figure that cannot be built from odd data
    becomes a note on its card (and a warning), never a failed report."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, str] = {}  # element id -> why the figure is missing

    def add(self, name: str, build: Callable[..., Figure | None], *args: Any) -> str | None:
        """Build a figure with ``build(*args)`` and register it; returns its element id, or
        None when there is nothing to draw."""
        fid = f"fig-{name}-{len(self.figures) + len(self.failed)}"
        try:
            figure = build(*args)
        except Exception as exc:  # the report must still render: say what went wrong instead
            warnings.warn(f"report: the {name!r} figure failed: {exc!r}", RuntimeWarning,
                          stacklevel=2)  # fmt: skip
            self.failed[fid] = f"This figure could not be drawn from the data ({exc})."
            return fid
        if figure is None:
            return None
        self.figures[fid] = figure
        return fid


def panel(title: str, help: str, figure: str | None = None, note: str = "", **extra: Any) -> Panel:
    """A card: a title, ONE line on how to read it, and a figure, a table or a note."""
    return {"title": title, "help": help, "figure": figure, "note": note, **extra}


def mapping(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` as a dict; {} when it is missing, null or not a mapping."""
    value = data.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


def overview(data: ReportData) -> dict[str, Any]:
    """Dataset, task, budget, search settings, the winner at a glance, verdict and alerts."""
    run, best = mapping(data, "run"), mapping(data, "best")
    info = run.get("data_info") if isinstance(run.get("data_info"), Mapping) else {}
    cost = mapping(best, "cost")
    sizes = info.get("sizes") or {}
    features = list(info.get("feature_names") or [])
    classes = list(info.get("class_names") or [])
    dataset = run.get("dataset") or info.get("name") or run.get("data") or "unknown"
    budget = [
        (label, fmt(run["budget"][key]))
        for key, label, fmt in _BUDGET
        if isinstance(run.get("budget"), Mapping) and run["budget"].get(key) is not None
    ]
    test = mapping(best, "test")
    counts = mapping(data, "counts")
    return {
        "dataset": [
            ("dataset", dataset),
            ("task", run.get("task") or info.get("task") or "–"),
            ("modality", info.get("modality") or "–"),
            ("input shape", " × ".join(map(str, info.get("input_shape") or [])) or "–"),
            ("examples", " / ".join(f"{k} {fmt_num(v)}" for k, v in sizes.items()) or "–"),
            ("target", info.get("target_name") or run.get("target") or "–"),
        ],
        "features": features[:16],
        "more_features": max(0, len(features) - 16),
        "classes": classes[:24],
        "more_classes": max(0, len(classes) - 24),
        "budget": budget,
        "search": [
            ("space", run.get("space_name") or "–"),
            ("sampler", run.get("sampler") or "–"),
            ("pruner", run.get("pruner") or "–"),
            ("epochs per trial", fmt_num(run.get("epochs"))),
            (
                "objective",
                ", ".join(
                    f"{o} ({d})"
                    for o, d in zip(
                        run.get("objectives") or [run.get("metric")], run.get("directions") or ["?"]
                    )
                ),
            ),
            (
                "trials",
                ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v)
                or str(len(data.get("trials") or [])),
            ),
        ],
        "winner": best
        and [
            ("family", best.get("family") or "–"),
            ("trial", fmt_num(best.get("trial"))),
            ("parameters", fmt_si(cost.get("params"))),
            ("FLOPs", fmt_si(cost.get("flops"))),
            (
                "latency",
                f"{fmt_num(cost.get('latency_ms'), 3)} ms per example"
                + (f" ({cost['device']})" if cost.get("device") else ""),
            ),
            ("memory", f"{fmt_num(cost.get('memory_mb'), 3)} MB"),
        ],
        "summary": best.get("summary"),
        "metrics": [(k, fmt_num(v)) for k, v in test.items() if plots.is_number(v)],
        "metric": run.get("metric"),
        "verdict": data.get("verdict"),
        "alerts": [a for a in data.get("alerts") or [] if isinstance(a, Mapping)],
    }


def _leaderboard(trials: list[Mapping[str, Any]]) -> list[list[tuple[Any, str]]]:
    """Rows of (sort key, shown text) cells."""
    rows = []
    for t in sorted(trials, key=plots.trial_order)[:MAX_LEADERBOARD]:
        cells = [
            (t.get("number"), fmt_num(t.get("number"))),
            (t.get("state"), t.get("state")),
            (t.get("family"), t.get("family") or "–"),
            (t.get("metric"), fmt_num(t.get("metric"))),
            (t.get("params"), fmt_si(t.get("params"))),
            (t.get("flops"), fmt_si(t.get("flops"))),
            (t.get("latency_ms"), fmt_num(t.get("latency_ms"), 3)),
            (t.get("seconds"), fmt_seconds(t.get("seconds"))),
            (t.get("reason"), t.get("reason") or ""),
        ]
        rows.append([(k if plots.is_number(k) else str(k or ""), text) for k, text in cells])
    return rows


def search(data: ReportData, figs: Figures) -> dict[str, Any]:
    """Best so far, the leaderboard, the Pareto front, importances and the families."""
    run, best = mapping(data, "run"), mapping(data, "best")
    trials = [t for t in data.get("trials") or [] if isinstance(t, Mapping)]
    metric, up = str(run.get("metric") or "metric"), plots.maximizes(run)
    word = "higher" if up else "lower"
    families = plots.best_by_family(trials, up)
    return {
        "panels": [
            panel(
                "Best so far, by trial",
                f"Grey dots are trials; the line is the best {metric}"
                f" found up to each trial ({word} is better).",
                figs.add("history", lambda: plots.history_figure(trials, up, metric)),
                "No trial completed, so there is no history to draw.",
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
                f"Each dot is a trial; the line links "
                f"the trials no other beats on both {metric} and cost, the star is the winner"
                " (orange dots: the study's own Pareto front); buttons switch the cost.",
                figs.add(
                    "pareto",
                    lambda: plots.pareto_figure(
                        trials, up, metric, best.get("trial"), data.get("pareto")
                    ),
                ),
                "No complete trial has a recorded cost.",
            ),
            panel(
                "Parameter importances",
                "How much of the variation in the metric each "
                "searched parameter explains (Optuna's default evaluator, PED-ANOVA); longer bars "
                "matter more.",
                figs.add("importances", lambda: plots.importance_figure(data.get("importances"))),
                "Importances need at least a few complete trials sharing the parameters.",
            ),
            panel(
                "Best of each family",
                f"The best {metric} each family reached, side by side, with its cost in the table.",
                figs.add("families", lambda: plots.family_figure(families, metric)),
                "No family completed a trial.",
                families=[
                    {
                        **r,
                        "params_s": fmt_si(r.get("params")),
                        "flops_s": fmt_si(r.get("flops")),
                        "metric_s": fmt_num(r.get("metric")),
                        "latency_s": fmt_num(r.get("latency_ms"), 3),
                    }
                    for r in families
                ],
            ),
        ],
        "leaderboard": _leaderboard(trials),
        "truncated": max(0, len(trials) - MAX_LEADERBOARD),
        "metric": metric,
        "top": [
            {
                "rank": t.get("rank"),
                "trial": t.get("trial"),
                "family": t.get("family"),
                "summary": t.get("summary"),
                "metric": fmt_num((t.get("test") or {}).get(metric)),
                "params": fmt_si((t.get("cost") or {}).get("params")),
            }
            for t in data.get("top") or []
            if isinstance(t, Mapping)
        ],
    }


def reproduce(data: ReportData) -> dict[str, Any]:
    """The exact command, seed, versions and the winner's spec."""
    run = mapping(data, "run")
    info = run.get("data_info") if isinstance(run.get("data_info"), Mapping) else {}
    return {
        "command": run.get("command"),
        "seed": run.get("seed"),
        "study": run.get("study"),
        "versions": list(mapping(run, "versions").items()),
        "spec": pretty_json(data["spec"]) if data.get("spec") else None,
        "model_repr": data.get("model_repr"),
        "space": pretty_json(run["space"]) if run.get("space") else None,
        "preprocessing": pretty_json(info["preprocessing"]) if info.get("preprocessing") else None,
    }
