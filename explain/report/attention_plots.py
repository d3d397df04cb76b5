"""Attention maps of a transformer winner as a token x token heatmap with a layer / head menu."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from explain.report._format import plot_texts
from explain.report._style import Figure, axis, layout
from explain.report.explain_plots import as_array, names_for


def attention_figure(attention: Mapping[str, Any], max_values: int = 200_000) -> Figure | None:
    """Attention weights as a token x token heatmap; a menu picks the layer and head (the
    mean over heads first). Single heads are left out when they would bloat the file."""
    if not isinstance(attention, Mapping):
        return None
    layers = [as_array(layer) for layer in attention.get("layers") or []]
    layers = [a for a in layers if a.ndim == 3 and a.size]
    if not layers:
        return None
    n_tok = layers[0].shape[-1]
    tokens = plot_texts(names_for(attention.get("tokens"), n_tok, prefix="t"))
    heads = sum(a.size for a in layers) <= max_values
    options: list[tuple[str, np.ndarray]] = []
    for li, a in enumerate(layers):
        options.append((f"layer {li + 1} · mean of {a.shape[0]} heads", a.mean(axis=0)))
        if heads and a.shape[0] > 1:
            options += [(f"layer {li + 1} · head {h + 1}", a[h]) for h in range(a.shape[0])]
    buttons = [{"label": label, "method": "restyle", "args": [{"z": [z]}]} for label, z in options]
    side = min(640, max(460, 14 * n_tok + 200))
    return {
        "data": [
            {
                "type": "heatmap",
                "z": options[0][1],
                "x": tokens,
                "y": tokens,
                "colorscale": "Viridis",
                "zmin": 0,
                "hovertemplate": "query %{y} → key %{x}: %{z:.3f}<extra></extra>",
            }
        ],
        "layout": layout(
            xaxis=axis(
                "attended to (key)",
                type="category",
                automargin=True,
                constrain="domain",
                tickangle=-45,
            ),
            yaxis=axis(
                "attending (query)",
                type="category",
                autorange="reversed",
                automargin=True,
                scaleanchor="x",
                constrain="domain",
            ),
            height=side,
            margin={"l": 20, "r": 20, "t": 50, "b": 40},
            updatemenus=[
                {
                    "buttons": buttons,
                    "x": 0,
                    "y": 1.01,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "direction": "down",
                }
            ],
        ),
    }
