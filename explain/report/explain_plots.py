"""Global explanation figures: importance bars, pixel heatmaps, time-step profiles, a SHAP
beeswarm and attention maps (pure functions to Plotly dicts; user strings escaped)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explain.report._format import XLABEL_CHARS, XLABEL_PX, label_alias, plot_text, plot_texts
from explain.report._style import COLORS, DIVERGING, SEQUENTIAL, Figure, axis, layout

#: Features drawn at most: bars beyond this are unreadable. The figure's card says "top 20 of
#: N"; its table lists the same top features, and explain/global.json (every method's
#: importance of every feature) and explain/shap.npz hold them all.
TOP_FEATURES = 20


def as_array(nested: Any) -> np.ndarray:
    """A nested list as a float array; missing values (None, NaN, inf) are drawn as 0."""
    a = np.asarray(nested if nested is not None else [], dtype=float)
    return np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)


def image_map(a: np.ndarray) -> np.ndarray:
    """An image attribution ``(C, H, W)`` or ``(H, W)`` as one ``(H, W)`` map (channels summed)."""
    return a.sum(axis=0) if a.ndim == 3 else a.reshape(a.shape[-2:]) if a.ndim >= 2 else a[None]


def step_profile(a: np.ndarray) -> np.ndarray:
    """A sequence attribution ``(T, F)`` or ``(T,)`` as one value per time step (features
    summed)."""
    return a.sum(axis=1) if a.ndim == 2 else a.reshape(-1)


def names_for(names: Sequence[str] | None, n: int, prefix: str = "x") -> list[str]:
    """``names`` padded with ``x0, x1, ...`` to length ``n``."""
    given = list(names or [])[:n]
    return given + [f"{prefix}{i}" for i in range(len(given), n)]


def top_features(importance: Sequence[float], k: int = TOP_FEATURES) -> list[int]:
    """Indices of the ``k`` largest ``|importance|``, largest first (ties keep input order)."""
    a = np.nan_to_num(np.abs(np.asarray(importance, dtype=float)).reshape(-1))
    return [int(i) for i in np.argsort(-a, kind="stable")[:k]]


def normalised(a: np.ndarray) -> np.ndarray:
    """``a / max|a|`` (zeros stay zeros), so methods with different units share one scale."""
    peak = float(np.nanmax(np.abs(a))) if a.size else 0.0
    return a / peak if peak > 0 else a


def tabular_global_figure(
    overall: Mapping[str, Any], names: Sequence[str], k: int = TOP_FEATURES
) -> Figure | None:
    """Global importance bars of the top features, one colour per method (each method scaled
    to its own maximum), ranked by the mean over methods."""
    vecs = {m: np.abs(as_array(v).reshape(-1)) for m, v in overall.items() if v is not None}
    vecs = {m: v for m, v in vecs.items() if v.size}
    if not vecs:
        return None
    size = min(v.size for v in vecs.values())
    scaled = {m: normalised(v[:size]) for m, v in vecs.items()}
    order = top_features(np.mean(list(scaled.values()), axis=0), k)[::-1]
    raw = [names_for(names, size)[i] for i in order]
    labels = plot_texts(raw)
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": plot_text(m),
            "y": labels,
            "x": [float(v[i]) for i in order],
            # the full name: the axis shows long ones shortened (labelalias, also on %{y})
            "customdata": [[labels[n], float(vecs[m][i])] for n, i in enumerate(order)],
            "hovertemplate": "%{customdata[0]}: %{customdata[1]:.4g}<extra>"
            + plot_text(m)
            + "</extra>",
        }
        for m, v in scaled.items()
    ]
    return {
        "data": data,
        "layout": layout(
            barmode="group",
            xaxis=axis("importance (1 = the method's largest)"),
            yaxis=axis(type="category", automargin=True, labelalias=label_alias(raw)),
            height=max(260, (8 + 8 * len(data)) * len(order) + 90),
            margin={"l": 20, "r": 20, "t": 20, "b": 60},
        ),
    }


def class_heatmap_figure(
    per_class: Mapping[str, Any], names: Sequence[str], k: int = TOP_FEATURES
) -> Figure | None:
    """Per-class importance of the top features as a class x feature heatmap."""
    rows = {c: np.abs(as_array(v).reshape(-1)) for c, v in per_class.items() if v is not None}
    if not rows:
        return None
    size = min(v.size for v in rows.values())
    z = np.array([v[:size] for v in rows.values()])
    order = top_features(z.mean(axis=0), k)
    classes, features = list(rows), [names_for(names, size)[i] for i in order]
    x, y = plot_texts(classes), plot_texts(features)
    cx, cy = label_alias(classes, XLABEL_CHARS), label_alias(features)
    hover = "class %{x}<br>%{y}: %{z:.4g}<extra></extra>"
    custom = None
    if cx or cy:  # full names on hover: the alias shortens %{x} / %{y} as it does the ticks
        custom = [[f"class {c}<br>{f}" for c in x] for f in y]
        hover = "%{customdata}: %{z:.4g}<extra></extra>"
    # Features down (their names stay horizontal and readable), classes across.
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z[:, order].T,
                "x": x,
                "y": y,
                "colorscale": SEQUENTIAL,
                **({"customdata": custom} if custom else {}),
                "hovertemplate": hover,
            }
        ],
        "layout": layout(
            xaxis=axis("class", type="category", automargin=True, labelalias=cx),
            yaxis=axis(type="category", autorange="reversed", automargin=True, labelalias=cy),
            height=max(260, 22 * len(order) + 120) + (XLABEL_PX if cx else 0),
            margin={"l": 20, "r": 20, "t": 20, "b": 50},
        ),
    }


def wrap_label(text: str, width: int = 14) -> str:
    """An escaped title broken into lines of about ``width`` characters at ``_`` or spaces
    (the ``<br>`` added here is the only markup; the text itself is escaped)."""
    words, lines = str(text).replace("_", " ").split(" "), [""]
    for w in words:
        if lines[-1] and len(lines[-1]) + 1 + len(w) > width:
            lines.append("")
        lines[-1] = f"{lines[-1]} {w}".strip()
    return "<br>".join(plot_text(line) for line in lines)


def heatmap_grid(
    maps: Sequence[tuple[str, np.ndarray]], cols: int = 5, joint: bool = False, width: int = 470
) -> Figure | None:
    """Small multiples of 2-D maps on one colour scale (each map scaled to its own maximum
    unless ``joint``), sized for a card ``width`` pixels wide; titles are escaped here."""
    maps = [(t, m) for t, m in maps if m.ndim == 2 and m.size]
    if not maps:
        return None
    cols = min(cols, len(maps))
    rows = -(-len(maps) // cols)
    peak = max(float(np.nanmax(np.abs(m))) for _, m in maps) if joint else None
    signed = any(float(np.nanmin(m)) < 0 for _, m in maps)
    h_px, w_px = maps[0][1].shape
    cell = max(60.0, (width - 100) / cols) * min(2.0, h_px / w_px)  # 100 px: bar and margins
    title, gap = 30.0, 0.03  # pixels above each map for its (two-line) title; column gap
    plot_h = rows * (title + cell)
    margin = {"l": 10, "r": 10, "t": 10, "b": 10}
    lay = layout(height=int(plot_h + 20), margin=margin)
    col_w = (1 - gap * (cols - 1)) / cols
    data, notes = [], []
    for i, (name, m) in enumerate(maps):
        r, c = divmod(i, cols)
        x0, top = c * (col_w + gap), 1 - (r * (title + cell) + title) / plot_h
        sfx = "" if i == 0 else str(i + 1)
        z = m / peak if peak else normalised(m)
        data.append(
            {
                "type": "heatmap",
                "z": z,
                "xaxis": f"x{sfx}",
                "yaxis": f"y{sfx}",
                "coloraxis": "coloraxis",
                "hovertemplate": "row %{y}, col %{x}: %{z:.3f}"
                "<extra>" + plot_text(name) + "</extra>",
            }
        )
        # constrain="domain": the square pixels shrink the axis box, not pad it, and it hugs
        # the top of its slot, right under its title.
        lay[f"xaxis{sfx}"] = {
            "domain": [x0, x0 + col_w],
            "anchor": f"y{sfx}",
            "visible": False,
            "constrain": "domain",
        }
        lay[f"yaxis{sfx}"] = {
            "domain": [max(0.0, top - cell / plot_h), top],
            "anchor": f"x{sfx}",
            "visible": False,
            "autorange": "reversed",
            "scaleanchor": f"x{sfx}",
            "constrain": "domain",
            "constraintoward": "top",
        }
        notes.append(
            {
                "text": wrap_label(name),
                "x": x0 + col_w / 2,
                "y": top,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": 10},
            }
        )
    lay["annotations"] = notes
    lay["coloraxis"] = (
        {"colorscale": DIVERGING, "cmin": -1, "cmax": 1}
        if signed
        else {"colorscale": "Viridis", "cmin": 0, "cmax": 1}
    )
    lay["coloraxis"]["colorbar"] = {
        "thickness": 12,
        "len": min(1.0, 260 / plot_h),
        "y": 1,
        "yanchor": "top",
    }
    return {"data": data, "layout": lay}


def sequence_global_figure(curves: Mapping[str, Any], xtitle: str = "time step") -> Figure | None:
    """Importance over time steps: one line per method, each scaled to its maximum."""
    data = []
    for i, (name, v) in enumerate(curves.items()):
        prof = step_profile(np.abs(as_array(v)))
        if prof.size:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "y": normalised(prof),
                    "x": list(range(prof.size)),
                    "name": plot_text(name),
                    "line": {"color": COLORS[i % len(COLORS)], "width": 2},
                }
            )
    if not data:
        return None
    return {
        "data": data,
        "layout": layout(xaxis=axis(xtitle), yaxis=axis("importance (1 = the method's largest)")),
    }


def sequence_class_figure(per_class: Mapping[str, Any]) -> Figure | None:
    """Importance over time for each class as a class x time-step heatmap (each row scaled to
    its maximum): ten overlaid lines would not read."""
    rows = {c: normalised(step_profile(np.abs(as_array(v)))) for c, v in per_class.items()}
    rows = {c: v for c, v in rows.items() if v.size}
    if not rows:
        return None
    size = min(v.size for v in rows.values())
    return {
        "data": [
            {
                "type": "heatmap",
                "z": [v[:size] for v in rows.values()],
                "y": plot_texts(rows),
                "x": list(range(size)),
                "colorscale": SEQUENTIAL,
                "zmin": 0,
                "zmax": 1,
                "customdata": [[plot_text(c)] * size for c in rows],
                "hovertemplate": "class %{customdata}, step %{x}: %{z:.3f}<extra></extra>",
            }
        ],
        "layout": layout(
            xaxis=axis("time step"),
            yaxis=axis(
                type="category",
                automargin=True,
                autorange="reversed",
                labelalias=label_alias(list(rows)),
            ),
            height=max(240, 24 * len(rows) + 110),
            margin={"l": 20, "r": 20, "t": 20, "b": 50},
        ),
    }
