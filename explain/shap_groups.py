"""Feature groups for the masking SHAP explainers (exact, permutation).

A grouping is an int array of one example's input shape mapping each element to a group id.
The masking explainers then play a game of G players, "group g present": a present group keeps
the example's values, an absent one takes the background's (every background row in turn, the
model outputs averaged: the interventional value function). Each group's Shapley value is spread
equally over its elements, so summing an attribution over a group gives the group's value back
(:func:`group_sums`), and every element-level view stays additive.

This module is also the base the other ``shap_*`` modules share: :class:`ShapError` and a quiet
import of SHAP.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from types import ModuleType

import numpy as np

from search_spaces.errors import NasError


class ShapError(NasError, ValueError):
    """A SHAP request that cannot be honoured: bad groups, an unsupported explainer."""


def import_shap() -> ModuleType:
    """``import shap`` (slow: imported where used), without the PendingDeprecationWarnings its
    plotting colours raise against new Matplotlib (harmless, and nothing here plots)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap
    return shap


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
    masked: bool,
) -> tuple[np.ndarray | None, str]:
    """Flat group ids (or None: one player per element) and how they were made: given, one-hot
    columns, or, for the masking explainers on a sequence / image of more than 16 elements,
    :func:`default_groups`."""
    shape = tuple(int(d) for d in input_shape)
    if groups is not None:
        return check_groups(groups, shape), "given groups"
    if feature_names is not None and len(shape) == 1 and looks_one_hot(feature_names):
        return check_groups(one_hot_groups(feature_names), shape), "one-hot columns"
    if masked and len(shape) > 1 and math.prod(shape) > 16:
        return check_groups(default_groups(shape), shape), "default windows / patches"
    return None, ""


def spread_group_values(
    group_values: np.ndarray, flat_groups: np.ndarray, input_shape: Sequence[int]
) -> np.ndarray:
    """``(N, G)`` group values -> ``(N, *input_shape)``: each element gets value / group size."""
    sizes = np.bincount(flat_groups, minlength=group_values.shape[1])
    per_element = group_values[:, flat_groups] / sizes[flat_groups]
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


def _positive(**values: int) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ShapError(f"{name} must be a positive integer, got {name}={v!r}.")
