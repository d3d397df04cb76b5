"""Feature groups for the masking SHAP explainers (exact, permutation).

A grouping is an int array of one example's input shape mapping each element to a group id.
The masking explainers then play a game of G players, "group g present": a present group keeps
the example's values, an absent one takes the background's (every background row in turn, the
model outputs averaged: the interventional value function). Each group's Shapley value is spread
equally over its elements (a one-hot group's goes to the category the example has), so summing
an attribution over a group gives the group's value back (:func:`group_sums`), and every
element-level view stays additive.

This module is also the base the other ``shap_*`` modules share: :class:`ShapError`, a quiet
import of SHAP, the inputs and targets explained, the seeded background sample, batched
prediction, the NumPy seed SHAP draws from, and what one masked evaluation costs against the
budget (:func:`row_cost`, :func:`fit_budget`: how many windows and background rows it affords).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from search_spaces.blocks import capabilities_of
from search_spaces.errors import NasError

# The budget is in FLOP-equivalents of a dense layer on one CPU thread (about 50 GFLOP/s there)
FLOP_BUDGET = 2.5e9  # per explained example: about 0.05 s of dense work
ROW_OVERHEAD = 2.5e4  # charged per model row besides its FLOPs: masking and SHAP's bookkeeping
SLOW_FACTOR = 5  # recurrent cells and attention run at 5-16 GFLOP/s on a CPU, not 50 (measured)
UNKNOWN_ROW_COST = 1e5 + ROW_OVERHEAD  # a plain predict function, whose FLOPs cannot be counted
MIN_BACKGROUND = 10  # a costly model gets fewer background rows first, but not fewer than this
FEWEST_WINDOWS = 4  # ... and coarser windows / patches (for one permutation), not fewer than this
MAX_WINDOWS = 16  # default windows / patches of a sequence / image (fewer for a costly model)


class ShapError(NasError, ValueError):
    """A SHAP request that cannot be honoured: bad groups, an unsupported explainer."""


def import_shap() -> ModuleType:
    """``import shap`` (slow: imported where used), without the PendingDeprecationWarnings its
    plotting colours raise against new Matplotlib (harmless, and nothing here plots)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap
    return shap


def as_tensor(a: Any, like: torch.Tensor | None) -> torch.Tensor:
    """``a`` as a tensor in the model's dtype and device (a plain function: as given, floats)."""
    t = a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    if like is None:
        return t if t.is_floating_point() else t.float()
    return t.to(dtype=like.dtype, device=like.device)


def explained_targets(targets: Any, out: torch.Tensor, task: str | None) -> np.ndarray:
    """The output explained per example: ``targets`` checked against the output width, or the
    predicted class (classification), or output 0 (regression)."""
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


def predict_rows(model: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """``model(X)`` as ``(N, outputs)``, without autograd, 4096 rows at a time."""
    with torch.inference_mode():
        out = torch.cat([model(X[i : i + 4096]) for i in range(0, len(X), 4096)])
    return out[:, None] if out.dim() == 1 else out


def pick_rows(background: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """At most ``n`` background rows: a seeded sample without replacement, in original order."""
    if len(background) <= n:
        return background
    idx = np.sort(np.random.default_rng(seed).choice(len(background), n, replace=False))
    return background[torch.as_tensor(idx)]


@contextmanager
def numpy_seed(seed: int) -> Iterator[None]:
    """SHAP's explainers draw from (and reseed) NumPy's global RNG; the caller's stream is kept."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def time_window_groups(steps: int, features: int, window: int) -> np.ndarray:
    """``(T, F)`` ids: step ``t`` (all its features) is in group ``t // window``."""
    _positive(steps=steps, features=features, window=window)
    ids = np.arange(steps) // window
    return np.repeat(ids[:, None], features, axis=1)


def patch_groups(channels: int, height: int, width: int, patch: int) -> np.ndarray:
    """``(C, H, W)`` ids: one group per ``patch x patch`` square (all channels), row-major.

    Edge patches are smaller when ``patch`` does not divide the image side.
    """
    _positive(channels=channels, height=height, width=width, patch=patch)
    cols = math.ceil(width / patch)
    rows = np.arange(height)[:, None] // patch
    ids = rows * cols + np.arange(width)[None, :] // patch
    return np.repeat(ids[None], channels, axis=0)


def one_hot_groups(feature_names: Sequence[str]) -> np.ndarray:
    """``(F,)`` ids: names ``"col=value"`` of one column share a group; others stand alone.

    Ids follow the order of first appearance, so ``["a", "c=x", "c=y", "b"]`` -> ``[0, 1, 1, 2]``.
    """
    ids: dict[str, int] = {}
    out = []
    for i, name in enumerate(feature_names):
        key = name.split("=", 1)[0] + "=" if "=" in name else f"\0{i}"  # plain names never merge
        out.append(ids.setdefault(key, len(ids)))
    return np.asarray(out, dtype=np.int64)


def looks_one_hot(feature_names: Sequence[str]) -> bool:
    """True when some column was one-hot encoded into several ``"col=value"`` features."""
    ids = one_hot_groups(feature_names)
    return len(feature_names) > 0 and int(ids.max()) + 1 < len(feature_names)


def default_groups(input_shape: Sequence[int], max_groups: int = 16) -> np.ndarray | None:
    """Time windows (sequence ``(T, F)``) or square patches (image ``(C, H, W)``) giving at most
    ``max_groups`` groups with the smallest window / patch; None for tabular ``(F,)`` inputs."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 2:
        t, f = shape
        return time_window_groups(t, f, math.ceil(t / max_groups))
    if len(shape) == 3:
        c, h, w = shape
        p = next(
            p for p in range(1, max(h, w) + 1) if math.ceil(h / p) * math.ceil(w / p) <= max_groups
        )
        return patch_groups(c, h, w, p)
    return None


def check_groups(groups: np.ndarray | Sequence[int], input_shape: Sequence[int]) -> np.ndarray:
    """Flat ``(D,)`` group ids renumbered 0..G-1 in order of first appearance; raises ShapError
    when the array does not have one example's shape or holds non-integer / negative ids."""
    arr = np.asarray(groups)
    shape = tuple(int(d) for d in input_shape)
    if arr.shape != shape:
        raise ShapError(
            f"groups must have one example's shape {shape}, got {arr.shape}; build them with "
            "time_window_groups, patch_groups or one_hot_groups."
        )
    if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0):
        raise ShapError(f"groups must hold non-negative integer ids, got dtype {arr.dtype}.")
    flat = arr.reshape(-1)
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # rank of each id by its first appearance
    return order[inverse].astype(np.int64)


def resolve_groups(
    groups: np.ndarray | Sequence[int] | None,
    feature_names: Sequence[str] | None,
    input_shape: Sequence[int],
) -> tuple[np.ndarray | None, str]:
    """Flat group ids (or None: one player per element) and how they were made: given, or
    one-hot columns. Default windows / patches are the masking explainers' choice, by cost."""
    shape = tuple(int(d) for d in input_shape)
    if groups is not None:
        return check_groups(groups, shape), "given groups"
    if feature_names is not None and len(shape) == 1 and looks_one_hot(feature_names):
        return check_groups(one_hot_groups(feature_names), shape), ONE_HOT
    return None, ""


ONE_HOT = "one-hot columns"  # resolve_groups' word for groups of one column's categories


def spread_group_values(
    group_values: np.ndarray,
    flat_groups: np.ndarray,
    input_shape: Sequence[int],
    present: np.ndarray | None = None,
) -> np.ndarray:
    """``(N, G)`` group values -> ``(N, *input_shape)``: each element gets value / group size;
    with ``present`` (``(N, D)``: an example's one-hot inputs), a one-hot group's value goes to
    the category the example has (its column is 1), since "city = Paris" is what the player
    stood for; a row with none of its group's categories (unseen) spreads it evenly. Either way
    the group's elements sum to its value."""
    sizes = np.bincount(flat_groups, minlength=group_values.shape[1])
    per_element = group_values[:, flat_groups] / sizes[flat_groups]
    if present is not None:
        on = np.asarray(present, dtype=np.float64).reshape(len(group_values), -1) == 1.0
        on = on & (sizes[flat_groups] > 1)[None, :]  # plain features keep their own value
        count = sum_by_group(on.astype(np.float64), flat_groups)[:, flat_groups]
        share = np.where(count == 1, on, 0.0)  # exactly one category of the group is on
        onto = np.where(share.astype(bool), group_values[:, flat_groups], 0.0)
        per_element = np.where(count == 1, onto, per_element)
    return per_element.reshape(len(group_values), *input_shape)


def sum_by_group(flat_values: np.ndarray, flat_groups: np.ndarray) -> np.ndarray:
    """``(N, D)`` element values -> ``(N, G)`` sums per group (float64)."""
    out = np.zeros((len(flat_values), int(flat_groups.max()) + 1), dtype=np.float64)
    np.add.at(out.T, flat_groups, flat_values.T.astype(np.float64))
    return out


def group_sums(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``(N, *shape)`` attributions -> ``(N, G)`` sums per group (the group's SHAP value)."""
    flat = check_groups(groups, values.shape[1:])
    return sum_by_group(values.reshape(len(values), -1), flat)


def describe_groups(flat_groups: np.ndarray, input_shape: Sequence[int], how: str) -> str:
    """One line: how the groups were made and their sizes."""
    sizes = np.bincount(flat_groups)
    size = f"{sizes.min()}" if sizes.min() == sizes.max() else f"{sizes.min()}-{sizes.max()}"
    return f"{how}: {len(sizes)} groups of {size} elements over {tuple(input_shape)}"


# --- what a masked evaluation costs ------------------------------------------------------


@dataclass(frozen=True)
class RowCost:
    """What one model row costs: its counted FLOPs, and the FLOP-equivalents the budget charges
    (recurrent / attention work weighted by :data:`SLOW_FACTOR`, plus :data:`ROW_OVERHEAD`)."""

    flops: float | None  # None: not countable (a plain predict function)
    charged: float


def row_cost(model: nn.Module | None, example: torch.Tensor) -> RowCost:
    """The model's matmul / conv FLOPs on one row (torch's FlopCounterMode), counted with the
    fused kernels off: the counter cannot see inside oneDNN's LSTM, the Transformer fast path or
    flash attention, which would count as free. A deterministic cost, unlike a timing."""
    if model is None:
        return RowCost(None, UNKNOWN_ROW_COST)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # oneDNN's flags warn about TF32 on Intel GPUs
            with (
                torch.backends.mkldnn.flags(enabled=False),
                sdpa_kernel(SDPBackend.MATH),
                torch.no_grad(),
                FlopCounterMode(display=False) as counter,
            ):
                model(example[:1])
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
    flops = float(counter.get_total_flops())
    slow = any(capabilities_of(m).opaque for m in model.modules())
    return RowCost(flops, flops * (SLOW_FACTOR if slow else 1) + ROW_OVERHEAD)


def fit_budget(
    charged: float, players: int, background: int, fewest: int | None
) -> tuple[int, int]:
    """``(players, background rows)`` for which one antithetic permutation fits the budget:
    first fewer players (windows / patches, down to ``fewest``; None: the players are fixed),
    then fewer background rows (down to :data:`MIN_BACKGROUND`)."""
    if fewest is not None:
        evals = FLOP_BUDGET / (charged * background)
        players = int(min(players, max(fewest, (evals - 1) // 2)))
    rows = FLOP_BUDGET / (charged * (2 * players + 1))
    return players, int(min(background, max(MIN_BACKGROUND, rows)))


def masked_inputs(
    shape: tuple[int, ...],
    flat: np.ndarray | None,
    how: str,
    background: int,
    charged: float,
    free_players: bool,
    free_rows: bool,
) -> tuple[np.ndarray | None, str, int]:
    """``(groups, how, background rows)`` for the masking explainers: default windows / patches
    for a sequence / image of more than 16 elements (at most :data:`MAX_WINDOWS`, fewer for a
    model too costly for one permutation when ``free_players``), then fewer background rows if
    still too costly and ``free_rows``."""
    if flat is None and len(shape) > 1 and math.prod(shape) > 16:
        most = MAX_WINDOWS
        if free_players:
            most = fit_budget(charged, MAX_WINDOWS, background, FEWEST_WINDOWS)[0]
        flat = check_groups(default_groups(shape, most), shape)
        how = f"default windows / patches (at most {most})"
    players = int(flat.max()) + 1 if flat is not None else math.prod(shape)
    if free_rows:
        background = fit_budget(charged, players, background, None)[1]
    return flat, how, background


def _positive(**values: int) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ShapError(f"{name} must be a positive integer, got {name}={v!r}.")
