"""The masking SHAP explainers (SHAP's Exact and Permutation) over group-presence players.

The game: G players, "group g present". A coalition keeps the example's values on its groups and
takes each background row's values elsewhere; its worth is the model's output averaged over the
background rows (the interventional value function), so the grand coalition is ``f(x)`` and the
empty one the base value, and both explainers are exactly additive. A model evaluation costs one
forward row per background row, so the cost per example is ``evaluations x background rows``;
the default plan keeps that at :data:`ROWS_PER_EXAMPLE`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from explain.shap_groups import ShapError, import_shap

ROWS_PER_EXAMPLE = 2048  # default model rows per explained example (evaluations x background)
EXACT_MAX_GROUPS = 10  # the plan picks exact for at most 2^10 coalitions (and within the budget)
EXACT_HARD_MAX = 16  # beyond 10 players shap_exact needs max_evals >= 2^G; beyond 16, groups


class GroupMasker:
    """A SHAP masker over G group-presence players for one flattened example ``x`` ``(D,)``.

    ``masker(mask, x)`` returns ``(B, D)``: ``x`` where the element's group is present, each
    background row elsewhere; SHAP's MaskedModel averages the model over those B rows.
    ``invariants`` lets SHAP skip rows (and groups) where the background equals ``x``.
    """

    immutable_outputs = True  # each call returns a fresh array: SHAP need not copy it

    def __init__(self, background: np.ndarray, flat_groups: np.ndarray):
        self.background = background.reshape(len(background), -1)
        self.flat_groups = flat_groups
        self.n_groups = int(flat_groups.max()) + 1
        self.shape = (len(self.background), self.n_groups)
        self._one_hot = np.zeros((flat_groups.size, self.n_groups))
        self._one_hot[np.arange(flat_groups.size), flat_groups] = 1.0

    def __call__(self, mask: np.ndarray, x: np.ndarray) -> np.ndarray:
        present = np.asarray(mask, dtype=bool)[self.flat_groups]
        return np.where(present[None, :], x[None, :], self.background)

    def invariants(self, x: np.ndarray) -> np.ndarray:
        """``(B, G)``: True where background row b equals ``x`` on every element of group g."""
        differs = (self.background != x[None, :]).astype(np.float64)
        return differs @ self._one_hot == 0

    def mask_shapes(self, x: np.ndarray) -> list[tuple[int, ...]]:
        return [(self.n_groups,)]


def masked_plan(
    n_groups: int, background_size: int, max_evals: int | None = None, method: str | None = None
) -> tuple[str, int, str]:
    """(method, evaluations per example, why): exact when its 2^G coalitions fit the budget
    (``max_evals``, else :data:`ROWS_PER_EXAMPLE` / background rows), else as many antithetic
    permutations as fit (at least one). ``method`` forces one of the two."""
    step = 2 * n_groups + 1  # one antithetic permutation: forward and back through G players
    budget = max_evals if max_evals is not None else max(step, ROWS_PER_EXAMPLE // background_size)
    exact_fits = n_groups <= EXACT_MAX_GROUPS and 2**n_groups <= budget
    if method == "shap_exact" or (method is None and exact_fits):
        cost = f"2^{n_groups} = {2**n_groups} evaluations x {background_size} background rows"
        if n_groups > EXACT_HARD_MAX:
            raise ShapError(
                f"shap_exact on {n_groups} players needs {cost} per example; group the inputs "
                f"(groups=...) into at most {EXACT_HARD_MAX} groups or use shap_permutation."
            )
        if max_evals is not None and max_evals < 2**n_groups:
            raise ShapError(f"shap_exact needs max_evals >= 2^{n_groups}, got {max_evals=}.")
        if max_evals is None and n_groups > EXACT_MAX_GROUPS:  # an explicit cost, explicitly
            raise ShapError(
                f"shap_exact on {n_groups} players needs {cost} per example; pass "
                f"max_evals={2**n_groups} to accept that cost, or use shap_permutation."
            )
        coalitions = f"all {2**n_groups} coalitions of {n_groups} players"
        return "shap_exact", 2**n_groups, f"exact Shapley values ({coalitions})"
    if budget < step:
        raise ShapError(
            f"shap_permutation needs max_evals >= 2*{n_groups}+1 = {step} (one antithetic "
            f"permutation), got {max_evals=}; raise it or use fewer groups."
        )
    evals = budget if max_evals is not None else budget // step * step
    perms = f"{evals // step} antithetic permutation(s) of {n_groups} players, {evals} evaluations"
    return "shap_permutation", evals, f"permutation SHAP ({perms}; exactly additive)"


def masked_values(
    predict: Callable[[torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    background: torch.Tensor,
    flat_groups: np.ndarray,
    method: str,
    evals: int,
    seed: int,
) -> np.ndarray:
    """``(n, G)`` SHAP values of the scalar ``predict`` ``(rows, *shape) -> (rows,)`` on ``X``."""
    shap = import_shap()
    shape, like = X.shape[1:], X

    def f(z: np.ndarray) -> np.ndarray:
        rows = torch.as_tensor(z, dtype=like.dtype, device=like.device).reshape(-1, *shape)
        return predict(rows).double().cpu().numpy()

    masker = GroupMasker(background.cpu().numpy(), flat_groups)
    batch = max(1, 4096 // len(background))  # masks per model call: about 4096 rows at a time
    if method == "shap_exact":
        explainer = shap.explainers.Exact(f, masker)
    else:
        explainer = shap.explainers.Permutation(f, masker, seed=seed)
    flat_x = X.reshape(len(X), -1).cpu().numpy()
    out = explainer(flat_x, max_evals=evals, batch_size=batch, silent=True)
    return np.asarray(out.values, dtype=np.float64).reshape(len(X), -1)
