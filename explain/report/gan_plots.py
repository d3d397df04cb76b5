"""GAN figures: training curves, generated-vs-real grids, latent traversals and discriminator
attributions (pure functions to Plotly dicts; user strings escaped here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explain.report._format import plot_text, plot_texts
from explain.report._style import COLORS, MUTED, SEQUENTIAL, Figure, axis, is_number, layout
from explain.report.explain_plots import as_array, image_map, names_for

GEN, REAL = COLORS[0], COLORS[1]


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


def _mosaic(rows: Sequence[Sequence[np.ndarray]], gap_after: int | None = None) -> np.ndarray:
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


def _mosaic_figure(
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
            image_map(as_array(s)) / max(1, _channels(s)) for s in (gen[c] if c < len(gen) else [])
        ]
        r = [
            image_map(as_array(s)) / max(1, _channels(s))
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
    z = _mosaic(tiles, gap_after=n_gen)
    n_real = max(len(r) for _, _, r in rows)
    top = [
        ((w + 1) * n_gen / 2 - 0.5, "generated"),
        ((w + 1) * (n_gen + 1 + n_real / 2) - 0.5, "real"),
    ]
    return _mosaic_figure(z, [c for c, _, _ in rows], h, top)


def _channels(sample: Any) -> int:
    a = np.asarray(sample, dtype=float)
    return a.shape[0] if a.ndim == 3 else 1


def _profile(sample: Any) -> np.ndarray:
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
                prof = _profile(s)
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
        rows = [[image_map(as_array(s)) / _channels(s) for s in t["samples"]] for t in ts]
        h, w = rows[0][0].shape
        top = [((w + 1) * j + (w - 1) / 2, f"{v:+.2g}") for j, v in enumerate(values)]
        return _mosaic_figure(_mosaic(rows), labels, h, top)
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
        _profile(t["change"]) if modality == "sequence" else as_array(t["change"]).reshape(-1)
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
        prof = _profile(v) if modality == "sequence" else v.reshape(-1)
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
