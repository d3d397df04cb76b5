"""Does an explanation follow the model? Infidelity and deletion / insertion curves.

Each check returns a :class:`explain.types.Check` and needs only the stored attributions and
forward passes. Attributions are read as *contributions relative to a baseline* (the contract
of :class:`explain.types.Attribution`), so every perturbation here replaces input elements by
the baseline rather than adding free noise. The checks that re-run the explainer (sensitivity,
randomisation) are in :mod:`explain.randomisation`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from captum.metrics import infidelity as captum_infidelity
from scipy.integrate import trapezoid
from torch import nn

from explain._checks import (
    ROWS_PER_FORWARD,
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
DELETION_MARGIN = 0.1  # AUC gap to the random order, in units of |f(x) - f(baseline)|


def small_span(span: float, task: str) -> bool:
    """Whether a classifier's probability barely moves (under 0.05) between the inputs and the
    baseline: a model that learnt little, whose deletion / insertion pass would rest on small
    differences (it is a warning instead)."""
    return task == "classification" and span < 0.05


def deletion_detail(name: str, what: str, auc: float, auc_r: float, gap: float, span: float,
                    up: bool, small: bool, unit: str = "") -> str:  # fmt: skip
    """The words of a deletion / insertion check: both areas, how far the attribution order is
    from the random one as a share of ``span`` (how far the output moves from the inputs to
    the baseline), the rule a pass needs, and the caveat of a ``small`` span. ``up``: a
    faithful curve lies above the random one; ``unit`` names the units (a regression's)."""
    word = "above" if up else "below"
    side = word if gap > 0 else ("below" if up else "above")
    verb = "removed" if name == "deletion" else "restored"
    units = f" (in {unit})" if unit else ""
    text = (f"area under the {what} as inputs are {verb} in attribution order: {auc:.4g} vs "
            f"{auc_r:.4g} in random order{units}, {side} it by {abs(gap):.0%} of {span:.3g} "
            f"(how far the output moves from the inputs to the baseline); a pass needs more "
            f"than {DELETION_MARGIN:.0%} {word}.")  # fmt: skip
    if small:
        text += (f" The probability moves only {span:.3f} in all: the model barely "
                 "responds to these inputs, so this check says little either way and does not "
                 "pass.")  # fmt: skip
    return text


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
    judge_sign: bool = True,
) -> Check:
    """Infidelity (Yeh et al., 2019) of attributions against random-subset removal, and the
    scale that fits them to the output.

    Each perturbation draws a Bernoulli(``p_remove``) mask ``m`` and replaces the masked elements
    by the baseline; the attribution predicts the output drop ``d`` as ``p = sum(m * attr)``.
    Infidelity after the best per-example scale ``beta = E[p d] / E[p^2]`` (what Captum's
    ``normalize=True`` fits) is blind to the attributions' scale *and sign*, so ``beta`` itself
    is reported and a negative one fails: such attributions predict the output to rise where it
    falls. (Captum does not return ``beta``; its unnormalised infidelity at ``+attr`` and
    ``-attr`` on the same masks gives both moments, and ``E[d^2] - E[p d]^2 / E[p^2]`` is then
    Captum's normalised value.) Divided by ``E[d^2]`` it is the *unexplained fraction* in
    [0, 1]; the reference is the same attributions shuffled across elements (same values, same
    sum, seeded): pass if clearly below it and ``beta > 0``. ``judge_sign=False`` for attributions
    relative to another reference than ``baseline`` (e.g. SHAP's background): removal to the
    baseline is then not the change they describe, and a negative ``beta`` proves nothing.
    """
    Xt = as_tensor(X)
    values = as_numpy(attributions)
    check_shape(values, Xt, method)
    t = as_targets(targets, Xt.shape[0])
    base = baseline_like(baseline, Xt)
    A = torch.as_tensor(values, dtype=torch.float64)  # float64: the moments are differences
    rng = np.random.default_rng(seed)
    flat = values.reshape(values.shape[0], -1)
    shuffled = torch.as_tensor(rng.permuted(flat, axis=1).reshape(values.shape))
    forward = _forward_for(model)

    def run(attr: torch.Tensor, normalize: bool = False) -> np.ndarray:
        gen = torch.Generator().manual_seed(seed)  # the same masks in every run

        def perturb(x: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            m = (torch.rand(x.shape, generator=gen) < p_remove).to(x.device, x.dtype)
            # The "perturbation" captum multiplies with the attributions is the mask itself,
            # so sum(m * attr) is the predicted drop when the masked elements go to baseline.
            return m, x - m * (x - b)

        with eval_mode(model):
            out = captum_infidelity(
                forward, perturb, Xt, attr.to(Xt.device), baselines=base, target=t,
                n_perturb_samples=n_perturb, normalize=normalize,
                # perturbations in slices of at most ROWS_PER_FORWARD rows (all of them in
                # one forward pass is n x n_perturb rows: 3,200 for 200 examples)
                max_examples_per_batch=min(max(Xt.shape[0], ROWS_PER_FORWARD),
                                           Xt.shape[0] * n_perturb),
            )  # fmt: skip
        return out.detach().cpu().numpy().astype(np.float64)

    energy = run(torch.zeros_like(A))  # E[d^2]
    if not np.any(energy > 1e-12):
        return skipped(
            "infidelity",
            method,
            "the output never changes when input elements are "
            "replaced by the baseline, so there is nothing to explain.",
        )
    plus, minus = run(A), run(-A)  # E[(p - d)^2], E[(p + d)^2]
    cross, power = (minus - plus) / 4, (plus + minus) / 2 - energy  # E[p d], E[p^2]
    fits = power > 1e-12 * max(float(power.max()), 1e-300)
    live, safe = energy > 1e-12, np.where(energy > 1e-12, energy, 1.0)
    unexplained = energy - np.where(fits, cross**2 / np.where(fits, power, 1.0), 0.0)
    per = np.where(live, np.clip(unexplained, 0.0, None) / safe, 0.0)
    value = float(np.mean(per))
    ref = float(np.mean(np.where(live, run(shuffled, True) / safe, 0.0)))  # shuffled values
    betas = np.where(fits & live, cross / np.where(fits, power, 1.0), np.nan)
    scale = float(np.nanmedian(betas)) if np.any(~np.isnan(betas)) else None
    threshold = max(INFIDELITY_PASS_RATIO * ref, INFIDELITY_PASS_ABS)
    status = verdict_below(value, threshold, max(INFIDELITY_WARN_RATIO * ref, threshold))
    detail = (
        f"share of the output changes (random {p_remove:.0%} of the inputs set to baseline) "
        f"the attributions fail to predict, after the best rescaling: {value:.3f} vs "
        f"{ref:.3f} for the same values shuffled; 0 is perfect, lower is better."
    )
    if scale is not None:
        detail += (
            f" Fitted scale {scale:.3g} (median over examples; 1 for attributions in output "
            "units such as integrated gradients, DeepLift and SHAP)."
        )
    if scale is not None and scale < 0 and judge_sign:
        status = "fail"
        detail += " Negative: the attributions point the wrong way (they predict a rise where "
        detail += "the output falls); the sign is flipped."
    elif scale is not None and scale < 0:
        detail += " Negative, but not judged: these attributions are relative to another "
        detail += "reference (such as a SHAP background) than the baseline used here."
    return Check(
        name="infidelity",
        method=method,
        value=finite(value),
        threshold=finite(threshold),
        status=status,
        detail=detail,
        extra={
            "reference": finite(ref),
            "scale": finite(scale),
            "scale_judged": judge_sign,
            "negative_share": finite(np.mean(betas[~np.isnan(betas)] < 0))
            if scale is not None
            else None,
            "p_remove": p_remove,
            "n_perturb": n_perturb,
            "per_example": floats(per),
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
    magnitude: bool = False,
) -> tuple[Check, Check]:
    """Deletion and insertion curves (Petsiuk et al., 2018) against a random order.

    Deletion replaces input elements by the baseline in decreasing attribution order and tracks
    the target's probability (softmax; the raw output for regression); insertion starts from the
    baseline and puts the elements back in the same order. A faithful order makes deletion fall
    and insertion rise faster than a random order (seeded, same steps): the AUC gap to random,
    in units of the mean ``|f(x) - f(baseline)|``, must exceed ``DELETION_MARGIN`` to pass.

    A ``magnitude`` map (|gradient|: how much, not which way) claims no direction, so its
    curves track how far the output is from its value at the input: deletion must move it away,
    and insertion bring it back, faster than the random order.
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
    signs = {"deletion": -1, "insertion": 1}  # the way a faithful curve leaves the random one
    if magnitude:  # distance from f(x): the first column of deletion, the last of insertion
        what = f"distance of the {what} from its value at the input"
        f_x = del_c[:, :1]
        del_c, del_r, ins_c, ins_r = (np.abs(c - f_x) for c in (del_c, del_r, ins_c, ins_r))
        signs = {"deletion": 1, "insertion": -1}
    checks = []
    for name, curve, rnd in (("deletion", del_c, del_r), ("insertion", ins_c, ins_r)):
        sign = signs[name]
        auc, auc_r = float(trapezoid(curve.mean(0), frac)), float(trapezoid(rnd.mean(0), frac))
        gap = sign * (auc - auc_r) / span  # > 0 when better than random
        status = "pass" if gap > DELETION_MARGIN else "warn" if gap > 0 else "fail"
        if status == "pass" and small_span(span, task):
            status = "warn"  # a pass on a model that barely responds would say too much
        checks.append(
            Check(
                name=name,
                method=method,
                value=finite(auc),
                threshold=finite(auc_r + sign * DELETION_MARGIN * span),
                status=status,
                detail=deletion_detail(
                    name, what, auc, auc_r, gap, span, sign > 0, small_span(span, task)
                ),  # fmt: skip
                extra={
                    "fractions": floats(frac),
                    "curve": floats(curve.mean(0)),
                    "random_curve": floats(rnd.mean(0)),
                    "random_auc": finite(auc_r),
                    "gap": finite(gap),
                    "span": finite(span),
                    "output": what,
                    "magnitude": magnitude,
                },
            )
        )
    return checks[0], checks[1]
