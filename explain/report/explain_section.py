"""The view model of the explanations section: global and local explanations, attention,
agreement between methods and the quality checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from explain.report import explain_plots as ep
from explain.report import local_plots as lp
from explain.report._format import fmt_num, fmt_seconds
from explain.report._style import Figure
from explain.report.attention_plots import attention_figure
from explain.report.beeswarm import beeswarm_figure
from explain.report.schema import ReportData
from explain.report.sections import Figures, Panel, panel

_STATUSES = ("pass", "warn", "fail", "skipped")


def chosen_method(exp: Mapping[str, Any], available: list[str]) -> str | None:
    """The method the explainer chose (``methods[].chosen``) if it has global values, else the
    first that has."""
    for m in exp.get("methods") or []:
        if isinstance(m, Mapping) and m.get("chosen") and m.get("method") in available:
            return str(m["method"])
    return available[0] if available else None


def _global_panels(exp: Mapping[str, Any], figs: Figures) -> list[Panel]:
    glob = {m: v for m, v in (exp.get("global") or {}).items() if isinstance(v, Mapping)}
    modality, names = exp.get("modality") or "tabular", list(exp.get("feature_names") or [])
    overall = {m: v.get("overall") for m, v in glob.items() if v.get("overall") is not None}
    method = chosen_method(exp, list(overall))
    per_class = (glob.get(method) or {}).get("per_class") or {} if method else {}
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
            )
        )
        if per_class:
            out.append(
                panel(
                    f"Importance per class ({method})",
                    "Where the model looks for each class; all classes share one scale.",
                    figs.add("global-class", grid, per_class, True),
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
            )
        )
        if per_class:
            out.append(
                panel(
                    f"Importance per class ({method})",
                    "Darker cells: the feature matters more for that class.",
                    figs.add("global-class", lambda: ep.class_heatmap_figure(per_class, names)),
                )
            )
    shap = exp.get("shap")
    if isinstance(shap, Mapping) and shap.get("values"):
        out.append(
            panel(
                f"SHAP beeswarm ({shap.get('method') or 'shap'})",
                "Each dot is one "
                "example: right of 0 pushes the output up; red dots have a high value "
                "of that feature.",
                figs.add("beeswarm", lambda: beeswarm_figure(shap, names)),
                "The SHAP values could not be drawn.",
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


def _local(exp: Mapping[str, Any], figs: Figures) -> list[dict[str, Any]]:
    items = [i for i in exp.get("local") or [] if isinstance(i, Mapping)]
    modality, names = exp.get("modality") or "tabular", list(exp.get("feature_names") or [])
    out = []
    for item in lp.pick_local(items):
        prob = item.get("probability")
        out.append(
            {
                "index": item.get("index"),
                "category": item.get("category") or "",
                "label": item.get("label"),
                "predicted": item.get("predicted"),
                "probability": fmt_num(prob, 3) if prob is not None else None,
                "figure": figs.add("local", lp.local_figure, item, modality, names),
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


def explanations(data: ReportData, figs: Figures) -> dict[str, Any] | None:
    """Everything the explanations section shows, or None when nothing was explained."""
    exp = data.get("explanations")
    if not isinstance(exp, Mapping):
        return None
    attention = exp.get("attention")
    att_fid = figs.add("attention", attention_figure, attention) if attention else None
    checks = [c for c in exp.get("checks") or [] if isinstance(c, Mapping)]
    agreement = [c for c in exp.get("agreement") or [] if isinstance(c, Mapping)]
    local = _local(exp, figs)
    n_local = len([i for i in exp.get("local") or [] if isinstance(i, Mapping)])
    return {
        "modality": exp.get("modality"),
        "methods": [m for m in exp.get("methods") or [] if isinstance(m, Mapping)],
        "global": _global_panels(exp, figs),
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
