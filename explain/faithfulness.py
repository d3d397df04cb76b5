"""Does an explanation follow the model? Infidelity, sensitivity and deletion / insertion curves.

Each check returns a :class:`explain.types.Check`. Attributions are read as *contributions
relative to a baseline* (the contract of :class:`explain.types.Attribution`), so every
perturbation here replaces input elements by the baseline rather than adding free noise.

Kept whole (a little over 300 lines): three answers to one question, sharing that convention,
the forward wrapper and the pass / warn thresholds tuned against each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from captum.metrics import infidelity as captum_infidelity
from captum.metrics import sensitivity_max
from scipy.integrate import trapezoid
from torch import nn

from explain._checks import (
    ExplainFn,
    as_numpy,
    as_targets,
    as_tensor,
    baseline_like,
    check_shape,
    check_task,
    eval_mode,
    finite,
    floats,
    outputs,
    skipped,
    verdict_below,
)
from explain.types import Check

INFIDELITY_PASS_RATIO = 0.5  # pass: at most half the reference's unexplained fraction
INFIDELITY_WARN_RATIO = 0.8
INFIDELITY_PASS_ABS = 0.05  # ... or it explains >= 95% of the output changes on its own
SENSITIVITY_PASS = 0.2  # relative change of the explanation for a ~2%-of-scale input change
SENSITIVITY_WARN = 0.5  # two unrelated explanations differ by ~1.4 (sqrt 2)
DELETION_MARGIN = 0.1  # AUC gap to the random order, in units of |f(x) - f(baseline)|


def _forward_for(model: nn.Module) -> Any:
    # Captum's metrics select the target column themselves; a 1-D output has no column.
    def forward(x: torch.Tensor) -> torch.Tensor:
        out = model(x)
        return out.reshape(out.shape[0], -1)

    return forward


def infidelity(
    model: nn.Module,
    X: Any,
    attributions: Any,
    targets: Any,
    baseline: Any = None,
    *,
    method: str = "",
    n_perturb: int = 16,
    p_remove: float = 0.3,
    seed: int = 0,
) -> Check:
    """Infidelity (Yeh et al., 2019) of attributions against random-subset removal.

    Each perturbation draws a Bernoulli(``p_remove``) mask ``m`` and replaces the masked elements
    by the baseline; the attribution predicts the output drop as ``sum(m * attr)``. Captum's
    ``infidelity(normalize=True)`` fits the best per-example scale of the attributions, so the
    check is blind to their scale; we divide by the mean squared output drop, which makes it the
    *unexplained fraction* in [0, 1]. The reference is the same attributions shuffled across
    elements (same values, same sum, seeded): pass if clearly below it.
    """
    Xt = as_tensor(X)
    values = as_numpy(attributions)
    check_shape(values, Xt, method)
    t = as_targets(targets, Xt.shape[0])
    base = baseline_like(baseline, Xt)
    A = torch.as_tensor(values, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    flat = values.reshape(values.shape[0], -1)
    shuffled = torch.as_tensor(
        rng.permuted(flat, axis=1).reshape(values.shape), dtype=torch.float32
    )
    forward = _forward_for(model)

    def run(attr: torch.Tensor, normalize: bool) -> np.ndarray:
        gen = torch.Generator().manual_seed(seed)  # the same masks in every run

        def perturb(x: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            m = (torch.rand(x.shape, generator=gen) < p_remove).to(x.device, x.dtype)
            # The "perturbation" captum multiplies with the attributions is the mask itself,
            # so sum(m * attr) is the predicted drop when the masked elements go to baseline.
            return m, x - m * (x - b)

        with eval_mode(model):
            out = captum_infidelity(
                forward,
                perturb,
                Xt,
                attr,
                baselines=base,
                target=t,
                n_perturb_samples=n_perturb,
                normalize=normalize,
            )
        return out.detach().cpu().numpy().astype(np.float64)

    energy = run(torch.zeros_like(A), normalize=False)  # E[(f(x) - f(x_masked))^2]
    if not np.any(energy > 1e-12):
        return skipped(
            "infidelity",
            method,
            "the output never changes when input elements are "
            "replaced by the baseline, so there is nothing to explain.",
        )
    live, safe = energy > 1e-12, np.where(energy > 1e-12, energy, 1.0)
    per = np.where(live, run(A, True) / safe, 0.0)  # per-example unexplained fraction
    value = float(np.mean(per))
    ref = float(np.mean(np.where(live, run(shuffled, True) / safe, 0.0)))  # shuffled values
    threshold = max(INFIDELITY_PASS_RATIO * ref, INFIDELITY_PASS_ABS)
    status = verdict_below(value, threshold, max(INFIDELITY_WARN_RATIO * ref, threshold))
    return Check(
        name="infidelity",
        method=method,
        value=finite(value),
        threshold=finite(threshold),
        status=status,
        detail=(
            f"share of the output changes (random {p_remove:.0%} of the inputs set to baseline) "
            f"the attributions fail to predict, after optimal rescaling: {value:.3f} vs "
            f"{ref:.3f} for the same values shuffled; 0 is perfect, lower is better."
        ),
        extra={
            "reference": finite(ref),
            "p_remove": p_remove,
            "n_perturb": n_perturb,
            "per_example": floats(per),
        },
    )


def sensitivity(
    model: nn.Module,
    X: Any,
    explain_fn: ExplainFn,
    targets: Any,
    *,
    method: str = "",
    radius: float = 0.02,
    n_perturb: int = 4,
    seed: int = 0,
) -> Check:
    """Max-sensitivity (Yeh et al., 2019) via ``captum.metrics.sensitivity_max``.

    Inputs move uniformly within an L-inf ball of ``radius`` times the inputs' standard
    deviation; the value is the mean over examples of the largest relative change of the
    explanation, ``max ||e(x + d) - e(x)|| / ||e(x)||``.
    """
    Xt = as_tensor(X)
    t = as_targets(targets, Xt.shape[0])
    scale = float(Xt.std()) if Xt.numel() > 1 else 1.0
    r = radius * (scale if scale > 0 else 1.0)
    gen = torch.Generator().manual_seed(seed)

    def perturb(x: torch.Tensor) -> torch.Tensor:
        return x + ((torch.rand(x.shape, generator=gen) * 2 - 1) * r).to(x.device)

    def explanation(x: Any, target: torch.Tensor) -> Any:
        packed = isinstance(x, tuple)  # captum's first call passes (and wants back) a 1-tuple
        with torch.enable_grad():  # sensitivity_max runs under no_grad; gradient methods need it
            e = explain_fn(model, x[0] if packed else x, target)
        e = torch.as_tensor(as_numpy(e), dtype=torch.float32)
        return (e,) if packed else e

    with eval_mode(model):
        sens = sensitivity_max(
            explanation, Xt, perturb_func=perturb, n_perturb_samples=n_perturb, target=t
        )
    per = sens.detach().cpu().numpy().astype(np.float64)
    value = float(np.mean(per))
    rel_input = float(
        torch.norm(torch.full_like(Xt[0], r / 3**0.5)) / Xt[0].norm().clamp_min(1e-12)
    )
    return Check(
        name="sensitivity",
        method=method,
        value=finite(value),
        threshold=SENSITIVITY_PASS,
        status=verdict_below(value, SENSITIVITY_PASS, SENSITIVITY_WARN),
        detail=(
            f"largest relative change of the explanation when inputs move by up to {radius:.0%} "
            f"of their scale: {value:.3f}; 0 is perfectly stable, unrelated explanations "
            "score about 1.4."
        ),
        extra={
            "radius": r,
            "n_perturb": n_perturb,
            "per_example": floats(per),
            "relative_input_change": finite(rel_input),
        },
    )


def _curves(
    model: nn.Module,
    X: torch.Tensor,
    base: torch.Tensor,
    ranks: np.ndarray,
    targets: torch.Tensor,
    counts: np.ndarray,
    task: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves ``(n, steps + 1)`` for per-example element ranks."""
    n, d, k = X.shape[0], ranks.shape[1], counts.size
    xf, bf = X.reshape(n, 1, d), base.reshape(n, 1, d)
    rk = torch.as_tensor(ranks, device=X.device).view(n, 1, d)
    cnt = torch.as_tensor(counts, device=X.device).view(1, k, 1)
    dels, ins = [], []
    chunk = max(1, 2_000_000 // (k * d))  # bounds the (chunk, steps, d) batch in memory
    for i in range(0, n, chunk):
        sl = slice(i, i + chunk)
        top = rk[sl] < cnt  # (c, k, d): the first counts[j] elements in attribution order
        c = top.shape[0]
        deleted = torch.where(top, bf[sl], xf[sl]).reshape(c * k, *X.shape[1:])
        inserted = torch.where(top, xf[sl], bf[sl]).reshape(c * k, *X.shape[1:])
        tt = targets[sl].repeat_interleave(k)
        dels.append(outputs(model, deleted, tt, task, probs=True).view(c, k))
        ins.append(outputs(model, inserted, tt, task, probs=True).view(c, k))
    return torch.cat(dels).numpy().astype(float), torch.cat(ins).numpy().astype(float)


def _ranks(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rank of each element in decreasing attribution order, ties broken at random."""
    n, d = values.shape
    perm = rng.permuted(np.tile(np.arange(d), (n, 1)), axis=1)
    order = np.take_along_axis(
        perm, np.argsort(-np.take_along_axis(values, perm, 1), 1, kind="stable"), 1
    )
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(d)[None].repeat(n, 0), 1)
    return ranks


def deletion_insertion(
    model: nn.Module,
    X: Any,
    attributions: Any,
    targets: Any,
    baseline: Any = None,
    *,
    method: str = "",
    task: str = "classification",
    steps: int = 20,
    seed: int = 0,
) -> tuple[Check, Check]:
    """Deletion and insertion curves (Petsiuk et al., 2018) against a random order.

    Deletion replaces input elements by the baseline in decreasing attribution order and tracks
    the target's probability (softmax; the raw output for regression); insertion starts from the
    baseline and puts the elements back in the same order. A faithful order makes deletion fall
    and insertion rise faster than a random order (seeded, same steps): the AUC gap to random,
    in units of the mean ``|f(x) - f(baseline)|``, must exceed ``DELETION_MARGIN`` to pass.
    """
    check_task(task)
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps=}.")
    Xt = as_tensor(X)
    values = as_numpy(attributions)
    check_shape(values, Xt, method)
    t = as_targets(targets, Xt.shape[0])
    base = baseline_like(baseline, Xt)
    n, d = Xt.shape[0], int(np.prod(Xt.shape[1:]))
    if n == 0 or d == 0:
        return (
            skipped("deletion", method, "no examples"),
            skipped("insertion", method, "no examples"),
        )
    rng = np.random.default_rng(seed)
    counts = np.round(np.linspace(0, d, steps + 1)).astype(np.int64)
    frac = counts / d
    del_c, ins_c = _curves(model, Xt, base, _ranks(values.reshape(n, d), rng), t, counts, task)
    rnd_ranks = np.argsort(rng.random((n, d)), axis=1).argsort(axis=1)
    del_r, ins_r = _curves(model, Xt, base, rnd_ranks, t, counts, task)
    span = float(np.mean(np.abs(del_c[:, 0] - del_c[:, -1])))
    if span < 1e-8:
        reason = "the output at the baseline equals the output at the inputs; nothing to remove."
        return skipped("deletion", method, reason), skipped("insertion", method, reason)
    what = "probability of the target" if task == "classification" else "output"
    checks = []
    for name, curve, rnd, sign in (("deletion", del_c, del_r, -1), ("insertion", ins_c, ins_r, 1)):
        auc, auc_r = float(trapezoid(curve.mean(0), frac)), float(trapezoid(rnd.mean(0), frac))
        gap = sign * (auc - auc_r) / span  # > 0 when better than random
        status = "pass" if gap > DELETION_MARGIN else "warn" if gap > 0 else "fail"
        word = "below" if sign < 0 else "above"
        checks.append(
            Check(
                name=name,
                method=method,
                value=finite(auc),
                threshold=finite(auc_r + sign * DELETION_MARGIN * span),
                status=status,
                detail=(
                    f"area under the {what} as inputs are {'removed' if sign < 0 else 'restored'} "
                    f"in attribution order: {auc:.3f} vs {auc_r:.3f} in random order; a faithful "
                    f"order is clearly {word} random."
                ),
                extra={
                    "fractions": floats(frac),
                    "curve": floats(curve.mean(0)),
                    "random_curve": floats(rnd.mean(0)),
                    "random_auc": finite(auc_r),
                    "gap": finite(gap),
                    "span": finite(span),
                    "output": what,
                },
            )
        )
    return checks[0], checks[1]
