"""Search and winner figures: pure functions from report data to Plotly figure dicts.

Each figure is split as Optuna does: a small function computes the numbers (``best_so_far``,
``pareto_mask``, ``best_by_family``) and is unit-tested; the figure builder only lays them out.
Every user string passes through :func:`plot_text` before it reaches Plotly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from explain.report._format import fmt_si, plot_text, plot_texts
from explain.report._style import COLORS, Figure, axis, is_number, layout
from explain.report.trial_states import (
    STATE_MARKS,
    state_counts,
    state_traces,
    state_words,
    strip_layout,
    trial_order,
)

COSTS = (("params", "parameters"), ("flops", "FLOPs"), ("latency_ms", "latency (ms)"))
#: Metrics where lower is better, for runs that do not record their directions.
LOWER_IS_BETTER = frozenset(
    {"mae", "mse", "rmse", "log_loss", "loss", "params", "flops", "latency_ms", "memory_mb", "fcd"}
)


def maximizes(run: Mapping[str, Any]) -> bool:
    """Whether the run's first objective is maximized (its recorded direction, else by name)."""
    directions = run.get("directions") or []
    if directions:
        return directions[0] == "maximize"
    return str(run.get("metric", "")) not in LOWER_IS_BETTER


#: Metrics on a 0-1 scale: an axis of them never runs past it.
UNIT_METRICS = frozenset(
    {"accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc", "cond_accuracy"}
)


def value_range(values: Sequence[Any], metric: str) -> list[float] | None:
    """The metric axis' range over the drawn ``values``, padded, and kept within [0, 1] for a
    metric of that scale (r2 at most 1); None with nothing to draw. Plotly's own range for
    one point ran accuracy from -0.5 to 1."""
    vals = [float(v) for v in values if is_number(v) and math.isfinite(float(v))]
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    pad = 0.08 * (hi - lo) if hi > lo else (0.05 if metric in UNIT_METRICS else
                                             0.1 * max(abs(hi), 1e-3))  # fmt: skip
    lo, hi = lo - pad, hi + pad
    if metric in UNIT_METRICS:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    elif metric == "r2":
        hi = min(hi, 1.0)
    return [lo, hi]


def integer_ticks(values: Sequence[Any]) -> dict[str, Any]:
    """Axis settings for whole numbers (trials, epochs): ticks on integers only, about ten of
    them (Plotly's own put a tick at trial 0.5 when there were two)."""
    nums = [float(v) for v in values if is_number(v) and math.isfinite(float(v))]
    if not nums:
        return {}
    span = max(nums) - min(nums)
    if span == 0:  # one value: its tick alone (Plotly's own axis ran -1, 0, 1 for trial 0)
        return {"tickvals": [nums[0]], "range": [nums[0] - 0.5, nums[0] + 0.5],
                "tickformat": "d"}  # fmt: skip
    return {"tick0": 0, "dtick": max(1, math.ceil(span / 10)), "tickformat": "d"}


def best_so_far(values: Sequence[float | None], maximize: bool) -> list[float | None]:
    """The running best of ``values``; None entries (unfinished trials) keep the previous best."""
    out: list[float | None] = []
    best: float | None = None
    for v in values:
        if is_number(v) and (best is None or (v > best if maximize else v < best)):
            best = float(v)  # type: ignore[arg-type]
        out.append(best)
    return out


def pareto_mask(metric: Sequence[float], cost: Sequence[float], maximize: bool) -> list[bool]:
    """Which points no other point dominates (metric better or equal and cost lower or equal,
    one of them strictly); cost is always minimized."""
    sign = 1.0 if maximize else -1.0
    points = [(sign * m, c) for m, c in zip(metric, cost)]
    mask = []
    for i, (m, c) in enumerate(points):
        dominated = any(
            m2 >= m and c2 <= c and (m2 > m or c2 < c)
            for j, (m2, c2) in enumerate(points)
            if j != i
        )
        mask.append(not dominated)
    return mask


def complete_trials(trials: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Trials that finished with a metric, by trial number."""
    done = [t for t in trials if t.get("state") == "complete" and is_number(t.get("metric"))]
    return sorted(done, key=trial_order)


def best_by_family(trials: Sequence[Mapping[str, Any]], maximize: bool) -> list[dict[str, Any]]:
    """The best complete trial of each family, best family first, with its trial count."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for t in complete_trials(trials):
        groups.setdefault(str(t.get("family") or "?"), []).append(t)
    rows = []
    for family, members in groups.items():
        pick = max if maximize else min
        best = pick(members, key=lambda t: t["metric"])
        rows.append({"family": family, "trials": len(members), **dict(best)})
    rows.sort(key=lambda r: r["metric"], reverse=maximize)
    return rows


def family_rows(trials: Sequence[Mapping[str, Any]], maximize: bool) -> list[dict[str, Any]]:
    """Every family the search sampled: the best complete trial of each (best family first,
    as :func:`best_by_family`), then the families that never completed a trial; each row has
    ``total`` (trials of the family), ``counts`` (per state) and ``trials_s`` ("3 complete of 7
    (3 pruned, 1 over budget)")."""
    counts: dict[str, dict[str, int]] = {}
    for t in trials:
        fam = counts.setdefault(str(t.get("family") or "?"), state_counts([]))
        state = str(t.get("state") or "?")
        fam[state] = fam.get(state, 0) + 1
    rows = [dict(r) for r in best_by_family(trials, maximize)]
    rows += [{"family": f, "trials": 0} for f in sorted(counts) if f not in
             {r["family"] for r in rows}]  # fmt: skip
    for r in rows:
        c = counts.get(r["family"], state_counts([]))
        others = {k: v for k, v in c.items() if k != "complete"}
        r["counts"], r["total"] = c, sum(c.values())
        r["trials_s"] = f"{r['trials']} complete of {r['total']}" + (
            f" ({state_words(others)})" if any(others.values()) else ""
        )
    return rows


#: How each trial state is drawn in the search figures: legend name, marker, and where a trial
#: without a value goes (its last reported value, else a strip along the bottom of the plot).


def history_figure(
    trials: Sequence[Mapping[str, Any]], maximize: bool, metric: str, by: str = "number"
) -> Figure | None:
    """Each trial over trial number or time (``end_s``): complete ones at their metric with the
    best so far, pruned ones at their last reported value, over-budget ones (never trained)
    along the bottom; None when no trial has a value to draw."""
    done = complete_trials(trials)
    if by == "end_s":
        done = sorted((t for t in done if is_number(t.get("end_s"))), key=lambda t: t["end_s"])
    name = plot_text(metric)
    xtitle = "trial" if by == "number" else "seconds since the first trial started"
    xlabel = "trial" if by == "number" else "at second"
    others = state_traces(trials, by, name, xlabel)
    if not done and not any(tr.get("yaxis") != "y2" for tr in others):
        return None
    x = [t.get(by) for t in done]
    y = [t["metric"] for t in done]
    hover = [f"trial {t.get('number')} · {plot_text(t.get('family') or '?')}" for t in done]
    traces: list[dict[str, Any]] = []
    if done:  # no legend entry for what is not drawn
        traces.append({
            "type": "scatter", "mode": "markers", "x": x, "y": y,
            "name": STATE_MARKS["complete"][0], "text": hover,
            "marker": STATE_MARKS["complete"][1],
            "hovertemplate": "%{text}<br>" + name + " %{y}<extra></extra>",
        })  # fmt: skip
    if len(done) > 1:  # a line of one point draws nothing
        traces.append({
            "type": "scatter", "mode": "lines", "x": x, "y": best_so_far(y, maximize),
            "name": "best so far", "line": {"shape": "hv", "color": COLORS[0], "width": 2.5},
        })  # fmt: skip
    drawn = y + [v for tr in others if tr.get("yaxis") != "y2" for v in tr["y"]]
    span = value_range(drawn, metric)
    yaxis = axis(name, range=span) if span else axis(name)
    xs = x + [v for tr in others for v in tr.get("x", [])]
    xaxis = axis(xtitle, **integer_ticks(xs)) if by == "number" else axis(xtitle)
    return {
        "data": [*traces, *others],
        "layout": layout(**strip_layout(others, xaxis, yaxis)),
    }


def _cost_trace(
    rows: Sequence[Mapping[str, Any]], key: str, label: str, metric: str, **kw: Any
) -> dict[str, Any]:
    """Trials as metric against the cost ``key``, with trial and family in the hover."""
    return {
        "type": "scatter",
        "x": [t[key] for t in rows],
        "y": [t["metric"] for t in rows],
        "text": [f"trial {t.get('number')} · {plot_text(t.get('family') or '?')}" for t in rows],
        "hovertemplate": f"%{{text}}<br>{label} %{{x}}<br>{metric} %{{y}}<extra></extra>",
        **kw,
    }


def pareto_figure(
    trials: Sequence[Mapping[str, Any]],
    maximize: bool,
    metric: str,
    winner: int | None = None,
    study_front: Sequence[int] | None = None,
) -> Figure | None:
    """Metric against each cost (buttons switch params / FLOPs / latency): the complete trials,
    the front of that pair (a line through its members), the winner (a star), pruned trials at
    their last reported value and over-budget ones at their measured cost along the bottom."""
    done = complete_trials(trials)
    data: list[dict[str, Any]] = []
    groups: list[int] = []  # which cost (button) each trace belongs to
    buttons: list[dict[str, Any]] = []
    name = plot_text(metric)
    front_ids = set(study_front or [])
    for key, label in COSTS:
        pts = [t for t in done if is_number(t.get(key)) and t[key] > 0]
        rest = [t for t in trials if t.get("state") != "complete" and is_number(t.get(key))
                and t[key] > 0]  # fmt: skip
        shared = {"visible": not data}
        traces = state_traces(rest, key, name, label, **shared)
        if not pts and not traces:
            continue
        if pts:
            mask = pareto_mask([t["metric"] for t in pts], [t[key] for t in pts], maximize)
            front = sorted((t for t, m in zip(pts, mask) if m), key=lambda t: t[key])
            cost = {"key": key, "label": label, "metric": name, **shared}
            under = [t for t in pts if t.get("number") != winner]  # the star draws the winner
            own = [t for t in under if t.get("number") in front_ids]
            rest_pts = [t for t in under if t.get("number") not in front_ids]
            star = [t for t in pts if t.get("number") == winner]
            drawn = [
                # no legend entry for an empty trace, nor for a "front" of one point (under
                # the star, or a line of one point: nothing to see)
                _cost_trace(rest_pts, mode="markers", name=STATE_MARKS["complete"][0],
                            marker=STATE_MARKS["complete"][1], **cost) if rest_pts else None,
                _cost_trace(own, mode="markers", name="on the study's front (all objectives)",
                            marker={**STATE_MARKS["complete"][1], "color": COLORS[1], "size": 8},
                            **cost) if own else None,
                _cost_trace(front, mode="lines+markers", name=f"front: {name} vs {label}",
                            marker={"size": 9}, line={"shape": "hv", "color": COLORS[0]},
                            **cost) if len(front) > 1 else None,
                _cost_trace(star, mode="markers", name="winner", marker={
                    "symbol": "star", "size": 16, "color": COLORS[3]}, **cost) if star else None,
            ]  # fmt: skip
            traces = [tr for tr in drawn if tr is not None] + traces
        groups += [len(buttons)] * len(traces)
        data += traces
        vals, texts = log_ticks([x for tr in traces for x in tr["x"]])
        axis_update = {"xaxis.title.text": label + " (log)", "xaxis.tickvals": vals,
                       "xaxis.ticktext": texts}  # fmt: skip
        buttons.append({"label": label, "method": "update", "args": [{}, axis_update]})
    if not data:
        return None
    for i, b in enumerate(buttons):  # show one cost's traces at a time
        b["args"][0]["visible"] = [g == i for g in groups]
    first = buttons[0]["args"][1]
    span = value_range([v for tr in data if tr.get("yaxis") != "y2" for v in tr["y"]], metric)
    menu = {"type": "buttons", "direction": "right", "x": 0, "y": 1.04, "xanchor": "left",
            "yanchor": "bottom",
            "buttons": buttons, "showactive": True}  # fmt: skip
    return {
        "data": data,
        "layout": layout(
            **strip_layout(
                data,
                axis(
                    first["xaxis.title.text"],
                    type="log",
                    tickvals=first["xaxis.tickvals"],
                    ticktext=first["xaxis.ticktext"],
                ),
                axis(name, range=span) if span else axis(name),
            ),
            updatemenus=[menu] if len(buttons) > 1 else [],
            height=460,
            # under the plot: above it, a legend of every trial state runs into the buttons
            legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.2, "yanchor": "top"},
            margin={"l": 60, "r": 20, "t": 50, "b": 120},
        ),
    }


def log_ticks(values: Sequence[float]) -> tuple[list[float], list[str]]:
    """Ticks of a log axis over ``values`` (all > 0), each labelled in full ("20 k"): whole
    decades when the values span two or more, else 1-2-5 steps, else every digit. Plotly's own
    "D2" ticks label 20 k and 50 k as a bare "2" and "5", which says nothing of the scale when
    no decade is in view."""
    lo, hi = min(values), max(values)
    decades = range(math.floor(math.log10(lo)), math.floor(math.log10(hi)) + 2)
    for steps in ((1,), (1, 2, 5), tuple(range(1, 10))):
        ticks = [m * 10.0**e for e in decades for m in steps]
        inside = [t for t in ticks if lo <= t <= hi]
        if (steps != (1,) or math.log10(hi / lo) >= 2) and len(inside) >= 2:
            break
    # one tick beyond each end too: Plotly pads the range, and hides the ticks outside it
    below = [t for t in ticks if t < lo][-1:]
    above = [t for t in ticks if t > hi][:1]
    vals = below + inside + above
    return [float(f"{v:.6g}") for v in vals], [fmt_si(float(f"{v:.6g}")) for v in vals]


def importance_figure(importances: Mapping[str, float] | None, top: int = 20) -> Figure | None:
    """Optuna's parameter importances as horizontal bars, the largest on top."""
    items = sorted(
        ((k, v) for k, v in (importances or {}).items() if is_number(v)),
        key=lambda kv: kv[1],
        reverse=True,
    )[:top]
    if not items:
        return None
    items.reverse()
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [v for _, v in items],
                "y": plot_texts(k for k, _ in items),
                "marker": {"color": COLORS[0]},
                "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
            }
        ],
        "layout": layout(
            xaxis=axis("importance (share of the metric's variance)"),
            yaxis=axis(type="category", automargin=True),
            height=max(220, 26 * len(items) + 80),
            margin={"l": 20, "r": 20, "t": 20, "b": 50},
        ),
    }


def family_figure(rows: Sequence[Mapping[str, Any]], metric: str) -> Figure | None:
    """The best metric of each family as bars, with its cost in the hover (families that
    never completed a trial have no bar: the table beside says so)."""
    rows = [r for r in rows if is_number(r.get("metric"))]
    if not rows:
        return None
    return {
        "data": [
            {
                "type": "bar",
                "x": plot_texts(r["family"] for r in rows),
                "y": [r["metric"] for r in rows],
                "texttemplate": "%{y:.4~g}",
                "textposition": "outside",
                "cliponaxis": False,
                "customdata": [
                    f"trial {r.get('number')} · {r.get('params') or '?'} params" for r in rows
                ],
                "marker": {"color": [COLORS[i % len(COLORS)] for i in range(len(rows))]},
                "hovertemplate": "%{x}: %{y}<br>%{customdata}<extra></extra>",
            }
        ],
        "layout": layout(
            xaxis=axis("family", type="category", automargin=True),
            yaxis=axis(plot_text(metric)),
            height=280,
        ),
    }
