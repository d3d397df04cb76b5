"""The view model of the explanations section: global and local explanations, attention,
agreement between methods and the quality checks. Which methods to believe is decided in
:mod:`method_trust`; the local cards are built in :mod:`local_section`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from explain.report import check_plots as cp
from explain.report import explain_plots as ep
from explain.report import local_plots as lp
from explain.report._format import fmt_num, fmt_seconds
from explain.report._style import Figure
from explain.report.attention_plots import attention_figure
from explain.report.beeswarm import BEESWARM_FEATURES, beeswarm_figure, beeswarm_outputs
from explain.report.local_section import feature_units, local_cards, unique_local
from explain.report.method_trust import (
    STATUSES,
    badges,
    check_rows,
    chosen_method,
    dropped_methods,
    method_rows,
    method_statuses,
    trust_table,
)
from explain.report.schema import ReportData
from explain.report.sections import Figures, Panel, panel


def _global_panels(
    exp: Mapping[str, Any],
    figs: Figures,
    status: Mapping[str, str],
    units: lp.FeatureUnits | None = None,
    target: lp.TargetUnits | None = None,
) -> list[Panel]:
    glob = {m: v for m, v in (exp.get("global") or {}).items() if isinstance(v, Mapping)}
    modality, names = exp.get("modality") or "tabular", list(exp.get("feature_names") or [])
    classes = bool(exp.get("class_names"))
    scale = target.std if target is not None and not classes else 1.0
    unit = (
        f"mean |attribution|, in {target.name}'s units"
        if target is not None and not classes
        else "mean |attribution| of the logit explained"
        if classes
        else "mean |attribution| of the model's output (standardized)"
    )
    overall = {
        m: v.get("overall")
        for m, v in glob.items()
        if v.get("overall") is not None and status.get(m) != "fail"
    }
    with_classes = [m for m in overall if (glob[m].get("per_class") or {})]
    method = chosen_method(exp, with_classes, status)
    per_class = (glob.get(method) or {}).get("per_class") or {} if method else {}
    shown, own = badges(overall, status), badges([method], status)
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
        # (steps, channels) per method: which channel matters is lost in the per-step sums
        maps = {m: np.abs(ep.as_array(v)) for m, v in overall.items()}
        maps = {m: a for m, a in maps.items() if a.ndim == 2 and a.size}
        steps = min((a.shape[0] for a in maps.values()), default=0)
        channels = {m: a.sum(axis=0) for m, a in maps.items() if a.shape[1] > 1}
        # a method that scores windows of steps across every channel (grouped SHAP) splits a
        # window's value evenly over them: its channels are equal by construction, not found so
        blind = [m for m, c in channels.items() if np.ptp(c) <= 1e-9 * max(float(c.max()), 1e-12)]
        channels = {m: c for m, c in channels.items() if m not in blind}
        if channels:
            fid = figs.add("global-channels", ep.tabular_global_figure, channels, names)
            left = (f" Left out: {', '.join(blind)}, which scores windows of steps across all "
                    "channels, so cannot rank them." if blind else "")  # fmt: skip
            out.append(
                panel(
                    "Global importance per channel",
                    "Which input channel the model relies on (mean |attribution| summed over "
                    f"time steps); each method scaled to its own maximum.{left}"
                    + top_of(ep.TOP_FEATURES, _width(channels), "channels"),
                    fid,
                    features=_feature_table(channels, names, scale) if fid in figs.figures else [],
                    features_unit=unit,
                    features_of=_width(channels),
                    badges=badges(list(channels), status),
                )
            )
        if steps != 1:  # one time step: nothing to draw over time (its channels are above)
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
        if per_class and steps != 1:
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
        n_feat = _width(overall)
        fid = figs.add("global-tab", ep.tabular_global_figure, overall, names)
        out.append(
            panel(
                "Global feature importance",
                "Longer bars matter more to the model "
                "(mean |attribution| over the explained examples); each method is "
                f"scaled to its own maximum.{top_of(ep.TOP_FEATURES, n_feat, every=True)}",
                fid,
                features=_feature_table(overall, names, scale) if fid in figs.figures else [],
                features_unit=unit,
                features_of=n_feat,
                badges=shown,
            )
        )
        if per_class:
            out.append(
                panel(
                    f"Importance per class ({method})",
                    "Darker cells: the feature matters more for that class."
                    + top_of(ep.TOP_FEATURES, _width(per_class)),
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
            if exp.get("class_names")
            else f"each value in the predicted {target.name}'s own units"
            if target is not None
            else "each example's prediction"
        )
        out.append(
            panel(
                f"SHAP beeswarm ({shap_m})",
                "Each dot is one example: right of 0 pushes the output up; red dots have a "
                f"high value of that feature (5th to 95th percentile); {which}."
                + top_of(BEESWARM_FEATURES, _shap_width(shap), every=True, by="mean |SHAP value|"),
                figs.add(
                    "beeswarm",
                    lambda: beeswarm_figure(
                        shap, names, list(exp.get("class_names") or []), units, target
                    ),
                ),
                "The SHAP values could not be drawn.",
                badges=badges([shap_m], status),
                outputs=[o["label"] for o in outputs] if len(outputs) > 1 else [],
            )
        )
    if not out or all(p["figure"] is None and not p["note"] for p in out):
        return [panel("Global importance", "", None, "No global attributions were computed.")]
    for p in out:
        p["note"] = p["note"] or "No values to draw."
    return out


def top_of(
    k: int, n: int, unit: str = "features", every: bool = False, by: str = "mean |attribution|"
) -> str:
    """A caption's note that a figure draws the top ``k`` of ``n`` (empty when all fit):
    " Top 20 of 300 features, ..." and, with ``every``, where the run keeps every feature's
    attributions (explain/record.py writes them)."""
    if n <= k:
        return ""
    where = (
        " Every feature's attributions are in the run's explain/attributions.npz (one array "
        "per method, examples × features), their names in explain/explanations.json."
        if every
        else ""
    )
    return f" Top {k} of {n:,} {unit}, by {by}.{where}"


def _width(vectors: Mapping[str, Any]) -> int:
    """How many features the importance vectors share (the figures draw their top ones)."""
    sizes = [ep.as_array(v).reshape(-1).size for v in vectors.values() if v is not None]
    sizes = [n for n in sizes if n]
    return min(sizes) if sizes else 0


def _shap_width(shap: Mapping[str, Any]) -> int:
    """Features in the SHAP values (the last axis of ``values``)."""
    v = ep.as_array(shap.get("values"))
    return int(v.shape[-1]) if v.ndim >= 2 else 0


def _feature_table(
    overall: Mapping[str, Any], names: list[str], scale: float = 1.0
) -> list[dict[str, Any]]:
    """Top features with each method's mean |attribution|, for readers who want the numbers
    (times ``scale``: a regression's y_std, for the target's units)."""
    vecs = {m: np.abs(ep.as_array(v).reshape(-1)) * scale for m, v in overall.items()}
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


def _task(data: ReportData) -> str:
    run = data.get("run") if isinstance(data.get("run"), Mapping) else {}
    info = run.get("data_info") if isinstance(run.get("data_info"), Mapping) else {}
    return str(info.get("task") or run.get("task") or "")


def _attention_panel(
    attention: Any, figs: Figures, status: Mapping[str, str], exp: Mapping[str, Any]
) -> Panel | None:
    """The attention maps under their method's verdict: the maps are what the attention
    method reads, so when it failed a check they are not drawn, as its other views are not."""
    method = "attention"
    if isinstance(attention, Mapping) and attention.get("method"):
        method = str(attention["method"])
    title = "Attention maps"
    help = ("Row = the token attending, column = the token attended to; bright cells carry "
            "the weight (the menu picks layer and head).")  # fmt: skip
    if status.get(method) == "fail":
        why = dropped_methods(exp).get(method) or "it failed a quality check"
        note = (f"Not drawn: {method}, the method that reads these maps, failed its checks "
                f"({why}); where the model attends is not shown to be what drives its "
                "output.")  # fmt: skip
        return panel(title, "", None, note, badges=badges([method], status))
    fid = figs.add("attention", attention_figure, attention)
    return panel(title, help, fid, badges=badges([method], status)) if fid else None


def explanations(data: ReportData, figs: Figures) -> dict[str, Any] | None:
    """Everything the explanations section shows, or None when nothing was explained."""
    exp = data.get("explanations")
    if not isinstance(exp, Mapping):
        return None
    status = method_statuses(exp)
    units = feature_units(data, exp)
    attention = exp.get("attention")
    checks = [c for c in exp.get("checks") or [] if isinstance(c, Mapping)]
    agreement = [c for c in exp.get("agreement") or [] if isinstance(c, Mapping)]
    target = lp.TargetUnits.of(data)
    regression = not exp.get("class_names") and (target is not None or _task(data) == "regression")
    if regression and target is not None:  # deletion / insertion in the target's units
        checks = [cp.in_target_units(c, target.mean, target.std, target.name) for c in checks]
    curves_y = cp.curves_axis(checks, regression, target.name if regression and target else "")
    local = local_cards(exp, figs, status, units, target)
    n_local = len(unique_local([i for i in exp.get("local") or [] if isinstance(i, Mapping)]))
    methods = method_rows(exp, status)
    return {
        "modality": exp.get("modality"),
        "methods": [m for m in exp.get("methods") or [] if isinstance(m, Mapping)],
        "method_rows": methods["rows"],
        "n_applicable": methods["n_applicable"],
        "n_computed": methods["n_computed"],
        "trust": trust_table(exp, status),
        "dropped": [{"method": m, "why": why} for m, why in dropped_methods(exp).items()],
        "units_known": units.known if units and exp.get("modality") != "sequence" else True,
        "global": _global_panels(exp, figs, status, units, target),
        "attention": _attention_panel(attention, figs, status, exp) if attention else None,
        "local": local,
        "local_hidden": max(0, n_local - len(local)),
        "agreement": panel(
            "Agreement between methods",
            "Rank correlation of the methods' global importances, each input weighted by "
            "its share of the two (so the chance order of inputs both ignore does not count): "
            "near 1 they point at the same inputs, near 0 they do not agree.",
            figs.add("agreement", lambda: cp.agreement_figure(agreement)),
            "Fewer than two methods were compared.",
            rows=check_rows(agreement, exp.get("n_explained")),
        ),
        "checks": check_rows(checks, exp.get("n_explained")),
        "check_counts": {s: sum(c.get("status") == s for c in checks) for s in STATUSES},
        "curves": panel(
            "Deletion and insertion curves",
            "Removing inputs in attribution order "
            "should drop the output faster than the dotted random order; restoring"
            " them should raise it faster.",
            figs.add("check-curves", lambda: cp.check_curves_figure(checks, curves_y)),
            "No deletion / insertion curves.",
        ),
        "timing": [(m, fmt_seconds(s)) for m, s in (exp.get("timing") or {}).items()],
    }
