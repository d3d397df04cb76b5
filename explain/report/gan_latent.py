"""GAN latent space figures: traversals of single latent dims, where each dim acts, and how
much every dim changes the output (pure functions to Plotly dicts; user strings escaped)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from explain.report._format import plot_texts
from explain.report._style import SEQUENTIAL, Figure, axis, is_number, layout
from explain.report.explain_plots import as_array, image_map, names_for
from explain.report.gan_samples import (
    GEN,
    mosaic,
    mosaic_figure,
    n_channels,
    profile,
    profiles_figure,
)


def traversal_figure(
    traversals: Sequence[Mapping[str, Any]], modality: str, feature_names: Sequence[str] = ()
) -> Figure | None:
    """Images: a strip of samples per latent dim (rows) over its values (columns). Sequences
    and tabular rows: one panel per dim, a line per value from light (-2.5) to dark (+2.5)."""
    ts = [t for t in traversals if isinstance(t, Mapping) and t.get("samples")]
    if not ts:
        return None
    labels = [f"z[{t.get('dim')}]" for t in ts]
    values = [v for v in ts[0].get("values") or []]
    if modality == "image":
        rows = [[image_map(as_array(s)) / n_channels(s) for s in t["samples"]] for t in ts]
        h, w = rows[0][0].shape
        top = [((w + 1) * j + (w - 1) / 2, f"{v:+.2g}") for j, v in enumerate(values)]
        return mosaic_figure(mosaic(rows), labels, h, top)
    grid = {"classes": labels, "generated": [t["samples"] for t in ts], "real": []}
    fig = profiles_figure(grid, modality, feature_names)
    if fig is None:
        return None
    n = max(1, len(values))
    i = 0  # recolour: step k of n, light (-2.5) to dark (+2.5)
    for t in ts:
        for k, _ in enumerate(t["samples"]):
            shade = 0.25 + 0.75 * k / max(1, n - 1)
            fig["data"][i]["line"] = {"color": f"rgba(37,99,235,{shade:.2f})", "width": 1.6}
            fig["data"][i]["name"] = f"z = {values[k]:+.2g}" if k < len(values) else ""
            fig["data"][i]["showlegend"] = False
            fig["data"][i]["hovertemplate"] = (
                f"z[{t.get('dim')}] = {values[k]:+.2g}: %{{y:.3f}}<extra></extra>"
                if k < len(values)
                else "%{y:.3f}<extra></extra>"
            )
            i += 1
    return fig


def change_figure(
    traversals: Sequence[Mapping[str, Any]], modality: str, feature_names: Sequence[str] = ()
) -> Figure | None:
    """Where each latent dim acts: its mean |output change| as a map (images) or a dim x
    time-step / feature heatmap."""
    ts = [t for t in traversals if isinstance(t, Mapping) and t.get("change") is not None]
    if not ts:
        return None
    labels = [f"z[{t.get('dim')}]" for t in ts]
    if modality == "image":
        from explain.report.explain_plots import heatmap_grid

        return heatmap_grid(
            [(lab, image_map(as_array(t["change"]))) for lab, t in zip(labels, ts)],
            cols=4,
            joint=True,
        )
    z = [
        profile(t["change"]) if modality == "sequence" else as_array(t["change"]).reshape(-1)
        for t in ts
    ]
    size = min(len(v) for v in z)
    x = list(range(size)) if modality == "sequence" else plot_texts(names_for(feature_names, size))
    return {
        "data": [
            {
                "type": "heatmap",
                "z": [v[:size] for v in z],
                "x": x,
                "y": labels,
                "colorscale": SEQUENTIAL,
                "zmin": 0,
                "hovertemplate": "%{y} at %{x}: %{z:.4f}<extra></extra>",
            }
        ],
        "layout": layout(
            height=max(200, 36 * len(ts) + 110),
            xaxis=axis(
                "time step" if modality == "sequence" else "",
                type="category" if modality == "tabular" else "-",
                automargin=True,
            ),
            yaxis=axis(type="category", autorange="reversed", automargin=True),
            margin={"l": 20, "r": 20, "t": 20, "b": 50},
        ),
    }


def latent_bar_figure(latent_change: Sequence[Any] | None) -> Figure | None:
    """Every latent dim's mean |output change|: a few tall bars = a few dims do the work."""
    y = [v if is_number(v) else 0 for v in latent_change or []]
    if not y:
        return None
    return {
        "data": [
            {
                "type": "bar",
                "x": list(range(len(y))),
                "y": y,
                "marker": {"color": GEN},
                "hovertemplate": "z[%{x}]: %{y:.4g}<extra></extra>",
            }
        ],
        "layout": layout(
            height=240,
            xaxis=axis("latent dim"),
            yaxis=axis("mean |change|"),
            margin={"l": 60, "r": 20, "t": 20, "b": 45},
        ),
    }
