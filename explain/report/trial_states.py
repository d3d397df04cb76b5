"""Every trial in the search figures, whatever its state: counts and words per state, the value
a pruned trial is drawn at (its last reported one), and the traces of pruned / over-budget /
failed trials, with those that have no value on a strip under the plot."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from explain.report._format import plot_text
from explain.report._style import COLORS, MUTED, is_number


def trial_order(t: Mapping[str, Any]) -> float:
    """Sort key: the trial number; trials without one go last."""
    n = t.get("number")
    return float(n) if is_number(n) else math.inf


STATE_MARKS: dict[str, tuple[str, dict[str, Any]]] = {
    "complete": ("complete", {"symbol": "circle", "color": MUTED, "size": 7}),
    "pruned": ("pruned", {"symbol": "triangle-down", "color": COLORS[6], "size": 8}),
    "over_budget": ("over budget", {"symbol": "x-thin", "color": COLORS[7], "size": 9,
                                    "line": {"width": 2, "color": COLORS[7]}}),
    "failed": ("failed", {"symbol": "diamond-open", "color": COLORS[8], "size": 8}),
}  # fmt: skip


#: Trials without any value sit in a strip of their own under the plot: y on a hidden second
#: axis (range [0, 1]) below the metric's, the x axis under both.
STRIP_Y = 0.5

_STRIP_AXIS = {"domain": [0, 0.06], "range": [0, 1], "visible": False, "fixedrange": True}


def strip_layout(
    traces: Sequence[Mapping[str, Any]], xaxis: dict[str, Any], yaxis: dict[str, Any]
) -> dict[str, Any]:
    """The axes of a figure, with the bottom strip when a trace is drawn on it."""
    if not any(tr.get("yaxis") == "y2" for tr in traces):
        return {"xaxis": xaxis, "yaxis": yaxis}
    return {"xaxis": {**xaxis, "anchor": "free", "position": 0},
            "yaxis": {**yaxis, "domain": [0.1, 1]}, "yaxis2": _STRIP_AXIS}  # fmt: skip


def state_counts(trials: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Trials per state, in the order complete, pruned, over budget, failed, then any other."""
    counts = {k: 0 for k in STATE_MARKS}
    for t in trials:
        state = str(t.get("state") or "?")
        counts[state] = counts.get(state, 0) + 1
    return counts


def state_words(counts: Mapping[str, int], skip_zero: bool = True) -> str:
    """Counts in words: "25 complete, 8 pruned, 5 over budget"."""
    return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v or not skip_zero)


def shown_value(t: Mapping[str, Any]) -> float | None:
    """The value a trial is drawn at: a complete trial's metric, any other's last reported
    intermediate value (a pruned trial where it was stopped); None when it has neither (an
    over-budget trial was never trained)."""
    if t.get("state") == "complete":
        return t["metric"] if is_number(t.get("metric")) else None
    if t.get("state") == "over_budget":
        return None
    return t["last_value"] if is_number(t.get("last_value")) else None


def unfinished(trials: Sequence[Mapping[str, Any]], state: str) -> tuple[list, list]:
    """The trials of a non-complete ``state``, split into those with a last value (drawn at
    it) and those without (drawn along the bottom strip), each by trial number."""
    rows = sorted((t for t in trials if t.get("state") == state), key=trial_order)
    return [t for t in rows if shown_value(t) is not None], [
        t for t in rows if shown_value(t) is None
    ]


def _why(t: Mapping[str, Any]) -> str:
    """The hover text of a trial: number, family, and how it ended."""
    text = f"trial {t.get('number')} · {plot_text(t.get('family') or '?')}"
    if t.get("state") == "pruned" and is_number(t.get("last_step")):
        text += f"<br>pruned after step {t['last_step']}"
    if t.get("state") != "complete" and t.get("reason"):
        text += "<br>" + plot_text(str(t["reason"])[:160])
    return text


def state_traces(
    trials: Sequence[Mapping[str, Any]], x_key: str, ylabel: str, xlabel: str, **kw: Any
) -> list[dict[str, Any]]:
    """The pruned / over-budget / failed trials that have an ``x_key``: at their last value, or
    on the bottom strip (y2) with their reason in the hover; one trace per state and place."""
    out = []
    for state in ("pruned", "over_budget", "failed"):
        name, marker = STATE_MARKS[state]
        valued, bare = unfinished([t for t in trials if is_number(t.get(x_key))], state)
        if valued:
            out.append({
                "type": "scatter", "mode": "markers", "legendgroup": state,
                "name": name + " (last value)",
                "x": [t[x_key] for t in valued], "y": [shown_value(t) for t in valued],
                "text": [_why(t) for t in valued], "marker": marker,
                "hovertemplate": f"%{{text}}<br>{xlabel} %{{x}}<br>last {ylabel} %{{y}}"
                "<extra></extra>", **kw,
            })  # fmt: skip
        if bare:
            out.append({
                "type": "scatter", "mode": "markers", "yaxis": "y2", "legendgroup": state,
                "name": name + (" (no value, at the bottom)" if state != "over_budget"
                                else " (at the bottom)"),
                "x": [t[x_key] for t in bare], "y": [STRIP_Y] * len(bare),
                "text": [_why(t) for t in bare], "marker": marker,
                "hovertemplate": f"%{{text}}<br>{xlabel} %{{x}}<extra></extra>", **kw,
            })  # fmt: skip
    return out
