"""Local explanations, one example each (Plotly dicts); the checks' curves and the methods'
agreement are drawn in :mod:`check_plots`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from explain.report._format import isolate, label_alias, plot_text, plot_texts, short
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

#: The input image's grey scale: its lowest value black, its highest white, as a photo or an
#: X-ray is seen (Plotly's "Greys" runs the other way; reversed, it had drawn bright as black).
INPUT_GREYS = [[0, "#000000"], [1, "#ffffff"]]
#: Local examples shown at most: each is a figure, and readers look at a handful, not hundreds.
MAX_LOCAL = 12
LOCAL_FEATURES = 10
#: A waterfall's plot is assumed this narrow (a half-width card less its feature labels), and
#: a digit this wide at the figures' 12 px font, to leave room for the numbers by the bars.
PLOT_PX, CHAR_PX = 240, 7


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


@dataclass(frozen=True)
class TargetUnits:
    """A regression target's scale, from the data's preprocessing record (run.json
    ``data_info.preprocessing``: ``y_mean``, ``y_std``): the model's standardized output ``z``
    is ``z * std + mean`` in the target's units, an attribution ``a`` is ``a * std``."""

    mean: float
    std: float
    name: str

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> TargetUnits | None:
        """The scale of a one-target regression run's report data; None otherwise."""
        run = data.get("run") if isinstance(data.get("run"), Mapping) else {}
        info = run.get("data_info") if isinstance(run.get("data_info"), Mapping) else {}
        prep = info.get("preprocessing") if isinstance(info.get("preprocessing"), Mapping) else {}
        mean, std = prep.get("y_mean"), prep.get("y_std")
        if info.get("task") != "regression" or not (isinstance(mean, list) and isinstance(std, list)
                                                    and len(mean) == len(std) == 1):  # fmt: skip
            return None
        if not _finite(mean[0], std[0]):
            return None
        name = str(info.get("target_name") or run.get("target") or "target")
        return cls(float(mean[0]), float(std[0]), name)

    def value(self, z: float) -> float:
        return z * self.std + self.mean


class FeatureUnits:
    """Feature values in the user's units, from the data's preprocessing record (run.json
    ``data_info.preprocessing``): a standardized feature is shown as ``x * std + mean``, a
    one-hot feature ``column=category`` as the category, a scaled one as ``x * divisor``. When
    the record says "standardize" without the statistics, values are labelled standardized."""

    def __init__(self, preprocessing: Any, names: Sequence[str]) -> None:
        prep = preprocessing if isinstance(preprocessing, Mapping) else {}
        self.names = [str(n) for n in names]
        self.scale: dict[int, tuple[float, float]] = {}  # feature -> (mean, std)
        self.onehot: dict[int, tuple[str, str]] = {}  # feature -> (column, category)
        self.suffix = " (model input value)"  # what the value is when nothing is known
        self.filled = _filled(prep.get("imputation"))  # column -> test rows filled in
        transform, inputs = prep.get("transform"), prep.get("inputs")
        if isinstance(transform, Mapping) and transform.get("kind") == "tabular":
            numeric = transform.get("numeric") or {}
            categorical = transform.get("categorical") or {}
            for j, name in enumerate(self.names):
                col, _, cat = name.partition("=")
                stats = numeric.get(name)
                if isinstance(stats, Mapping) and _finite(stats.get("mean"), stats.get("std")):
                    self.scale[j] = (float(stats["mean"]), float(stats["std"]))
                elif cat and col in categorical:
                    self.onehot[j] = (col, cat)
            self.suffix = " (standardized)"
        elif isinstance(inputs, Mapping) and inputs.get("method") == "scale":
            divisor = inputs.get("divisor")
            if _finite(divisor):
                self.scale = {j: (0.0, float(divisor)) for j in range(len(self.names))}
        elif isinstance(inputs, Mapping) and inputs.get("method") == "standardize":
            mean, std = inputs.get("mean"), inputs.get("std")
            per_feature = inputs.get("per", "feature") == "feature"
            if per_feature and isinstance(mean, list) and isinstance(std, list):
                pairs = list(zip(mean, std, strict=False))
                if len(mean) == len(std) == len(self.names):
                    self.scale = {j: (float(m), float(s)) for j, (m, s) in enumerate(pairs)
                                  if _finite(m, s)}  # fmt: skip
            self.suffix = " (standardized)"

    @property
    def known(self) -> bool:
        """Whether every feature is shown in the user's units."""
        return len(self.scale) + len(self.onehot) == len(self.names) > 0

    def value(self, j: int, x: float) -> float | None:
        """Feature ``j``'s model input ``x`` in the user's units (None: not known)."""
        if j in self.scale:
            mean, std = self.scale[j]
            return float(x) * std + mean
        return None

    def label(self, j: int, x: float, row: Any = None) -> str:
        """``name = value`` in the user's units (unescaped: callers escape); for test row
        ``row`` (its position in the test split), marked when the file left the cell empty and
        the value shown is the training median or most frequent category that filled it."""
        name = self.names[j] if j < len(self.names) else f"x{j}"
        if not np.isfinite(x):
            return name
        # a right-to-left name is isolated, so "name = value" does not read "value = name"
        if j in self.onehot:
            col, cat = self.onehot[j]
            shown = (
                f"{isolate(col)} = {isolate(cat)}"
                if x >= 0.5
                else f"{isolate(col)} ≠ {isolate(cat)}"
            )
        else:
            col, v, iso = name, self.value(j, x), isolate(name)
            shown = f"{iso} = {v:.4g}" if v is not None else f"{iso} = {x:.3g}{self.suffix}"
        rows = self.filled.get(col)
        return f"{shown} (missing, filled in)" if rows and row in rows else shown


def _filled(imputation: Any) -> dict[str, set[int]]:
    """Per column, the test rows whose cell was missing (run.json's imputation record; a
    record older than ``test_rows`` marks none)."""
    out: dict[str, set[int]] = {}
    for item in imputation if isinstance(imputation, list) else []:
        rows = item.get("test_rows") if isinstance(item, Mapping) else None
        if isinstance(rows, list):
            out[str(item.get("column"))] = {r for r in rows if isinstance(r, int)}
    return out


def _finite(*xs: Any) -> bool:
    return all(is_number(x) for x in xs)


def explained_output(
    item: Mapping[str, Any], classification: bool, target: TargetUnits | None = None
) -> str:
    """What a local example's attributions explain, in words: the methods explain the raw
    output (a logit for a classifier) of the predicted class unless the data says otherwise;
    a regression's in the target's units when ``target`` gives them (as its waterfall)."""
    out = item.get("output") if isinstance(item.get("output"), Mapping) else {}
    kind = out.get("kind") or ("logit" if classification else "output")
    if kind == "logit":
        label = out.get("label", item.get("predicted"))
        own = " (the predicted class)" if str(label) == str(item.get("predicted")) else ""
        return f"the logit (score before softmax) of class {label}{own}"
    if target is not None:
        return f"the predicted {target.name}, in its units"
    return "the model's output (the standardized target)"


def output_axis(item: Mapping[str, Any], classification: bool) -> str:
    """The explained output as a short axis title: "logit of class 7" or "model output"."""
    out = item.get("output") if isinstance(item.get("output"), Mapping) else {}
    if (out.get("kind") or ("logit" if classification else "output")) == "logit":
        # shortened: an axis title is not hovered, and a long class name pushed it off the
        # card; the card's "Explains ..." line above the figure names the class in full
        return f"logit of class {short(out.get('label', item.get('predicted')), 20)}"
    return "model output (standardized target)"


UNEXPLAINED = "not explained (the method's error)"
_OTHERS = re.compile(r"\d+ other features")


def own_step(label: str) -> bool:
    """Whether a waterfall step's label is the report's own ("290 other features", "not
    explained ..."), which is never shortened as a feature's name is."""
    return label == UNEXPLAINED or _OTHERS.fullmatch(label) is not None


def waterfall_steps(
    contributions: Sequence[float],
    labels: Sequence[str],
    base: float,
    prediction: float | None = None,
    k: int = LOCAL_FEATURES,
) -> tuple[list[tuple[str, float, float]], float]:
    """The steps of a waterfall from ``base`` to the prediction: the ``k`` largest
    contributions, then the rest as one step, then what the method leaves unexplained (when
    ``prediction`` is given and differs from ``base + sum``). Each step is ``(label, start,
    change)``; returns the steps and the prediction they end at (``base + sum`` when the gap to
    ``prediction`` is under 1% of the contributions' total size: rounding)."""
    c = np.asarray(contributions, dtype=np.float64).reshape(-1)
    order = top_features(c, k)
    steps: list[tuple[str, float]] = [(str(labels[i]), float(c[i])) for i in order]
    rest = [i for i in range(c.size) if i not in set(order)]
    if rest:
        steps.append((f"{len(rest)} other features", float(c[rest].sum())))
    end = float(base) + float(c.sum())
    # a gap under 1% of the contributions is rounding (of the stored values), not worth a bar
    tol = max(1e-6 * max(1.0, abs(prediction or 0.0)), 0.01 * float(np.abs(c).sum()))
    if prediction is not None and abs(prediction - end) > tol:
        steps.append((UNEXPLAINED, float(prediction) - end))
        end = float(prediction)
    out, at = [], float(base)
    for label, change in steps:
        out.append((label, at, change))
        at += change
    return out, end


def bar_number(v: float, sign: bool = False) -> str:
    """A number beside a bar, 3 significant digits and short: ``+4.58M`` and ``-2.57k`` as the
    axis ticks write them (``-3.23e+06`` had been too wide for the room beside a bar)."""
    rounded = float(f"{abs(v):.3g}")  # 999.6 rounds to 1k, not "1e+03"
    for power, suffix in ((12, "T"), (9, "G"), (6, "M"), (3, "k")):
        if rounded >= 10**power:
            return f"{v / 10**power:{'+' if sign else ''}.3g}{suffix}"
    return f"{v:{'+' if sign else ''}.3g}"


def waterfall_figure(
    steps: Sequence[tuple[str, float, float]],
    base: float,
    prediction: float,
    base_label: str,
    output_label: str,
) -> Figure:
    """Base value → prediction as horizontal bars (Plotly ``bar`` traces with ``base``, not
    the ``waterfall`` type): grey bars for the base value and the prediction, red steps raise
    the output, blue steps lower it. Labels are escaped here."""
    order = [base_label, *(s[0] for s in steps), "prediction"]
    cats = plot_texts(order)

    def bars(name: str, rows: list[tuple[str, float, float]], color: str) -> dict[str, Any]:
        return {
            "type": "bar",
            "orientation": "h",
            "name": name,
            "y": plot_texts(r[0] for r in rows),
            "x": [r[2] for r in rows],
            "base": [r[1] for r in rows],
            "marker": {"color": color},
            "text": [bar_number(r[2], sign=True) for r in rows],
            "textposition": "outside",
            "cliponaxis": False,  # the numbers beside the bars may run into the margin
            # the whole label: the axis shortens long ones (labelalias, on %{y} as well)
            "customdata": plot_texts(r[0] for r in rows),
            "hovertemplate": "%{customdata}: %{x:+.4g}<extra></extra>",
        }

    ends = [(base_label, 0.0, float(base)), ("prediction", 0.0, float(prediction))]
    data = [
        {**bars("base value and prediction", ends, MUTED),
         "text": [bar_number(base), bar_number(prediction)],
         "hovertemplate": "%{customdata}: %{x:.4g}<extra></extra>"},
        bars("raises the output", [s for s in steps if s[2] >= 0], DIVERGING[-1][1]),
        bars("lowers the output", [s for s in steps if s[2] < 0], DIVERGING[0][1]),
    ]  # fmt: skip
    # room either side for the numbers printed beside the bars: a negative bar's number sits
    # left of it, where too little room had run it into the feature's label ("x3 = -0.08697
    # -0.00663"); each side gets the widest number's share of a narrow plot (PLOT_PX)
    edges = [0.0, float(base), float(prediction)] + [v for s in steps for v in (s[1], s[1] + s[2])]
    lo, hi = min(edges), max(edges)
    texts = [t for d in data for t in d["text"]]
    share = min(0.4, (CHAR_PX * max(map(len, texts)) + 12) / PLOT_PX)
    pad = (hi - lo or 1.0) * share / (1 - 2 * share)
    return {
        "data": [d for d in data if d["y"]],
        "layout": layout(
            barmode="overlay",
            showlegend=False,  # the card says what red, blue and grey are
            xaxis=axis(plot_text(output_label), range=[lo - pad, hi + pad]),
            yaxis=axis(
                type="category",
                categoryorder="array",
                categoryarray=cats,
                autorange="reversed",
                automargin=True,
                # only the features' labels: the report's own ("base value (output at the
                # baseline)", "not explained (the method's error)") stay whole
                labelalias=label_alias([s[0] for s in steps if not own_step(s[0])]),
            ),  # fmt: skip
            height=max(220, 22 * len(order) + 110),
            margin={"l": 20, "r": 20, "t": 30, "b": 50},
        ),
    }


def tabular_local_figure(
    item: Mapping[str, Any], names: Sequence[str], units: FeatureUnits | None = None
) -> Figure | None:
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
        (
            units.label(i, x_in[i], item.get("index"))
            if units
            else f"{isolate(labels[i])} = {x_in[i]:.3g}"
        )
        if i < x_in.size and np.isfinite(x_in[i])
        else labels[i]
        for i in order
    ]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": plot_text(m),
            "y": plot_texts(ticks),
            "x": [float(v[i]) for i in order],
            "customdata": plot_texts(ticks),  # whole: the axis shortens long ones
            "hovertemplate": "%{customdata}: %{x:.4g}<extra>" + plot_text(m) + "</extra>",
        }
        for m, v in attrs.items()
    ]
    return {
        "data": data,
        "layout": layout(
            barmode="group",
            xaxis=axis("contribution to the explained output"),
            yaxis=axis(type="category", automargin=True, labelalias=label_alias(ticks)),
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
        fig["layout"]["coloraxis2"] = {"colorscale": INPUT_GREYS, "showscale": False}
    return fig


def sequence_local_figure(
    item: Mapping[str, Any], names: Sequence[str], units: FeatureUnits | None = None
) -> Figure | None:
    """The input signal (top) over each method's contribution per time step (bottom); the
    signal in the data's own units where ``units`` knows every channel's scale (as the true
    and predicted values beside it), else labelled as the model saw it."""
    attrs = {m: step_profile(as_array(v)) for m, v in (item.get("attributions") or {}).items()}
    attrs = {m: v for m, v in attrs.items() if v.size}
    if not attrs:
        return None
    x_in = as_array(item.get("input"))
    x_in = x_in.reshape(len(x_in), -1) if x_in.size else np.zeros((0, 0))  # no input: no line
    own = units is not None and units.known and len(units.names) == x_in.shape[1]
    if own and units is not None:
        x_in = np.column_stack(
            [[units.value(j, v) for v in x_in[:, j]] for j in range(x_in.shape[1])]
        ).astype(np.float64)
    # short: the title must fit the upper panel's height (about 115 px) beside the lower one's
    y_title = "input" if units is None else "input (own units)" if own else "input" + units.suffix
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
            yaxis=axis(plot_text(y_title), domain=[0.58, 1]),
            yaxis2=axis("contribution (scaled)", domain=[0, 0.48]),
        ),
    }


def local_figure(
    item: Mapping[str, Any],
    modality: str,
    names: Sequence[str],
    units: FeatureUnits | None = None,
) -> Figure | None:
    """The figure for one local explanation, by modality (``units``: the inputs' scale)."""
    if modality == "image":
        return image_local_figure(item)
    if modality == "sequence":
        return sequence_local_figure(item, names, units)
    return tabular_local_figure(item, names, units)
