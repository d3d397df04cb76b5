"""The view model of the explanations section: global and local explanations, attention,
agreement between methods and the quality checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from explain.report import explain_plots as ep
from explain.report import local_plots as lp
from explain.report._format import fmt_num, fmt_seconds
from explain.report._style import Figure, is_number
from explain.report.attention_plots import attention_figure
from explain.report.beeswarm import beeswarm_figure, beeswarm_outputs
from explain.report.schema import ReportData
from explain.report.sections import Figures, Panel, panel

_STATUSES = ("pass", "warn", "fail", "skipped")
#: The order of the method x check table's columns (checks not named here follow).
CHECK_ORDER = (
    "completeness",
    "infidelity",
    "sensitivity",
    "randomisation",
    "deletion",
    "insertion",
)
_RANK = {"pass": 0, "warn": 1, "unchecked": 2}  # which method the views prefer; fail: never


def consequence(check: Mapping[str, Any], modality: str = "tabular") -> str:
    """What a failed (or warned) check means for a reader of the method's maps, in words."""
    name = check.get("name")
    extra = check.get("extra") if isinstance(check.get("extra"), Mapping) else {}
    scale = extra.get("scale")
    judged = extra.get("scale_judged", True)  # as _qualifier: an unjudged sign says nothing
    if name == "infidelity" and isinstance(scale, int | float) and scale < 0 and judged:
        return "the map points the wrong way"
    ink = "where the ink is" if modality == "image" else "the input's own values"
    return {
        "completeness": "the attributions do not add up to the prediction",
        "infidelity": "the map does not predict how the output changes when inputs are removed",
        "sensitivity": "small input changes change the map a lot",
        "randomisation": f"this map may show {ink} rather than what the model uses",
        "deletion": "removing the inputs it ranks highest does not lower the output faster than "
        "removing random ones",
        "insertion": "restoring the inputs it ranks highest does not raise the output faster "
        "than restoring random ones",
    }.get(str(name), f"the {name} check did not hold")


def method_checks(checks: Any) -> dict[str, dict[str, Mapping[str, Any]]]:
    """``checks`` (agreement left out) by method, then by check name."""
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for c in checks or []:
        if isinstance(c, Mapping) and c.get("name") != "agreement" and c.get("method"):
            out.setdefault(str(c["method"]), {})[str(c.get("name"))] = c
    return out


def method_status(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """One method's verdict over its checks: ``fail`` if any failed, else ``warn`` if any
    warned, ``pass`` if at least one passed, ``unchecked`` when none was run (or all skipped)."""
    seen = {str(c.get("status")) for c in rows.values()}
    for status in ("fail", "warn", "pass"):
        if status in seen:
            return status
    return "unchecked"


def method_statuses(exp: Mapping[str, Any]) -> dict[str, str]:
    """Every checked method's verdict (:func:`method_status`)."""
    return {m: method_status(rows) for m, rows in method_checks(exp.get("checks")).items()}


def chosen_method(
    exp: Mapping[str, Any], available: list[str], statuses: Mapping[str, str] | None = None
) -> str | None:
    """The method the views draw, among ``available``, from the check results: one that
    passed every check, else one that only warned, else an unchecked one; never one that
    failed a check (None when all did). Ties go to the explainer's own choice
    (``methods[].chosen``), then to the order of ``available``."""
    status = method_statuses(exp) if statuses is None else statuses
    flagged = {
        str(m.get("method"))
        for m in exp.get("methods") or []
        if isinstance(m, Mapping) and m.get("chosen")
    }
    ok = [m for m in available if status.get(m, "unchecked") in _RANK]
    if not ok:
        return None
    return min(
        ok, key=lambda m: (_RANK[status.get(m, "unchecked")], m not in flagged, available.index(m))
    )


def computed_methods(exp: Mapping[str, Any]) -> list[str]:
    """The methods that were run: those with global values, local attributions or the SHAP
    values (``methods[]`` also lists the ones only applicable to the model)."""
    out = [str(m) for m, v in (exp.get("global") or {}).items() if isinstance(v, Mapping)]
    for item in exp.get("local") or []:
        attrs = item.get("attributions") if isinstance(item, Mapping) else None
        out += [str(m) for m in attrs or {} if str(m) not in out]
    shap = exp.get("shap")
    if isinstance(shap, Mapping) and shap.get("values") and shap.get("method"):
        out += [str(shap["method"])] if str(shap["method"]) not in out else []
    return out


def dropped_methods(exp: Mapping[str, Any]) -> dict[str, str]:
    """Computed methods that failed a check, each with why its views are not drawn."""
    modality = str(exp.get("modality") or "tabular")
    by = method_checks(exp.get("checks"))
    out = {}
    for m in computed_methods(exp):
        failed = [c for c in by.get(m, {}).values() if c.get("status") == "fail"]
        if failed:
            out[m] = "; ".join(
                f"{c.get('name')} failed: {consequence(c, modality)}" for c in failed
            )
    return out


def _trust(exp: Mapping[str, Any], status: Mapping[str, str]) -> dict[str, Any]:
    """The method x check table: per computed (or checked) method a badge per check, its
    verdict, whether its views are shown, and the plain consequence of each failure."""
    modality = str(exp.get("modality") or "tabular")
    by = method_checks(exp.get("checks"))
    methods = computed_methods(exp) + [m for m in by if m not in computed_methods(exp)]
    names = {n for rows in by.values() for n in rows}
    columns = [n for n in CHECK_ORDER if n in names] + sorted(names - set(CHECK_ORDER))
    rows = []
    for m in methods:
        checks = by.get(m, {})
        cells = [str(checks[n].get("status") or "skipped") if n in checks else "" for n in columns]
        meaning = []
        for n in columns:
            c = checks.get(n) or {}
            if c.get("status") == "fail":
                meaning.append(f"{n} failed: {consequence(c, modality)}")
            elif c.get("status") == "warn":
                meaning.append(f"{n} warned: possibly {consequence(c, modality)}")
        rows.append(
            {
                "method": m,
                "status": status.get(m, "unchecked"),
                "cells": cells,
                "meaning": meaning,
                "shown": status.get(m) != "fail",
            }
        )
    return {"columns": columns, "rows": rows}


def _methods(exp: Mapping[str, Any], status: Mapping[str, str]) -> dict[str, Any]:
    """``methods[]`` with what was computed: applicable (valid for the model) vs computed."""
    computed = computed_methods(exp)
    rows = []
    for m in exp.get("methods") or []:
        if not isinstance(m, Mapping):
            continue
        name = str(m.get("method"))
        rows.append(
            {
                "method": name,
                "applicable": bool(m.get("chosen")) or name in computed,
                "computed": name in computed,
                "reason": m.get("reason") or "",
                "status": status.get(name, "unchecked") if name in computed else "",
            }
        )
    listed = {r["method"] for r in rows}
    rows += [
        {
            "method": m,
            "applicable": True,
            "computed": True,
            "reason": "",
            "status": status.get(m, "unchecked"),
        }
        for m in computed
        if m not in listed
    ]
    return {
        "rows": rows,
        "n_applicable": sum(r["applicable"] for r in rows),
        "n_computed": sum(r["computed"] for r in rows),
    }


def _badges(methods: Any, status: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"method": str(m), "status": status.get(str(m), "unchecked")} for m in methods]


def _global_panels(
    exp: Mapping[str, Any],
    figs: Figures,
    status: Mapping[str, str],
    units: lp.FeatureUnits | None = None,
) -> list[Panel]:
    glob = {m: v for m, v in (exp.get("global") or {}).items() if isinstance(v, Mapping)}
    modality, names = exp.get("modality") or "tabular", list(exp.get("feature_names") or [])
    overall = {
        m: v.get("overall")
        for m, v in glob.items()
        if v.get("overall") is not None and status.get(m) != "fail"
    }
    with_classes = [m for m in overall if (glob[m].get("per_class") or {})]
    method = chosen_method(exp, with_classes, status)
    per_class = (glob.get(method) or {}).get("per_class") or {} if method else {}
    shown, own = _badges(overall, status), _badges([method], status)
    out: list[Panel] = []
    if modality == "image":

        def grid(rows: Mapping[Any, Any], joint: bool = False) -> Figure | None:
            return ep.heatmap_grid(
                [(str(k), ep.image_map(np.abs(ep.as_array(v)))) for k, v in rows.items()],
                joint=joint,
            )

        out.append(
            panel(
                "Global importance over pixels",
                "Brighter pixels matter more on "
                "average over the explained examples; each method is scaled to its "
                "own maximum.",
                figs.add("global-image", grid, overall),
                badges=shown,
            )
        )
        if per_class:
            out.append(
                panel(
                    f"Importance per class ({method})",
                    "Where the model looks for each class; all classes share one scale.",
                    figs.add("global-class", grid, per_class, True),
                    badges=own,
                )
            )
    elif modality == "sequence":
        out.append(
            panel(
                "Global importance over time steps",
                "Peaks mark the time steps the "
                "model relies on most, averaged over examples; each method scaled to "
                "its maximum.",
                figs.add("global-seq", lambda: ep.sequence_global_figure(overall)),
                badges=shown,
            )
        )
        if per_class:
            out.append(
                panel(
                    f"Importance over time per class ({method})",
                    "Where in the "
                    "sequence each class's evidence lies: dark cells are the steps "
                    "that matter for that class.",
                    figs.add("global-seq-class", lambda: ep.sequence_class_figure(per_class)),
                    badges=own,
                )
            )
    else:
        fid = figs.add("global-tab", ep.tabular_global_figure, overall, names)
        out.append(
            panel(
                "Global feature importance",
                "Longer bars matter more to the model "
                "(mean |attribution| over the explained examples); each method is "
                "scaled to its own maximum.",
                fid,
                features=_feature_table(overall, names) if fid in figs.figures else [],
                badges=shown,
            )
        )
        if per_class:
            out.append(
                panel(
                    f"Importance per class ({method})",
                    "Darker cells: the feature matters more for that class.",
                    figs.add("global-class", lambda: ep.class_heatmap_figure(per_class, names)),
                    badges=own,
                )
            )
    shap = exp.get("shap")
    shap_m = str(shap.get("method") or "shap") if isinstance(shap, Mapping) else ""
    if isinstance(shap, Mapping) and shap.get("values") and status.get(shap_m) != "fail":
        outputs = beeswarm_outputs(shap, list(exp.get("class_names") or []))
        every = all(o["all_rows"] for o in outputs)
        which = (
            "every dot explains the class picked above, so dots left of 0 push that class down"
            if every
            else "the examples whose explained (predicted) class is the one picked above"
            if len(outputs) > 1
            else "each example's own predicted class (the per-class values were not stored)"
        )
        out.append(
            panel(
                f"SHAP beeswarm ({shap_m})",
                "Each dot is one example: right of 0 pushes the output up; red dots have a "
                f"high value of that feature (5th to 95th percentile); {which}.",
                figs.add(
                    "beeswarm",
                    lambda: beeswarm_figure(shap, names, list(exp.get("class_names") or []), units),
                ),
                "The SHAP values could not be drawn.",
                badges=_badges([shap_m], status),
                outputs=[o["label"] for o in outputs] if len(outputs) > 1 else [],
            )
        )
    if not out or all(p["figure"] is None and not p["note"] for p in out):
        return [panel("Global importance", "", None, "No global attributions were computed.")]
    for p in out:
        p["note"] = p["note"] or "No values to draw."
    return out


def _feature_table(overall: Mapping[str, Any], names: list[str]) -> list[dict[str, Any]]:
    """Top features with each method's mean |attribution|, for readers who want the numbers."""
    vecs = {m: np.abs(ep.as_array(v).reshape(-1)) for m, v in overall.items()}
    vecs = {m: v for m, v in vecs.items() if v.size}
    if not vecs:
        return []
    size = min(v.size for v in vecs.values())
    mean = np.mean([ep.normalised(v[:size]) for v in vecs.values()], axis=0)
    labels = ep.names_for(names, size)
    return [
        {
            "name": labels[i],
            "values": [fmt_num(float(v[i]), 3) for v in vecs.values()],
            "methods": list(vecs),
        }
        for i in ep.top_features(mean)
    ]


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
            units.label(j, x_in[j]) if units and j < x_in.size else ep.names_for(names, a.size)[j]
            for j in range(a.size)
        ]
        contrib, k = a, lp.LOCAL_FEATURES
    else:
        unit = "pixels" if exp.get("modality") == "image" else "time steps"
        labels = [f"{unit} that raise it", f"{unit} that lower it"]
        contrib, k = np.array([a[a > 0].sum(), a[a < 0].sum()]), 2
    value = item.get("output_value")
    pred = float(value) if is_number(value) else None
    steps, end = lp.waterfall_steps(contrib, labels, base, pred, k)
    where = (
        "average output over training rows"
        if method.startswith("shap")
        else "output at the baseline"
    )
    return lp.waterfall_figure(steps, base, end, f"base value ({where})", axis_title)


def _local(
    exp: Mapping[str, Any],
    figs: Figures,
    status: Mapping[str, str],
    units: lp.FeatureUnits | None = None,
) -> list[dict[str, Any]]:
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
        explains = lp.explained_output(item, classification)
        with_base = [m for m in kept if _base_value(item, exp, m) is not None]
        method = chosen_method(exp, with_base, status)
        water = None
        if method:
            axis_title = lp.output_axis(item, classification)
            water = figs.add(
                "local-waterfall", _waterfall, shown, exp, method, names, units, axis_title
            )
        if modality == "tabular" and water:
            figure = None  # the waterfall is this example's figure
        elif modality == "tabular":
            figure = figs.add("local", lp.tabular_local_figure, shown, names, units)
        else:
            figure = figs.add("local", lp.local_figure, shown, modality, names)
        prob = item.get("probability")
        out.append(
            {
                "index": item.get("index"),
                "category": item.get("category") or "",
                "categories": item.get("categories") or [],
                "label": item.get("label"),
                "predicted": item.get("predicted"),
                "probability": fmt_num(prob, 3) if prob is not None else None,
                "explains": explains,
                "badges": _badges([method] if figure is None and water else kept, status),
                "waterfall_method": method,
                "waterfall": water,
                "figure": figure,
            }
        )
    return out


_NOISE_SHOWN = 1e-4  # below: float rounding, a deterministic explainer (as in the detail)


def _qualifier(c: Mapping[str, Any]) -> str:
    """Words beside a verdict for what its status alone does not say (empty: nothing to add):
    a completeness that holds by construction or only in expectation, a sampling explainer's
    own noise, the scale infidelity fitted, the share of inputs randomisation compared."""
    extra = c.get("extra") if isinstance(c.get("extra"), Mapping) else {}
    name, words = c.get("name"), []
    if name == "completeness" and extra.get("basis") == "by construction":
        words.append("by construction: not evidence")
    elif name == "completeness" and extra.get("basis") == "approximate":
        words.append("approximate: complete in expectation only")
    noise, scale = extra.get("noise_floor"), extra.get("scale")
    if name == "sensitivity" and isinstance(noise, int | float) and noise >= _NOISE_SHOWN:
        words.append(f"own sampling noise {fmt_num(noise, 2)}")
    if name == "infidelity" and isinstance(scale, int | float):
        flipped = ": sign flipped" if extra.get("scale_judged", True) else ": not judged"
        words.append(f"fitted scale {fmt_num(scale, 2)}" + (flipped if scale < 0 else ""))
    share = extra.get("compared_share")
    if name == "randomisation" and isinstance(share, int | float) and share < 1:
        words.append(f"compared on the {share:.0%} of inputs that differ from the baseline")
    return "; ".join(words)


def _checks(rows: Any) -> list[dict[str, Any]]:
    out = []
    for c in rows or []:
        if not isinstance(c, Mapping):
            continue
        status = str(c.get("status") or "skipped")
        out.append(
            {
                "name": c.get("name"),
                "method": c.get("method"),
                "detail": c.get("detail"),
                "value": fmt_num(c.get("value"), 3),
                "threshold": fmt_num(c.get("threshold"), 3),
                "status": status if status in _STATUSES else "skipped",
                "qualifier": _qualifier(c),
            }
        )
    return out


def _units(data: ReportData, exp: Mapping[str, Any]) -> lp.FeatureUnits | None:
    """Feature values in the user's units (tabular), from run.json's preprocessing record."""
    if (exp.get("modality") or "tabular") != "tabular":
        return None
    run = data.get("run") if isinstance(data.get("run"), Mapping) else {}
    info = run.get("data_info") if isinstance(run.get("data_info"), Mapping) else {}
    return lp.FeatureUnits(info.get("preprocessing"), list(exp.get("feature_names") or []))


def explanations(data: ReportData, figs: Figures) -> dict[str, Any] | None:
    """Everything the explanations section shows, or None when nothing was explained."""
    exp = data.get("explanations")
    if not isinstance(exp, Mapping):
        return None
    status = method_statuses(exp)
    units = _units(data, exp)
    attention = exp.get("attention")
    att_fid = figs.add("attention", attention_figure, attention) if attention else None
    checks = [c for c in exp.get("checks") or [] if isinstance(c, Mapping)]
    agreement = [c for c in exp.get("agreement") or [] if isinstance(c, Mapping)]
    local = _local(exp, figs, status, units)
    n_local = len(unique_local([i for i in exp.get("local") or [] if isinstance(i, Mapping)]))
    methods = _methods(exp, status)
    return {
        "modality": exp.get("modality"),
        "methods": [m for m in exp.get("methods") or [] if isinstance(m, Mapping)],
        "method_rows": methods["rows"],
        "n_applicable": methods["n_applicable"],
        "n_computed": methods["n_computed"],
        "trust": _trust(exp, status),
        "dropped": [{"method": m, "why": why} for m, why in dropped_methods(exp).items()],
        "units_known": units.known if units else True,
        "global": _global_panels(exp, figs, status, units),
        "attention": panel(
            "Attention maps",
            "Row = the token attending, column = the token "
            "attended to; bright cells carry the weight (the menu picks layer "
            "and head).",
            att_fid,
        )
        if att_fid
        else None,
        "local": local,
        "local_hidden": max(0, n_local - len(local)),
        "agreement": panel(
            "Agreement between methods",
            "Rank correlation of the methods' "
            "attributions: near 1 they point at the same inputs, near 0 they do"
            " not agree.",
            figs.add("agreement", lambda: lp.agreement_figure(agreement)),
            "Fewer than two methods were compared.",
            rows=_checks(agreement),
        ),
        "checks": _checks(checks),
        "check_counts": {s: sum(c.get("status") == s for c in checks) for s in _STATUSES},
        "curves": panel(
            "Deletion and insertion curves",
            "Removing inputs in attribution order "
            "should drop the output faster than the dotted random order; restoring"
            " them should raise it faster.",
            figs.add("check-curves", lambda: lp.check_curves_figure(checks)),
            "No deletion / insertion curves.",
        ),
        "timing": [(m, fmt_seconds(s)) for m, s in (exp.get("timing") or {}).items()],
    }
