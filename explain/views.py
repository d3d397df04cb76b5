"""Views of attributions as plain data: global importance (overall and per class) and the
examples worth showing (correct, misclassified, most confident, most uncertain).

Pure functions of arrays, so a report draws them and a test checks them without rendering.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from explain.types import Attribution

# How one example's attributions reduce to the unit a reader ranks: per modality (by rank).
_UNIT = {1: "feature", 2: "step", 3: "pixel"}


def reduce_to_units(values: np.ndarray) -> np.ndarray:
    """(N, *input_shape) -> (N, *units): tabular per feature, sequences per time step (summed
    over features), images per pixel (summed over channels)."""
    per = values.ndim - 1
    if per == 1:
        return values
    if per == 2:
        return values.sum(axis=2)
    if per == 3:
        return values.sum(axis=1)
    raise ValueError(f"attributions must be (N, F), (N, T, F) or (N, C, H, W); got {values.shape}")


def global_importance(
    attr: Attribution, y: np.ndarray | torch.Tensor | None = None, n_classes: int | None = None
) -> dict[str, Any]:
    """Mean |attribution| per input element, overall and per class, plus the per-unit view.

    Classes are the explained targets (``attr.targets``); with ``y`` the true labels are used
    instead, so "what the model looks at for real class k" can be read. ``n_classes`` adds empty
    classes (count 0, zeros) so every class has an entry. ``ranking`` orders the units
    (features / steps / pixels, flattened) from most to least important.
    """
    a = np.abs(np.asarray(attr.values, dtype=np.float64))
    if a.ndim < 2 or len(a) == 0:
        raise ValueError(f"attributions must be a non-empty batch, got shape {a.shape}.")
    labels = np.asarray(attr.targets if y is None else _numpy(y)).astype(int).reshape(-1)
    if len(labels) != len(a):
        raise ValueError(f"got {len(labels)} labels for {len(a)} attributed examples.")
    k = max(int(labels.max()) + 1, n_classes or 0)
    units = reduce_to_units(a)
    overall_units = units.mean(axis=0)
    per_class, per_class_units, counts = {}, {}, {}
    for c in range(k):
        rows = labels == c
        counts[c] = int(rows.sum())
        per_class[c] = a[rows].mean(axis=0) if rows.any() else np.zeros(a.shape[1:])
        per_class_units[c] = units[rows].mean(axis=0) if rows.any() else np.zeros(units.shape[1:])
    return {
        "method": attr.method,
        "by": "explained target" if y is None else "true label",
        "unit": _UNIT[a.ndim - 1],
        "overall": a.mean(axis=0),
        "per_class": per_class,
        "counts": counts,
        "units": {"overall": overall_units, "per_class": per_class_units},
        "ranking": np.argsort(-overall_units.reshape(-1), kind="stable"),
    }


def to_jsonable(obj: Any) -> Any:
    """Arrays to (nested) lists, numpy scalars to Python, dict keys to str: ready for json."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return _numpy(obj).tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _predict(model: nn.Module, X: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    was_training = model.training
    p0 = next(model.parameters(), None)
    X = X.to(p0.device, p0.dtype) if p0 is not None else X
    try:
        model.eval()
        with torch.no_grad():
            out = [model(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out).double().cpu().numpy()


def _first(order: np.ndarray, n: int) -> list[int]:
    return [int(i) for i in order[:n]]


def _round_robin(idx: np.ndarray, groups: np.ndarray, n: int) -> list[int]:
    """Up to n of ``idx``, taking the lowest index of each group in turn (every class shows)."""
    queues = [list(idx[groups[idx] == g]) for g in np.unique(groups[idx])]
    out: list[int] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(int(q.pop(0)))
    return out


def select_samples(
    model: nn.Module,
    X: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    task: str,
    n: int = 8,
) -> dict[str, list[int]]:
    """Indices of test examples worth explaining, deterministic (ties go to the lower index).

    Classification: ``correct`` (round-robin over true classes), ``misclassified`` (most
    confident mistakes first), ``confident`` (highest top probability), ``uncertain``
    (smallest margin between the top two probabilities). Regression: ``low_error`` and
    ``high_error`` (mean absolute error over outputs). The names are the report's categories.
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}.")
    out = _predict(model, torch.as_tensor(X))
    y_np = _numpy(y)
    if task == "regression":
        err = np.abs(out - y_np.reshape(len(out), -1)).mean(axis=1)
        return {
            "low_error": _first(np.argsort(err, kind="stable"), n),
            "high_error": _first(np.argsort(-err, kind="stable"), n),
        }
    if out.shape[1] == 1:  # one logit: sigmoid of the positive class
        p1 = 1.0 / (1.0 + np.exp(-out[:, 0]))
        probs = np.stack([1.0 - p1, p1], axis=1)
    else:
        z = out - out.max(axis=1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    labels = y_np.astype(int).reshape(-1)
    pred = probs.argmax(axis=1)
    top2 = np.sort(probs, axis=1)[:, -2:]
    conf, margin = top2[:, 1], top2[:, 1] - top2[:, 0]
    right = np.flatnonzero(pred == labels)
    wrong = np.flatnonzero(pred != labels)
    return {
        "correct": _round_robin(right, labels, n),
        "misclassified": _first(wrong[np.argsort(-conf[wrong], kind="stable")], n),
        "confident": _first(np.argsort(-conf, kind="stable"), n),
        "uncertain": _first(np.argsort(margin, kind="stable"), n),
    }
