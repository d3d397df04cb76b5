"""GAN samples as figures: tiles of images (generated beside real) and line profiles of
sequences and tabular rows, per class (pure functions to Plotly dicts; user strings escaped)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explain.report._format import plot_text, plot_texts
from explain.report._style import COLORS, Figure, axis, layout
from explain.report.explain_plots import as_array, image_map, names_for

GEN, REAL = COLORS[0], COLORS[1]


def mosaic(rows: Sequence[Sequence[np.ndarray]], gap_after: int | None = None) -> np.ndarray:
    """Tile (H, W) maps into one array, rows x columns, with NaN gaps (drawn blank); an extra
    gap column after column ``gap_after``."""
    h, w = rows[0][0].shape
    cols = max(len(r) for r in rows) + (1 if gap_after is not None else 0)
    out = np.full((len(rows) * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for i, row in enumerate(rows):
        for j, m in enumerate(row):
            jj = j + (1 if gap_after is not None and j >= gap_after else 0)
            out[i * (h + 1) : i * (h + 1) + h, jj * (w + 1) : jj * (w + 1) + w] = m
    return out


def mosaic_figure(
    z: np.ndarray,
    row_labels: Sequence[str],
    h: int,
    top: Sequence[tuple[float, str]],
    colorscale: Any = "Greys",
    zmin: float | None = None,
    zmax: float | None = None,
    width: int = 940,
) -> Figure:
    """One heatmap of tiled images, square pixels, a label per tile row, titles on top."""
    n_rows, n_cols = z.shape
    cell = max(2.0, min(14.0, (width - 160) / n_cols))
    trace: dict[str, Any] = {
        "type": "heatmap",
        "z": z,
        "colorscale": colorscale,
        "reversescale": colorscale == "Greys",
        "hoverongaps": False,
        "hovertemplate": "%{z:.3f}<extra></extra>",
        "colorbar": {"thickness": 10, "len": 0.8},
    }
    if zmin is not None:
        trace.update(zmin=zmin, zmax=zmax)
    ticks = [(h + 1) * i + (h - 1) / 2 for i in range(len(row_labels))]
    notes = [
        {
            "text": plot_text(t),
            "x": x,
            "y": -0.5,
            "xref": "x",
            "yref": "y",
            "showarrow": False,
            "yanchor": "bottom",
            "font": {"size": 11},
        }
        for x, t in top
    ]
    return {
        "data": [trace],
        "layout": layout(
            height=int(n_rows * cell + 70),
            width=None,
            margin={"l": 10, "r": 10, "t": 30, "b": 10},
            xaxis={"visible": False, "constrain": "domain"},
            yaxis={
                "tickvals": ticks,
                "ticktext": plot_texts(row_labels),
                "autorange": "reversed",
                "scaleanchor": "x",
                "constrain": "domain",
                "showgrid": False,
                "zeroline": False,
                "automargin": True,
                "ticks": "",
            },
            annotations=notes,
        ),
    }


def image_grid_figure(grid: Mapping[str, Any]) -> Figure | None:
    """Per class a row: the generated images, a gap, then real ones (channels averaged)."""
    gen, real = grid.get("generated") or [], grid.get("real") or []
    classes = list(grid.get("classes") or [])
    rows = []
    for c in range(len(classes)):
        g = [
            image_map(as_array(s)) / max(1, n_channels(s)) for s in (gen[c] if c < len(gen) else [])
        ]
        r = [
            image_map(as_array(s)) / max(1, n_channels(s))
            for s in (real[c] if c < len(real) else [])
        ]
        if g or r:
            rows.append((classes[c], g, r))
    if not rows:
        return None
    n_gen = max(len(g) for _, g, _ in rows)
    h, w = (rows[0][1] or rows[0][2])[0].shape
    blank = np.full((h, w), np.nan)
    tiles = [g + [blank] * (n_gen - len(g)) + r for _, g, r in rows]
    z = mosaic(tiles, gap_after=n_gen)
    n_real = max(len(r) for _, _, r in rows)
    top = [
        ((w + 1) * n_gen / 2 - 0.5, "generated"),
        ((w + 1) * (n_gen + 1 + n_real / 2) - 0.5, "real"),
    ]
    return mosaic_figure(z, [c for c, _, _ in rows], h, top)


def n_channels(sample: Any) -> int:
    """The channels of an image sample (C, H, W); 1 for anything else."""
    a = np.asarray(sample, dtype=float)
    return a.shape[0] if a.ndim == 3 else 1


def profile(sample: Any) -> np.ndarray:
    """A sequence (T, F) as its first feature over time; a tabular (F,) row as is."""
    a = as_array(sample)
    return a[:, 0] if a.ndim == 2 else a.reshape(-1)


def profiles_figure(
    grid: Mapping[str, Any], modality: str, feature_names: Sequence[str] = ()
) -> Figure | None:
    """Sequences (first feature over time) or tabular rows (value per feature): one panel per
    class, generated in blue over real in orange."""
    gen, real = grid.get("generated") or [], grid.get("real") or []
    classes = list(grid.get("classes") or [])
    if not classes:
        return None
    cols = 2 if len(classes) > 1 else 1
    n_rows = -(-len(classes) // cols)
    data, lay = (
        [],
        layout(height=max(260, 190 * n_rows + 40), margin={"l": 40, "r": 10, "t": 40, "b": 40}),
    )
    names: list[str] | None = None
    gap = 0.06
    for c, cname in enumerate(classes):
        r, col = divmod(c, cols)
        sfx = "" if c == 0 else str(c + 1)
        for side, color, samples in (("generated", GEN, gen), ("real", REAL, real)):
            for k, s in enumerate(samples[c] if c < len(samples) else []):
                prof = profile(s)
                if names is None:
                    names = plot_texts(names_for(feature_names, prof.size))
                x = names if modality == "tabular" else list(range(prof.size))
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "x": x,
                        "y": prof,
                        "xaxis": f"x{sfx}",
                        "yaxis": f"y{sfx}",
                        "name": side,
                        "legendgroup": side,
                        "showlegend": c == 0 and k == 0,
                        "opacity": 0.75,
                        "line": {"color": color, "width": 1.2},
                        "hovertemplate": plot_text(cname) + f" · {side}: %{{y:.3f}}<extra></extra>",
                    }
                )
        w = (1 - gap * (cols - 1)) / cols
        h = (1 - gap * (n_rows - 1)) / n_rows
        top = 1 - r * (h + gap)
        lay[f"xaxis{sfx}"] = axis(
            domain=[col * (w + gap), col * (w + gap) + w],
            anchor=f"y{sfx}",
            showticklabels=r == n_rows - 1 or c + cols >= len(classes),
        )
        lay[f"yaxis{sfx}"] = axis(domain=[top - h, top], anchor=f"x{sfx}")
        lay.setdefault("annotations", []).append(
            {
                "text": plot_text(cname),
                "x": col * (w + gap),
                "y": top,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 11},
            }
        )
    return {"data": data, "layout": lay} if data else None
