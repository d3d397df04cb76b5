"""Captum attribution methods behind one call: ``attribute(model, X, method) -> Attribution``.

Baselines (``baseline="auto"``) are zeros, whose meaning depends on how the inputs were
prepared: the training mean of standardized features or channels, one-hot columns with no
category present, or raw zero (black) for inputs only divided by a scale.
:func:`zero_baseline_label` says which from the data's preprocessing record; ``attribute``
takes it as ``preprocessing=`` (or ``baseline_name=``). Pass a tensor to use another reference.
The methods themselves, and their parameters, are in :mod:`explain.captum_methods`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn

from explain.captum_methods import ALIASES, METHODS, Job, Method, occlusion_window
from explain.errors import ExplainError
from explain.method_choice import choose_methods, deeplift_problem, gradcam_problem
from explain.types import Attribution

__all__ = [
    "ALIASES",
    "METHODS",
    "ExplainError",
    "Method",
    "attribute",
    "choose_methods",
    "gradient_context",
    "needs_cudnn_off",
    "occlusion_window",
    "zero_baseline_label",
]

_MODALITIES = ("tabular", "sequence", "image")
_MODALITY_OF_RANK = {2: "tabular", 3: "sequence", 4: "image"}


def zero_baseline_label(modality: str, preprocessing: Mapping[str, Any] | None) -> str:
    """What an all-zero input is, read from the data's preprocessing record (``TaskData``'s:
    ``inputs`` says how X was scaled, ``encoding`` which columns are one-hot)."""
    prep = preprocessing or {}
    inputs = prep.get("inputs") or {}
    how = str(inputs.get("method", ""))
    one_hot = list((prep.get("encoding") or {}).get("columns") or {})
    parts: list[str] = []
    if how.startswith("standardize"):
        if modality == "image":
            parts.append("the per-channel training mean (standardized inputs, not black)")
        elif one_hot:
            numeric = ", ".join(str(c) for c in inputs.get("columns", ()))
            parts.append(f"the training mean of every standardized column ({numeric})")
        else:
            at = ", at every step" if modality == "sequence" else ""
            parts.append(f"the training mean of every standardized feature{at}")
    elif how == "scale":
        raw = "black: raw pixel 0" if modality == "image" else "raw 0"
        by = f" by {inputs['divisor']:g}" if isinstance(inputs.get("divisor"), float | int) else ""
        parts.append(f"{raw} (inputs were divided{by}, not centred)")
    if one_hot:
        cols = ", ".join(str(c) for c in one_hot)
        parts.append(f"one-hot columns of {cols} at 0 (no category present)")
    if not parts:
        return "zeros (an all-zero input; the data's preprocessing was not given)"
    return "zeros = " + "; ".join(parts)


def needs_cudnn_off(model: nn.Module, device: torch.device | str) -> bool:
    """cuDNN's RNN backward only runs in training mode; explanations run in eval mode, so
    gradients through a recurrent layer on CUDA need cuDNN off (torch's native kernels)."""
    on_cuda = torch.device(device).type == "cuda"
    return on_cuda and any(isinstance(m, nn.RNNBase) for m in model.modules())


def gradient_context(model: nn.Module, device: torch.device | str) -> AbstractContextManager[Any]:
    """The context every gradient computation of ``model`` runs in (see needs_cudnn_off)."""
    if needs_cudnn_off(model, device):
        return torch.backends.cudnn.flags(enabled=False)
    return nullcontext()


def _baseline(
    X: torch.Tensor, baseline: Any, method: str, name: str | None, zeros: str
) -> tuple[torch.Tensor, str]:
    """The reference tensor and its label (``zeros``: what an all-zero input is)."""
    shape = tuple(X.shape[1:])
    if isinstance(baseline, str):
        if baseline not in ("auto", "zeros"):
            raise ExplainError(
                f"baseline must be 'auto', 'zeros', a number or a tensor, got {baseline!r}."
            )
        return X.new_zeros(1, *shape), name or zeros
    if isinstance(baseline, (int, float)):
        return X.new_full((1, *shape), float(baseline)), name or f"constant {baseline:g}"
    b = torch.as_tensor(baseline).to(X)
    b = b[None] if tuple(b.shape) == shape else b
    if tuple(b.shape[1:]) != shape:
        raise ExplainError(
            f"a baseline tensor must have one input's shape {shape} or (k, *{shape}), "
            f"got {tuple(b.shape)}."
        )
    if method != "gradient_shap" and b.shape[0] not in (1, len(X)):
        raise ExplainError(
            f"{method} takes one reference, or one per example ({len(X)}), got {b.shape[0]}; "
            "for a distribution of references use gradient_shap."
        )
    return b, name or ("given reference" if b.shape[0] == 1 else f"{b.shape[0]} references")


def _forward(model: nn.Module, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        out = torch.cat([model(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])
    if out.dim() != 2:
        raise ExplainError(f"the model must output (N, outputs), got {tuple(out.shape)}.")
    return out


def _targets(targets: Any, out: torch.Tensor, task: str) -> torch.Tensor:
    n, k = out.shape
    if targets is None:
        if task == "classification":
            return out.argmax(dim=1)
        return torch.zeros(n, dtype=torch.long, device=out.device)
    t = torch.as_tensor(targets, device=out.device).long().reshape(-1)
    t = t.expand(n) if t.numel() == 1 else t
    if t.numel() != n or bool(((t < 0) | (t >= k)).any()):
        raise ExplainError(
            f"targets must be one output index in [0, {k}) or one per example ({n}), "
            f"got {targets!r}."
        )
    return t.clone()


def attribute(
    model: nn.Module,
    X: torch.Tensor | np.ndarray,
    method: str,
    targets: int | list[int] | np.ndarray | torch.Tensor | None = None,
    baseline: str | float | torch.Tensor | np.ndarray = "auto",
    *,
    modality: str | None = None,
    task: str | None = None,
    batch_size: int = 32,
    baseline_name: str | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    force: bool = False,
    **params: Any,
) -> Attribution:
    """Attributions of ``method`` for inputs ``X`` ``(N, *input_shape)``, shaped like ``X``.

    ``targets=None`` explains the predicted class (classification) or output 0 (regression).
    ``modality`` / ``task`` default to the model's spec (else: from X's rank / output width).
    ``preprocessing`` (the data's record) names the zero baseline; ``baseline_name`` any other.
    DeepLift on a model it does not suit raises ExplainError, unless ``force=True`` (then the
    reason is in ``note``). ``params`` are the method's own (see ``METHODS[m].defaults``).
    """
    name = ALIASES.get(method, method)
    if name not in METHODS:
        raise ExplainError(
            f"Unknown attribution method {method!r}; choose one of {sorted(METHODS)}."
        )
    unknown = sorted(set(params) - set(METHODS[name].defaults))
    if unknown:
        raise ExplainError(
            f"{name} has no parameter {unknown[0]!r}; its parameters are "
            f"{sorted(METHODS[name].defaults)}."
        )
    spec = getattr(model, "spec", None)
    X = torch.as_tensor(X)
    modality = modality or (spec.modality if spec is not None else _MODALITY_OF_RANK.get(X.dim()))
    if modality not in _MODALITIES:
        raise ExplainError(f"cannot tell the modality of inputs shaped {tuple(X.shape)}.")
    p0 = next(model.parameters(), None)
    X = X.to(p0.device, p0.dtype) if p0 is not None else X.float()
    note = ""
    if name == "deeplift" and (problem := deeplift_problem(model, X[:1])):
        if not force:
            raise ExplainError(
                f"DeepLift does not suit this model: {problem}. Use integrated_gradients, or "
                "pass force=True to run it anyway."
            )
        note = f"forced: {problem}"
    if name == "layer_gradcam" and (problem := gradcam_problem(model, X[:1])[0]):
        note = f"not localising: {problem}"  # run when asked, but not chosen by default
    was_training = model.training
    start = time.perf_counter()
    try:
        model.eval()
        out = _forward(model, X, batch_size)
        task = task or (
            spec.task if spec is not None else ("regression", "classification")[out.shape[1] > 1]
        )
        if task not in ("classification", "regression"):
            raise ExplainError(f"task must be 'classification' or 'regression', got {task!r}.")
        tgt = _targets(targets, out, task)
        zeros = zero_baseline_label(modality, preprocessing)
        base, label = _baseline(X, baseline, name, baseline_name, zeros)
        job = Job(model, X, tgt, base, modality, {**METHODS[name].defaults, **params}, batch_size)
        with gradient_context(model, X.device), warnings.catch_warnings():
            # Captum sets requires_grad on the inputs itself, and says so on every call.
            warnings.filterwarnings("ignore", message="Input Tensor .* did not already require")
            res = METHODS[name].run(job)
        values = res.values.reshape(X.shape)
        base_values = delta = None
        if METHODS[name].uses_baseline:
            b_out = _forward(model, base, batch_size)
            per_example = b_out.shape[0] == len(X) and name != "gradient_shap"
            rows = b_out if per_example else b_out.mean(dim=0, keepdim=True).expand_as(out)
            base_values = rows.gather(1, tgt[:, None])[:, 0]
            if METHODS[name].complete:
                f_x = out.gather(1, tgt[:, None])[:, 0]
                delta = values.flatten(1).sum(dim=1) - (f_x - base_values)
    finally:
        model.train(was_training)
    return Attribution(
        method=name,
        values=np.ascontiguousarray(values.detach().cpu().numpy(), dtype=np.float32),
        targets=tgt.cpu().numpy(),
        baseline=res.baseline or label,
        delta=None if delta is None else delta.double().cpu().numpy(),
        seconds=time.perf_counter() - start,
        params={**{k: v for k, v in job.p.items() if v is not None}, **res.params},
        note="; ".join(s for s in (note, res.note) if s),
        base_values=None if base_values is None else base_values.double().cpu().numpy(),
        arrays=res.arrays,
    )
