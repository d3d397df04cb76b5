"""The masking SHAP explainers (SHAP's Exact and Permutation) over group-presence players.

The game: G players, "group g present". A coalition keeps the example's values on its groups and
takes each background row's values elsewhere; its worth is the model's output averaged over the
background rows (the interventional value function), so the grand coalition is ``f(x)`` and the
empty one the base value, and both explainers are exactly additive (every antithetic permutation
telescopes from the base value to ``f(x)``, and so does any average of such estimates).

Cost: one evaluation is one model row per background row, each charged its counted FLOPs
(:func:`explain.shap_groups.row_cost`). The default plan spends at most ``FLOP_BUDGET`` per
example: exact Shapley values when the 2^G coalitions fit, else antithetic permutations, added
in doubling rounds until SHAP's own error bound says an example's values are within
:data:`TARGET_ERROR` (relative), or the budget is spent. A model too costly for one permutation
gets fewer background rows and coarser windows / patches first
(:func:`explain.shap_groups.fit_budget`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from explain.shap_groups import (
    FLOP_BUDGET,
    UNKNOWN_ROW_COST,
    RowCost,
    ShapError,
    import_shap,
)

TARGET_ERROR = 0.05  # refine an example until its estimated relative error is at most this
FIRST_PERMUTATIONS = 8  # the first round (SHAP's error bound needs a few to mean anything)
EXACT_MAX_GROUPS = 10  # the plan picks exact for at most 2^10 coalitions (and within the budget)
EXACT_HARD_MAX = 16  # beyond 10 players shap_exact needs max_evals >= 2^G; beyond 16, groups
_NOOP = 2147483647  # SHAP's MaskedModel.delta_mask_noop_value: emit a mask, flip nothing
_DELTA_MAX_ELEMENTS = 2**25  # larger mask batches go through SHAP's batched (slower) path


class GroupMasker:
    """A SHAP masker over G group-presence players for one flattened example ``x`` ``(D,)``.

    ``masker(mask, x)`` returns ``(B, D)``: ``x`` where the element's group is present, each
    background row elsewhere; SHAP's MaskedModel averages the model over those B rows. Given
    SHAP's delta masks (a 1-D int array of flips) it builds every masked row at once
    (``supports_delta_masking``: SHAP's fast path, as its own Tabular masker), and
    ``invariants`` lets SHAP skip rows (and groups) where the background equals ``x``.
    """

    immutable_outputs = True  # each call returns a fresh array: SHAP need not copy it

    def __init__(self, background: np.ndarray, flat_groups: np.ndarray, delta: bool = True):
        self.background = background.reshape(len(background), -1)
        self.flat_groups = flat_groups
        self.n_groups = int(flat_groups.max()) + 1
        self.shape = (len(self.background), self.n_groups)
        self.supports_delta_masking = delta
        self._one_hot = np.zeros((flat_groups.size, self.n_groups))
        self._one_hot[np.arange(flat_groups.size), flat_groups] = 1.0

    def __call__(self, mask: np.ndarray, x: np.ndarray) -> Any:
        mask = np.asarray(mask)
        if mask.ndim == 1 and np.issubdtype(mask.dtype, np.integer):
            return self._delta_masks(mask, x)
        present = mask.astype(bool)[self.flat_groups]
        return np.where(present[None, :], x[None, :], self.background)

    def _delta_masks(self, deltas: np.ndarray, x: np.ndarray) -> Any:
        """SHAP's delta encoding: ``-i-1`` flips group i and goes on, ``i >= 0`` flips i and
        emits a mask (the no-op code emits without a flip). Returns the masked rows and which
        background rows changed since the previous mask (SHAP re-evaluates only those)."""
        emits = deltas >= 0
        mask_of = np.cumsum(emits) - emits  # the emitted mask each entry belongs to
        flips = deltas != _NOOP
        group = np.where(deltas < 0, -deltas - 1, deltas)
        toggles = np.zeros((int(emits.sum()), self.n_groups), dtype=np.int64)
        np.add.at(toggles, (mask_of[flips], group[flips]), 1)
        present = np.cumsum(toggles, axis=0) % 2 == 1
        rows = np.where(present[:, None, self.flat_groups], x, self.background[None])
        varying = np.ones((len(present), len(self.background)), dtype=bool)
        changed = (toggles[1:] % 2).astype(np.float64)
        varying[1:] = changed @ (~self.invariants(x)).T.astype(np.float64) > 0
        return (rows.reshape(-1, x.size),), varying

    def invariants(self, x: np.ndarray) -> np.ndarray:
        """``(B, G)``: True where background row b equals ``x`` on every element of group g."""
        differs = (self.background != x[None, :]).astype(np.float64)
        return differs @ self._one_hot == 0

    def mask_shapes(self, x: np.ndarray) -> list[tuple[int, ...]]:
        return [(self.n_groups,)]


@dataclass(frozen=True)
class MaskedPlan:
    """How the masking explainers will run, and why (stored with the values)."""

    method: str  # "shap_exact" or "shap_permutation"
    n_players: int
    background_size: int
    permutations: int  # the first round of antithetic permutations (0: exact)
    max_permutations: int  # the most any example gets (the budget)
    target_error: float | None  # refine while the estimated relative error is above; None: fixed
    why: str

    @property
    def evals(self) -> int:
        """Evaluations per example of the first round (all of them for exact)."""
        if self.method == "shap_exact":
            return 2**self.n_players
        return self.permutations * (2 * self.n_players + 1)

    def settings(self, cost: RowCost) -> dict[str, Any]:
        """The plan as stored with the values (JSON-able)."""
        out: dict[str, Any] = {"max_evals": self.evals, "row_flops": cost.flops,
                               "row_cost": cost.charged, "flop_budget": FLOP_BUDGET}  # fmt: skip
        if self.method == "shap_permutation":
            out.update(
                evaluations_per_permutation=2 * self.n_players + 1,
                max_permutations=self.max_permutations,
                target_error=self.target_error,
            )
        return out

    def spent(self, permutations: np.ndarray, errors: np.ndarray) -> dict[str, Any]:
        """What the run cost (model rows evaluated) and, for permutations, how many each
        example got and SHAP's estimated relative error of its values (median, max)."""
        if self.method == "shap_exact":
            return {"model_rows": len(permutations) * self.evals * self.background_size}
        rows = int(permutations.sum()) * (2 * self.n_players + 1) * self.background_size
        return {
            "model_rows": rows,
            "permutations_median": float(np.median(permutations)),
            "permutations_max": int(permutations.max(initial=0)),
            "estimated_error_median": float(np.median(errors)),
            "estimated_error_max": float(errors.max(initial=0.0)),
        }


def masked_plan(
    n_groups: int,
    background_size: int,
    max_evals: int | None = None,
    method: str | None = None,
    row_cost: float = UNKNOWN_ROW_COST,
    refine: bool = True,
) -> MaskedPlan:
    """Exact when its 2^G coalitions fit (``max_evals``, else the budget for a model charged
    ``row_cost`` per row), else antithetic permutations: ``max_evals`` of them fixed, or a first
    round refined within the budget (``refine``; else that round only). ``method`` forces one."""
    step = 2 * n_groups + 1  # one antithetic permutation: forward and back through G players
    cost = row_cost * background_size
    budget = max_evals if max_evals is not None else max(step, int(FLOP_BUDGET / cost))
    # exact where it fits the budget, or costs no more than the first round of permutations
    cheap = 2**n_groups <= FIRST_PERMUTATIONS * step and max_evals is None
    exact_fits = n_groups <= EXACT_MAX_GROUPS and (2**n_groups <= budget or cheap)
    if method == "shap_exact" or (method is None and exact_fits):
        coalitions = f"2^{n_groups} = {2**n_groups} evaluations x {background_size} background rows"
        if n_groups > EXACT_HARD_MAX:
            raise ShapError(
                f"shap_exact on {n_groups} players needs {coalitions} per example; group the "
                f"inputs (groups=...) into at most {EXACT_HARD_MAX} groups or use "
                "shap_permutation."
            )
        if max_evals is not None and max_evals < 2**n_groups:
            raise ShapError(f"shap_exact needs max_evals >= 2^{n_groups}, got {max_evals=}.")
        if max_evals is None and n_groups > EXACT_MAX_GROUPS:  # an explicit cost, explicitly
            raise ShapError(
                f"shap_exact on {n_groups} players needs {coalitions} per example; pass "
                f"max_evals={2**n_groups} to accept that cost, or use shap_permutation."
            )
        why = f"exact Shapley values (all {2**n_groups} coalitions of {n_groups} players)"
        return MaskedPlan("shap_exact", n_groups, background_size, 0, 0, None, why)
    if budget < step:
        raise ShapError(
            f"shap_permutation needs max_evals >= 2*{n_groups}+1 = {step} (one antithetic "
            f"permutation), got {max_evals=}; raise it or use fewer groups."
        )
    most = budget // step
    if max_evals is not None:
        why = f"{most} antithetic permutation(s) of {n_groups} players (max_evals={max_evals})"
        return MaskedPlan("shap_permutation", n_groups, background_size, most, most, None, why)
    first = min(FIRST_PERMUTATIONS, most)
    if not refine:
        why = f"{first} antithetic permutation(s) of {n_groups} players (within the budget)"
        return MaskedPlan("shap_permutation", n_groups, background_size, first, first, None, why)
    why = (
        f"{first} to {most} antithetic permutations of {n_groups} players, doubled until SHAP's "
        f"error bound is within {TARGET_ERROR:.0%} of the values (budget "
        f"{FLOP_BUDGET:.1e} FLOP-equivalents per example)"
    )
    return MaskedPlan("shap_permutation", n_groups, background_size, first, most, TARGET_ERROR, why)


@dataclass
class MaskedResult:
    """Group values ``(n, G)`` with, per example, the permutations run and SHAP's estimated
    relative error (both 0 for exact values)."""

    values: np.ndarray
    permutations: np.ndarray
    estimated_error: np.ndarray


def masked_values(
    predict: Callable[[torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    background: torch.Tensor,
    flat_groups: np.ndarray,
    plan: MaskedPlan,
    seed: int,
) -> MaskedResult:
    """SHAP values of the scalar ``predict`` ``(rows, *shape) -> (rows,)`` on ``X`` by ``plan``."""
    shap = import_shap()
    shape, like = X.shape[1:], X

    def f(z: np.ndarray) -> np.ndarray:
        rows = torch.as_tensor(z, dtype=like.dtype, device=like.device).reshape(-1, *shape)
        return predict(rows).double().cpu().numpy()

    n, flat_x = len(X), X.reshape(len(X), -1).cpu().numpy()
    masks = 2**plan.n_players if plan.method == "shap_exact" else 2 * plan.n_players + 1
    small = masks * len(background) * flat_x.shape[1] <= _DELTA_MAX_ELEMENTS
    masker = GroupMasker(background.cpu().numpy(), flat_groups, delta=small)
    batch = max(1, 4096 // len(background))  # masks per model call on the batched path
    if plan.method == "shap_exact":
        out = shap.explainers.Exact(f, masker)(flat_x, max_evals=plan.evals, batch_size=batch,
                                               silent=True)  # fmt: skip
        zeros = np.zeros(n)
        return MaskedResult(np.asarray(out.values, dtype=np.float64), zeros.astype(int), zeros)
    # SHAP skips groups equal to the background in every row: fewer players, more permutations
    varying = np.array([(~masker.invariants(x)).any(0).sum() for x in flat_x])
    count, total, square = np.zeros(n), np.zeros((n, plan.n_players)), np.zeros((n, plan.n_players))
    todo, k, planned = np.arange(n), plan.permutations, 0
    while todo.size and k > 0:
        explainer = shap.explainers.Permutation(f, masker, seed=seed + planned)
        evals = k * (2 * plan.n_players + 1)
        out = explainer(flat_x[todo], max_evals=evals, batch_size=batch, error_bounds=True,
                        silent=True)  # fmt: skip
        # each example's estimate is the mean of 2K marginal contributions per player (forward
        # and backward passes); pool their first and second moments over the rounds
        runs = 2 * (evals // (2 * np.maximum(varying[todo], 1) + 1))
        v, s = np.asarray(out.values, dtype=np.float64), np.asarray(out.error_std)
        count[todo] += runs
        total[todo] += runs[:, None] * v
        square[todo] += runs[:, None] * (s**2 + v**2)
        planned += k
        k = min(planned, plan.max_permutations - planned)  # doubling, within the budget
        error = _relative_error(total[todo], square[todo], count[todo])
        todo = todo[error > (plan.target_error or math.inf)]
    values = total / np.maximum(count, 1)[:, None]
    return MaskedResult(values, (count // 2).astype(int), _relative_error(total, square, count))


def _relative_error(total: np.ndarray, square: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``|standard error| / |values|`` per example (SHAP's std over its 2K contributions, which
    ignores that antithetic pairs cancel: an overestimate, so a safe stopping rule)."""
    c = np.maximum(count, 1)[:, None]
    mean = total / c
    se = np.sqrt(np.maximum(square / c - mean**2, 0.0) / c)
    norm = np.linalg.norm(mean, axis=1)
    se_norm = np.linalg.norm(se, axis=1)
    return np.where(se_norm > 0, se_norm / np.maximum(norm, 1e-300), 0.0)
