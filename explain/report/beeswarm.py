"""The SHAP beeswarm of a tabular model: its data (unit-tested) and its Plotly figure, one
output (class) at a time: every dot explains the same output, so both signs appear and the
colour (the feature's value) can be read against the direction."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explain.report._format import isolate, plot_text, plot_texts, short
from explain.report._style import Figure, axis, layout
from explain.report.explain_plots import as_array, names_for, top_features
from explain.report.local_plots import FeatureUnits, TargetUnits

BEESWARM_FEATURES = 15
#: An x-axis title wraps at this many characters: about 250 px of a half-width card.
TITLE_CHARS = 40
BEESWARM_POINTS = 300  # per feature: enough to see the shape, small in the file
CLIP = (5.0, 95.0)  # colour range: these percentiles of each feature (outliers saturate)


def clipped_colour(col: np.ndarray, clip: tuple[float, float] = CLIP) -> np.ndarray:
    """A feature's values scaled to [0, 1] between its ``clip`` percentiles (values beyond
    them saturate), so a few outliers do not squeeze every other dot into the middle colour."""
    col = np.asarray(col, dtype=np.float64)
    finite = col[np.isfinite(col)]
    if not finite.size:
        return np.full(col.size, 0.5)
    lo, hi = np.percentile(finite, clip)
    if hi <= lo:
        return np.full(col.size, 0.5)
    return np.clip((np.nan_to_num(col, nan=(lo + hi) / 2) - lo) / (hi - lo), 0.0, 1.0)


def beeswarm_data(
    values: Any,
    inputs: Any,
    names: Sequence[str],
    top: int = BEESWARM_FEATURES,
    max_points: int = BEESWARM_POINTS,
    order: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Rows of a SHAP beeswarm, most important feature first (or in ``order``): per feature
    the SHAP values (``x``), a row position spread by local density (``y``, deterministic),
    the feature's value scaled to [0, 1] between its 5th and 95th percentiles (``color``, None
    when inputs are missing), the example rows drawn (``rows``) and the feature (``feature``)."""
    v = as_array(values)
    if v.ndim != 2 or not v.size:
        return []
    x_in = as_array(inputs)
    has_inputs = x_in.shape == v.shape
    keep = np.unique(np.linspace(0, v.shape[0] - 1, min(max_points, v.shape[0])).astype(int))
    labels = names_for(names, v.shape[1])
    features = list(order) if order is not None else top_features(np.mean(np.abs(v), 0), top)
    rows = []
    for rank, j in enumerate(features):
        xs = v[keep, j]
        bins = np.digitize(xs, np.linspace(np.nanmin(xs), np.nanmax(xs) + 1e-12, 41))
        offset = np.zeros(xs.size)
        for b in np.unique(bins):
            idx = np.flatnonzero(bins == b)
            k = np.arange(idx.size)
            offset[idx] = ((k + 1) // 2) * np.where(k % 2, 1.0, -1.0)  # 0, +1, -1, +2, -2 ...
        spread = np.abs(offset).max()
        y = rank + (0.4 * offset / spread if spread else offset)
        # the percentiles of every explained row, not only the drawn ones
        color = None
        if has_inputs:
            color = clipped_colour(x_in[:, j])[keep].tolist()
        rows.append({"name": labels[j], "feature": int(j), "x": xs.tolist(), "y": y.tolist(),
                     "color": color, "rows": keep.tolist()})  # fmt: skip
    return rows


def beeswarm_outputs(
    shap: Mapping[str, Any], class_names: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The outputs a beeswarm can show, each with its SHAP values and inputs for the SAME
    output on every row: ``per_output`` (every output stored for every row) when present, else
    the rows whose explained output is that class (``targets``), else one "explained output"
    (each row's own predicted class). Each: ``label``, ``values``, ``inputs``, ``all_rows``,
    ``positions`` (each row's position in the test split: SHAP explains the first test rows)."""
    inputs = as_array(shap.get("inputs"))
    names = [str(c) for c in (shap.get("output_names") or class_names or [])]
    per = shap.get("per_output")
    if isinstance(per, Mapping) and per.get("values"):
        vals = as_array(per.get("values"))
        x_in = as_array(per.get("inputs")) if per.get("inputs") is not None else inputs
        if vals.ndim == 3:
            return [{"label": names[k] if k < len(names) else str(k), "values": vals[k],
                     "inputs": x_in, "all_rows": True, "positions": np.arange(vals.shape[1])}
                    for k in range(vals.shape[0])]  # fmt: skip
    values = as_array(shap.get("values"))
    targets = np.asarray(shap.get("targets") or [], dtype=int)
    if targets.size == len(values) and values.ndim == 2 and len(np.unique(targets)) > 1:
        out = []
        for k in np.unique(targets).tolist():
            rows = targets == k
            out.append({"label": names[k] if k < len(names) else str(k), "values": values[rows],
                        "inputs": inputs[rows] if inputs.shape == values.shape else None,
                        "all_rows": False, "positions": np.flatnonzero(rows)})  # fmt: skip
        return out
    return [{"label": "explained output", "values": values, "inputs": inputs, "all_rows": False,
             "positions": np.arange(len(values))}]  # fmt: skip


def beeswarm_figure(
    shap: Mapping[str, Any],
    names: Sequence[str],
    class_names: Sequence[str] = (),
    units: FeatureUnits | None = None,
    target: TargetUnits | None = None,
) -> Figure | None:
    """The SHAP beeswarm: one row per feature, a dot per example, colour = the feature's value
    (5th to 95th percentile). One set of traces per output, ``meta`` = its index in
    :func:`beeswarm_outputs`; only the first is visible (the page's selector switches). A
    regression's values are shown in the target's units when ``target`` gives its scale."""
    outputs = [o for o in beeswarm_outputs(shap, class_names) if as_array(o["values"]).size]
    outputs = [o for o in outputs if as_array(o["values"]).ndim == 2]
    if not outputs:
        return None
    width = min(as_array(o["values"]).shape[1] for o in outputs)
    importance = np.mean([np.mean(np.abs(as_array(o["values"])[:, :width]), 0) for o in outputs], 0)
    order = top_features(importance, BEESWARM_FEATURES)  # one feature order for every output
    data: list[dict[str, Any]] = []
    labels: list[str] = []
    for k, o in enumerate(outputs):
        scale = target.std if target is not None else 1.0
        rows = beeswarm_data(as_array(o["values"]) * scale, o["inputs"], names, order=order)
        labels = labels or [r["name"] for r in rows]
        x_in = as_array(o["inputs"])
        for i, r in enumerate(rows):
            marker: dict[str, Any] = {"size": 5, "opacity": 0.8}
            custom = None
            if r["color"] is not None:
                marker.update(
                    color=r["color"], colorscale="Bluered", cmin=0, cmax=1, showscale=i == 0,
                    colorbar={"title": {"text": "feature value", "side": "right"},
                              "tickvals": [0, 1], "ticktext": ["low (5th pct)", "high (95th pct)"],
                              "thickness": 12},
                )  # fmt: skip
                if units is not None:
                    j = r["feature"]
                    at = o["positions"]
                    custom = plot_texts(units.label(j, x_in[n, j], int(at[n])) for n in r["rows"])
            # "name = value" on every dot: the name once, in the template (a third of the size)
            shared = plot_text(f"{isolate(r['name'])} = ")
            if custom and all(c.startswith(shared) for c in custom):
                custom = [c[len(shared) :] for c in custom]
            else:
                shared = ""
            # the tick shows a long name shortened: the hover names it whole
            named = "" if shared or short(r["name"]) == r["name"] else plot_text(r["name"]) + "<br>"
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": r["x"],
                    "y": r["y"],
                    "marker": marker,
                    "showlegend": False,
                    "visible": k == 0,
                    "meta": k,
                    "name": plot_text(r["name"]),
                    **({"customdata": custom} if custom else {}),
                    "hovertemplate": named
                    + (shared + "%{customdata}<br>" if custom else "")
                    + "SHAP %{x:.4g}<extra>"
                    + plot_text(f"{o['label']}: {r['name']}")
                    + "</extra>",
                }
            )
    kind = shap.get("output_kind") or "output"
    title = (
        f"SHAP value: effect on the predicted {short(target.name)} (its units)"
        if target is not None
        else "SHAP value: effect on the prediction (standardized)"
        if not class_names
        else f"SHAP value: effect on the selected class's {kind}"
    )
    # the title centres on the plot, which the feature names and the colour bar narrow: a
    # long one ran off the card's left edge ("HAP value: ..."), so it wraps onto lines
    lines = textwrap.wrap(title, TITLE_CHARS) or [""]
    return {
        "data": data,
        "layout": layout(
            xaxis=axis("<br>".join(plot_texts(lines))),
            yaxis=axis(
                tickvals=list(range(len(labels))),
                ticktext=plot_texts(short(n) for n in labels),
                autorange="reversed",
                automargin=True,
                zeroline=False,
            ),
            height=30 * len(labels) + 110 + 16 * (len(lines) - 1),
            margin={"l": 20, "r": 20, "t": 20, "b": 50 + 16 * (len(lines) - 1)},
        ),
    }
