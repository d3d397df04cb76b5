"""The SHAP beeswarm of a tabular model: its data (unit-tested) and its Plotly figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explain.report._format import plot_text, plot_texts
from explain.report._style import Figure, axis, layout
from explain.report.explain_plots import as_array, names_for, top_features

BEESWARM_FEATURES = 15
BEESWARM_POINTS = 300  # per feature: enough to see the shape, small in the file


def beeswarm_data(
    values: Any,
    inputs: Any,
    names: Sequence[str],
    top: int = BEESWARM_FEATURES,
    max_points: int = BEESWARM_POINTS,
) -> list[dict[str, Any]]:
    """Rows of a SHAP beeswarm, most important feature first: per feature the SHAP values
    (``x``), a row position spread by local density (``y``, deterministic) and the feature's
    value scaled to [0, 1] within the feature (``color``, None when inputs are missing)."""
    v = as_array(values)
    if v.ndim != 2 or not v.size:
        return []
    x_in = as_array(inputs)
    has_inputs = x_in.shape == v.shape
    keep = np.unique(np.linspace(0, v.shape[0] - 1, min(max_points, v.shape[0])).astype(int))
    labels = names_for(names, v.shape[1])
    rows = []
    for rank, j in enumerate(top_features(np.nanmean(np.abs(v), axis=0), top)):
        xs = v[keep, j]
        bins = np.digitize(xs, np.linspace(np.nanmin(xs), np.nanmax(xs) + 1e-12, 41))
        offset = np.zeros(xs.size)
        for b in np.unique(bins):
            idx = np.flatnonzero(bins == b)
            k = np.arange(idx.size)
            offset[idx] = ((k + 1) // 2) * np.where(k % 2, 1.0, -1.0)  # 0, +1, -1, +2, -2 ...
        spread = np.abs(offset).max()
        y = rank + (0.4 * offset / spread if spread else offset)
        color = None
        if has_inputs:
            col = x_in[keep, j]
            lo, hi = np.nanmin(col), np.nanmax(col)
            color = ((col - lo) / (hi - lo) if hi > lo else np.full(col.size, 0.5)).tolist()
        rows.append({"name": labels[j], "x": xs.tolist(), "y": y.tolist(), "color": color})
    return rows


def beeswarm_figure(shap: Mapping[str, Any], names: Sequence[str]) -> Figure | None:
    """The SHAP beeswarm: one row per feature, a dot per example, colour = the feature's value."""
    rows = beeswarm_data(shap.get("values"), shap.get("inputs"), names)
    if not rows:
        return None
    data = []
    for i, r in enumerate(rows):
        marker: dict[str, Any] = {"size": 5, "opacity": 0.8}
        if r["color"] is not None:
            marker.update(
                color=r["color"],
                colorscale="Bluered",
                cmin=0,
                cmax=1,
                showscale=i == 0,
                colorbar={
                    "title": {"text": "feature value", "side": "right"},
                    "tickvals": [0, 1],
                    "ticktext": ["low", "high"],
                    "thickness": 12,
                },
            )
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": r["x"],
                "y": r["y"],
                "marker": marker,
                "showlegend": False,
                "name": plot_text(r["name"]),
                "hovertemplate": "%{x:.4g}<extra>" + plot_text(r["name"]) + "</extra>",
            }
        )
    return {
        "data": data,
        "layout": layout(
            xaxis=axis("SHAP value (effect on the model output)"),
            yaxis=axis(
                tickvals=list(range(len(rows))),
                ticktext=plot_texts(r["name"] for r in rows),
                autorange="reversed",
                automargin=True,
                zeroline=False,
            ),
            height=30 * len(rows) + 110,
            margin={"l": 20, "r": 20, "t": 20, "b": 50},
        ),
    }
