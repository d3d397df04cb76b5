"""Quality checks of explanations: is each one complete, faithful, stable, model-dependent, and
do the methods agree? Every check returns a :class:`explain.types.Check` (value, threshold,
pass / warn / fail / skipped, a one-line reading and JSON-able curves in ``extra``).

:func:`run_checks` runs all that apply to a set of attributions. The individual checks live in
:mod:`explain.faithfulness` (infidelity, sensitivity, deletion / insertion) and
:mod:`explain.randomisation` (the model-parameter randomisation test) and are re-exported here.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from explain._checks import (
    ExplainFn,
    as_numpy,
    as_targets,
    as_tensor,
    baseline_like,
    check_task,
    eval_mode,
    finite,
    outputs,
    rowwise_spearman,
    seeded,
    skipped,
    subsample,
    verdict_above,
    verdict_below,
)
from explain.faithfulness import deletion_insertion, infidelity, sensitivity
from explain.randomisation import cascade_layers, randomisation_check
from explain.types import Attribution, Check

#: Methods whose attributions sum to f(x) - f(baseline) (exactly, or in expectation for
#: gradient SHAP / expected gradients), matched as substrings of the method name.
COMPLETE_METHODS = ("integrated_gradients", "deeplift", "deep_lift", "shap")
COMPLETENESS_PASS = 0.05  # IG at 32-50 steps on ReLU nets lands within a few percent
COMPLETENESS_WARN = 0.20  # beyond this the attributions no longer account for the output change
AGREEMENT_PASS = 0.5
AGREEMENT_WARN = 0.2
_PROBE = 8  # examples timed to size the re-running checks
_INPUT_CHECKS = ("infidelity", "deletion", "insertion", "sensitivity", "randomisation")


def is_complete(method: str) -> bool:
    """Whether ``method``'s attributions should add up to f(x) - f(baseline)."""
    m = method.lower()
    return any(k in m for k in COMPLETE_METHODS)


def completeness(attr: Attribution, f_x: Any, f_baseline: Any = None) -> Check:
    """Completeness error: ``|sum(attr) - (f(x) - f(x'))| / |f(x) - f(x')|``, median over examples.

    ``f_x`` is the explained output (the target's logit, as the methods see it) per example;
    ``f_baseline`` the same at the baseline, or ``attr.base_values`` when None (SHAP's expected
    value). The median, because examples close to the baseline have a tiny denominator and would
    dominate a mean; the mean, the 90th percentile and the pooled error are kept in ``extra``.
    """
    name, method = "completeness", attr.method
    if not is_complete(method):
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
    value = float(np.median(rel))
    return Check(
        name=name,
        method=method,
        value=finite(value),
        threshold=COMPLETENESS_PASS,
        status=verdict_below(value, COMPLETENESS_PASS, COMPLETENESS_WARN),
        detail=(
            f"attributions add up to the output change f(x) - f(baseline) within {value:.1%} "
            "(median over examples); large errors mean too few steps, a mismatched baseline "
            "or output, or an unsupported layer."
        ),
        extra={
            "mean": finite(rel.mean()),
            "p90": finite(np.quantile(rel, 0.9)),
            "pooled": finite(err.sum() / max(float(np.abs(gap).sum()), 1e-12)),
        },
    )


def agreement(attrs: Mapping[str, Attribution]) -> list[Check]:
    """Spearman's rho between each pair of methods' global importances (mean |attr|).

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
        rho = float(spearmanr(ga, gb).statistic)
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
                    f"rank correlation of the two methods' global feature importances: "
                    f"{rho:.2f}; 1 is the same ranking. Low agreement is a warning (one of them "
                    "is off, or they answer different questions), not proof of which."
                ),
                extra=extra,
            )
        )
    return checks


def _timed(name: str, method: str, fn: Callable[[], Check | tuple[Check, ...]]) -> list[Check]:
    """Run one check; record its seconds, and turn an exception into a skipped check."""
    start = time.perf_counter()
    try:
        out = fn()
    except Exception as e:  # one broken check must not sink the report
        warnings.warn(f"{name} check of {method} failed: {e}", RuntimeWarning, stacklevel=3)
        out = skipped(name, method, f"could not run: {type(e).__name__}: {e}")
    checks = list(out) if isinstance(out, tuple) else [out]
    for c in checks:
        c.extra["seconds"] = round((time.perf_counter() - start) / len(checks), 4)
    return checks


def affordable(
    fn: ExplainFn,
    model: nn.Module,
    X: torch.Tensor,
    t: torch.Tensor,
    idx: np.ndarray,
    calls: int,
    budget_seconds: float | None,
    seed: int = 0,
) -> np.ndarray:
    """The prefix of ``idx`` that ``calls`` runs of the explainer can afford in
    ``budget_seconds``, from its cost on a probe of 8 examples (at least the probe is kept)."""
    if budget_seconds is None or len(idx) <= _PROBE:
        return idx
    probe = idx[:_PROBE]
    start = time.perf_counter()
    with eval_mode(model), seeded(seed):
        fn(model, X[probe], t[probe])
    per_example = max(time.perf_counter() - start, 1e-6) / len(probe)
    return idx[: max(_PROBE, min(len(idx), int(budget_seconds / (calls * per_example))))]


def run_checks(
    model: nn.Module,
    X: Any,
    targets: Any,
    attrs: Mapping[str, Attribution],
    explain_fns: Mapping[str, ExplainFn] | None = None,
    baseline: Any = None,
    *,
    task: str = "classification",
    budget_samples: int = 32,
    budget_seconds: float | None = 8.0,
    steps: int = 20,
    n_perturb: int = 4,
    seed: int = 0,
) -> list[Check]:
    """Every applicable check for each explanation in ``attrs`` (all computed on ``X`` against
    ``baseline``, None meaning zeros), then the agreement of every pair.

    Completeness, infidelity and deletion / insertion use all examples (forward passes only).
    Sensitivity and randomisation re-run the explainer, so they need ``explain_fns[method]``
    (skipped without one) and use a seeded subsample: at most ``budget_samples`` examples, and
    fewer when the explainer is slow, so that both together take about ``budget_seconds`` per
    method (None: no time limit). ``extra["n_examples"]`` records how many were used.
    """
    check_task(task)
    Xt = as_tensor(X)
    t = as_targets(targets, Xt.shape[0])
    base = baseline_like(baseline, Xt)
    fns = dict(explain_fns or {})
    f_x = outputs(model, Xt, t, task).numpy()  # the raw output: what the methods attribute
    f_b = outputs(model, base, t, task).numpy()
    idx = subsample(Xt.shape[0], budget_samples, seed)
    n_layers = len(cascade_layers(model))
    checks: list[Check] = []
    for name, attr in attrs.items():
        values = as_numpy(attr.values)
        f_b_attr = attr.base_values if attr.base_values is not None else f_b
        common = {"method": name, "seed": seed}
        checks += _timed("completeness", name, partial(completeness, attr, f_x, f_b_attr))
        if values.shape != tuple(Xt.shape):  # e.g. a layer attribution: only its sum is checked
            why = f"attributions of shape {values.shape} are not over the inputs {tuple(Xt.shape)}."
            checks += [skipped(c, name, why) for c in _INPUT_CHECKS]
            continue
        checks += _timed(
            "infidelity", name, partial(infidelity, model, Xt, values, t, base, **common)
        )
        checks += _timed(
            "deletion",
            name,
            partial(
                deletion_insertion, model, Xt, values, t, base, task=task, steps=steps, **common
            ),
        )
        fn = fns.get(name)
        if fn is None:
            why = "no explain_fn was given for this method, so it cannot be re-run."
            checks += [skipped("sensitivity", name, why), skipped("randomisation", name, why)]
            continue
        calls = (1 + n_perturb) + (n_layers + 2)  # sensitivity + randomisation (with repeat)
        sub = affordable(fn, model, Xt, t, idx, calls, budget_seconds, seed)
        sens = _timed(
            "sensitivity",
            name,
            partial(sensitivity, model, Xt[sub], fn, t[sub], n_perturb=n_perturb, **common),
        )
        rand = _timed(
            "randomisation",
            name,
            partial(randomisation_check, model, Xt[sub], t[sub], fn, **common),
        )
        for c in sens + rand:
            c.extra["n_examples"] = len(sub)
        checks += sens + rand
    checks += agreement(attrs)
    return checks


__all__ = [
    "COMPLETE_METHODS",
    "ExplainFn",
    "affordable",
    "agreement",
    "cascade_layers",
    "completeness",
    "deletion_insertion",
    "infidelity",
    "is_complete",
    "randomisation_check",
    "run_checks",
    "sensitivity",
]
