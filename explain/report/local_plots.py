"""Local explanations (one example each), check curves and method agreement (Plotly dicts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explain.report._format import plot_text, plot_texts
from explain.report._style import COLORS, DIVERGING, MUTED, Figure, axis, is_number, layout
from explain.report.explain_plots import (
    as_array,
    heatmap_grid,
    image_map,
    names_for,
    normalised,
    step_profile,
    top_features,
)

#: Local examples shown at most: each is a figure, and readers look at a handful, not hundreds.
MAX_LOCAL = 12
LOCAL_FEATURES = 10
AGREEMENT = [[0, "#b2182b"], [0.5, "#f7f7f7"], [1, "#2166ac"]]  # red disagree, blue agree


def pick_local(local: Sequence[Mapping[str, Any]], k: int = MAX_LOCAL) -> list[Mapping[str, Any]]:
    """Up to ``k`` examples taken in turn from each category (correct, misclassified, ...), so
    every category is represented; the order within a category is kept."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for item in local:
        groups.setdefault(str(item.get("category") or "other"), []).append(item)
    picked: list[Mapping[str, Any]] = []
    queues = [list(g) for g in groups.values()]
    while len(picked) < k and any(queues):
        for q in queues:
            if q and len(picked) < k:
                picked.append(q.pop(0))
    return picked


def tabular_local_figure(item: Mapping[str, Any], names: Sequence[str]) -> Figure | None:
    """One example's top features: a bar per method; labels show the feature's value."""
    attrs = {m: as_array(v).reshape(-1) for m, v in (item.get("attributions") or {}).items()}
    attrs = {m: v for m, v in attrs.items() if v.size}
    if not attrs:
        return None
    size = min(v.size for v in attrs.values())
    first = next(iter(attrs.values()))[:size]
    order = top_features(first, LOCAL_FEATURES)[::-1]
    x_in = as_array(item.get("input")).reshape(-1)
    labels = names_for(names, size)
    ticks = [
        f"{labels[i]} = {x_in[i]:.3g}" if i < x_in.size and np.isfinite(x_in[i]) else labels[i]
        for i in order
    ]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": plot_text(m),
            "y": plot_texts(ticks),
            "x": [float(v[i]) for i in order],
            "hovertemplate": "%{y}: %{x:.4g}<extra>" + plot_text(m) + "</extra>",
        }
        for m, v in attrs.items()
    ]
    return {
        "data": data,
        "layout": layout(
            barmode="group",
            xaxis=axis("contribution to the explained output"),
            yaxis=axis(type="category", automargin=True),
            height=max(240, (8 + 8 * len(data)) * len(order) + 90),
            margin={"l": 20, "r": 20, "t": 10, "b": 60},
        ),
    }


def image_local_figure(item: Mapping[str, Any]) -> Figure | None:
    """The input image beside each method's map (red pushes towards the explained output)."""
    maps = [(m, image_map(as_array(v))) for m, v in (item.get("attributions") or {}).items()]
    maps = [(m, a) for m, a in maps if a.ndim == 2 and a.size]
    if not maps:
        return None
    x_in = as_array(item.get("input"))
    picture = (x_in.mean(axis=0) if x_in.ndim == 3 else x_in) if x_in.ndim >= 2 else None
    if picture is not None:
        maps.insert(0, ("input", picture))
    fig = heatmap_grid(maps, cols=min(len(maps), 4))
    if fig is None:
        return None
    fig["layout"]["coloraxis"].update(colorscale=DIVERGING, cmin=-1, cmax=1)
    if picture is not None:  # the input keeps its own values, on a grey scale of its own
        fig["data"][0].update(coloraxis="coloraxis2", z=picture)
        fig["layout"]["coloraxis2"] = {
            "colorscale": "Greys",
            "reversescale": True,
            "showscale": False,
        }
    return fig


def sequence_local_figure(item: Mapping[str, Any], names: Sequence[str]) -> Figure | None:
    """The input signal (top) over each method's contribution per time step (bottom)."""
    attrs = {m: step_profile(as_array(v)) for m, v in (item.get("attributions") or {}).items()}
    attrs = {m: v for m, v in attrs.items() if v.size}
    if not attrs:
        return None
    x_in = as_array(item.get("input"))
    x_in = x_in.reshape(len(x_in), -1) if x_in.size else np.zeros((0, 0))  # no input: no line
    data: list[dict[str, Any]] = []
    for j in range(min(x_in.shape[1], 3)):  # more channels than three do not read as lines
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "y": x_in[:, j],
                "name": plot_text(names_for(names, x_in.shape[1])[j]),
                "line": {"color": MUTED if j == 0 else COLORS[6 + j], "width": 2},
            }
        )
    for i, (m, v) in enumerate(attrs.items()):
        data.append(
            {
                "type": "bar",
                "y": normalised(v),
                "xaxis": "x",
                "yaxis": "y2",
                "name": plot_text(m),
                "marker": {"color": COLORS[i % 6]},
                "opacity": 0.75,
            }
        )
    return {
        "data": data,
        "layout": layout(
            barmode="group",
            height=380,
            xaxis=axis("time step", anchor="y2"),
            yaxis=axis("input", domain=[0.58, 1]),
            yaxis2=axis("contribution (scaled)", domain=[0, 0.48]),
        ),
    }


def local_figure(item: Mapping[str, Any], modality: str, names: Sequence[str]) -> Figure | None:
    """The figure for one local explanation, by modality."""
    if modality == "image":
        return image_local_figure(item)
    if modality == "sequence":
        return sequence_local_figure(item, names)
    return tabular_local_figure(item, names)


def check_curves_figure(checks: Sequence[Mapping[str, Any]]) -> Figure | None:
    """Deletion / insertion curves of each method against the random order, side by side."""
    data: list[dict[str, Any]] = []
    colors: dict[str, str] = {}
    for c in checks:
        extra = c.get("extra") or {}
        frac, curve = extra.get("fractions"), extra.get("curve")
        if c.get("name") not in ("deletion", "insertion") or not frac or not curve:
            continue
        side = "" if c["name"] == "deletion" else "2"
        method = str(c.get("method"))
        color = colors.setdefault(method, COLORS[len(colors) % len(COLORS)])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": frac,
                "y": curve,
                "xaxis": "x" + side,
                "yaxis": "y" + side,
                "legendgroup": method,
                "showlegend": side == "",
                "name": plot_text(method),
                "line": {"color": color, "width": 2},
            }
        )
        if extra.get("random_curve"):
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": frac,
                    "y": extra["random_curve"],
                    "xaxis": "x" + side,
                    "yaxis": "y" + side,
                    "legendgroup": method,
                    "showlegend": False,
                    "name": plot_text(method) + " (random order)",
                    "line": {"color": color, "dash": "dot", "width": 1},
                }
            )
    if not data:
        return None
    return {
        "data": data,
        "layout": layout(
            xaxis=axis("fraction removed (deletion)", domain=[0, 0.46]),
            yaxis=axis("output"),
            xaxis2=axis("fraction restored (insertion)", domain=[0.54, 1]),
            yaxis2=axis("", anchor="x2"),
        ),
    }


def agreement_matrix(agreement: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list]]:
    """Methods and the symmetric matrix of their agreement values (1 on the diagonal, None
    where a pair was not compared), from checks whose ``method`` reads ``"a vs b"``."""
    pairs = {}
    for c in agreement:
        parts = str(c.get("method", "")).split(" vs ")
        if len(parts) == 2 and is_number(c.get("value")):
            pairs[(parts[0], parts[1])] = float(c["value"])
    methods = sorted({m for p in pairs for m in p})
    matrix = [
        [1.0 if a == b else pairs.get((a, b), pairs.get((b, a))) for b in methods] for a in methods
    ]
    return methods, matrix


def agreement_figure(agreement: Sequence[Mapping[str, Any]]) -> Figure | None:
    """Rank agreement between methods as a heatmap (1 = the same ranking of inputs)."""
    methods, matrix = agreement_matrix(agreement)
    if len(methods) < 2:
        return None
    labels = plot_texts(methods)
    return {
        "data": [
            {
                "type": "heatmap",
                "z": matrix,
                "x": labels,
                "y": labels,
                "zmin": -1,
                "zmax": 1,
                "colorscale": AGREEMENT,
                "text": matrix,
                "texttemplate": "%{z:.2f}",
                "hovertemplate": "%{y} vs %{x}: %{z:.3f}<extra></extra>",
            }
        ],
        "layout": layout(
            xaxis=axis(type="category", automargin=True),
            yaxis=axis(type="category", autorange="reversed", automargin=True),
            height=max(260, 60 * len(methods) + 120),
        ),
    }
