"""Helpers shared by the quality checks: verdicts, model outputs, rank correlation, seeding.

Private to ``explain``: the public checks live in :mod:`explain.quality`,
:mod:`explain.faithfulness` and :mod:`explain.randomisation`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from explain.errors import ExplainError
from explain.types import Attribution, Check

#: ``explain_fn(model, X, targets) -> attributions shaped like X`` (numpy array or tensor).
#: ``X`` is a float tensor ``(n, *input_shape)``, ``targets`` a long tensor ``(n,)``. Any
#: baseline or method parameter is bound inside the callable (a closure or functools.partial).
ExplainFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], Any]

TASKS = ("classification", "regression")
# Bounds the memory of one forward pass when the checks batch many inputs (perturbed copies of
# every example): 4,096 rows of the MNIST-1D CNN peaked 90 MB higher than 1,024 rows
# (benchmarks/memory_trace.py, BENCHMARKS "Memory"), and a forward costs the same per row.
ROWS_PER_FORWARD = 1024


def finite(x: Any) -> float | None:
    """A plain float, or None for NaN / inf (so ``json.dumps`` of a Check never fails)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def floats(a: Any) -> list[float | None]:
    """A 1-D JSON-able list of floats."""
    return [finite(v) for v in np.asarray(a, dtype=float).ravel()]


STATUS_ORDER = ("pass", "warn", "fail")  # from best to worst


def worst(*statuses: str) -> str:
    """The most severe of several pass / warn / fail verdicts."""
    return max(statuses, key=STATUS_ORDER.index)


def verdict_below(value: float, pass_below: float, warn_below: float) -> str:
    """pass / warn / fail for a score where lower is better."""
    return "pass" if value < pass_below else "warn" if value < warn_below else "fail"


def verdict_above(value: float, pass_above: float, warn_above: float) -> str:
    """pass / warn / fail for a score where higher is better."""
    return "pass" if value > pass_above else "warn" if value > warn_above else "fail"


def skipped(name: str, method: str, reason: str) -> Check:
    """A check that does not apply, with the reason as its detail."""
    return Check(
        name=name, method=method, value=None, threshold=None, status="skipped", detail=reason
    )


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}.")


def as_tensor(X: Any) -> torch.Tensor:
    """A detached float32 CPU-or-same-device tensor of ``X``."""
    if isinstance(X, torch.Tensor):
        return X.detach().float()
    return torch.as_tensor(np.asarray(X), dtype=torch.float32)


def as_targets(targets: Any, n: int) -> torch.Tensor:
    """Targets as a long tensor ``(n,)``; a scalar is broadcast."""
    t = torch.as_tensor(
        np.asarray(targets if not isinstance(targets, torch.Tensor) else targets.detach().cpu()),
        dtype=torch.long,
    )
    if t.ndim == 0:
        t = t.expand(n).clone()
    if t.shape != (n,):
        raise ValueError(f"targets must have shape ({n},) to match X, got {tuple(t.shape)}.")
    return t


def as_numpy(a: Any) -> np.ndarray:
    """An explainer's output (array or tensor) as a float64 numpy array."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def baseline_like(baseline: Any, X: torch.Tensor) -> torch.Tensor:
    """``baseline`` broadcast to ``X``'s shape: None -> zeros; one example -> repeated."""
    if baseline is None:
        return torch.zeros_like(X)
    b = as_tensor(baseline).to(X.device)
    if b.shape == X.shape[1:]:
        b = b.unsqueeze(0)
    try:
        return b.expand_as(X).clone()
    except RuntimeError:
        raise ValueError(
            f"baseline of shape {tuple(b.shape)} does not match the inputs {tuple(X.shape)}; "
            "give one example's shape, or one baseline per example."
        ) from None


def check_shape(values: np.ndarray, X: torch.Tensor, method: str) -> None:
    if values.shape != tuple(X.shape):
        raise ValueError(
            f"attributions of {method!r} have shape {values.shape} but the inputs have "
            f"{tuple(X.shape)}; explain the same examples that are checked."
        )


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode (no dropout, frozen batch-norm) and restore its mode after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch and numpy's global generators, restoring both after.

    Explainers that sample (SHAP permutations, SmoothGrad noise) then draw the same noise in
    every call, so that two calls differ only by what the check changed.
    """
    state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            np.random.set_state(state)


def select(out: torch.Tensor, targets: torch.Tensor, task: str, probs: bool) -> torch.Tensor:
    """The explained output per row: the target's logit / probability, or a regression output."""
    if out.ndim == 1:
        out = out.unsqueeze(1)
    out = out.reshape(out.shape[0], -1)
    if probs and task == "classification":
        out = out.softmax(dim=1) if out.shape[1] > 1 else torch.sigmoid(out)
    return out.gather(1, targets.clamp(max=out.shape[1] - 1).view(-1, 1)).squeeze(1)


@torch.no_grad()
def outputs(
    model: nn.Module, X: torch.Tensor, targets: torch.Tensor, task: str, probs: bool = False
) -> torch.Tensor:
    """``select(model(X))`` in chunks of rows, in eval mode."""
    parts = []
    with eval_mode(model):
        for i in range(0, X.shape[0], ROWS_PER_FORWARD):
            sl = slice(i, i + ROWS_PER_FORWARD)
            parts.append(select(model(X[sl]), targets[sl].to(X.device), task, probs).cpu())
    return torch.cat(parts) if parts else torch.zeros(0)


def rank_agreement(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Weighted Spearman's rho between two maps of the same units (|attribution| per unit):
    the correlation of their ranks (``scipy.stats.rankdata``, ties averaged) with unit i
    weighted by its share of the two maps, ``|a_i| / sum|a| + |b_i| / sum|b|``
    (``numpy.cov``'s ``aweights``). With equal weights it is plain Spearman's rho; weighted,
    two models that put their evidence on the same units agree even where the units they
    both ignore (noise features, each a percent of a map) fall in a chance order, which plain
    rho counts as much as the units that matter (0.33 for maps that correlate at 0.9999).
    NaN when either map is constant (no ranking to agree with)."""
    a, b = np.ravel(np.asarray(a, dtype=np.float64)), np.ravel(np.asarray(b, dtype=np.float64))
    if a.shape != b.shape:
        raise ExplainError(f"Maps of {a.size} and {b.size} units cannot be compared.")
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    weights = np.abs(a) / np.abs(a).sum() + np.abs(b) / np.abs(b).sum()
    cov = np.cov(rankdata(a), rankdata(b), aweights=weights)
    spread = cov[0, 0] * cov[1, 1]
    return float(cov[0, 1] / np.sqrt(spread)) if spread > 0 else float("nan")


def rowwise_spearman(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Spearman's rho of each row of ``a`` with the same row of ``b`` (flattened per row), over
    the elements where that row of ``mask`` is True (default: all).

    Pearson correlation of average ranks, which is what ``scipy.stats.spearmanr`` computes for
    one pair, vectorised over rows (left-out elements are NaN, which ``rankdata`` omits). A row
    without a ranking (constant, or fewer than two elements) has rho NaN.
    """
    n = a.shape[0]
    a, b = a.reshape(n, -1).astype(np.float64), b.reshape(n, -1).astype(np.float64)
    if mask is not None:
        keep = mask.reshape(n, -1)
        a, b = np.where(keep, a, np.nan), np.where(keep, b, np.nan)
    ra = rankdata(a, axis=1, nan_policy="omit")
    rb = rankdata(b, axis=1, nan_policy="omit")
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of a row with no elements
        ra -= np.nanmean(ra, axis=1, keepdims=True)
        rb -= np.nanmean(rb, axis=1, keepdims=True)
        den = np.sqrt(np.nansum(ra**2, axis=1) * np.nansum(rb**2, axis=1))
        return np.where(den > 0, np.nansum(ra * rb, axis=1) / np.where(den > 0, den, 1.0), np.nan)


def relative_change(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``||after - before|| / ||before||`` per row (Frobenius norm over the row, as Captum's
    ``sensitivity_max``; a zero row divides by 1)."""
    n = before.shape[0]
    b, a = before.reshape(n, -1), after.reshape(n, -1)
    norm = np.linalg.norm(b, axis=1)
    return np.linalg.norm(a - b, axis=1) / np.where(norm > 0, norm, 1.0)


def sampling_noise(
    explain_fn: ExplainFn, model: nn.Module, X: torch.Tensor, t: torch.Tensor, seed: int
) -> np.ndarray:
    """The explainer's own noise per example: the relative change between two explanations
    of the same input, from one seeded call on ``X`` stacked twice (each row sits at two
    places in the batch, so a sampling explainer gives it two independent draws, however it
    seeds itself). 0 for a deterministic explainer."""
    n = X.shape[0]
    with eval_mode(model), seeded(seed), torch.enable_grad():
        e = as_numpy(explain_fn(model, torch.cat([X, X]), torch.cat([t, t])))
    return relative_change(e[:n], e[n:])


def subsample(n: int, k: int, seed: int) -> np.ndarray:
    """``min(n, k)`` sorted example indices, seeded (all of them when ``k >= n``)."""
    if k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def timed(name: str, method: str, fn: Callable[[], Check | tuple[Check, ...]]) -> list[Check]:
    """Run one check; record its seconds, and turn an exception into a skipped check."""
    start = time.perf_counter()
    try:
        out = fn()
    except Exception as e:  # one broken check must not sink the report
        warnings.warn(f"{name} check of {method} failed: {e}", RuntimeWarning, stacklevel=3)
        out = skipped(name, method, f"could not run: {type(e).__name__}: {e}")
    checks = list(out) if isinstance(out, tuple) else [out]
    for c in checks:
        c.extra["seconds"] = round((time.perf_counter() - start) / len(checks), 4)
    return checks


def relative_to(attr: Attribution, f_b: np.ndarray) -> bool:
    """Whether ``attr`` is relative to the checked baseline: no base values of its own, or base
    values that are the output there (not SHAP's mean over a background, say)."""
    if attr.base_values is None:
        return True
    b = as_numpy(attr.base_values).ravel()
    tol = 1e-6 * (1.0 + float(np.abs(f_b).max(initial=0.0)))
    return b.size in (1, f_b.size) and bool(np.allclose(b, f_b, rtol=1e-4, atol=tol))
