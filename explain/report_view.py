"""The ``explanations`` part of the report's data (explain/report/SCHEMA.md), read off an
:class:`~explain.record.Explanations` record: global and local views, attention, SHAP, checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from explain.record import Explanations
from explain.views import to_jsonable


def _r(a: Any, digits: int = 5) -> Any:
    """Rounded nested lists (keeps the report small)."""
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def report_view(exp: Explanations, max_local: int = 4) -> dict[str, Any]:
    """The ``explanations`` part of the report's data (explain/report/SCHEMA.md)."""
    views = exp.global_views()
    names = exp.class_names or []

    def label(v: Any) -> str | float:
        """A class's name, or a regression's standardized value unrounded: the report shows it
        in the target's units, and 4 digits of z had read 51.99 for a target of 52."""
        if exp.task == "classification":
            i = int(v)
            return names[i] if i < len(names) else str(i)
        return float(np.ravel(v)[0])

    glob = {}
    for m, g in views.items():
        # Regression has no classes: its one "class" would be the output index, not a label.
        per = {label(c): _r(v) for c, v in g["per_class"].items() if g["counts"].get(c)}
        per = per if exp.task == "classification" else {}
        glob[m] = {"overall": _r(g["overall"]), "per_class": per, "unit": g["unit"]}
    local = []
    for category, rows in exp.samples.items():
        for i in rows[:max_local]:
            a_i = {m: _r(a.values[i], 4) for m, a in exp.attributions.items()
                   if a.values.shape[1:] == tuple(exp.input_shape)}  # fmt: skip
            local.append(
                {
                    "index": int(i),
                    "category": category,
                    "label": label(exp.y[i]),
                    "predicted": label(exp.predicted[i]),
                    "probability": None
                    if np.isnan(exp.probability[i])
                    else float(exp.probability[i]),  # unrounded: the report rounds it once
                    "input": _r(exp.X[i], 4),
                    "attributions": a_i,
                }
            )
    attention = None
    att = exp.attributions.get("attention")
    if att is not None and "attention_mean" in att.arrays:
        attention = {
            "method": "attention",  # the maps the method's rollout reads: its checks are theirs
            "layers": _r(att.arrays["attention_mean"], 4),
            "tokens": list(att.params.get("tokens", [])),
        }
    shap_view = None
    shap_m = next((m for m in exp.attributions if m.startswith("shap")), None)
    if shap_m and exp.modality == "tabular":
        s = exp.attributions[shap_m]
        base = s.base_values
        shap_view = {"method": shap_m, "base_value": float(np.mean(base)) if base is not None
                     else None, "values": _r(s.values, 4), "inputs": _r(exp.X, 4)}  # fmt: skip
    checks = [c.to_dict() for c in exp.checks if c.name != "agreement"]
    agreement = [c.to_dict() for c in exp.checks if c.name == "agreement"]
    return {
        "modality": exp.modality, "input_shape": list(exp.input_shape),
        "feature_names": exp.feature_names, "class_names": exp.class_names,
        "methods": [vars(c) for c in exp.choices], "global": glob, "local": local,
        "attention": attention, "shap": shap_view, "checks": to_jsonable(checks),
        "agreement": to_jsonable(agreement),
        "timing": {m: round(a.seconds, 3) for m, a in exp.attributions.items()},
        "seconds": round(exp.seconds, 2), "n_explained": int(len(exp.X)),
    }  # fmt: skip
