"""Which explanation methods to believe: each computed method's verdict from its quality
checks, the method the views draw (one that passed every check first, never one that failed),
the method x check table with the plain consequence of each failure, and the check rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from explain.report._format import fmt_num

STATUSES = ("pass", "warn", "fail", "skipped")

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
        # with inputs that copy each other, removing one changes little while each is
        # credited: an exact IG of such a model warned at 0.362 (/tmp/oW 7)
        "infidelity": "the map does not predict how the output changes when inputs are removed "
        "(as also when inputs copy each other: removing one then changes little)",
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


def disagreements(exp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pairs of methods whose agreement check failed or warned (``exp["agreement"]``, or
    agreement checks among ``exp["checks"]``): ``{methods: (a, b), status, value}``, failures
    first. Each method may pass its own checks while the two rank the inputs unrelatedly
    (IG and SHAP at -0.39 on a noise target had read "passed every check")."""
    rows = [c for c in [*(exp.get("agreement") or []), *(exp.get("checks") or [])]
            if isinstance(c, Mapping) and c.get("name") == "agreement"
            and c.get("status") in ("fail", "warn")]  # fmt: skip
    out, seen = [], set()
    for c in sorted(rows, key=lambda c: c.get("status") != "fail"):
        pair = tuple(str(c.get("method") or "").split(" vs "))
        if len(pair) == 2 and pair not in seen:
            seen.add(pair)
            out.append({"methods": pair, "status": c["status"], "value": c.get("value")})
    return out


def disagreement_text(d: Mapping[str, Any]) -> str:
    """ "integrated_gradients and shap_exact disagree on which inputs matter (rank agreement
    -0.39)"; "partly disagree" for a warning."""
    a, b = d["methods"]
    verb = "disagree" if d["status"] == "fail" else "partly disagree"
    value = d.get("value")
    shown = f" (rank agreement {fmt_num(value, 2)})" if isinstance(value, int | float) else ""
    return f"{a} and {b} {verb} on which inputs matter{shown}"


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


def trust_table(exp: Mapping[str, Any], status: Mapping[str, str]) -> dict[str, Any]:
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
        for d in disagreements(exp):  # its own checks may all hold while another method's
            # ranking of the inputs contradicts it: one of the two is not what the model uses
            if m in d["methods"]:
                meaning.append(disagreement_text(d) + ": one of the two is off")
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


def method_rows(exp: Mapping[str, Any], status: Mapping[str, str]) -> dict[str, Any]:
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


def badges(methods: Any, status: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"method": str(m), "status": status.get(str(m), "unchecked")} for m in methods]


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


def check_rows(rows: Any, n_explained: Any = None) -> list[dict[str, Any]]:
    """The check table's rows; ``n``: the examples a check ran on (a re-running check's own
    sample, ``extra.n_examples``; the others, every explained example)."""
    out = []
    for c in rows or []:
        if not isinstance(c, Mapping):
            continue
        status = str(c.get("status") or "skipped")
        n = examples_checked(c, n_explained)
        out.append(
            {
                "name": c.get("name"),
                "method": c.get("method"),
                "detail": c.get("detail"),
                "value": fmt_num(c.get("value"), 3),
                "threshold": fmt_num(c.get("threshold"), 3),
                "status": status if status in STATUSES else "skipped",
                "qualifier": "; ".join(filter(None, (_few(n), _qualifier(c)))),
                "n": fmt_num(n),
            }
        )
    return out


#: Fewer examples than this and a check's verdict is said to be no judgement (the re-running
#: checks never cut their sample below it; `nas explain --samples 1` had "failed" a method
#: that passed every check on 180 examples)
MIN_JUDGED = 8


def _few(n: int | None) -> str:
    return (f"on only {n} example{'s' * (n != 1)}: too few to judge"
            if n is not None and n < MIN_JUDGED else "")  # fmt: skip


def examples_checked(check: Mapping[str, Any], n_explained: Any = None) -> int | None:
    """How many examples ``check`` ran on: its own re-run sample where it records one
    (sensitivity, randomisation), else every explained example (``n_explained``)."""
    extra = check.get("extra") if isinstance(check.get("extra"), Mapping) else {}
    for n in (extra.get("n_examples"), n_explained):
        if isinstance(n, int) and not isinstance(n, bool):
            return n
    return None
