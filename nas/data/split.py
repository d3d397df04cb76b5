"""Deterministic train / val / test splits from a seed, stratified for classification, with
errors that say how much data a split needs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nas.errors import DataError

Indices = tuple[np.ndarray, np.ndarray, np.ndarray]


def check_split_args(seed: int, val_fraction: float, test_fraction: float) -> None:
    """DataError unless the seed is a usable integer and the fractions leave room for training."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise DataError(f"The seed must be an integer in [0, 2**32), but got seed={seed!r}.")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, int | float) or not 0.0 < value < 1.0:
            raise DataError(f"{name} must be a number in (0, 1), but got {name}={value!r}.")
    if val_fraction + test_fraction >= 1.0:
        raise DataError(
            f"val_fraction + test_fraction must be below 1 to leave training data, but got "
            f"{val_fraction} + {test_fraction}; lower one of them."
        )


def split_indices(
    n: int,
    labels: np.ndarray | None,
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    class_names: Sequence[str] = (),
    test_index: np.ndarray | None = None,
) -> Indices:
    """Deterministic train / val / test row indices from ``seed``, stratified when ``labels``.

    ``test_index`` keeps a dataset's canonical test rows as test; val then takes
    ``round(val_fraction * n)`` of the other rows.
    """
    from sklearn.model_selection import train_test_split  # slow to import; needed only here

    rows = np.arange(n)
    canonical = None if test_index is None else np.sort(np.asarray(test_index))
    if canonical is not None:
        n_test = len(canonical)
        n_val = max(1, round(val_fraction * n))
    else:
        n_test = math.ceil(test_fraction * n)
        n_val = math.ceil(val_fraction / (1 - test_fraction) * (n - n_test))
    sizes = {"train": n - n_val - n_test, "val": n_val, "test": n_test}
    shares = {"train": 1 - val_fraction - test_fraction, "val": val_fraction, "test": test_fraction}
    _check_split_sizes(sizes, labels, class_names, shares)
    try:
        if canonical is None:
            rest, test = train_test_split(
                rows, test_size=n_test, random_state=seed, stratify=labels
            )
        else:
            rest, test = np.setdiff1d(rows, canonical), canonical
        train, val = train_test_split(
            rest,
            test_size=n_val,
            random_state=seed,
            stratify=None if labels is None else labels[rest],
        )
    except ValueError as err:  # sklearn's own limits, should the checks above miss one
        raise DataError(
            f"Cannot split {n} rows into train/val/test: {err} Add data or change the fractions."
        ) from err
    return np.sort(train), np.sort(val), np.sort(test)


def _check_split_sizes(
    sizes: dict[str, int],
    labels: np.ndarray | None,
    class_names: Sequence[str],
    shares: dict[str, float],
) -> None:
    n = sum(sizes.values())
    if min(sizes.values()) < 1:
        raise DataError(
            f"{n} rows are too few for a train/val/test split ({sizes}); at least 3 are needed, "
            "and more to learn anything: add data."
        )
    if labels is None:
        return
    counts = np.bincount(labels, minlength=len(class_names))
    rare = int(np.argmin(counts))
    if counts[rare] < 3:
        name = class_names[rare] if rare < len(class_names) else str(rare)
        raise DataError(
            f"Class {name!r} has only {counts[rare]} example(s); a stratified train/val/test split "
            "needs at least 3 per class. Add examples of it, or drop or merge the rare classes."
        )
    k = int(np.count_nonzero(counts))
    for part, size in sizes.items():
        if size < k:
            raise DataError(
                f"The {part} split would hold {size} rows for {k} classes; stratified splitting "
                f"needs at least one row per class. Add data (the {part} split takes "
                f"{shares[part]:.0%} of the rows: about {math.ceil(k / shares[part])} rows in "
                "all), or merge rare classes."
            )


def split_record(indices: Indices, seed: int, *, stratified: bool) -> dict[str, Any]:
    """How the rows were split, for ``preprocessing['split']``."""
    train, val, test = indices
    return {
        "method": "stratified train_test_split" if stratified else "shuffled train_test_split",
        "seed": int(seed),
        "sizes": {"train": len(train), "val": len(val), "test": len(test)},
    }
