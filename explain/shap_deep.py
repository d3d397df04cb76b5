"""Where SHAP's PyTorch DeepExplainer is exact, and a clean way to run its gradient explainers.

DeepExplainer hooks every *leaf* module and rewrites its gradient by a DeepLift rule looked up by
class name (``op_handler`` in ``shap/explainers/_deep/deep_pytorch.py``). A leaf without a rule
keeps its plain gradient: right for linear maps (our Transpose, Unsqueeze, FeatureTokenizer, a
mean), wrong for anything nonlinear (LSTM / GRU / RNN, LayerNorm, SiLU, attention, a max over
positions). Functional ops inside composite modules (our residual ``y + skip(x)``, ``cat`` of a
CLS token, ``+ positions``) are never hooked: the linear ones are exact, and a nonlinear one
would only show in the measured additivity error, which the caller checks after every run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from explain.shap_groups import import_shap
from search_spaces.blocks.adapters import GlobalPool, ImageRows, Transpose, Unsqueeze
from search_spaces.blocks.attention import FeatureTokenizer, Rows, SeqPool

# Leaves DeepExplainer has no rule for but that are linear in eval mode, so their plain gradient
# is the exact DeepLift multiplier (SHAP warns "unrecognized nn.Module" for them; we silence that).
_LINEAR_LEAVES: tuple[type[nn.Module], ...] = (
    Transpose,
    ImageRows,
    Unsqueeze,
    Rows,
    FeatureTokenizer,
    nn.Dropout1d,
    nn.Unflatten,
)
# Composites whose forward does nonlinear work outside any hooked leaf: reported whole.
_OPAQUE: dict[type[nn.Module], str] = {
    nn.RNNBase: "recurrent cell, no DeepLift rule",
    nn.MultiheadAttention: "attention softmax and products, no rule",
    nn.TransformerEncoderLayer: "attention and a functional activation, no rule",
}


def _rule_names() -> set[str]:
    import_shap()  # quietly, before the private module below imports it
    from shap.explainers._deep.deep_pytorch import op_handler  # the table SHAP itself uses

    return set(op_handler)


def _leaf_problem(mod: nn.Module, rules: set[str]) -> str | None:
    if isinstance(mod, GlobalPool):
        return None if mod.mode == "avg" else "max over positions, no rule"
    if isinstance(mod, SeqPool):
        return None if mod.mode != "max" else "max over steps, no rule"
    if type(mod).__name__ in rules or isinstance(mod, _LINEAR_LEAVES):
        return None
    return "no DeepLift rule in SHAP"


def deep_unsupported(model: nn.Module) -> list[str]:
    """Modules DeepExplainer cannot handle exactly, as ``"name (Kind): why"`` (empty: none)."""
    rules, out, skip = _rule_names(), [], None
    for name, mod in model.named_modules():
        if skip is not None and name.startswith(skip + "."):
            continue
        skip = None
        label = f"{name or 'model'} ({type(mod).__name__})"
        opaque = next((why for kind, why in _OPAQUE.items() if isinstance(mod, kind)), None)
        if opaque is not None:
            out.append(f"{label}: {opaque}")
            skip = name
        elif not any(True for _ in mod.children()):
            why = _leaf_problem(mod, rules)
            if why is not None:
                out.append(f"{label}: {why}")
    return out


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
    we know to be linear."""
    mods = list(model.modules())
    params = [set(m._parameters) for m in mods]
    hooks = [{d: set(getattr(m, d)) for d in _HOOK_DICTS} for m in mods]
    was_training = model.training
    linear_names = "|".join(k.__name__ for k in (*_LINEAR_LEAVES, GlobalPool, SeqPool))
    try:
        with warnings.catch_warnings():
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
