"""Where SHAP's PyTorch DeepExplainer is exact, and a clean way to run its gradient explainers.

DeepExplainer hooks every *leaf* module and rewrites its gradient by a DeepLift rule looked up by
class name (``op_handler`` in ``shap/explainers/_deep/deep_pytorch.py``). A leaf without a rule
keeps its plain gradient: right for linear maps (modules whose capabilities say ``affine``:
a transpose, a feature tokenizer, a mean), wrong for anything nonlinear (LSTM / GRU / RNN,
LayerNorm, SiLU, attention, a max over positions: ``opaque`` or without a rule). Functional ops
inside composite modules (our residual ``y + skip(x)``, ``cat`` of a CLS token, ``+ positions``)
are never hooked: the linear ones are exact, and a nonlinear one would only show in the measured
additivity error, which the caller checks after every run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from explain.shap_groups import import_shap
from search_spaces.blocks import Capabilities, capabilities_of

# DeepExplainer is kept only if every example sums to f(x) - base within this (float32 rounding
# is ~1e-6 relative; a module without an exact rule shows as percent-level errors)
ADDITIVITY_ATOL, ADDITIVITY_RTOL = 1e-4, 1e-3


def _rule_names() -> set[str]:
    import_shap()  # quietly, before the private module below imports it
    from shap.explainers._deep.deep_pytorch import op_handler  # the table SHAP itself uses

    return set(op_handler)


def _hooked(model: nn.Module) -> Iterator[tuple[str, nn.Module, Capabilities]]:
    """Opaque modules (whole) and the leaves outside them: what DeepExplainer's rules meet."""
    skip = None
    for name, mod in model.named_modules():
        if skip is not None and name.startswith(skip + "."):
            continue
        caps = capabilities_of(mod)
        skip = name if caps.opaque else None
        if caps.opaque or not any(True for _ in mod.children()):
            yield name, mod, caps


def deep_unsupported(model: nn.Module) -> list[str]:
    """Modules DeepExplainer cannot handle exactly, as ``"name (Kind): why"`` (empty: none).

    An opaque module is reported whole; a leaf is fine if SHAP has a rule for its class or it
    is affine (its plain gradient is then the exact multiplier)."""
    rules, out = _rule_names(), []
    for name, mod, caps in _hooked(model):
        label = f"{name or 'model'} ({type(mod).__name__})"
        if caps.opaque:
            out.append(f"{label}: {caps.opaque}")
        elif not (type(mod).__name__ in rules or caps.affine):
            out.append(f"{label}: no DeepLift rule in SHAP")
    return out


def _silenced(model: nn.Module) -> set[str]:
    """Classes of ``model``'s affine leaves SHAP has no rule for: it warns "unrecognized
    nn.Module" for each, though their plain gradient is exact."""
    rules = _rule_names()
    return {
        type(mod).__name__
        for _, mod, caps in _hooked(model)
        if caps.affine and type(mod).__name__ not in rules
    }


class TargetOutput(nn.Module):
    """``model(x)[:, target]`` as an ``(N, 1)`` output, so SHAP explains one output only.

    Inputs are cast to ``dtype``: GradientExplainer builds its samples in float32 whatever the
    model's precision."""

    def __init__(self, model: nn.Module, target: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.model = model
        self.target = target
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(self.dtype))[:, self.target : self.target + 1]


_HOOK_DICTS = ("_forward_hooks", "_backward_hooks", "_forward_pre_hooks")


@contextmanager
def restored(model: nn.Module) -> Iterator[None]:
    """Undo what SHAP's explainers leave on a model: train mode off, DeepExplainer's ``x`` /
    ``y`` tensors registered as Parameters on hooked leaves (they would end up in the
    state_dict), and its hooks if it stopped half-way. Silences only SHAP's warning for leaves
    we know to be linear (affine leaves without a SHAP rule)."""
    mods = list(model.modules())
    params = [set(m._parameters) for m in mods]
    hooks = [{d: set(getattr(m, d)) for d in _HOOK_DICTS} for m in mods]
    was_training = model.training
    linear_names = "|".join(sorted(_silenced(model)))
    try:
        with warnings.catch_warnings():
            if linear_names:
                warnings.filterwarnings(
                    "ignore", message=rf"unrecognized nn\.Module: ({linear_names})$"
                )
            yield
    finally:
        for m, kept, kept_hooks in zip(mods, params, hooks):
            for name in [n for n in ("x", "y") if n in m._parameters and n not in kept]:
                del m._parameters[name]
            for d, keys in kept_hooks.items():
                table = getattr(m, d)
                for key in [k for k in table if k not in keys]:
                    del table[key]
        model.train(was_training)


def additivity_failures(error: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, str]:
    """Which examples miss ``f(x) - base`` (``gap``) by more than the tolerance (absolute
    ``error``), and the tolerance in words."""
    failed = error > ADDITIVITY_ATOL + ADDITIVITY_RTOL * np.abs(gap)
    return failed, f"{ADDITIVITY_ATOL:g} + {ADDITIVITY_RTOL:g} * |f(x) - base| per example"


def deep_values(
    model: nn.Module, X: torch.Tensor, background: torch.Tensor, target: int
) -> np.ndarray:
    """DeepExplainer values ``(n, *shape)`` of output ``target`` (no additivity assertion: the
    caller measures the error itself and decides)."""
    shap = import_shap()
    with restored(model):
        explainer = shap.DeepExplainer(
            TargetOutput(model, target, background.dtype).eval(), background
        )
        values = explainer.shap_values(X, check_additivity=False)
    return np.asarray(values, dtype=np.float64).reshape(X.shape)


def gradient_values(
    model: nn.Module,
    X: torch.Tensor,
    background: torch.Tensor,
    target: int,
    nsamples: int,
    seed: int,
) -> np.ndarray:
    """GradientExplainer (expected gradients) values ``(n, *shape)`` of output ``target``."""
    shap = import_shap()
    with restored(model):
        explainer = shap.GradientExplainer(
            TargetOutput(model, target, background.dtype).eval(), background
        )
        values = explainer.shap_values(X, nsamples=nsamples, rseed=seed)
    return np.asarray(values, dtype=np.float64).reshape(X.shape)
