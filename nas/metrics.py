"""Task metrics, computed by scikit-learn (never hand-written), returned as JSON-able values.

Classification metrics take the model's raw outputs, shape ``(N, C)``: logits by default
(``from_logits=True`` applies a softmax), or probabilities (``from_logits=False``). Hard labels
``(N,)`` are accepted too; then the probability metrics (``roc_auc``, ``log_loss``) are ``None``.

A metric that is undefined on the given data is ``None`` (JSON ``null``), never NaN and never an
exception: ``roc_auc`` when a class is absent from ``y_true`` (one-vs-rest needs positives and
negatives of every class), ``r2`` with fewer than two examples. ``precision``, ``recall`` and
``f1`` are macro averages over the classes present in ``y_true`` or the predictions;
``log_loss`` and ``confusion_matrix`` always use all ``n_classes`` classes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from nas.errors import DataError, NasError

MetricValue = float | list | None


class MetricInfo(NamedTuple):
    """What a metric applies to and which way is better."""

    task: str  # classification | regression
    direction: str  # maximize | minimize


METRICS: dict[str, MetricInfo] = {
    "accuracy": MetricInfo("classification", "maximize"),
    "balanced_accuracy": MetricInfo("classification", "maximize"),
    "precision": MetricInfo("classification", "maximize"),
    "recall": MetricInfo("classification", "maximize"),
    "f1": MetricInfo("classification", "maximize"),
    "roc_auc": MetricInfo("classification", "maximize"),
    "log_loss": MetricInfo("classification", "minimize"),
    "mae": MetricInfo("regression", "minimize"),
    "mse": MetricInfo("regression", "minimize"),
    "rmse": MetricInfo("regression", "minimize"),
    "r2": MetricInfo("regression", "maximize"),
}
_DEFAULTS = {"classification": "accuracy", "regression": "rmse"}


def metrics_for(task: str) -> list[str]:
    """The scalar metrics that can score (and be optimised on) a ``task``."""
    if task not in _DEFAULTS:
        raise NasError(f"Metrics exist for tasks {sorted(_DEFAULTS)}, got task {task!r}.")
    return [name for name, info in METRICS.items() if info.task == task]


def default_metric(task: str) -> str:
    """The metric a search optimises unless told otherwise: accuracy or rmse."""
    metrics_for(task)  # validates the task
    return _DEFAULTS[task]


def metric_direction(name: str) -> str:
    """``"maximize"`` or ``"minimize"`` for a metric name."""
    if name not in METRICS:
        raise NasError(f"Unknown metric {name!r}; known metrics: {sorted(METRICS)}.")
    return METRICS[name].direction


def check_metric(name: str, task: str) -> str:
    """Return ``name`` if it is a metric of ``task``; otherwise raise listing the valid ones."""
    valid = metrics_for(task)
    if name not in valid:
        raise NasError(f"Metric {name!r} is not a {task} metric; choose one of {valid}.")
    return name


# --- array handling -------------------------------------------------------------------------


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _finite_or_none(x: Any) -> float | None:
    value = float(x)
    return value if math.isfinite(value) else None


def _probabilities(scores: np.ndarray, from_logits: bool) -> np.ndarray:
    z = scores.astype(np.float64)
    if from_logits:
        z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)  # renormalise: sklearn checks rows sum to one


class _Cls(NamedTuple):
    y: np.ndarray  # true labels (N,)
    pred: np.ndarray  # predicted labels (N,)
    proba: np.ndarray | None  # (N, C) probabilities, None when only labels were given
    n_classes: int


def _classification_inputs(
    y_true: Any, y_pred: Any, n_classes: int | None, from_logits: bool
) -> _Cls:
    y = _to_numpy(y_true).reshape(-1).astype(np.int64)
    out = _to_numpy(y_pred)
    if out.ndim == 2:
        if n_classes is not None and out.shape[1] != n_classes:
            raise DataError(
                f"Scores have {out.shape[1]} columns but n_classes={n_classes}; "
                "pass one score column per class."
            )
        proba = _probabilities(out, from_logits)
        pred, n = proba.argmax(axis=1), out.shape[1]
    elif out.ndim == 1:
        proba, pred = None, out.astype(np.int64)
        top = int(max(y.max(initial=0), pred.max(initial=0))) + 1
        n = n_classes if n_classes is not None else top
    else:
        raise DataError(
            f"Classification outputs must be (N, C) scores or (N,) labels, got shape {out.shape}."
        )
    if len(pred) != len(y) or len(y) == 0:
        raise DataError(
            f"Got {len(y)} true labels and {len(pred)} predictions; "
            "they must be the same non-zero number."
        )
    return _Cls(y, pred, proba, n)


def _roc_auc(c: _Cls) -> float | None:
    present = np.unique(c.y)
    if c.proba is None or c.n_classes < 2 or len(present) < c.n_classes:
        return None  # undefined: every class needs positives and negatives in y_true
    if c.n_classes == 2:
        return float(skm.roc_auc_score(c.y, c.proba[:, 1]))
    labels = np.arange(c.n_classes)
    return float(skm.roc_auc_score(c.y, c.proba, multi_class="ovr", labels=labels))


def _log_loss(c: _Cls) -> float | None:
    if c.proba is None or c.n_classes < 2:
        return None
    return float(skm.log_loss(c.y, c.proba, labels=np.arange(c.n_classes)))


_CLASSIFICATION: dict[str, Callable[[_Cls], MetricValue]] = {
    "accuracy": lambda c: float(skm.accuracy_score(c.y, c.pred)),
    "balanced_accuracy": lambda c: float(skm.balanced_accuracy_score(c.y, c.pred)),
    "precision": lambda c: float(
        skm.precision_score(c.y, c.pred, average="macro", zero_division=0)
    ),
    "recall": lambda c: float(skm.recall_score(c.y, c.pred, average="macro", zero_division=0)),
    "f1": lambda c: float(skm.f1_score(c.y, c.pred, average="macro", zero_division=0)),
    "roc_auc": _roc_auc,
    "log_loss": _log_loss,
    "confusion_matrix": lambda c: skm.confusion_matrix(
        c.y, c.pred, labels=np.arange(c.n_classes)
    ).tolist(),
}

_REGRESSION: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "mae": skm.mean_absolute_error,
    "mse": skm.mean_squared_error,
    "rmse": skm.root_mean_squared_error,
    "r2": skm.r2_score,
}


def _regression_inputs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y, p = _to_numpy(y_true).astype(np.float64), _to_numpy(y_pred).astype(np.float64)
    if p.size != y.size or y.size == 0:
        raise DataError(
            f"Got targets of shape {y.shape} and predictions of shape {p.shape}; "
            "they must hold the same non-zero number of values."
        )
    return y, p.reshape(y.shape)


def _compute(
    task: str, names: list[str], y_true: Any, y_pred: Any, n_classes: int | None, from_logits: bool
) -> dict[str, MetricValue]:
    with warnings.catch_warnings():
        # Undefined cases are documented and mapped to None; sklearn's warnings add nothing.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        if task == "classification":
            c = _classification_inputs(y_true, y_pred, n_classes, from_logits)
            values = {name: _CLASSIFICATION[name](c) for name in names}
        else:
            y, p = _regression_inputs(y_true, y_pred)
            values = {name: _REGRESSION[name](y, p) for name in names}
            if y.ndim == 2 and y.shape[1] > 1:  # outputs in their own units: each one's scores
                values["per_output"] = [
                    {"output": j, **{n: _finite_or_none(_REGRESSION[n](y[:, j], p[:, j]))
                                     for n in names}}
                    for j in range(y.shape[1])
                ]  # fmt: skip
    return {
        k: v if isinstance(v, list) or v is None else _finite_or_none(v) for k, v in values.items()
    }


def compute_metrics(
    task: str, y_true: Any, y_pred: Any, n_classes: int | None = None, *, from_logits: bool = True
) -> dict[str, MetricValue]:
    """Every metric of ``task`` (classification adds ``confusion_matrix``), JSON-able.

    ``y_true``/``y_pred`` are numpy arrays or tensors. For classification ``y_pred`` is ``(N, C)``
    logits (or probabilities with ``from_logits=False``) or ``(N,)`` labels; ``n_classes``
    defaults to ``C`` (or to the largest label + 1). For regression both hold ``(N,)`` or
    ``(N, k)`` values; multi-output scores are averaged uniformly over the outputs (RMSE too:
    the mean of the outputs' RMSEs, not the root of the mean MSE), and ``per_output`` holds
    each output's own, in its own units.
    """
    names = metrics_for(task)
    if task == "classification":
        names = [*names, "confusion_matrix"]
    return _compute(task, names, y_true, y_pred, n_classes, from_logits)


def metric_value(
    name: str,
    task: str,
    y_true: Any,
    y_pred: Any,
    n_classes: int | None = None,
    *,
    from_logits: bool = True,
) -> float | None:
    """One scalar metric (cheaper than :func:`compute_metrics`; used once per epoch)."""
    check_metric(name, task)
    value = _compute(task, [name], y_true, y_pred, n_classes, from_logits)[name]
    return value if value is None else float(value)  # type: ignore[arg-type]


__all__ = [
    "METRICS",
    "MetricInfo",
    "check_metric",
    "compute_metrics",
    "default_metric",
    "metric_direction",
    "metric_value",
    "metrics_for",
]
