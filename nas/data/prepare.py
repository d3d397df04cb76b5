"""Steps every loader shares: task checks, label encoding, deterministic splits, scaling fitted on
train only, and assembling the tensors into a :class:`TaskData`."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from nas.data.split import Indices, check_split_args, split_indices, split_record
from nas.data.taskdata import Split, TaskData
from nas.data.transform import ArrayTransform, label_name, mean_std
from nas.errors import DataError

LOADABLE_TASKS = ("classification", "regression")
# A numeric target with this many distinct integer values or fewer reads as class labels.
MAX_INFERRED_CLASSES = 20
TASK_RULE = (
    "classification if the target is non-numeric or boolean, or numeric with only integer "
    f"values, at most {MAX_INFERRED_CLASSES} distinct values and fewer distinct values than half "
    "the rows; otherwise regression"
)
# Axes that share one mean/std: per feature (tabular, sequence) or per channel (image).


def did_you_mean(value: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string.

    Compared case-blind, as ``--space`` is: 'IRIS' and 'iris' share no letter to difflib.
    """
    folded: dict[str, str] = {}
    for choice in choices:
        folded.setdefault(str(choice).casefold(), str(choice))
    close = difflib.get_close_matches(value.casefold(), list(folded), n=1)
    return f" (did you mean {folded[close[0]]!r}?)" if close else ""


def check_task(task: str | None) -> str | None:
    """``task`` itself if it is one a loader can produce (or None); else a DataError."""
    if task is None or task in LOADABLE_TASKS:
        return task
    raise DataError(
        f"Unknown task {task!r}{did_you_mean(str(task), LOADABLE_TASKS)}; "
        f"use one of: {', '.join(LOADABLE_TASKS)} (or leave it out to infer it from the target)."
    )


def infer_task(values: np.ndarray) -> str:
    """The task a target column implies; the rule is :data:`TASK_RULE`."""
    values = np.asarray(values)
    if values.dtype.kind not in "iuf":  # text, booleans, mixed objects: labels
        return "classification"
    finite = values[np.isfinite(values)]
    distinct = np.unique(finite)
    integral = bool(np.all(distinct == np.round(distinct)))
    few = len(distinct) <= MAX_INFERRED_CLASSES and len(distinct) < max(len(values) / 2, 3)
    return "classification" if integral and few else "regression"


# Fewer rows cannot be split into train / val / test at all.
MIN_ROWS = 3


def check_enough_rows(n: int, what: str) -> None:
    """A DataError when ``n`` rows are too few to split (``what`` says which data, e.g.
    ``"x.csv has 1 data row(s)"``), before a single row is blamed for being a single class."""
    if n < MIN_ROWS:
        raise DataError(
            f"{what}; a train/val/test split needs at least {MIN_ROWS} rows, and many more "
            "to learn anything: add rows."
        )


def task_note(inferred: str, values: np.ndarray, target: str) -> str:
    """The note that says which task was inferred from a target, and how to choose the other."""
    values = np.asarray(values)
    kept = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    distinct = len(np.unique(kept.astype(str) if kept.dtype.kind == "O" else kept))
    other = "regression" if inferred == "classification" else "classification"
    return (
        f"task: {inferred}, inferred from target {target} ({distinct} distinct values); "
        f"pass task={other!r} (--task {other}) for {other}."
    )


def encode_labels(values: np.ndarray, target_name: str) -> tuple[np.ndarray, list[str]]:
    """Class indices ``0..K-1`` (int64) and the original labels as strings, sorted.

    Numeric labels sort by value, text labels alphabetically. A single class is a DataError.
    """
    values = np.asarray(values)
    if values.dtype.kind not in "iufb":
        values = values.astype(str)
    classes, indices = np.unique(values, return_inverse=True)
    names = [label_name(c) for c in classes]
    if len(classes) < 2:
        raise DataError(
            f"Target {target_name!r} has a single class ({names[0]!r}) in all {len(values)} "
            "rows: there is nothing to predict, as classes or as a number. Choose another "
            "target."
        )
    return indices.astype(np.int64).reshape(-1), names


def standardize_inputs(
    X: np.ndarray, train: np.ndarray, modality: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """``X`` standardized with the mean/std of the ``train`` rows, per feature or per channel
    (:class:`~nas.data.transform.ArrayTransform`, which ``nas predict`` rebuilds)."""
    transform = ArrayTransform.fit(X, train, modality)
    scaled = transform.apply_finite(X, "the inputs")  # a value the training rows hold nothing near
    record = {
        "method": "standardize",
        "fitted_on": "train",
        "per": "channel" if modality == "image" else "feature",
        "mean": transform.mean,
        "std": transform.std,
    }
    return scaled, record


def standardize_targets(y: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Regression targets ``(N, k)`` standardized with train statistics; records ``y_mean`` and
    ``y_std`` (undo with :meth:`TaskData.inverse_target`)."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    mean, std = mean_std(y[train], 0)
    scaled = ((y - mean) / std).astype(np.float32)
    return scaled, {"y_mean": [float(v) for v in mean], "y_std": [float(v) for v in std]}


def assemble(
    *,
    name: str,
    task: str,
    modality: str,
    X: np.ndarray,
    y: np.ndarray,
    indices: Indices,
    feature_names: Sequence[str],
    class_names: Sequence[str] = (),
    target_name: str = "target",
    preprocessing: dict[str, Any] | None = None,
    seed: int = 0,
    y_units: np.ndarray | None = None,
) -> TaskData:
    """Slice prepared arrays into the three splits as tensors (X float32; y int64 or float32);
    a regression's targets as read (``y_units``, before standardization) go with each split."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if task == "classification":
        y = np.asarray(y, dtype=np.int64).reshape(-1)
        output_size = len(class_names)
        y_units = None
    else:
        y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        output_size = int(y.shape[1])
        if y_units is not None:
            y_units = np.asarray(y_units, dtype=np.float64).reshape(y.shape)

    def part(idx: np.ndarray) -> Split:
        units = None if y_units is None else y_units[idx].copy()
        return Split(X=torch.from_numpy(X[idx].copy()), y=torch.from_numpy(y[idx].copy()),
                     y_units=units, rows=np.asarray(idx, dtype=np.int64).copy())  # fmt: skip

    train, val, test = indices
    return TaskData(
        name=name,
        task=task,
        modality=modality,
        input_shape=tuple(int(d) for d in X.shape[1:]),
        output_size=output_size,
        train=part(train),
        val=part(val),
        test=part(test),
        feature_names=list(feature_names),
        class_names=list(class_names) if task == "classification" else [],
        target_name=target_name,
        preprocessing=dict(preprocessing or {}),
        seed=int(seed),
    )


def from_arrays(
    X: np.ndarray,
    y: np.ndarray,
    *,
    name: str,
    task: str,
    modality: str,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    feature_names: Sequence[str],
    class_names: Sequence[str] = (),
    target_name: str = "target",
    preprocessing: dict[str, Any] | None = None,
    input_divisor: float | None = None,
    test_index: np.ndarray | None = None,
) -> TaskData:
    """Split numeric arrays and fit the scaling on train: the path of built-ins and NPZ files.

    ``y`` holds class indices for classification (``class_names`` gives their labels) and
    values for regression. Inputs are standardized unless ``input_divisor`` fixes a scale.
    """
    check_split_args(seed, val_fraction, test_fraction)
    labels = y if task == "classification" else None
    indices = split_indices(
        len(X),
        labels,
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        class_names=class_names,
        test_index=test_index,
    )
    prep: dict[str, Any] = dict(preprocessing or {})
    prep["split"] = split_record(indices, seed, stratified=labels is not None)
    if input_divisor is not None:
        X = ArrayTransform(modality, divisor=float(input_divisor)).apply(X)
        prep["inputs"] = {"method": "scale", "divisor": float(input_divisor), "fitted_on": None}
    else:
        X, prep["inputs"] = standardize_inputs(np.asarray(X), indices[0], modality)
    y_units = None
    if task == "regression":
        y_units = np.asarray(y, dtype=np.float64)
        y, target_record = standardize_targets(y, indices[0])
        prep.update(target_record)
    return assemble(
        name=name,
        task=task,
        modality=modality,
        X=X,
        y=y,
        indices=indices,
        feature_names=feature_names,
        class_names=class_names,
        target_name=target_name,
        preprocessing=prep,
        seed=seed,
        y_units=y_units,
    )
