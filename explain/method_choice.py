"""Which attribution methods suit a model, and why: read off the model's modules, not its name.

DeepLift is the delicate one. Captum hooks only the nonlinearities it has a rule for
(``SUPPORTED_NON_LINEAR``); any other nonlinear module (GELU, LayerNorm, an LSTM, attention) gets
plain gradients in silence, and one module instance called twice keeps only one reference
activation. So DeepLift is chosen only where every module is linear or has a rule, and no
nonlinearity runs twice per forward pass (two rules in a row, a ReLU then a max pool, are made
exact in :mod:`explain.captum_methods`).

Grad-CAM weighs each channel of the last conv map by its gradient averaged over positions, so it
can point at a region only where that map has positions to choose among and the head reads it
through a global pool (a flatten gives every position its own weight, which the average loses).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import torch
from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR
from torch import nn

from explain.errors import ExplainError
from explain.types import MethodChoice
from search_spaces.blocks import capabilities_of, get_block


def _short(name: str) -> str:
    return name.removeprefix("features.") or "model"


def _walk(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Named submodules, skipping the inside of opaque ones (see :func:`capabilities_of`)."""
    skip: str | None = None
    for name, mod in model.named_modules():
        if skip is not None and name.startswith(skip + "."):
            continue
        skip = name if capabilities_of(mod).opaque else None
        yield name, mod


def deeplift_blockers(model: nn.Module) -> list[str]:
    """Modules Captum's DeepLift has no rule for, as ``"name: why"`` lines (empty: none)."""
    out: list[str] = []
    for name, mod in _walk(model):
        caps = capabilities_of(mod)
        if type(mod) in SUPPORTED_NON_LINEAR or caps.affine:
            continue
        if caps.pool == "max":  # amax is functional: no module for Captum to hook
            out.append(f"{_short(name)}: max pooling over positions has no DeepLift rule")
        elif caps.opaque or not any(True for _ in mod.children()):
            out.append(f"{_short(name)}: {type(mod).__name__} has no DeepLift rule")
    return out


def _forward_once(model: nn.Module, example: torch.Tensor, hooks: list[Any]) -> None:
    """One forward pass in eval mode without gradients, for ``hooks`` to watch; the hooks are
    removed and the model's training mode restored afterwards, whatever happens."""
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)


def reused_nonlinearities(model: nn.Module, example: torch.Tensor) -> list[str]:
    """Nonlinear modules that run more than once in one forward pass of ``example``."""
    calls: Counter[str] = Counter()
    hooks = [
        mod.register_forward_hook(lambda *_, n=name: calls.update([n]))
        for name, mod in model.named_modules()
        if type(mod) in SUPPORTED_NON_LINEAR
    ]
    _forward_once(model, example, hooks)
    return [f"{_short(n)} runs {c} times per forward pass" for n, c in calls.items() if c > 1]


def deeplift_problem(model: nn.Module, example: torch.Tensor | None = None) -> str:
    """Why DeepLift would be wrong for ``model`` ("" when it is sound)."""
    blockers = deeplift_blockers(model)
    if blockers:
        more = f" (+{len(blockers) - 3} more)" if len(blockers) > 3 else ""
        return (
            "; ".join(blockers[:3]) + more + "; Captum would silently fall back to gradients there"
        )
    if example is not None:
        reused = reused_nonlinearities(model, example)
        if reused:
            return (
                "; ".join(reused)
                + ": DeepLift keeps one reference activation per module instance, so a reused "
                "nonlinearity corrupts it; give each use its own module"
            )
    return ""


def _example(model: nn.Module, example: torch.Tensor | None) -> torch.Tensor | None:
    if example is not None:
        return example[:1]
    spec = getattr(model, "spec", None)
    if spec is None:
        return None
    p = next(model.parameters(), None)
    dtype, device = (p.dtype, p.device) if p is not None else (torch.float32, "cpu")
    return torch.zeros(1, *spec.input_shape, dtype=dtype, device=device)


def last_conv_block(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The last convolutional block (Grad-CAM's layer): a ``spatial`` block, else a bare conv
    layer outside token embeddings (a patch embedding is a tokenizer, not a feature extractor)."""
    blocks = [(n, m) for n, m in model.named_modules() if capabilities_of(m).spatial]
    if blocks:
        return blocks[-1]
    inside = {
        n2
        for n, m in model.named_modules()
        if capabilities_of(m).token_embedding
        for n2, _ in m.named_modules(prefix=n)
    }
    convs = [
        (n, m)
        for n, m in model.named_modules()
        if isinstance(m, (nn.Conv1d, nn.Conv2d)) and n not in inside
    ]
    return convs[-1] if convs else None


# Smallest last conv map Grad-CAM is chosen on: per side in 2-D, positions in 1-D. Measured with
# the planted patches of tests/explain/test_method_rules.py and a global pool head: a 4x4 map puts
# a median 0.79-0.87 of the positive mass in the patch's quadrant, a 2x2 map 0.39-0.53 (0.25 by
# chance); in 1-D, 8 positions 0.92-0.94 in the planted quarter, 4 positions 0.64-0.84, 2 0.5.
# Behind a flatten it found nothing (every map empty) on 16x16 and 4x4 maps alike.
GRADCAM_MIN_SIDE = {2: 4, 1: 8}


def _conv_map(
    model: nn.Module, name: str, layer: nn.Module, example: torch.Tensor
) -> tuple[tuple[int, ...], str, nn.Module | None]:
    """The spatial dims of ``layer``'s output on ``example``, and the module that reads that map:
    the first to finish after it that changes a tensor's shape (so element-wise modules, an
    activation or a dropout, are passed over), with its name."""
    inside = {id(m) for m in layer.modules()}
    around = {id(m) for n, m in model.named_modules() if n == "" or name.startswith(n + ".")}
    names = {id(m): n for n, m in model.named_modules()}
    dims: list[tuple[int, ...]] = []
    reader: list[nn.Module] = []

    def after(mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        if mod is layer:
            dims.append(tuple(out.shape[2:]))
        elif dims and not reader and id(mod) not in inside | around:
            same = bool(args) and isinstance(out, torch.Tensor) and args[0].shape == out.shape
            if not same:
                reader.append(mod)

    _forward_once(model, example, [m.register_forward_hook(after) for m in model.modules()])
    found = reader[0] if reader else None
    return (dims[0] if dims else ()), names.get(id(found), ""), found


def gradcam_problem(
    model: nn.Module, example: torch.Tensor | None, what: str = "this model"
) -> tuple[str, str]:
    """``(problem, map)``: why Grad-CAM could not localise on ``model`` ("" when it can), and
    which map it uses when it can."""
    found = last_conv_block(model)
    if found is None:
        return f"{what} has no conv block", ""
    name, layer = found
    if example is None:
        return f"the size of the last conv map ({_short(name)!r}) is unknown: pass example=", ""
    dims, reader_name, reader = _conv_map(model, name, layer, example)
    size = "x".join(str(d) for d in dims) if len(dims) > 1 else f"{sum(dims)}-position"
    need = GRADCAM_MIN_SIDE.get(len(dims), 0)
    if min(dims, default=0) < need:
        least = "x".join([str(need)] * max(1, len(dims)))
        return (
            f"last conv block {_short(name)!r} outputs a {size} map: too coarse to localise "
            f"(Grad-CAM needs at least {least} positions); integrated gradients and occlusion "
            "show where instead",
            "",
        )
    pool = capabilities_of(reader).pool if reader is not None else ""
    if pool not in ("avg", "max"):
        by = f"{type(reader).__name__} {_short(reader_name)!r}" if reader else "the output"
        return (
            f"the last conv map is read position by position ({by}), not through a global "
            "pool: Grad-CAM's channel weights (gradients averaged over positions) lose where "
            "the evidence is",
            "",
        )
    return "", f"last conv block {_short(name)!r} ({size} map, global {pool} pool after it)"


def token_embedding(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The transformer's token embedding, if the model has an encoder fed by one."""
    if not any(capabilities_of(m).attention for m in model.modules()):
        return None
    found = [(n, m) for n, m in model.named_modules() if capabilities_of(m).token_embedding]
    return found[0] if found else None


def _is_hybrid(model: nn.Module) -> bool:
    """Whether a real block (not an inserted adapter) runs before the token embedding."""
    stages = getattr(model, "stages", ())
    for st in stages:
        if get_block(st.kind).capabilities.token_embedding:
            return False
        if not st.inserted:
            return True
    return False


def choose_methods(
    model: nn.Module, modality: str, example: torch.Tensor | None = None
) -> list[MethodChoice]:
    """Every method of :data:`explain.attribution.METHODS`, chosen or not, with the reason.

    ``example`` (one input) lets the module-reuse check run on models without a ``spec``.
    """
    if modality not in ("tabular", "image", "sequence"):
        raise ExplainError(
            f"modality must be one of ['tabular', 'image', 'sequence'], got {modality!r}."
        )
    spec = getattr(model, "spec", None)
    what = f"this {spec.family} model" if spec is not None else "this model"
    ex = _example(model, example)
    problem = deeplift_problem(model, ex)
    dl_ok = not problem
    if dl_ok and ex is None and any(type(m) in SUPPORTED_NON_LINEAR for m in model.modules()):
        dl_reason = "every module has a DeepLift rule (module reuse unchecked: pass example=)"
    elif dl_ok:
        dl_reason = (
            "every nonlinearity has a DeepLift rule and none is reused: sums exactly to "
            "f(x) - f(baseline)"
        )
    else:
        dl_reason = problem
    cam_problem, cam_map = gradcam_problem(model, ex, what)
    emb = token_embedding(model)
    approx = " (tokens are conv-stem positions: mapped to the input by nearest upsampling)"
    hybrid = approx if emb is not None and _is_hybrid(model) else ""
    window = {
        "tabular": "one feature at a time",
        "sequence": "windows of steps (all features)",
        "image": "square patches (all channels)",
    }[modality]
    rows = [
        (
            "integrated_gradients",
            True,
            "reference method: complete (sums to f(x) - f(baseline)) on every differentiable "
            "model; its convergence delta measures its own error",
        ),
        ("saliency", True, "one backward pass: where the output is locally sensitive"),
        (
            "input_x_gradient",
            not dl_ok,
            "DeepLift is chosen and refines it against the baseline"
            if dl_ok
            else "one backward pass; what DeepLift reduces to on " + what,
        ),
        ("deeplift", dl_ok, dl_reason),
        (
            "gradient_shap",
            True,
            "expected gradients over baselines (pass train samples as baseline for SHAP values)",
        ),
        ("occlusion", True, f"model-agnostic perturbation, {window}"),
        (
            "smoothgrad",
            modality != "tabular",
            "averages gradients over noisy copies of many-element inputs"
            if modality != "tabular"
            else "few low-dimensional features: gradient noise is not what needs smoothing",
        ),
        (
            "layer_gradcam",
            not cam_problem,
            cam_problem or f"{cam_map}, upsampled to the input",
        ),
        (
            "attention",
            emb is not None,
            "attention rollout over the encoder layers, mapped back to input elements" + hybrid
            if emb is not None
            else f"{what} has no transformer encoder",
        ),
        (
            "layer_integrated_gradients",
            emb is not None,
            f"integrated gradients on the token embedding {_short(emb[0])!r}, summed over its "
            "width" + hybrid
            if emb is not None
            else f"{what} has no token embedding",
        ),
    ]
    return [MethodChoice(m, c, r) for m, c, r in rows]
