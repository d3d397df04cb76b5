"""The explanations section's local cards: one card per explained example (merged across the
categories that picked it), the output it explains, and its waterfall from the base value to
the prediction, drawn with the best-trusted method."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from explain.report import explain_plots as ep
from explain.report import local_plots as lp
from explain.report._format import fmt_num, fmt_prob
from explain.report._style import Figure, is_number
from explain.report.method_trust import badges, chosen_method
from explain.report.schema import ReportData
from explain.report.sections import Figures


def unique_local(items: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per explained example: the same test example can be picked by two
    categories (a misclassified one is often also uncertain; a confident one correct), and
    is then shown once, with every category that picked it (``categories``)."""
    out: dict[Any, dict[str, Any]] = {}
    for item in items:
        key = item.get("index")
        cat = str(item.get("category") or "")
        if key is not None and key in out:
            if cat and cat not in out[key]["categories"]:
                out[key]["categories"].append(cat)
            continue
        row = dict(item)
        row["categories"] = [cat] if cat else []
        out[key if key is not None else f"_{len(out)}"] = row
    return list(out.values())


def _base_value(item: Mapping[str, Any], exp: Mapping[str, Any], method: str) -> float | None:
    """The base value a method's attributions start from for this example, where known."""
    bases = item.get("base_values") if isinstance(item.get("base_values"), Mapping) else {}
    if is_number(bases.get(method)):
        return float(bases[method])
    shap = exp.get("shap") if isinstance(exp.get("shap"), Mapping) else {}
    rows, i = shap.get("base_values"), item.get("index")
    ok = shap.get("method") == method and isinstance(rows, list) and isinstance(i, int)
    if ok and 0 <= i < len(rows) and is_number(rows[i]):
        return float(rows[i])
    return None


def _waterfall(
    item: Mapping[str, Any],
    exp: Mapping[str, Any],
    method: str,
    names: list[str],
    units: lp.FeatureUnits | None,
    axis_title: str,
    target: lp.TargetUnits | None = None,
) -> Figure | None:
    """Base value → prediction for one example and ``method``: per feature (tabular), or
    the inputs that raise and those that lower the output (images, sequences)."""
    base = _base_value(item, exp, method)
    a = ep.as_array((item.get("attributions") or {}).get(method)).reshape(-1)
    if base is None or not a.size:
        return None
    x_in = ep.as_array(item.get("input")).reshape(-1)
    if (exp.get("modality") or "tabular") == "tabular":
        labels = [
            units.label(j, x_in[j], item.get("index"))
            if units and j < x_in.size
            else ep.names_for(names, a.size)[j]
            for j in range(a.size)
        ]
        contrib, k = a, lp.LOCAL_FEATURES
    else:
        unit = "pixels" if exp.get("modality") == "image" else "inputs (step, channel)"
        labels = [f"{unit} that raise it", f"{unit} that lower it"]
        contrib, k = np.array([a[a > 0].sum(), a[a < 0].sum()]), 2
    value = item.get("output_value")
    pred = float(value) if is_number(value) else None
    if target is not None:  # a regression: in the target's units, not standardized ones
        base, contrib = target.value(base), np.asarray(contrib, dtype=np.float64) * target.std
        pred = target.value(pred) if pred is not None else None
    steps, end = lp.waterfall_steps(contrib, labels, base, pred, k)
    where = (
        "average output over training rows"
        if method.startswith("shap")
        else "output at the baseline"
    )
    return lp.waterfall_figure(steps, base, end, f"base value ({where})", axis_title)


def local_cards(
    exp: Mapping[str, Any],
    figs: Figures,
    status: Mapping[str, str],
    units: lp.FeatureUnits | None = None,
    target: lp.TargetUnits | None = None,
) -> list[dict[str, Any]]:
    """One card per picked example; a regression's true and predicted values (and its
    waterfall) in the target's units when ``target`` gives its scale."""
    items = unique_local([i for i in exp.get("local") or [] if isinstance(i, Mapping)])
    modality, names = exp.get("modality") or "tabular", list(exp.get("feature_names") or [])
    classification = bool(exp.get("class_names"))
    out = []
    for item in lp.pick_local(items):
        kept = {
            m: v
            for m, v in (item.get("attributions") or {}).items()
            if status.get(str(m)) != "fail"
        }
        shown = {**item, "attributions": kept}
        explains = lp.explained_output(item, classification, None if classification else target)
        with_base = [m for m in kept if _base_value(item, exp, m) is not None]
        method = chosen_method(exp, with_base, status)
        water = None
        scale = None if classification else target
        if method:
            axis_title = (f"predicted {target.name}" if scale is not None and target is not None
                          else lp.output_axis(item, classification))  # fmt: skip
            water = figs.add(
                "local-waterfall", _waterfall, shown, exp, method, names, units, axis_title, scale
            )
        if modality == "tabular" and water:
            figure = None  # the waterfall is this example's figure
        elif modality == "tabular":
            figure = figs.add("local", lp.tabular_local_figure, shown, names, units)
        else:
            figure = figs.add("local", lp.local_figure, shown, modality, names, units)
        prob = item.get("probability")
        categories = list(item.get("categories") or [])
        wrong = classification and str(item.get("label")) != str(item.get("predicted"))
        if wrong and "misclassified" not in categories:  # picked as uncertain, say, and wrong
            categories.append("misclassified")
        out.append(
            {
                "index": item.get("index"),
                "category": item.get("category") or "",
                "categories": categories,
                "label": _in_units(item.get("label"), scale),
                "predicted": _in_units(item.get("predicted"), scale),
                "probability": fmt_prob(prob) if prob is not None else None,
                "explains": explains,
                "badges": badges([method] if figure is None and water else kept, status),
                "waterfall_method": method,
                "waterfall": water,
                "figure": figure,
            }
        )
    return out


def _in_units(shown: Any, target: lp.TargetUnits | None) -> Any:
    """A regression's standardized value (as the explanations stored it, to 4 significant
    digits) in the target's units."""
    try:
        z = float(shown)
    except (TypeError, ValueError):
        return shown
    return fmt_num(target.value(z)) if target is not None and np.isfinite(z) else shown


def feature_units(data: ReportData, exp: Mapping[str, Any]) -> lp.FeatureUnits | None:
    """Feature values in the user's units (tabular features, a sequence's channels), from
    run.json's preprocessing record."""
    if (exp.get("modality") or "tabular") not in ("tabular", "sequence"):
        return None
    run = data.get("run") if isinstance(data.get("run"), Mapping) else {}
    info = run.get("data_info") if isinstance(run.get("data_info"), Mapping) else {}
    return lp.FeatureUnits(info.get("preprocessing"), list(exp.get("feature_names") or []))
