"""The view model of the overview, search and reproduce sections (and what every section
shares: the figure registry and the panel card).

Each section is a dict the templates read; figures are registered in :class:`Figures` and
referred to by id, so the page embeds them once, as JSON, after Plotly's script.
"""

from __future__ import annotations

import shlex
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from explain.report import plots
from explain.report._format import fmt_num, fmt_si, pretty_json
from explain.report._style import Figure, is_number
from explain.report.decision import metric_label
from explain.report.decision_view import decision_view
from explain.report.schema import ReportData

Panel = dict[str, Any]
_BUDGET = (
    ("max_params", "parameters", fmt_si),
    ("max_flops", "FLOPs", fmt_si),
    ("max_latency_ms", "latency (ms)", fmt_num),
    ("max_memory_mb", "memory (MiB)", fmt_num),
)
# A GAN's test scores (nas.gan.finalize) by the names a reader knows them by.
_METRIC_NAMES = {
    "fcd": "FCD",
    "cond_accuracy": "conditional accuracy",
    "n": "test examples",
    "halves_fcd": "FCD, real vs real (halves)",
    "real_fcd": "FCD, real data (floor)",
    "noise_fcd": "FCD, uniform noise",
    "fcd_vs_noise": "FCD / noise's",
}


def _pruner(run: Mapping[str, Any]) -> str:
    """The pruner the search ran (nas.study.make_pruner): none for one epoch; for a study of a
    metric and costs, nas's Pareto-rank halving in place of any named pruner but "none"; none
    when faithfulness, scored after training, is an objective."""
    name = str(run.get("pruner") or "–")
    objectives = [str(o) for o in run.get("objectives") or []]
    if name in ("none", "–") or not is_number(run.get("epochs")):
        return name
    if run["epochs"] < 2:
        return f"none (asked: {name}; one epoch leaves nothing to prune)"
    if len(objectives) < 2:
        return name
    if "faithfulness" in objectives[1:]:
        return f"none (asked: {name}; faithfulness is scored after training)"
    return f"Pareto-rank halving (asked: {name}, which judges one objective)"


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
        room_for_the_buttons(figure)
        self.figures[fid] = figure
        return fid


#: The height of Plotly's button bar (the modebar) at a figure's top right, in pixels.
MODEBAR_PX = 26


def room_for_the_buttons(figure: Figure) -> None:
    """What Plotly draws at a figure's edges, kept in view (/tmp/oB4): a marker at an axis'
    end (accuracy 1 on a 0-1 axis) is no longer cut in half, and a legend above the plot
    moves down below the button bar that had covered its right end."""
    traces = figure.get("data", [])
    for trace in traces:
        if trace.get("type", "scatter") == "scatter" and "markers" in trace.get("mode", ""):
            trace.setdefault("cliponaxis", False)
    lay = figure.get("layout", {})
    legend = lay.get("legend") or {}
    entries = [t for t in traces if t.get("showlegend", True) is not False and t.get("name")]
    shown = lay.get("showlegend", len(entries) > 1)
    if shown and entries and float(legend.get("y", 1.02)) >= 1:
        margin = dict(lay.get("margin") or {})
        margin["t"] = int(margin.get("t", 40)) + MODEBAR_PX
        lay["margin"] = margin


def panel(title: str, help: str, figure: str | None = None, note: str = "", **extra: Any) -> Panel:
    """A card: a title, ONE line on how to read it, and a figure, a table or a note."""
    return {"title": title, "help": help, "figure": figure, "note": note, **extra}


def mapping(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` as a dict; {} when it is missing, null or not a mapping."""
    value = data.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


def overview(data: ReportData) -> dict[str, Any]:
    """The decision first (explain/report/decision_view.py: the test score's interval beside
    baselines, the gap against noise, why this winner), then alerts, verdict, dataset, budget,
    search settings and the winner at a glance."""
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
    # the search kind's names of its scores (a GAN's precision and recall are k-NN manifold
    # scores), else a classifier's (its precision and recall are macro averages)
    labels = mapping(data, "metric_labels")
    return {
        "dataset": [
            ("dataset", dataset),
            ("task", run.get("task") or info.get("task") or "–"),
            ("modality", info.get("modality") or "–"),
            ("input shape", " × ".join(map(str, info.get("input_shape") or [])) or "–"),
            ("examples", " / ".join(f"{k} {fmt_num(v)}" for k, v in sizes.items()) or "–"),
            ("target", info.get("target_name") or run.get("target") or "–"),
        ],
        # what loading did to the data (rows left out, values filled in, ...): every note
        "data_notes": [str(n) for n in info.get("notes") or [] if n],
        "features": features[:16],
        "more_features": max(0, len(features) - 16),
        "classes": classes[:24],
        "more_classes": max(0, len(classes) - 24),
        "budget": budget,
        "search": [
            ("space", run.get("space_name") or "–"),
            ("sampler", run.get("sampler") or "–"),
            ("pruner", _pruner(run)),
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
        ]
        + (
            [("constraint", f"faithfulness ≥ {fmt_num(run['min_faithfulness'])}")]
            if run.get("min_faithfulness") is not None
            else []
        ),
        "winner": best
        and [
            ("family", best.get("family") or "–"),
            ("trial", fmt_num(best.get("trial"))),
            ("parameters", fmt_si(cost.get("params"))),
            ("FLOPs", fmt_si(cost.get("flops"))),
            ("latency", _latency(cost, run)),
            ("memory", f"{fmt_num(cost.get('memory_mb'), 3)} MiB"),
        ],
        "summary": best.get("summary"),
        "metrics": [
            (str(labels.get(k) or _METRIC_NAMES.get(k, metric_label(k))), fmt_num(v))
            for k, v in test.items()
            if plots.is_number(v)
        ],  # fmt: skip
        "per_output": [  # a regression of several outputs: each one's own, in its units
            (
                f"output {e.get('output')}",
                [
                    (str(_METRIC_NAMES.get(k, metric_label(k))), fmt_num(v))
                    for k, v in e.items()
                    if k != "output" and plots.is_number(v)
                ],
            )
            for e in test.get("per_output") or []
            if isinstance(e, Mapping)
        ],  # fmt: skip
        "metric": metric_label(run.get("metric")),
        "verdict": data.get("verdict"),
        "alerts": [a for a in data.get("alerts") or [] if isinstance(a, Mapping)],
        "decision": decision_view(data),
    }


def _threads(cost: Mapping[str, Any], run: Mapping[str, Any]) -> int | None:
    """The torch threads the winner's latency was timed on: recorded in its cost (nas since
    it records them), else the --threads of the recorded command, else 1 (nas's default for
    a search) when the command is a `nas search`; None when unknown."""
    if is_number(cost.get("threads")):
        return int(cost["threads"])
    try:  # recorded quoted as a shell reads it (an older run's: words joined by spaces)
        words = shlex.split(str(run.get("command") or ""))
    except ValueError:
        words = str(run.get("command") or "").split()
    for i, w in enumerate(words):
        value = w.removeprefix("--threads=") if w.startswith("--threads=") else (
            words[i + 1] if w == "--threads" and i + 1 < len(words) else None)  # fmt: skip
        if value is not None:
            return int(value) if value.isdigit() else None
    return 1 if words[:2] == ["nas", "search"] else None


def _latency(cost: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    """The winner's latency as measured: a batch-1 call (not a per-example share of a batch),
    on how many threads, and the batch figure when recorded."""
    threads = _threads(cost, run)
    on = [f"{threads} thread{'s' if threads != 1 else ''}"] if threads else []
    on += [str(cost["device"])] if cost.get("device") else []
    text = f"{fmt_num(cost.get('latency_ms'), 3)} ms batch-1 latency" + (
        f" ({', '.join(on)})" if on else "")  # fmt: skip
    if is_number(cost.get("latency_ms_batch")) and is_number(cost.get("batch_size")):
        text += (f"; {fmt_num(cost['latency_ms_batch'], 3)} ms per batch of "
                 f"{int(cost['batch_size'])}")  # fmt: skip
    return text + "; re-measured after the retrain (the leaderboard's is the trial's)"


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
