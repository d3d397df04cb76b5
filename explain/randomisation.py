"""The model-parameter randomisation test (Adebayo et al., 2018, "Sanity Checks for Saliency Maps").

An explanation of a model should change when the model does. We re-initialise the model's
layers one at a time from the top (cascading: each step keeps the earlier re-initialisations),
recompute the attributions on the same examples after each step, and measure Spearman's rank
correlation of ``|attributions|`` with the original ones. An explainer that only looks at the
input (an edge detector) stays at 1.0; a faithful one decorrelates.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from explain._checks import (
    ExplainFn,
    as_numpy,
    as_targets,
    as_tensor,
    eval_mode,
    finite,
    floats,
    rowwise_spearman,
    seeded,
    skipped,
    verdict_below,
)
from explain.types import Check

RANDOMISATION_PASS = 0.5  # rank correlation with the original after full randomisation
RANDOMISATION_WARN = 0.7
REPEAT_MIN = 0.8  # below this, the explainer disagrees with itself: decorrelation proves little


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


def _rho(a: np.ndarray, b: np.ndarray, signed: bool = False) -> float:
    """Mean over examples of Spearman's rho of |a| and |b| (or of a and b if ``signed``);
    a constant row has no ranking and counts as 0."""
    if not signed:
        a, b = np.abs(a), np.abs(b)
    return float(np.mean(np.nan_to_num(rowwise_spearman(a, b), nan=0.0)))


def randomisation_check(
    model: nn.Module,
    X: Any,
    targets: Any,
    explain_fn: ExplainFn,
    *,
    method: str = "",
    seed: int = 0,
    repeat: bool = True,
) -> Check:
    """Cascading model-parameter randomisation on a deep copy of ``model``.

    ``explain_fn`` must explain the ``model`` it is given (not one captured in a closure). Each
    call is seeded identically, so a sampling explainer draws the same noise before and after;
    with ``repeat`` the explainer is also run twice on the original model, and a low repeat
    correlation (below ``REPEAT_MIN``) caps the verdict at warn.
    """
    Xt = as_tensor(X)
    t = as_targets(targets, Xt.shape[0])
    layers = cascade_layers(model)
    if not layers:
        return skipped("randomisation", method, "the model has no parameters to randomise.")
    original = _explain(explain_fn, model, Xt, t, seed)
    if original.shape != tuple(Xt.shape):
        raise ValueError(
            f"explain_fn of {method!r} returned shape {original.shape} for inputs of shape "
            f"{tuple(Xt.shape)}; it must return attributions shaped like X."
        )
    flat = np.abs(original.reshape(len(original), -1))
    if not np.any(flat.max(axis=1) > flat.min(axis=1)):
        return skipped(
            "randomisation",
            method,
            "the attributions are constant on every example; there is no ranking to compare.",
        )
    rho_repeat = _rho(original, _explain(explain_fn, model, Xt, t, seed)) if repeat else None
    randomised = copy.deepcopy(model)
    curve, signed = [], []
    for step, name in enumerate(layers):
        reinitialise(randomised.get_submodule(name), seed + 1 + step)
        after = _explain(explain_fn, randomised, Xt, t, seed)
        curve.append(_rho(original, after))
        signed.append(_rho(original, after, signed=True))
    value = curve[-1]
    status = verdict_below(value, RANDOMISATION_PASS, RANDOMISATION_WARN)
    detail = (
        f"rank correlation of |attributions| with the original after re-initialising all "
        f"{len(layers)} layers: {value:.2f}; an explanation that depends on the model drops "
        "towards 0, one that ignores it stays near 1."
    )
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
            # Signed ranks, for reference: methods that multiply by the input (IG, gradient x
            # input) keep |x|'s imprint in |attr| after randomisation but lose their signs.
            "correlations_signed": floats(signed),
            "repeat_correlation": finite(rho_repeat),
            "n_examples": int(Xt.shape[0]),
        },
    )
