"""GAN figures: training curves and discriminator attributions here; generated-vs-real
samples in :mod:`gan_samples`, the latent space in :mod:`gan_latent` (re-exported, so every
GAN figure is importable from this module). Pure functions to Plotly dicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explain.report._format import plot_texts
from explain.report._style import COLORS, MUTED, Figure, axis, is_number, layout
from explain.report.explain_plots import as_array, image_map, names_for
from explain.report.gan_latent import change_figure, latent_bar_figure, traversal_figure
from explain.report.gan_samples import GEN, REAL, image_grid_figure, profile, profiles_figure


def curves_figure(rows: Sequence[Mapping[str, Any]] | None) -> Figure | None:
    """D and G losses per epoch (top) and the score (FCD) and diversity (bottom)."""
    rows = [r for r in rows or [] if isinstance(r, Mapping)]
    if not rows:
        return None
    x = [r.get("epoch", i + 1) for i, r in enumerate(rows)]

    def line(key: str, name: str, color: str, yaxis: str, dash: str = "solid") -> dict | None:
        y = [r.get(key) if is_number(r.get(key)) else None for r in rows]
        if all(v is None for v in y):
            return None
        return {
            "type": "scatter",
            "mode": "lines+markers",
            "x": x,
            "y": y,
            "name": name,
            "yaxis": yaxis,
            "line": {"color": color, "width": 2, "dash": dash},
            "marker": {"size": 4},
        }

    data = [
        line("d_loss", "D loss", COLORS[3], "y"),
        line("g_loss", "G loss", COLORS[0], "y"),
        line("score", "FCD (lower is better)", COLORS[2], "y2"),
        line("diversity", "diversity", COLORS[4], "y3", "dot"),
    ]
    data = [d for d in data if d]
    if not data:
        return None
    return {
        "data": data,
        "layout": layout(
            height=420,
            xaxis=axis("epoch", anchor="y2"),
            yaxis=axis("loss", domain=[0.55, 1]),
            yaxis2=axis("FCD", domain=[0, 0.45]),
            yaxis3=axis("diversity", overlaying="y2", side="right", showgrid=False),
            margin={"l": 60, "r": 60, "t": 40, "b": 50},
        ),
    }


def discriminator_figure(
    disc: Mapping[str, Any], modality: str, feature_names: Sequence[str] = ()
) -> Figure | None:
    """Mean |attribution| of D's logit on real vs generated examples (one shared scale)."""
    sides = {
        name: as_array((disc.get(key) or {}).get("mean_abs"))
        for key, name in (("real", "real"), ("fake", "generated"))
        if isinstance(disc.get(key), Mapping) and (disc.get(key) or {}).get("mean_abs") is not None
    }
    if not sides:
        return None
    if modality == "image":
        from explain.report.explain_plots import heatmap_grid

        maps = []  # a row per side: mean |attribution|, then one example and its attribution
        for key, name in (("real", "real"), ("fake", "generated")):
            if name not in sides:
                continue
            maps.append((f"{name}: mean |attr|", image_map(sides[name])))
            for ex in ((disc.get(key) or {}).get("examples") or [])[:1]:
                maps.append((f"{name} example", image_map(as_array(ex.get("input")))))
                maps.append(
                    (f"{name} example: |attr|", image_map(np.abs(as_array(ex.get("attribution")))))
                )
        return heatmap_grid(maps, cols=3, width=640)
    data = []
    for name, v in sides.items():
        prof = profile(v) if modality == "sequence" else v.reshape(-1)
        x = (
            list(range(prof.size))
            if modality == "sequence"
            else plot_texts(names_for(feature_names, prof.size))
        )
        color = REAL if name == "real" else GEN
        if modality == "sequence":
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": prof,
                    "name": name,
                    "line": {"color": color, "width": 2},
                }
            )
        else:
            data.append(
                {"type": "bar", "x": x, "y": prof, "name": name, "marker": {"color": color}}
            )
    return {
        "data": data,
        "layout": layout(
            barmode="group",
            height=300,
            xaxis=axis("time step" if modality == "sequence" else "", automargin=True),
            yaxis=axis("mean |attribution|"),
        ),
    }


__all__ = [
    "MUTED",
    "change_figure",
    "curves_figure",
    "discriminator_figure",
    "image_grid_figure",
    "latent_bar_figure",
    "profiles_figure",
    "traversal_figure",
]
