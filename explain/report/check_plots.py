"""The quality checks' figures (Plotly dicts): deletion / insertion curves against the random
order, and the rank agreement between methods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from explain.faithfulness import deletion_detail
from explain.report._format import plot_text, plot_texts
from explain.report._style import COLORS, Figure, axis, is_number, layout

AGREEMENT = [[0, "#b2182b"], [0.5, "#f7f7f7"], [1, "#2166ac"]]  # red disagree, blue agree


def in_target_units(check: Mapping[str, Any], mean: float, std: float, name: str) -> dict:
    """A regression's deletion or insertion check in the target's units: the model's output
    ``z`` is standardized, so its curves, areas (over fractions 0 to 1) and threshold read
    ``z * std + mean``; a magnitude map's curves are distances, ``z * std``. The gap to the
    random order is a ratio and keeps its value. Other checks are returned as they are."""
    extra = check.get("extra") if isinstance(check.get("extra"), Mapping) else {}
    if check.get("name") not in ("deletion", "insertion") or extra.get("unit"):
        return dict(check)
    magnitude = bool(extra.get("magnitude"))
    shift = 0.0 if magnitude else mean

    def y(v: Any) -> Any:
        return v * std + shift if is_number(v) else v

    def ys(vs: Any) -> Any:
        return [y(v) for v in vs] if isinstance(vs, list) else vs

    auc, auc_r = y(check.get("value")), y(extra.get("random_auc"))
    what = (f"distance of the predicted {name} from its value at the input" if magnitude
            else f"predicted {name}")  # fmt: skip
    out = {**check, "value": auc, "threshold": y(check.get("threshold"))}
    out["extra"] = {**extra, "curve": ys(extra.get("curve")),
                    "random_curve": ys(extra.get("random_curve")), "random_auc": auc_r,
                    "span": extra["span"] * std if is_number(extra.get("span")) else None,
                    "output": what, "unit": f"{name}'s units"}  # fmt: skip
    up = (check["name"] == "insertion") != magnitude  # faithful: above random
    gap, span = extra.get("gap"), extra.get("span")
    if not is_number(gap) and all(
        is_number(v) for v in (check.get("value"), extra.get("random_auc"), span)
    ):
        # a record without it: the gap from the standardized areas (a ratio: it keeps its value)
        gap = (1 if up else -1) * (check["value"] - extra["random_auc"]) / span if span else None
    if is_number(auc) and is_number(auc_r) and is_number(gap) and is_number(span):
        out["detail"] = deletion_detail(check["name"], what, auc, auc_r, gap, span * std, up,
                                        False, unit=f"{name}'s units")  # fmt: skip
    return out


def curves_axis(checks: Sequence[Mapping[str, Any]], regression: bool, target: str = "") -> str:
    """What the deletion / insertion curves' y-axis measures: the predicted target in its own
    units (``target`` named), the standardized output (a regression without its scale), or the
    probability of the explained class; a magnitude map's curves are distances from f(x)."""
    curves = [c for c in checks if c.get("name") in ("deletion", "insertion")]
    extras = [c.get("extra") if isinstance(c.get("extra"), Mapping) else {} for c in curves]
    dist = [bool(e.get("magnitude")) for e in extras]
    what = (f"predicted {target}" if target
            else "model output (standardized target)" if regression
            else "probability of the explained class")  # fmt: skip
    if dist and all(dist):
        return f"|change| of the {what}"
    return what + (" (|change| where marked)" if any(dist) else "")


def check_curves_figure(
    checks: Sequence[Mapping[str, Any]], y_title: str = "output"
) -> Figure | None:
    """Deletion / insertion curves of each method against the random order, side by side;
    ``y_title`` says what the curves measure, in which units (:func:`curves_axis`)."""
    data: list[dict[str, Any]] = []
    colors: dict[str, str] = {}
    for c in checks:
        extra = c.get("extra") or {}
        frac, curve = extra.get("fractions"), extra.get("curve")
        if c.get("name") not in ("deletion", "insertion") or not frac or not curve:
            continue
        side = "" if c["name"] == "deletion" else "2"
        method = str(c.get("method"))
        color = colors.setdefault(method, COLORS[len(colors) % len(COLORS)])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": frac,
                "y": curve,
                "xaxis": "x" + side,
                "yaxis": "y" + side,
                "legendgroup": method,
                "showlegend": side == "",
                # a magnitude map's curves are the output's distance from its value at the input
                "name": plot_text(method + (" (|change|)" if extra.get("magnitude") else "")),
                "line": {"color": color, "width": 2},
            }
        )
        if extra.get("random_curve"):
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": frac,
                    "y": extra["random_curve"],
                    "xaxis": "x" + side,
                    "yaxis": "y" + side,
                    "legendgroup": method,
                    "showlegend": False,
                    "name": plot_text(method) + " (random order)",
                    "line": {"color": color, "dash": "dot", "width": 1},
                }
            )
    if not data:
        return None
    return {
        "data": data,
        "layout": layout(
            xaxis=axis("fraction removed (deletion)", domain=[0, 0.46]),
            yaxis=axis(plot_text(y_title)),
            xaxis2=axis("fraction restored (insertion)", domain=[0.54, 1]),
            yaxis2=axis("", anchor="x2"),
        ),
    }


def agreement_matrix(agreement: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list]]:
    """Methods and the symmetric matrix of their agreement values (1 on the diagonal, None
    where a pair was not compared), from checks whose ``method`` reads ``"a vs b"``."""
    pairs = {}
    for c in agreement:
        parts = str(c.get("method", "")).split(" vs ")
        if len(parts) == 2 and is_number(c.get("value")):
            pairs[(parts[0], parts[1])] = float(c["value"])
    methods = sorted({m for p in pairs for m in p})
    matrix = [
        [1.0 if a == b else pairs.get((a, b), pairs.get((b, a))) for b in methods] for a in methods
    ]
    return methods, matrix


def agreement_figure(agreement: Sequence[Mapping[str, Any]]) -> Figure | None:
    """Rank agreement between methods as a heatmap (1 = the same ranking of inputs)."""
    methods, matrix = agreement_matrix(agreement)
    if len(methods) < 2:
        return None
    labels = plot_texts(methods)
    return {
        "data": [
            {
                "type": "heatmap",
                "z": matrix,
                "x": labels,
                "y": labels,
                "zmin": -1,
                "zmax": 1,
                "colorscale": AGREEMENT,
                "text": matrix,
                "texttemplate": "%{z:.2f}",
                "hovertemplate": "%{y} vs %{x}: %{z:.3f}<extra></extra>",
            }
        ],
        "layout": layout(
            xaxis=axis(type="category", automargin=True),
            yaxis=axis(type="category", autorange="reversed", automargin=True),
            height=max(260, 60 * len(methods) + 120),
        ),
    }
