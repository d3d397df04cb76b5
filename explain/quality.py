"""Quality checks of explanations: is each one complete, faithful, stable, model-dependent, and
do the methods agree? Every check returns a :class:`explain.types.Check` (value, threshold,
pass / warn / fail / skipped, a one-line reading and JSON-able curves in ``extra``).

:func:`run_checks` runs all that apply to a set of attributions. The individual checks live in
:mod:`explain.faithfulness` (infidelity, deletion / insertion: forward passes on the stored
attributions) and :mod:`explain.randomisation` (sensitivity and the model-parameter
randomisation test: they re-run the explainer) and are re-exported here.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
from torch import nn

from explain._checks import (
    ExplainFn,
    as_numpy,
    as_targets,
    as_tensor,
    baseline_like,
    check_task,
    finite,
    outputs,
    rank_agreement,
    relative_to,
    rowwise_spearman,
    skipped,
    subsample,
    timed,
    verdict_above,
    verdict_below,
    worst,
)
from explain.faithfulness import deletion_insertion, infidelity
from explain.randomisation import cascade_layers, randomisation_check, sensitivity
from explain.types import Attribution, Check

#: Methods whose attributions sum to f(x) - f(baseline) per example, matched as substrings of
#: the method name (after the two lists below).
COMPLETE_METHODS = ("integrated_gradients", "deeplift", "deep_lift", "shap")
#: Complete only in expectation over their random references (expected gradients): per example
#: they miss the output change by 10-80% on the test fixtures, so they are measured, not judged.
APPROXIMATE_METHODS = ("gradient_shap", "shap_gradient")
#: Additive by construction of the estimator (each coalition's marginals telescope to
#: f(x) - E[f(background)]): a pass checks the implementation, not the values.
BY_CONSTRUCTION_METHODS = ("shap_exact", "shap_permutation")
COMPLETENESS_PASS = 0.05  # IG at 32-50 steps on ReLU nets lands within a few percent
COMPLETENESS_WARN = 0.20  # beyond this the attributions no longer account for the output change
COMPLETENESS_P90_PASS = 0.10  # IG's 90th percentile is <= 0.03 on every family's test fixture
COMPLETENESS_P90_WARN = 0.50  # a tenth of the examples half off: their values are not usable
AGREEMENT_PASS = 0.5
AGREEMENT_WARN = 0.2
#: Examples re-explained by sensitivity and randomisation: a fixed, seeded sample (the same rows
#: for both), so their numbers depend on the inputs and the seed only, never on machine speed.
RERUN_SAMPLES = 32
#: ... unless re-running every method on them would take longer than this on this machine
#: (estimated from the seconds each method took per example): then as many as fit, at least
#: ``RERUN_MIN``, and the checks say so. A 2,000-step sequence's checks had taken 379 s.
RERUN_SECONDS = 60.0
RERUN_MIN = 8
_INPUT_CHECKS = ("infidelity", "deletion", "insertion", "sensitivity", "randomisation")


def completeness_basis(method: str) -> str | None:
    """What a completeness check of ``method`` shows: ``"claim"`` (evidence that it converged
    and suits the model), ``"by construction"`` (it cannot fail but by a bug), ``"approximate"``
    (complete in expectation only), or None (no completeness property)."""
    m = method.lower()
    if any(k in m for k in APPROXIMATE_METHODS):
        return "approximate"
    if any(k in m for k in BY_CONSTRUCTION_METHODS):
        return "by construction"
    return "claim" if any(k in m for k in COMPLETE_METHODS) else None


def is_complete(method: str) -> bool:
    """Whether ``method``'s attributions should add up to f(x) - f(baseline) per example."""
    return completeness_basis(method) in ("claim", "by construction")


def completeness(attr: Attribution, f_x: Any, f_baseline: Any = None) -> Check:
    """Completeness error: ``|sum(attr) - (f(x) - f(x'))| / |f(x) - f(x')|`` per example,
    judged at the median *and* the 90th percentile.

    ``f_x`` is the explained output (the target's logit, as the methods see it) per example;
    ``f_baseline`` the same at the baseline, or ``attr.base_values`` when None (SHAP's expected
    value). The median, because examples close to the baseline have a tiny denominator and would
    dominate a mean; the 90th percentile, so that a large share of badly-off examples cannot
    hide behind a good median. ``extra["basis"]`` says what a pass means
    (:func:`completeness_basis`): an approximate method is measured but at most warned about.
    """
    name, method = "completeness", attr.method
    basis = completeness_basis(method)
    if basis is None:
        return skipped(
            name,
            method,
            f"{method} makes no completeness claim (only "
            "integrated gradients, DeepLift and SHAP values add up to the output).",
        )
    f_b = attr.base_values if f_baseline is None else f_baseline
    if f_b is None:
        return skipped(
            name, method, "no output at the baseline was given (f_baseline or attr.base_values)."
        )
    values = as_numpy(attr.values)
    total = values.reshape(len(values), -1).sum(axis=1)
    gap = as_numpy(f_x).ravel() - np.broadcast_to(as_numpy(f_b).ravel(), total.shape)
    if gap.shape != total.shape:
        raise ValueError(f"f_x has {gap.size} values but the attributions {len(total)} examples.")
    if total.size == 0:
        return skipped(name, method, "no examples")
    err = np.abs(total - gap)
    floor = max(0.01 * float(np.mean(np.abs(gap))), 1e-12)  # guards examples at the baseline
    rel = err / np.maximum(np.abs(gap), floor)
    value, p90 = float(np.median(rel)), float(np.quantile(rel, 0.9))
    status = worst(
        verdict_below(value, COMPLETENESS_PASS, COMPLETENESS_WARN),
        verdict_below(p90, COMPLETENESS_P90_PASS, COMPLETENESS_P90_WARN),
    )
    detail = (
        f"attributions add up to the output change f(x) - f(baseline) within {value:.1%} "
        f"(median over examples; {p90:.1%} at the 90th percentile)"
    )
    if basis == "by construction":
        detail += (
            f". This holds by construction for {method}: its estimator adds up whatever the "
            "values, so a pass checks the implementation and is no evidence that they are right."
        )
    elif basis == "approximate":
        status = "warn" if status == "fail" else status
        detail += (
            f". {method} is complete only in expectation over its random references, not per "
            "example: this is the measured gap, at most a warning; do not read single values "
            "as exact contributions."
        )
    else:
        detail += (
            "; large errors mean too few steps, a mismatched baseline or output, or an "
            "unsupported layer."
        )
    return Check(
        name=name,
        method=method,
        value=finite(value),
        threshold=COMPLETENESS_PASS,
        status=status,
        detail=detail,
        extra={
            "basis": basis,
            "mean": finite(rel.mean()),
            "p90": finite(p90),
            "p90_threshold": COMPLETENESS_P90_PASS,
            "pooled": finite(err.sum() / max(float(np.abs(gap).sum()), 1e-12)),
        },
    )


def agreement(attrs: Mapping[str, Attribution]) -> list[Check]:
    """Weighted Spearman's rho between each pair of methods' global importances (mean |attr|),
    each feature weighted by its share of the two maps (:func:`rank_agreement`, as across the
    front): two methods that put 90 % of the evidence on the same two features agree, whatever
    chance order they give eighteen features of half a percent each, which plain rho counts
    as much (0.54 where the weighted rho is 0.84, on y = 3 x0 - 2 x1 with 18 noise features).

    Disagreement is a warning, not proof of error: methods differ in baseline and in what they
    ask (local gradient vs path integral vs Shapley value). Still, two explanations of one model
    that rank features unrelatedly cannot both be telling the user what the model uses.
    """
    checks = []
    for (a, xa), (b, xb) in itertools.combinations(attrs.items(), 2):
        pair = f"{a} vs {b}"
        va, vb = as_numpy(xa.values), as_numpy(xb.values)
        if va.shape[1:] != vb.shape[1:]:
            checks.append(
                skipped(
                    "agreement", pair, f"input shapes differ: {va.shape[1:]} vs {vb.shape[1:]}."
                )
            )
            continue
        ga, gb = np.abs(va).mean(axis=0).ravel(), np.abs(vb).mean(axis=0).ravel()
        if ga.size < 2 or np.ptp(ga) == 0 or np.ptp(gb) == 0:
            checks.append(
                skipped("agreement", pair, "a global importance is constant; no ranking.")
            )
            continue
        rho = rank_agreement(ga, gb)
        extra: dict[str, Any] = {}
        if va.shape == vb.shape:
            per = rowwise_spearman(np.abs(va), np.abs(vb))
            extra["per_example_mean"] = finite(np.nanmean(per)) if np.any(~np.isnan(per)) else None
        checks.append(
            Check(
                name="agreement",
                method=pair,
                value=finite(rho),
                threshold=AGREEMENT_PASS,
                status=verdict_above(rho, AGREEMENT_PASS, AGREEMENT_WARN),
                detail=(
                    f"rank correlation of the two methods' global feature importances, each "
                    f"feature weighted by its share of the two: {rho:.2f}; 1 is the same "
                    "ranking. Low agreement is a warning (one of them is off, or they answer "
                    "different questions), not proof of which."
                ),
                extra=extra,
            )
        )
    return checks


def run_checks(
    model: nn.Module,
    X: Any,
    targets: Any,
    attrs: Mapping[str, Attribution],
    explain_fns: Mapping[str, ExplainFn] | None = None,
    baseline: Any = None,
    *,
    references: Mapping[str, Any] | None = None,
    task: str = "classification",
    budget_samples: int = RERUN_SAMPLES,
    steps: int = 20,
    n_perturb: int = 4,
    seed: int = 0,
    seconds_per_example: Mapping[str, float] | None = None,
    time_budget: float = RERUN_SECONDS,
    rerun_examples: Mapping[str, int] | None = None,
) -> list[Check]:
    """Every applicable check for each explanation in ``attrs`` (all computed on ``X`` against
    ``baseline``, None meaning zeros), then the agreement of every pair.

    ``references[method]`` replaces ``baseline`` for a method whose attributions are relative to
    another input (SHAP: the background's mean), as what infidelity, deletion / insertion and
    randomisation set inputs to. A method without one whose ``base_values`` are not the output at
    ``baseline`` has its infidelity sign reported but not judged (it answers another removal).

    Completeness, infidelity and deletion / insertion use all examples (forward passes only).
    Sensitivity and randomisation re-run the explainer, so they need ``explain_fns[method]``
    (skipped without one) and use one seeded sample of ``budget_samples`` examples (all of them
    if fewer): ``extra["n_examples"]`` records it. With ``seconds_per_example`` (per method,
    as its explanation took) a method's sample is smaller when its re-runs would not fit in
    what is left of ``time_budget`` seconds, the cheapest methods served first (at least
    ``RERUN_MIN`` examples; ``extra["rerun_limited"]`` and the detail say so): only then does
    it depend on the machine, and only for the slow method (SHAP's kernel explainer), not the
    gradient methods beside it. ``rerun_examples`` (per method) fixes the sizes instead, as
    the explanation being made again had them: the same numbers from the same run directory.
    For SHAP, ``explain_fns`` must re-run the explainer with the background and seed of the
    stored values, or these two checks test another explainer.
    """
    check_task(task)
    Xt = as_tensor(X)
    t = as_targets(targets, Xt.shape[0])
    base = baseline_like(baseline, Xt)
    fns, refs = dict(explain_fns or {}), dict(references or {})
    f_x = outputs(model, Xt, t, task).numpy()  # the raw output: what the methods attribute
    f_b = outputs(model, base, t, task).numpy()
    sizes = _rerun_sizes(model, Xt.shape[0], budget_samples, n_perturb, fns, attrs,
                         seconds_per_example, time_budget, rerun_examples)  # fmt: skip
    checks: list[Check] = []
    for name, attr in attrs.items():
        values = as_numpy(attr.values)
        f_b_attr = attr.base_values if attr.base_values is not None else f_b
        common = {"method": name, "seed": seed}
        ref = baseline_like(refs[name], Xt) if name in refs else base
        own = name in refs or relative_to(attr, f_b)
        checks += timed("completeness", name, partial(completeness, attr, f_x, f_b_attr))
        if values.shape != tuple(Xt.shape):  # e.g. a layer attribution: only its sum is checked
            why = f"attributions of shape {values.shape} are not over the inputs {tuple(Xt.shape)}."
            checks += [skipped(c, name, why) for c in _INPUT_CHECKS]
            continue
        if attr.magnitude:
            why = (f"{name} here is a magnitude map (|gradient|, no signs): it does not predict "
                   "how the output changes, which infidelity tests; deletion and insertion judge "
                   "how far its order moves the output.")  # fmt: skip
            checks.append(skipped("infidelity", name, why))
        else:
            checks += timed(
                "infidelity",
                name,
                partial(infidelity, model, Xt, values, t, ref, judge_sign=own, **common),
            )
        checks += timed(
            "deletion",
            name,
            partial(
                deletion_insertion,
                model,
                Xt,
                values,
                t,
                ref,
                task=task,
                steps=steps,
                magnitude=attr.magnitude,
                **common,
            ),  # fmt: skip
        )
        fn = fns.get(name)
        if fn is None:
            why = "no explain_fn was given for this method, so it cannot be re-run."
            checks += [skipped("sensitivity", name, why), skipped("randomisation", name, why)]
            continue
        n_rerun, limited = sizes[name]
        idx = subsample(Xt.shape[0], n_rerun, seed)
        sens = timed(
            "sensitivity",
            name,
            partial(sensitivity, model, Xt[idx], fn, t[idx], n_perturb=n_perturb, **common),
        )
        rand = timed(
            "randomisation",
            name,
            partial(randomisation_check, model, Xt[idx], t[idx], fn, ref[idx], **common),
        )
        for c in sens + rand:
            c.extra["n_examples"] = len(idx)
            if limited and c.status != "skipped":
                c.extra["rerun_limited"] = limited
                c.detail = f"{c.detail} ({limited})"
        checks += sens + rand
    checks += agreement(attrs)
    return checks


def rerun_calls(model: nn.Module, n_perturb: int = 4) -> int:
    """How many times sensitivity and randomisation re-run an explainer on their sample: the
    perturbations, the noise floor's two draws, the original and its repeat, and one per
    cascade layer."""
    return n_perturb + 4 + len(cascade_layers(model))


def _rerun_sizes(
    model: nn.Module,
    n: int,
    budget_samples: int,
    n_perturb: int,
    fns: Mapping[str, Any],
    attrs: Mapping[str, Attribution],
    seconds_per_example: Mapping[str, float] | None,
    time_budget: float,
    fixed: Mapping[str, int] | None = None,
) -> dict[str, tuple[int, str]]:
    """Per method that can be re-run, how many examples sensitivity and randomisation
    re-explain, and why fewer than asked (``""`` when not). Each re-runs the explainer about
    ``n_perturb`` + 4 + one per cascade layer times (the perturbations, the noise floor's two
    draws, the original and its repeat, each re-initialised layer); the cheapest methods take
    their share of ``time_budget`` first, so a slow one does not shrink a fast one's sample."""
    wanted = min(n, budget_samples)
    methods = [m for m in attrs if m in fns]
    if fixed:
        out = {}
        for m in methods:
            k = min(n, max(1, int(fixed.get(m, wanted))))
            out[m] = (k, f"re-run on {k} of {wanted} examples, as in the explanation this one "
                         "makes again" if k < wanted else "")  # fmt: skip
        return out
    if not seconds_per_example or time_budget <= 0:
        return dict.fromkeys(methods, (wanted, ""))
    runs = rerun_calls(model, n_perturb)
    out, left = {}, time_budget
    for m in sorted(methods, key=lambda m: seconds_per_example.get(m, 0.0)):
        per = seconds_per_example.get(m, 0.0) * runs
        if per * wanted <= left or wanted <= RERUN_MIN:
            out[m] = (wanted, "")
            left -= per * wanted
            continue
        fit = max(RERUN_MIN, int(max(left, 0.0) / per))
        fewest = f", and {RERUN_MIN} is the fewest they use" if fit == RERUN_MIN else ""
        share = (f"the {time_budget:.0f} s" if left >= time_budget
                 else f"the {max(left, 0.0):.0f} s left of the {time_budget:.0f} s")  # fmt: skip
        out[m] = (fit, f"re-run on {fit} of {wanted} examples, about {per * fit:.0f} s on this "
                       f"machine: all {wanted} would take about {per * wanted:.0f} s, over "
                       f"{share} these re-runs are given{fewest}")  # fmt: skip
        left -= per * fit
    return out


__all__ = [
    "APPROXIMATE_METHODS",
    "BY_CONSTRUCTION_METHODS",
    "COMPLETE_METHODS",
    "RERUN_MIN",
    "RERUN_SAMPLES",
    "RERUN_SECONDS",
    "ExplainFn",
    "agreement",
    "cascade_layers",
    "rerun_calls",
    "completeness",
    "completeness_basis",
    "deletion_insertion",
    "infidelity",
    "is_complete",
    "randomisation_check",
    "run_checks",
    "sensitivity",
]
