"""SHAP values with the explainer that is right for the architecture.

``shap_explain`` explains one output per example (the predicted class, or output 0 for
regression) relative to a background sample of training inputs: ``base_values`` is the mean of
that output over the background rows used, so ``values.sum() + base_value ~= f(x)``, with the
measured error per example in ``delta``. ``method="auto"`` follows :func:`choose_shap_method`:

1. grouped inputs, or tabular inputs of at most 64 features: the model-agnostic masking
   explainers, the reference (exact Shapley values when the 2^G coalitions fit the evaluation
   budget, else SHAP's antithetic permutation explainer; both exactly additive);
2. DeepExplainer where SHAP has an exact DeepLift rule for every module (:mod:`explain.shap_deep`),
   kept only if its measured additivity error is within tolerance, else
3. GradientExplainer (expected gradients) for any other torch model: not exactly additive, the
   measured error is reported in ``note`` and ``delta``;
4. the permutation explainer over default windows / patches for a plain predict function.

Kept whole (a little over 300 lines): the choice, the run and its additivity fallback are one
decision; the explainers themselves live in shap_deep, shap_masked and shap_groups.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from explain.shap_deep import deep_unsupported, deep_values, gradient_values, restored
from explain.shap_groups import (
    ShapError,
    describe_groups,
    resolve_groups,
    spread_group_values,
    sum_by_group,
)
from explain.shap_masked import masked_plan, masked_values
from explain.types import Attribution, MethodChoice

METHODS = ("shap_deep", "shap_gradient", "shap_permutation", "shap_exact")
MASKED = ("shap_exact", "shap_permutation")
MASKED_MAX_FEATURES = 64  # tabular inputs up to this width get the masking reference explainers
MASKED_BACKGROUND = 25  # default background rows of the masking explainers (cost is linear)
GRADIENT_BACKGROUND = 100  # default background rows of DeepExplainer / GradientExplainer
GRADIENT_SAMPLES = 200  # expected-gradient samples per example (SHAP's default)
ADDITIVITY_ATOL, ADDITIVITY_RTOL = 1e-4, 1e-3  # DeepExplainer kept if err <= atol + rtol * scale

Model = nn.Module | Callable[[torch.Tensor], torch.Tensor]

__all__ = ["METHODS", "ShapError", "choose_shap_method", "shap_explain"]


def choose_shap_method(
    model: Model,
    n_features_or_groups: int,
    *,
    modality: str | None = None,
    grouped: bool = False,
    background_size: int = MASKED_BACKGROUND,
    max_evals: int | None = None,
) -> MethodChoice:
    """The explainer ``method="auto"`` starts with, and why. Static rules only: a chosen
    DeepExplainer must still pass the additivity check that :func:`shap_explain` runs."""
    n, modality = int(n_features_or_groups), modality or _modality(model)
    if grouped or (modality == "tabular" and n <= MASKED_MAX_FEATURES):
        method, _, why = masked_plan(n, background_size, max_evals)
        what = "grouped input" if grouped else f"tabular input of {n} features"
        return MethodChoice(method, True, f"{what}: the model-agnostic reference, {why}")
    if not isinstance(model, nn.Module):
        _, _, why = masked_plan(n, background_size, max_evals, "shap_permutation")
        return MethodChoice("shap_permutation", True, f"a plain predict function: {why}")
    problems = deep_unsupported(model)
    if not problems:
        why = "SHAP's DeepExplainer has an exact rule for every module; additivity is measured"
        return MethodChoice("shap_deep", True, why)
    return MethodChoice(
        "shap_gradient",
        True,
        f"DeepExplainer would use plain gradients for {'; '.join(problems[:3])}; expected "
        "gradients instead (not exactly additive)",
    )


def shap_explain(
    model: Model,
    X: torch.Tensor | np.ndarray,
    background: torch.Tensor | np.ndarray,
    *,
    targets: int | Sequence[int] | np.ndarray | None = None,
    method: str = "auto",
    groups: np.ndarray | None = None,
    max_evals: int | None = None,
    seed: int = 0,
    feature_names: Sequence[str] | None = None,
    task: str | None = None,
    max_background: int | None = None,
) -> Attribution:
    """SHAP values of ``model`` on ``X`` ``(N, *shape)`` relative to ``background``.

    ``targets``: the output explained per example (default: the predicted class, or output 0
    for regression; ``task`` overrides the guess from the model's spec / output width).
    ``groups``: int ids of one example's shape; the masking explainers then explain G
    group-presence players and split each group's value equally over its elements (one-hot
    ``feature_names`` like ``"col=value"`` are grouped by column). ``max_evals``: evaluations per
    example (exact / permutation) or expected-gradient samples (gradient). ``max_background``:
    background rows used, a seeded sample (default 25 for the masking explainers, whose cost is
    linear in it; 100 otherwise). Raises ShapError for requests that cannot be honoured, e.g.
    ``"shap_deep"`` on a model with a module DeepExplainer has no rule for.
    """
    if method not in ("auto", *METHODS):
        raise ShapError(f"method must be 'auto' or one of {list(METHODS)}, got {method!r}.")
    start = time.perf_counter()
    if len(X) == 0:
        raise ShapError("X has no rows to explain; pass at least one example.")
    is_module = isinstance(model, nn.Module)
    like = next(iter(model.parameters()), None) if is_module else None
    X_t, bg_all = _as_tensor(X, like), _as_tensor(background, like)
    shape = tuple(X_t.shape[1:])
    if tuple(bg_all.shape[1:]) != shape or len(bg_all) == 0:
        raise ShapError(
            f"background must be rows shaped like X's {shape}, got {tuple(bg_all.shape)}; "
            "pass a sample of training inputs."
        )
    with restored(model) if is_module else nullcontext():
        if is_module:
            model.eval()  # dropout off, batch norm on its running statistics
        out = _predict(model, X_t)
        spec_task = getattr(getattr(model, "spec", None), "task", None)
        t = _targets(targets, out, task or spec_task)
        masked = method in MASKED or not is_module
        flat, how = resolve_groups(groups, feature_names, shape, masked)
        notes: list[str] = []
        chosen = method
        if method == "auto":
            n_bg = min(len(bg_all), max_background or MASKED_BACKGROUND)
            n_players = int(flat.max()) + 1 if flat is not None else int(np.prod(shape))
            choice = choose_shap_method(
                model,
                n_players,
                modality=_modality(model, len(shape)),
                grouped=flat is not None,
                background_size=n_bg,
                max_evals=max_evals,
            )
            chosen = choice.method
            notes.append(f"auto: {choice.reason}.")
        elif method == "shap_deep" and is_module and (problems := deep_unsupported(model)):
            raise ShapError(
                "shap_deep cannot explain this model exactly: DeepExplainer has no DeepLift "
                f"rule for {'; '.join(problems)}. Use method='shap_gradient' or "
                "'shap_permutation' (or 'auto')."
            )
        if chosen not in MASKED and not is_module:
            raise ShapError(f"{chosen} needs a torch nn.Module; use shap_permutation instead.")
        job = _Job(model, X_t, bg_all, out, t, flat, max_evals, seed, max_background)
        values, base, params = _run(job, chosen, notes, fallback=method == "auto")
    fx = out.double().cpu().numpy()[np.arange(len(t)), t]
    delta = np.abs(values.reshape(len(t), -1).sum(1) - (fx - base))
    if flat is not None:
        params.update(
            groups=describe_groups(flat, shape, how),
            n_groups=int(flat.max()) + 1,
            group_ids=flat.tolist(),
            spread="each group's value split equally over its elements",
        )
    params.update(additivity_max_error=float(delta.max(initial=0.0)), seed=seed)
    return Attribution(
        method=params.pop("method"),
        values=values.astype(np.float32),
        targets=t,
        baseline=f"background: {params['background_size']} training rows (base value = "
        "mean model output over them)",
        delta=delta,
        seconds=time.perf_counter() - start,
        params=params,
        note=" ".join(notes),
        base_values=base,
    )


@dataclass
class _Job:
    """What every explainer run needs (prepared once by shap_explain)."""

    model: Model
    X: torch.Tensor
    background: torch.Tensor  # all rows given; each method samples its own size
    out: torch.Tensor  # model(X)
    targets: np.ndarray
    flat: np.ndarray | None  # flat group ids, or None for one player per element
    max_evals: int | None
    seed: int
    max_background: int | None


def _run(
    job: _Job, method: str, notes: list[str], fallback: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Run ``method`` once per target output; from a DeepExplainer whose measured additivity
    fails, fall back to expected gradients when ``fallback`` (auto), else say so in the note."""
    masked = method in MASKED
    n_bg = job.max_background or (MASKED_BACKGROUND if masked else GRADIENT_BACKGROUND)
    bg = _pick(job.background, n_bg, job.seed)
    X, t, shape = job.X, job.targets, tuple(job.X.shape[1:])
    base = _predict(job.model, bg).double().cpu().numpy()[:, t].mean(0)
    params: dict[str, Any] = {"method": method, "background_size": len(bg)}
    flat = job.flat if job.flat is not None else np.arange(int(np.prod(shape)))
    if masked:
        method, evals, why = masked_plan(int(flat.max()) + 1, len(bg), job.max_evals, method)
        params["max_evals"] = evals
        if not notes:
            notes.append(f"{why}.")
    nsamples = job.max_evals or GRADIENT_SAMPLES
    if method == "shap_gradient":
        params["nsamples"] = nsamples
    values = np.zeros((len(X), *shape), dtype=np.float64)
    for target in np.unique(t).tolist():
        rows = np.flatnonzero(t == target)
        xs = X[torch.as_tensor(rows)]
        with _numpy_seed(job.seed):
            if masked:

                def predict(z: torch.Tensor, target: int = target) -> torch.Tensor:
                    return _predict(job.model, z)[:, target]

                g = masked_values(predict, xs, bg, flat, method, evals, job.seed)
                values[rows] = spread_group_values(g, flat, shape)
            elif method == "shap_deep":
                values[rows] = deep_values(job.model, xs, bg, target)
            else:
                values[rows] = gradient_values(job.model, xs, bg, target, nsamples, job.seed)
    fx = job.out.double().cpu().numpy()[np.arange(len(t)), t]
    err = np.abs(values.reshape(len(t), -1).sum(1) - (fx - base)).max(initial=0.0)
    scale = float(np.abs(fx - base).max(initial=0.0))
    if method == "shap_deep":
        tol = ADDITIVITY_ATOL + ADDITIVITY_RTOL * scale
        params["additivity_tolerance"] = tol
        if err <= tol:
            notes.append(f"DeepExplainer additivity verified: max error {err:.2g}.")
        else:
            msg = f"DeepExplainer additivity FAILED: max error {err:.3g} > tolerance {tol:.3g}"
            if fallback:
                notes.append(f"{msg}; fell back to shap_gradient.")
                values, base, params = _run(job, "shap_gradient", notes, fallback=False)
                params["deep_additivity_error"] = float(err)
                return values, base, params
            notes.append(f"{msg}: these are not the SHAP values of this model.")
    elif method == "shap_gradient":
        notes.append(
            f"Expected gradients are not exactly additive: measured max error {err:.3g} "
            f"(output scale {scale:.3g})."
        )
    if job.flat is not None and not masked:  # one value per group, as the masking explainers
        sums = sum_by_group(values.reshape(len(X), -1), job.flat)
        values = spread_group_values(sums, job.flat, shape)
    return values, base, params


def _modality(model: Model, input_rank: int | None = None) -> str | None:
    spec_modality = getattr(getattr(model, "spec", None), "modality", None)
    if spec_modality:
        return str(spec_modality)
    return {1: "tabular", 2: "sequence", 3: "image"}.get(input_rank or 0)


def _as_tensor(a: Any, like: torch.Tensor | None) -> torch.Tensor:
    """``a`` as a tensor in the model's dtype and device (a plain function: as given, floats)."""
    t = a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    if like is None:
        return t if t.is_floating_point() else t.float()
    return t.to(dtype=like.dtype, device=like.device)


def _predict(model: Model, X: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        out = torch.cat([model(X[i : i + 4096]) for i in range(0, len(X), 4096)])
    return out[:, None] if out.dim() == 1 else out


def _targets(targets: Any, out: torch.Tensor, task: str | None) -> np.ndarray:
    n, width = out.shape
    if targets is None:
        classify = task == "classification" or (task is None and width > 1)
        return out.argmax(1).cpu().numpy() if classify else np.zeros(n, dtype=np.int64)
    t = np.broadcast_to(np.asarray(targets, dtype=np.int64).reshape(-1), (n,)).copy()
    if t.size and (t.min() < 0 or t.max() >= width):
        raise ShapError(
            f"targets must be output indices in [0, {width}), got {sorted(set(t.tolist()))}."
        )
    return t


@contextmanager
def _numpy_seed(seed: int) -> Iterator[None]:
    """SHAP's explainers draw from (and reseed) NumPy's global RNG; the caller's stream is kept."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _pick(background: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """At most ``n`` background rows: a seeded sample without replacement, in original order."""
    if len(background) <= n:
        return background
    idx = np.sort(np.random.default_rng(seed).choice(len(background), n, replace=False))
    return background[torch.as_tensor(idx)]
