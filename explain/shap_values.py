"""SHAP values with the explainer that is right for the architecture, additive for every family.

``shap_explain`` explains one output per example (the predicted class, or output 0 for
regression) relative to a background sample of training inputs: ``base_values`` is the mean of
that output over the background rows used, so ``values.sum() + base_value == f(x)``, with the
measured error per example in ``delta``. ``method="auto"`` follows :func:`choose_shap_method`:

1. grouped inputs, or tabular inputs of at most 64 features: the masking explainers, the
   reference (exact Shapley values, else permutations refined to SHAP's error bound);
2. DeepExplainer where SHAP has an exact DeepLift rule for every module, kept only if every
   example's measured additivity error is within tolerance, else
3. one round of permutations over time windows / image patches (recurrent, attention and hybrid
   models, plain functions; fewer windows for a costly model): each window's value is spread over
   its elements, so a window sums to its value.

GradientExplainer (``method="shap_gradient"``) is never chosen: it misses f(x) - E[f(bg)] by
10-30%. ``params`` name the SHAP explainer, its settings and how additivity holds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from explain.shap_deep import (
    additivity_failures,
    deep_unsupported,
    deep_values,
    gradient_values,
    restored,
)
from explain.shap_groups import (
    ONE_HOT,
    UNKNOWN_ROW_COST,
    RowCost,
    ShapError,
    as_tensor,
    describe_groups,
    explained_targets,
    masked_inputs,
    numpy_seed,
    pick_rows,
    predict_rows,
    resolve_groups,
    row_cost,
    spread_group_values,
    sum_by_group,
)
from explain.shap_masked import masked_plan, masked_values
from explain.types import Attribution, MethodChoice

METHODS = ("shap_deep", "shap_gradient", "shap_permutation", "shap_exact")
MASKED = ("shap_exact", "shap_permutation")
EXPLAINERS = {"shap_exact": "shap.explainers.Exact", "shap_permutation":
              "shap.explainers.Permutation", "shap_deep": "shap.DeepExplainer",
              "shap_gradient": "shap.GradientExplainer"}  # fmt: skip
MASKED_MAX_FEATURES = 64  # tabular inputs up to this width get the masking reference explainers
MASKED_BACKGROUND = 25  # default background rows of the masking explainers (cost is linear)
GRADIENT_BACKGROUND = 100  # default background rows of DeepExplainer / GradientExplainer
GRADIENT_SAMPLES = 200  # expected-gradient samples per example (SHAP's default)

Model = nn.Module | Callable[[torch.Tensor], torch.Tensor]

__all__ = ["EXPLAINERS", "METHODS", "ShapError", "choose_shap_method", "shap_explain"]


def choose_shap_method(
    model: Model,
    n_features_or_groups: int,
    *,
    modality: str | None = None,
    grouped: bool = False,
    background_size: int = MASKED_BACKGROUND,
    max_evals: int | None = None,
    row_cost: float = UNKNOWN_ROW_COST,
) -> MethodChoice:
    """The explainer ``method="auto"`` starts with, and why. Static rules only: a chosen
    DeepExplainer must still pass the additivity check that :func:`shap_explain` runs."""
    n, modality = int(n_features_or_groups), modality or _modality(model)
    if grouped or (modality == "tabular" and n <= MASKED_MAX_FEATURES):
        plan = masked_plan(n, background_size, max_evals, row_cost=row_cost)
        what = "grouped input" if grouped else f"tabular input of {n} features"
        how = "exact Shapley values" if plan.method == "shap_exact" else "permutation SHAP"
        why = f"{what}: the model-agnostic reference, {how} (exactly additive)"
        return MethodChoice(plan.method, True, why)
    if not isinstance(model, nn.Module):
        why = "a plain predict function: permutation SHAP (exactly additive)"
        return MethodChoice("shap_permutation", True, why)
    problems = deep_unsupported(model)
    if not problems:
        why = "SHAP's DeepExplainer has an exact rule for every module; additivity is measured"
        return MethodChoice("shap_deep", True, why)
    return MethodChoice(
        "shap_permutation",
        True,
        f"DeepExplainer would use plain gradients for {'; '.join(problems[:3])}; permutation "
        "SHAP instead (exactly additive)",
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
    example (exact / permutation: fixed instead of refined to the error bound) or
    expected-gradient samples (gradient). ``max_background``: background rows used, a seeded
    sample (default 25 for the masking explainers, whose cost is linear in it; 100 otherwise).
    Raises ShapError for requests that cannot be honoured, e.g. ``"shap_deep"`` on a model with
    a module DeepExplainer has no rule for.
    """
    if method not in ("auto", *METHODS):
        raise ShapError(f"method must be 'auto' or one of {list(METHODS)}, got {method!r}.")
    start = time.perf_counter()
    if len(X) == 0:
        raise ShapError("X has no rows to explain; pass at least one example.")
    is_module = isinstance(model, nn.Module)
    like = next(iter(model.parameters()), None) if is_module else None
    X_t, bg_all = as_tensor(X, like), as_tensor(background, like)
    shape = tuple(X_t.shape[1:])
    if tuple(bg_all.shape[1:]) != shape or len(bg_all) == 0:
        raise ShapError(
            f"background must be rows shaped like X's {shape}, got {tuple(bg_all.shape)}; "
            "pass a sample of training inputs."
        )
    with restored(model) if is_module else nullcontext():
        if is_module:
            model.eval()  # dropout off, batch norm on its running statistics
        out = predict_rows(model, X_t)
        spec_task = getattr(getattr(model, "spec", None), "task", None)
        t = explained_targets(targets, out, task or spec_task)
        flat, how = resolve_groups(groups, feature_names, shape)
        cost = row_cost(model if is_module else None, X_t)
        notes: list[str] = []
        chosen = method
        if method == "auto":
            n_bg = min(len(bg_all), max_background or MASKED_BACKGROUND)
            choice = choose_shap_method(
                model,
                int(flat.max()) + 1 if flat is not None else math.prod(shape),
                modality=_modality(model, len(shape)),
                grouped=flat is not None,
                background_size=n_bg,
                max_evals=max_evals,
                row_cost=cost.charged,
            )
            chosen = choice.method
            notes.append(f"auto: {choice.reason}.")
        elif method == "shap_deep" and is_module and (problems := deep_unsupported(model)):
            raise ShapError(
                "shap_deep cannot explain this model exactly: DeepExplainer has no DeepLift "
                f"rule for {'; '.join(problems)}. Use method='shap_permutation' (or 'auto')."
            )
        if chosen not in MASKED and not is_module:
            raise ShapError(f"{chosen} needs a torch nn.Module; use shap_permutation instead.")
        job = _Job(model, X_t, bg_all, out, t, flat, how, max_evals, seed, max_background, cost)
        values, base, params, job = _run(job, chosen, notes, fallback=method == "auto")
    fx = out.double().cpu().numpy()[np.arange(len(t)), t]
    delta = np.abs(values.reshape(len(t), -1).sum(1) - (fx - base))
    if job.flat is not None:
        params.update(
            groups=describe_groups(job.flat, shape, job.how),
            n_groups=int(job.flat.max()) + 1,
            group_ids=job.flat.tolist(),
            spread="each group's value split equally over its elements",
        )
    params.update(additivity_max_error=float(delta.max(initial=0.0)), seed=seed)
    arrays = params.pop("_arrays", {})
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
        arrays=arrays,
    )


@dataclass(frozen=True)
class _Job:
    """What every explainer run needs (prepared once by shap_explain)."""

    model: Model
    X: torch.Tensor
    background: torch.Tensor  # all rows given; each method samples its own size
    out: torch.Tensor  # model(X)
    targets: np.ndarray
    flat: np.ndarray | None  # flat group ids, or None for one player per element
    how: str  # how the groups were made
    max_evals: int | None
    seed: int
    max_background: int | None
    cost: RowCost  # what one model row costs: a masked evaluation is one per background row


def _run(
    job: _Job, method: str, notes: list[str], fallback: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], _Job]:
    """Run ``method`` once per target output; from a DeepExplainer whose measured additivity
    fails, fall back to permutation SHAP when ``fallback`` (auto), else say so in the note."""
    masked = method in MASKED
    n_bg = job.max_background or (MASKED_BACKGROUND if masked else GRADIENT_BACKGROUND)
    if masked:  # windows / patches for a long input, and what the budget affords of them
        free = job.max_evals is None
        flat, how, n_bg = masked_inputs(tuple(job.X.shape[1:]), job.flat, job.how,
                                        min(n_bg, len(job.background)), job.cost.charged,
                                        free, free and job.max_background is None)  # fmt: skip
        job = replace(job, flat=flat, how=how)
    bg = pick_rows(job.background, n_bg, job.seed)
    X, t, shape = job.X, job.targets, tuple(job.X.shape[1:])
    base = predict_rows(job.model, bg).double().cpu().numpy()[:, t].mean(0)
    params: dict[str, Any] = {
        "method": method,
        "explainer": EXPLAINERS[method],
        "additive_by_construction": masked,  # DeepExplainer's is measured (below)
        "background_size": len(bg),
    }
    flat = job.flat if job.flat is not None else np.arange(math.prod(shape))
    if masked:
        # refined to the error bound over features; windows / patches (sequences, images, the
        # costliest models per row) get the first round only, to keep within time
        plan = masked_plan(int(flat.max()) + 1, len(bg), job.max_evals, method, job.cost.charged,
                           refine=len(shape) == 1)  # fmt: skip
        params.update(plan.settings(job.cost))
        notes.append(f"{plan.why}.")
    nsamples = job.max_evals or GRADIENT_SAMPLES
    if method == "shap_gradient":
        params["nsamples"] = nsamples
    values = np.zeros((len(X), *shape), dtype=np.float64)
    perms, errors = np.zeros(len(X), dtype=int), np.zeros(len(X))
    for target in np.unique(t).tolist():
        rows = np.flatnonzero(t == target)
        xs = X[torch.as_tensor(rows)]
        with numpy_seed(job.seed):
            if masked:

                def predict(z: torch.Tensor, target: int = target) -> torch.Tensor:
                    return predict_rows(job.model, z)[:, target]

                r = masked_values(predict, xs, bg, flat, plan, job.seed)
                on = xs.reshape(len(rows), -1).cpu().numpy() if how == ONE_HOT else None
                values[rows] = spread_group_values(r.values, flat, shape, on)
                perms[rows], errors[rows] = r.permutations, r.estimated_error
            elif method == "shap_deep":
                values[rows] = deep_values(job.model, xs, bg, target)
            else:
                values[rows] = gradient_values(job.model, xs, bg, target, nsamples, job.seed)
    fx = job.out.double().cpu().numpy()[np.arange(len(t)), t]
    err = np.abs(values.reshape(len(t), -1).sum(1) - (fx - base))
    if masked:
        params.update(plan.spent(perms, errors))
        if method == "shap_permutation":  # per example, beside the values (a noise floor)
            params["_arrays"] = {"permutations": perms, "estimated_error": errors}
    elif method == "shap_deep":
        failed, tol = additivity_failures(err, fx - base)
        params.update(additivity_tolerance=tol, additivity_verified=not failed.any())
        if not failed.any():
            notes.append(f"DeepExplainer additivity verified: max error {err.max():.2g}.")
        else:
            msg = (
                f"DeepExplainer additivity FAILED on {int(failed.sum())} of {len(err)} "
                f"examples: max error {err.max():.3g} (tolerance {tol})"
            )
            if fallback:
                notes.append(f"{msg}; fell back to shap_permutation.")
                values, base, params, job = _run(job, "shap_permutation", notes, fallback=False)
                params["deep_additivity_error"] = float(err.max())
                return values, base, params, job
            notes.append(f"{msg}: these are not the SHAP values of this model.")
    else:
        scale = float(np.abs(fx - base).max(initial=0.0))
        notes.append(
            f"Expected gradients are not exactly additive: measured max error "
            f"{err.max(initial=0.0):.3g} (output scale {scale:.3g})."
        )
    if job.flat is not None and not masked:  # one value per group, as the masking explainers
        sums = sum_by_group(values.reshape(len(X), -1), job.flat)
        on = X.reshape(len(X), -1).cpu().numpy() if job.how == ONE_HOT else None
        values = spread_group_values(sums, job.flat, shape, on)
    return values, base, params, job


def _modality(model: Model, input_rank: int | None = None) -> str | None:
    spec_modality = getattr(getattr(model, "spec", None), "modality", None)
    if spec_modality:
        return str(spec_modality)
    return {1: "tabular", 2: "sequence", 3: "image"}.get(input_rank or 0)
