"""Winner figures: learning curves, confusion matrix, ROC curves, residuals (Plotly dicts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from explain.report._format import (
    XLABEL_CHARS,
    XLABEL_PX,
    label_alias,
    plot_text,
    plot_texts,
    short,
)
from explain.report._style import COLORS, MUTED, SEQUENTIAL, Figure, axis, is_number, layout
from explain.report.plots import integer_ticks, value_range

#: Regression points drawn at most; a larger test set is thinned evenly (deterministic).
MAX_POINTS = 2000


def thin(n: int, k: int) -> list[int]:
    """At most ``k`` evenly spaced indices of ``range(n)``, first and last included."""
    if n <= k:
        return list(range(n))
    if k <= 1:
        return [0][:k]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def curves_figure(
    search_curve: Sequence[Mapping[str, Any]] | None,
    retrain: Sequence[Mapping[str, Any]] | None,
    metric: str,
) -> Figure | None:
    """Train / validation loss per epoch (left axis) and the validation metric (right axis),
    for the search trial and the final retraining."""
    data: list[dict[str, Any]] = []
    for source, rows, dash in (("", search_curve, "solid"), (" (retrain)", retrain, "dot")):
        for key, label, color, yaxis in (
            ("train_loss", "train loss", COLORS[0], "y"),
            ("val_loss", "val loss", COLORS[1], "y"),
            ("val_metric", "val " + plot_text(metric), COLORS[2], "y2"),
        ):
            good = [r for r in rows or [] if isinstance(r, Mapping)]
            pts = [(r.get("epoch"), r.get(key)) for r in good if is_number(r.get(key))]
            if pts:
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "yaxis": yaxis,
                        "x": [p[0] for p in pts],
                        "y": [p[1] for p in pts],
                        "name": label + source,
                        "marker": {"size": 4},
                        "line": {"color": color, "dash": dash},
                    }
                )
    if not data:
        return None
    # the metric's own scale (Plotly's ran an accuracy of 0.99 from 0 to 2); whole epochs
    span = value_range([v for tr in data if tr["yaxis"] == "y2" for v in tr["y"]], metric)
    epochs = [x for tr in data for x in tr["x"] if is_number(x)]
    return {
        "data": data,
        "layout": layout(
            xaxis=axis("epoch", **integer_ticks(epochs)),
            yaxis=axis("loss"),
            yaxis2=axis(
                plot_text(metric),
                overlaying="y",
                side="right",
                showgrid=False,
                tickmode="auto",
                **({"range": span} if span else {}),
            ),
            height=380,
            margin={"l": 60, "r": 60, "t": 70, "b": 50},
        ),
    }


def confusion_figure(matrix: Sequence[Sequence[int]], class_names: Sequence[str]) -> Figure | None:
    """The confusion matrix: colour is the share of each true class (rows sum to 1), the
    numbers are counts; true classes down, predictions across."""
    rows = [list(r) if isinstance(r, Sequence) else [] for r in matrix or []]
    if not rows or any(len(r) != len(rows) or not all(map(is_number, r)) for r in rows):
        return None  # not a square matrix of counts
    n = len(rows)
    names = list(class_names)[:n] + [str(i) for i in range(len(class_names), n)]
    labels = plot_texts(names)
    alias, xalias = label_alias(names), label_alias(names, XLABEL_CHARS)
    share = [[c / max(sum(r), 1) for c in r] for r in rows]
    # upright x labels take their height from the matrix unless the figure grows by it
    side = min(640, max(300, 34 * n + 140)) + (XLABEL_PX if xalias else 0)
    hover = "true %{y}<br>predicted %{x}<br>%{text} examples (%{z:.1%} of the row)<extra></extra>"
    custom = None
    if xalias:  # the ticks shorten long names, and so would %{x} / %{y}: the hover says them whole
        custom = [[f"true {t}<br>predicted {p}" for p in labels] for t in labels]
        hover = "%{customdata}<br>%{text} examples (%{z:.1%} of the row)<extra></extra>"
    return {
        "data": [
            {
                "type": "heatmap",
                "z": share,
                "x": labels,
                "y": labels,
                "text": rows,
                "texttemplate": "%{text}" if n <= 20 else "",
                "colorscale": SEQUENTIAL,
                "zmin": 0,
                "zmax": 1,
                "colorbar": {"title": {"text": "share of row"}},
                **({"customdata": custom} if custom else {}),
                "hovertemplate": hover,
            }
        ],
        "layout": layout(
            # automargin: the margins grow with the (shortened) tick labels, so that neither
            # they nor the axis titles are cut or drawn over each other
            xaxis=axis(
                "predicted", type="category", side="bottom", automargin=True, labelalias=xalias
            ),
            yaxis=axis(
                "true", type="category", autorange="reversed", automargin=True, labelalias=alias
            ),
            height=side,
            margin={"l": 80, "r": 20, "t": 20, "b": 70},
        ),
    }


def roc_figure(roc: Sequence[Mapping[str, Any]] | None) -> Figure | None:
    """One-vs-rest ROC curve of each class with its AUC, and the chance diagonal."""
    curves = [c for c in roc or [] if isinstance(c, Mapping) and c.get("fpr") and c.get("tpr")]
    if not curves:
        return None
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": [0, 1],
            "y": [0, 1],
            "name": "chance",
            "line": {"dash": "dash", "color": MUTED},
            "hoverinfo": "skip",
        }
    ]
    for c in curves:
        auc = c.get("auc")
        auc_text = f" (AUC {auc:.3f})" if is_number(auc) else ""
        name = c.get("class", "?")
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": c["fpr"],
                "y": c["tpr"],
                # a long class name shortened in the legend (it had covered the plot), whole
                # on hover
                "name": plot_text(short(name)) + auc_text,
                "hovertemplate": plot_text(name)
                + auc_text
                + "<br>false positive rate %{x:.3f}<br>true positive rate %{y:.3f}"
                "<extra></extra>",
                "line": {"shape": "hv", "width": 2},
            }
        )
    return {
        "data": data,
        "layout": layout(
            xaxis=axis("false positive rate", range=[0, 1]),
            yaxis=axis("true positive rate", range=[0, 1.02]),
            height=380,
            # the curves hug the top-left corner, so the bottom-right is free
            legend={
                "orientation": "v",
                "x": 0.98,
                "xanchor": "right",
                "y": 0.02,
                "yanchor": "bottom",
                "bgcolor": "rgba(255,255,255,0.85)",
            },
        ),
    }


def residual_figure(
    y_true: Sequence[float], y_pred: Sequence[float], target: str = "target"
) -> Figure | None:
    """Predicted against true (with the identity line) and residuals against predicted."""
    pairs = [(t, p) for t, p in zip(y_true or [], y_pred or []) if is_number(t) and is_number(p)]
    if not pairs:
        return None
    pairs = [pairs[i] for i in thin(len(pairs), MAX_POINTS)]
    t, p = [a for a, _ in pairs], [b for _, b in pairs]
    res = [b - a for a, b in pairs]
    lo, hi = min(t + p), max(t + p)
    name = plot_text(short(target))  # in axis titles, which are not hovered
    marker = {"size": 5, "color": COLORS[0], "opacity": 0.6}
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "x": t,
                "y": p,
                "marker": marker,
                "name": "test example",
                # 6 significant digits: a float32-stored 52 reads 52, not 51.99999
                "hovertemplate": "true %{x:,.6~r}<br>predicted %{y:,.6~r}<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": [lo, hi],
                "y": [lo, hi],
                "name": "perfect",
                "line": {"dash": "dash", "color": MUTED},
                "hoverinfo": "skip",
            },
            {
                "type": "scatter",
                "mode": "markers",
                "x": p,
                "y": res,
                "xaxis": "x2",
                "yaxis": "y2",
                "marker": {**marker, "color": COLORS[1]},
                "name": "residual",
                "hovertemplate": "predicted %{x:,.6~r}<br>residual %{y:,.6~r}<extra></extra>",
            },
        ],
        "layout": layout(
            xaxis=axis("true " + name, domain=[0, 0.46]),
            yaxis=axis("predicted " + name),
            xaxis2=axis("predicted " + name, domain=[0.54, 1]),
            yaxis2=axis("residual (predicted − true)", anchor="x2"),
            height=380,
        ),
    }
