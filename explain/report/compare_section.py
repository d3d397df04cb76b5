"""The view model of the "Across the front" section: the Pareto-optimal models explained alike
(``comparison``, from ``RUN/explain-top/comparison.json``), their global maps side by side, the
rank agreement between them and the answer to "does the smaller model look at the same evidence
as the bigger one?"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explain.compare import answer
from explain.report import explain_plots as ep
from explain.report._format import fmt_num, fmt_si, plot_texts
from explain.report._style import COLORS, DIVERGING, Figure, axis, layout
from explain.report.decision import metric_label
from explain.report.schema import ReportData
from explain.report.sections import Figures

TOP_FEATURES = 12  # bars per small figure: the features that matter most to the models overall
_STATUSES = ("pass", "warn", "fail", "unchecked")


def compare(data: ReportData, figs: Figures) -> dict[str, Any] | None:
    """The models' table, one global map per model, the agreement heatmaps, the families'
    means and the answer sentence; only a note when the comparison is stale or unreadable;
    None (the section is hidden) without a comparison."""
    c = data.get("comparison")
    if not isinstance(c, Mapping):
        return None
    if c.get("note"):
        return {"note": str(c["note"])}
    models = [m for m in c.get("models") or [] if isinstance(m, Mapping)]
    if not models:
        return None
    labels = [model_label(m) for m in models]
    methods = list(dict.fromkeys(k for m in models for k in _checks(m)))
    rows = [
        {
            "rank": m.get("rank"),
            "trial": fmt_num(m.get("trial")),
            "family": str(m.get("family") or "–"),
            "params": fmt_si(m.get("params")),
            "test": fmt_num(m.get("test"), 4),
            "badges": [{"method": k, "status": _status(_checks(m).get(k))} for k in methods],
        }
        for m in models
    ]
    maps = [ep.as_array(m.get("global")).reshape(-1) for m in models]
    order = _shared_order(maps)
    modality = str(c.get("modality") or "tabular")
    shape = [int(s) for s in c.get("input_shape") or [] if isinstance(s, int | float)]
    names = [str(n) for n in c.get("feature_names") or []]
    panels = [
        {
            "title": label,
            "figure": figs.add("compare-map", map_figure, v, modality, shape, names, order, label),
        }
        for label, v in zip(labels, maps, strict=True)
    ]
    agreement = c.get("agreement") if isinstance(c.get("agreement"), Mapping) else {}
    heat = figs.add("compare-agreement", agreement_figure, labels, agreement)
    fam = c.get("families") if isinstance(c.get("families"), Mapping) else {}
    said = _answer(c)
    return {
        "method": str(c.get("method") or "–"),
        "metric": metric_label(models[0].get("metric") or "test metric"),
        "n_examples": fmt_num(c.get("n_examples")),
        "unit": str(c.get("unit") or "feature"),
        "methods": methods,
        "rows": rows,
        "maps": panels,
        "agreement": heat,
        "families": family_rows(fam),
        "dropped": [(str(k), str(v)) for k, v in (c.get("dropped") or {}).items()],
        "answer": said,
    }


def model_label(m: Mapping[str, Any]) -> str:
    """``#2 fnn, 8.55 k`` : rank, family and size of one model."""
    return f"#{m.get('rank')} {m.get('family') or '?'}, {fmt_si(m.get('params'))}"


def _checks(m: Mapping[str, Any]) -> dict[str, Any]:
    checks = m.get("checks")
    return {str(k): v for k, v in checks.items()} if isinstance(checks, Mapping) else {}


def _status(value: Any) -> str:
    return str(value) if value in _STATUSES else "unchecked"


def _answer(c: Mapping[str, Any]) -> str | None:
    try:
        said = answer(c)
    except (KeyError, IndexError, TypeError, ValueError):
        return None  # a matrix of the wrong size: the heatmap's card says what is missing
    return said["sentence"] if said else None


def _shared_order(maps: Sequence[np.ndarray]) -> list[int]:
    """Units by their mean importance over the models (each scaled to its own maximum)."""
    sized = [v for v in maps if v.size]
    if not sized:
        return []
    n = min(v.size for v in sized)
    return ep.top_features(np.mean([ep.normalised(np.abs(v[:n])) for v in sized], axis=0), n)


def map_figure(
    values: np.ndarray,
    modality: str,
    shape: Sequence[int],
    names: Sequence[str],
    order: Sequence[int],
    title: str,
) -> Figure | None:
    """One model's global map, scaled to its own maximum, drawn as the explanations section
    draws its modality: bars of the features (the same features, in the same order, for every
    model), a pixel heatmap, or a profile over time steps."""
    v = ep.normalised(np.abs(np.asarray(values, dtype=float).reshape(-1)))
    if not v.size:
        return None
    if modality == "image" and len(shape) >= 2 and v.size == shape[-2] * shape[-1]:
        return ep.heatmap_grid([(title, v.reshape(shape[-2], shape[-1]))], cols=1, width=300)
    if modality == "sequence":
        return {
            "data": [
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": list(range(v.size)),
                    "y": v,
                    "line": {"color": COLORS[0], "width": 2},
                    "hovertemplate": "step %{x}: %{y:.3f}<extra></extra>",
                }
            ],
            "layout": layout(
                height=220,
                margin={"l": 50, "r": 10, "t": 10, "b": 45},
                xaxis=axis("time step"),
                yaxis=axis("importance", range=[0, 1.05]),
            ),
        }
    top = [i for i in order if i < v.size][:TOP_FEATURES][::-1]
    labels = plot_texts(ep.names_for(names, v.size)[i] for i in top)
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": labels,
                "x": [float(v[i]) for i in top],
                "marker": {"color": COLORS[0]},
                "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
            }
        ],
        "layout": layout(
            height=18 * len(top) + 80,
            margin={"l": 10, "r": 10, "t": 10, "b": 45},
            xaxis=axis("importance (max 1)", range=[0, 1.05]),
            yaxis=axis(type="category", automargin=True),
        ),
    }


def agreement_figure(labels: Sequence[str], agreement: Mapping[str, Any]) -> Figure | None:
    """Two model x model heatmaps of weighted Spearman's rho: of the global maps (left) and the mean
    over examples (right), on one scale from -1 to 1."""
    parts = [(key, title) for key, title in (("global", "global map"), ("local", "per example"))
             if agreement.get(key) is not None]  # fmt: skip
    if not parts:
        return None
    ticks = plot_texts(labels)
    lay = layout(
        height=max(240, 40 * len(labels) + 120), margin={"l": 10, "r": 10, "t": 30, "b": 10}
    )
    data, notes, gap = [], [], 0.12
    width = (1 - gap * (len(parts) - 1)) / len(parts)
    for i, (key, title) in enumerate(parts):
        z = np.array(
            [[np.nan if x is None else float(x) for x in row] for row in agreement[key]],
            dtype=float,
        )
        if z.shape != (len(labels), len(labels)):
            raise ValueError(f"a {z.shape} {key} matrix for {len(labels)} models")
        sfx = "" if i == 0 else str(i + 1)
        x0 = i * (width + gap)
        data.append(
            {
                "type": "heatmap",
                "z": np.round(z, 3).tolist(),
                "x": ticks,
                "y": ticks,
                "xaxis": f"x{sfx}",
                "yaxis": f"y{sfx}",
                "coloraxis": "coloraxis",
                "texttemplate": "%{z:.2f}",
                "hovertemplate": "%{y} vs %{x}: \u03c1 = %{z:.3f}<extra>" + title + "</extra>",
            }
        )
        lay[f"xaxis{sfx}"] = {"domain": [x0, x0 + width], "anchor": f"y{sfx}", "type": "category",
                              "automargin": True, "tickangle": -30}  # fmt: skip
        lay[f"yaxis{sfx}"] = {"anchor": f"x{sfx}", "type": "category", "automargin": True,
                              "autorange": "reversed", "showticklabels": i == 0}  # fmt: skip
        notes.append({"text": title, "x": x0 + width / 2, "y": 1, "xref": "paper", "yref": "paper",
                      "showarrow": False, "yanchor": "bottom"})  # fmt: skip
    lay["annotations"] = notes
    lay["coloraxis"] = {"colorscale": DIVERGING, "cmin": -1, "cmax": 1,
                        "colorbar": {"thickness": 12, "title": {"text": "\u03c1"}}}  # fmt: skip
    return {"data": data, "layout": lay}


def family_rows(fam: Mapping[str, Any]) -> list[dict[str, str]]:
    """One row per pair of families (each pair once) with the mean global and per-example rho
    over pairs of their models and how many pairs that is; pairs with none are left out."""
    names = [str(n) for n in fam.get("names") or []]
    rows = []
    try:
        for i, a in enumerate(names):
            for j in range(i, len(names)):
                pairs = int(fam["pairs"][i][j])
                if pairs:
                    rows.append({
                        "pair": a if i == j else f"{a} vs {names[j]}",
                        "global": _rho(fam["global"][i][j]),
                        "local": _rho(fam["local"][i][j]),
                        "pairs": str(pairs),
                    })  # fmt: skip
    except (KeyError, IndexError, TypeError, ValueError):
        return []
    return rows


def _rho(x: Any) -> str:
    return "–" if not isinstance(x, int | float) or x != x else f"{float(x):.2f}"


__all__ = ["agreement_figure", "compare", "family_rows", "map_figure", "model_label"]
