"""The checks that re-run the explainer: sensitivity (does the explanation stay put when the
input barely moves?) and the model-parameter randomisation test (does it move when the model
changes? Adebayo et al., 2018, "Sanity Checks for Saliency Maps").

Both compare explanations from calls that differ in one thing only: every call is seeded alike
and explains the same rows in the same order, so a sampling explainer (SmoothGrad, gradient
SHAP, permutation SHAP) draws the same noise per row each time. What that noise does on its own
is measured apart (:func:`explain._checks.sampling_noise`, the repeat correlation).

Randomisation. An explanation of a model should change when the model does. We re-initialise
the model's layers one at a time from the top (cascading: each step keeps the earlier
re-initialisations), recompute the attributions on the same examples after each step, and
measure Spearman's rank correlation with the original ones. An explainer that only looks at the
input (an edge detector, the input itself) stays at 1.0; a faithful one decorrelates.

What is compared, and why. Adebayo et al. report the rank correlation both of the signed
attributions and of their absolute values; the verdict here uses the *signed* one, over the
input elements that *differ from the baseline*:

- an element equal to the baseline gets zero attribution from a path method (integrated
  gradients, DeepLift, SHAP with that reference) under *every* model, so on sparse inputs
  (digits: about half the pixels are 0) those shared zeros alone keep the correlation high;
- the magnitude of a contribution relative to a baseline carries ``|x - baseline|`` by
  construction (a model with unit sensitivity everywhere gets ``x - baseline``), so ``|attr|``
  keeps the input's imprint after any randomisation, while its sign, which way the element
  pushes the output, is the model's. On a trained digits CNN integrated gradients keep a rank
  correlation of 0.92 in ``|attr|`` over all pixels after full randomisation; over the pixels
  off the baseline 0.45 in ``|attr|`` and 0.08 signed.

A model-blind explainer fails either way: its output does not change at all. The ``|attr|``
curve is kept in ``extra`` for reference, and read once: a signed correlation of -0.5 or below
whose ``|attr|`` one is 0.5 or above is the original map with its sign flipped (a re-initialised
last layer flips a one-output model's output), a warn; a reversed order of sizes (both low) is
a new map, a pass.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from captum.metrics import sensitivity_max
from torch import nn

from explain._checks import (
    ExplainFn,
    as_numpy,
    as_targets,
    as_tensor,
    baseline_like,
    eval_mode,
    finite,
    floats,
    rowwise_spearman,
    sampling_noise,
    seeded,
    skipped,
    verdict_below,
    worst,
)
from explain.types import Check

SENSITIVITY_PASS = 0.2  # relative change of the explanation for a ~2%-of-scale input change
SENSITIVITY_WARN = 0.5  # two unrelated explanations differ by ~1.4 (sqrt 2)
NOISE_NEGLIGIBLE = 1e-4  # below this, two draws differ by float rounding only: deterministic
NOISE_SAMPLES = 16  # the first rows whose two draws give the noise floor (each costs two)
RANDOMISATION_PASS = 0.5  # rank correlation with the original after full randomisation
RANDOMISATION_WARN = 0.7
REPEAT_MIN = 0.8  # below this, the explainer disagrees with itself: decorrelation proves little


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
    """Max-sensitivity (Yeh et al., 2019) via ``captum.metrics.sensitivity_max``, beside the
    explainer's own sampling noise.

    Inputs move uniformly within an L-inf ball of ``radius`` times the inputs' standard
    deviation; the value is the mean over examples of the largest relative change of the
    explanation, ``max ||e(x + d) - e(x)|| / ||e(x)||``. Every call explains the same rows in
    the same order under the same seed, so a sampling explainer (SmoothGrad, gradient SHAP,
    permutation SHAP) draws the same noise per row each time and the value measures the
    input change alone (0 at radius 0). Its noise floor, the change between two draws on the
    same input (:func:`explain._checks.sampling_noise`, on the first ``NOISE_SAMPLES`` rows), is
    judged on the same scale: an explanation that a new draw changes by half is no more stable
    than one that a small input change does.
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
        # sensitivity_max runs under no_grad; gradient methods need it back.
        with torch.enable_grad(), seeded(seed):
            e = explain_fn(model, x[0] if packed else x, target)
        e = torch.as_tensor(as_numpy(e), dtype=torch.float32)
        return (e,) if packed else e

    with eval_mode(model):
        sens = sensitivity_max(
            explanation, Xt, perturb_func=perturb, n_perturb_samples=n_perturb, target=t,
            max_examples_per_batch=Xt.shape[0],  # one perturbation per call: rows in order
        )  # fmt: skip
    per = sens.detach().cpu().numpy().astype(np.float64)
    value = float(np.mean(per))
    noise = sampling_noise(explain_fn, model, Xt[:NOISE_SAMPLES], t[:NOISE_SAMPLES], seed)
    floor = float(np.mean(noise))
    rel_input = float(
        torch.norm(torch.full_like(Xt[0], r / 3**0.5)) / Xt[0].norm().clamp_min(1e-12)
    )
    status = worst(
        verdict_below(value, SENSITIVITY_PASS, SENSITIVITY_WARN),
        verdict_below(floor, SENSITIVITY_PASS, SENSITIVITY_WARN),
    )
    own = (
        "it draws no noise of its own (two draws on one input agree)"
        if floor < NOISE_NEGLIGIBLE
        else f"its own sampling noise (two draws on one input) is {floor:.3f}"
        + (", too large to trust one draw" if floor >= SENSITIVITY_PASS else "")
    )
    return Check(
        name="sensitivity",
        method=method,
        value=finite(value),
        threshold=SENSITIVITY_PASS,
        status=status,
        detail=(
            f"largest relative change of the explanation when inputs move by up to {radius:.0%} "
            f"of their scale, its random draws held fixed: {value:.3f}; {own}. 0 is perfectly "
            "stable, unrelated explanations score about 1.4."
        ),
        extra={
            "radius": r,
            "n_perturb": n_perturb,
            "per_example": floats(per),
            "noise_floor": finite(floor),
            "noise_per_example": floats(noise),
            "relative_input_change": finite(rel_input),
        },
    )


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def cascade_layers(model: nn.Module) -> list[str]:
    """Names of the modules to re-initialise, top first.

    A model with ``head`` and a ``features`` ``nn.Sequential`` (``NasModel``): the head, then the
    feature stages in reverse order. Any other module: its modules that own parameters directly,
    in reverse registration order. Modules without parameters (adapters, pooling) are left out.
    """
    head, features = getattr(model, "head", None), getattr(model, "features", None)
    if isinstance(head, nn.Module) and isinstance(features, nn.Sequential):
        names = ["head"] + [f"features.{n}" for n, _ in reversed(list(features.named_children()))]
        return [n for n in names if _has_params(model.get_submodule(n))]
    own = [n for n, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    return list(reversed(own))


@torch.no_grad()
def reinitialise(module: nn.Module, seed: int) -> None:
    """Re-initialise ``module`` in place: ``reset_parameters()`` where a submodule has it
    (PyTorch's own initialisation), normal noise of the parameter's own spread elsewhere."""
    covered: set[int] = set()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None) or getattr(
                sub, "_reset_parameters", None
            )
            if callable(reset):
                reset()
                covered |= {id(p) for p in sub.parameters()}
        for p in module.parameters():
            if id(p) not in covered:
                std = float(p.std()) if p.numel() > 1 else 0.0
                p.normal_(0.0, std if std > 0 else 0.02)


def _explain(
    fn: ExplainFn, model: nn.Module, X: torch.Tensor, t: torch.Tensor, seed: int
) -> np.ndarray:
    with eval_mode(model), seeded(seed):
        return as_numpy(fn(model, X.clone(), t.clone()))


def _rho(a: np.ndarray, b: np.ndarray, mask: np.ndarray, signed: bool = True) -> float:
    """Mean over examples of Spearman's rho of ``a`` and ``b`` (or of ``|a|`` and ``|b|``) over
    the elements in ``mask``. Rows where ``a`` has no ranking there are left out; a row of ``b``
    without one (e.g. all zeros after randomisation) shares nothing with ``a`` and counts as 0."""
    if not signed:
        a, b = np.abs(a), np.abs(b)
    rho = rowwise_spearman(a, b, mask)
    ranked = ~np.isnan(rowwise_spearman(a, a, mask))
    return float(np.mean(np.nan_to_num(rho[ranked], nan=0.0))) if ranked.any() else 0.0


def randomisation_check(
    model: nn.Module,
    X: Any,
    targets: Any,
    explain_fn: ExplainFn,
    baseline: Any = None,
    *,
    method: str = "",
    seed: int = 0,
    repeat: bool = True,
) -> Check:
    """Cascading model-parameter randomisation on a deep copy of ``model``.

    ``explain_fn`` must explain the ``model`` it is given (not one captured in a closure).
    ``baseline`` (None: zeros) is the reference of the attributions: elements equal to it are
    left out of the comparison (see the module docstring). Each call is seeded identically, so
    a sampling explainer draws the same noise before and after; with ``repeat`` the explainer is
    also run twice on the original model, and a low repeat correlation (below ``REPEAT_MIN``:
    its noise could not be fixed by the seed) caps the verdict at warn.
    """
    Xt = as_tensor(X)
    t = as_targets(targets, Xt.shape[0])
    layers = cascade_layers(model)
    if not layers:
        return skipped("randomisation", method, "the model has no parameters to randomise.")
    differs = (Xt != baseline_like(baseline, Xt)).cpu().numpy()
    if not np.any(differs.reshape(len(differs), -1).sum(axis=1) >= 2):
        return skipped(
            "randomisation", method, "no example differs from the baseline in two elements."
        )
    original = _explain(explain_fn, model, Xt, t, seed)
    if original.shape != tuple(Xt.shape):
        raise ValueError(
            f"explain_fn of {method!r} returned shape {original.shape} for inputs of shape "
            f"{tuple(Xt.shape)}; it must return attributions shaped like X."
        )
    if np.all(np.isnan(rowwise_spearman(original, original, differs))):
        return skipped(
            "randomisation",
            method,
            "the attributions are constant on every example; there is no ranking to compare.",
        )
    rho_repeat = None
    if repeat:
        rho_repeat = _rho(original, _explain(explain_fn, model, Xt, t, seed), differs)
    randomised = copy.deepcopy(model)
    curve, magnitude = [], []
    for step, name in enumerate(layers):
        reinitialise(randomised.get_submodule(name), seed + 1 + step)
        after = _explain(explain_fn, randomised, Xt, t, seed)
        curve.append(_rho(original, after, differs))
        magnitude.append(_rho(original, after, differs, signed=False))
    value = curve[-1]
    status = verdict_below(value, RANDOMISATION_PASS, RANDOMISATION_WARN)
    share = float(differs.mean())
    detail = (
        f"rank correlation of the signed attributions with the original after re-initialising "
        f"all {len(layers)} layers: {value:.2f} (|attributions|: {magnitude[-1]:.2f}), over the "
        f"{share:.0%} of input elements that differ from the baseline; an explanation that "
        "depends on the model drops towards 0, one that ignores it stays near 1."
    )
    if status == "pass" and value <= -RANDOMISATION_PASS and magnitude[-1] >= RANDOMISATION_PASS:
        # reversed in sign, kept in size: the same map flipped (a re-initialised last layer
        # flips a one-output model's sign), as much the input's imprint as +rho would be
        status = "warn"
        detail += (" But the sizes keep their order: it is largely the same map with its sign "
                   "flipped, not a new one.")  # fmt: skip
    if status == "pass" and rho_repeat is not None and rho_repeat < REPEAT_MIN:
        status = "warn"
        detail += f" But two runs on the same model only agree to {rho_repeat:.2f}: inconclusive."
    return Check(
        name="randomisation",
        method=method,
        value=finite(value),
        threshold=RANDOMISATION_PASS,
        status=status,
        detail=detail,
        extra={
            "layers": layers,
            "correlations": floats(curve),
            # |attr| ranks, for reference: methods relative to a baseline keep |x - baseline|'s
            # imprint there after any randomisation (see the module docstring).
            "correlations_abs": floats(magnitude),
            "compared_share": finite(share),
            "repeat_correlation": finite(rho_repeat),
            "n_examples": int(Xt.shape[0]),
        },
    )
