"""nas.metrics: known small answers, missing classes, input forms, the direction table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from nas.errors import DataError, NasError
from nas.metrics import (
    METRICS,
    check_metric,
    compute_metrics,
    default_metric,
    metric_direction,
    metric_value,
    metrics_for,
)


def one_hot_logits(labels: list[int], n_classes: int, scale: float = 5.0) -> np.ndarray:
    """Logits whose argmax is ``labels``."""
    return np.eye(n_classes)[labels] * scale


def test_label_metrics_known_answers() -> None:
    y_true = np.array([0, 0, 1, 1])
    y_pred = one_hot_logits([0, 1, 1, 1], 2)
    m = compute_metrics("classification", y_true, y_pred)
    assert m["accuracy"] == pytest.approx(0.75)
    # class 0: precision 1, recall 1/2; class 1: precision 2/3, recall 1
    assert m["precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["recall"] == pytest.approx((0.5 + 1) / 2)
    assert m["f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert m["balanced_accuracy"] == pytest.approx(0.75)
    assert m["confusion_matrix"] == [[1, 1], [0, 2]]


def test_confusion_matrix_by_hand_three_classes() -> None:
    y_true = [0, 1, 2, 2, 1, 0]
    y_pred = [0, 2, 2, 1, 1, 0]
    m = compute_metrics("classification", np.array(y_true), one_hot_logits(y_pred, 3))
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)


def test_log_loss_applies_softmax_to_logits() -> None:
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
    y_true = np.array([0, 1])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[[0, 1], y_true]))
    m = compute_metrics("classification", y_true, logits)
    assert m["log_loss"] == pytest.approx(expected)
    m_prob = compute_metrics("classification", y_true, p, from_logits=False)
    assert m_prob["log_loss"] == pytest.approx(expected)


def test_roc_auc_binary_known_answer() -> None:
    # the textbook example: positive scores 0.35, 0.8 vs negative 0.1, 0.4 -> 3 of 4 pairs right
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    m = compute_metrics("classification", np.array([0, 0, 1, 1]), proba, from_logits=False)
    assert m["roc_auc"] == pytest.approx(0.75)


def test_roc_auc_multiclass_one_vs_rest() -> None:
    y_true = np.array([0, 1, 2, 0, 1, 2])
    assert compute_metrics("classification", y_true, one_hot_logits(list(y_true), 3))[
        "roc_auc"
    ] == pytest.approx(1.0)
    proba = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.1, 0.3, 0.6],
            [0.1, 0.5, 0.4],
            [0.7, 0.2, 0.1],
            [0.25, 0.15, 0.6],
            [0.3, 0.4, 0.3],
        ]
    )
    # one-vs-rest pairs ranked right: class 0 4/4 + 4/4, class 1 2/4 + 1/4, class 2 2/4 + 2/4
    expected = (1.0 + 3 / 8 + 4 / 8) / 3
    m = compute_metrics("classification", y_true, proba, from_logits=False)
    assert m["roc_auc"] == pytest.approx(expected)


def test_missing_class_gives_none_not_crash() -> None:
    y_true = np.array([0, 1, 1, 0])  # class 2 never occurs
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 1.0, 0.5], [1.0, 0.0, 0.0]])
    m = compute_metrics("classification", y_true, logits, n_classes=3)
    assert m["roc_auc"] is None
    assert m["log_loss"] is not None and math.isfinite(m["log_loss"])
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 0]]
    single = compute_metrics("classification", np.array([1, 1]), one_hot_logits([1, 0], 2))
    assert single["roc_auc"] is None
    assert single["accuracy"] == pytest.approx(0.5)


def test_hard_labels_and_tensors_accepted() -> None:
    y_true = torch.tensor([0, 1, 1, 0])
    m = compute_metrics("classification", y_true, torch.tensor([0, 1, 0, 0]), n_classes=2)
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["roc_auc"] is None and m["log_loss"] is None
    from_tensor = compute_metrics(
        "classification", y_true, torch.tensor(one_hot_logits([0, 1, 0, 0], 2))
    )
    assert from_tensor["accuracy"] == pytest.approx(0.75)


def test_outputs_are_json_able() -> None:
    m = compute_metrics("classification", np.array([0, 1, 1]), one_hot_logits([0, 1, 1], 3))
    json.dumps(m, allow_nan=False)
    assert all(isinstance(v, (float, list)) or v is None for v in m.values())
    r = compute_metrics("regression", np.array([1.0]), np.array([1.0]))
    assert r["r2"] is None  # undefined on one example
    json.dumps(r, allow_nan=False)


def test_regression_known_answers() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    perfect = compute_metrics("regression", y, y.copy())
    assert perfect == {"mae": 0.0, "mse": 0.0, "rmse": 0.0, "r2": 1.0}
    m = compute_metrics("regression", y, np.array([1.0, 2.0, 3.0, 6.0]))
    assert m["mae"] == pytest.approx(0.5)
    assert m["mse"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(1.0)
    assert m["r2"] == pytest.approx(1 - 4 / 5)  # SS_res = 4, SS_tot = 5


def test_regression_shapes_and_multi_output() -> None:
    y = torch.tensor([[1.0], [2.0], [3.0]])
    assert compute_metrics("regression", y, torch.tensor([1.0, 2.0, 5.0]))["rmse"] == (
        pytest.approx(math.sqrt(4 / 3))
    )
    y2 = np.array([[0.0, 0.0], [2.0, 2.0]])
    p2 = np.array([[0.0, 1.0], [2.0, 3.0]])  # first output exact, second off by 1
    assert compute_metrics("regression", y2, p2)["mae"] == pytest.approx(0.5)
    # each output in its own units: metres off by 0.1, grams off by 1000
    y3 = np.array([[1.0, 1000.0], [2.0, 3000.0], [3.0, 2000.0]])
    p3 = y3 + np.array([[0.1, 1000.0], [-0.1, -1000.0], [0.1, 1000.0]])
    m = compute_metrics("regression", y3, p3)
    assert m["per_output"] == [
        {"output": 0, "mae": pytest.approx(0.1), "mse": pytest.approx(0.01),
         "rmse": pytest.approx(0.1), "r2": pytest.approx(1 - 0.03 / 2)},
        {"output": 1, "mae": pytest.approx(1000.0), "mse": pytest.approx(1e6),
         "rmse": pytest.approx(1000.0), "r2": pytest.approx(1 - 3e6 / 2e6)},
    ]  # fmt: skip
    assert m["rmse"] == pytest.approx((0.1 + 1000.0) / 2)  # the mean of the outputs' RMSEs
    assert "per_output" not in compute_metrics("regression", y, torch.tensor([1.0, 2.0, 5.0]))


def test_bad_inputs_raise_data_error() -> None:
    with pytest.raises(DataError, match="same non-zero number"):
        compute_metrics("classification", np.array([0, 1]), one_hot_logits([0], 2))
    with pytest.raises(DataError, match="n_classes=3"):
        compute_metrics("classification", np.array([0, 1]), one_hot_logits([0, 1], 2), 3)
    with pytest.raises(DataError):
        compute_metrics("regression", np.array([1.0, 2.0]), np.array([1.0]))


def test_metric_value_matches_compute_metrics() -> None:
    y = np.array([0, 1, 2, 2])
    logits = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0.6, 0.4], [0, 0, 1.0]])
    everything = compute_metrics("classification", y, logits)
    for name in metrics_for("classification"):
        assert metric_value(name, "classification", y, logits) == everything[name]


def test_direction_table() -> None:
    assert set(metrics_for("classification")) == {
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
    }
    assert set(metrics_for("regression")) == {"mae", "mse", "rmse", "r2"}
    assert all(info.direction in ("maximize", "minimize") for info in METRICS.values())
    assert metric_direction("accuracy") == "maximize"
    assert metric_direction("log_loss") == "minimize"
    assert metric_direction("rmse") == "minimize"
    assert metric_direction("r2") == "maximize"
    assert METRICS["f1"] == ("classification", "maximize")
    assert default_metric("classification") == "accuracy"
    assert default_metric("regression") == "rmse"


def test_unknown_metrics_and_tasks_raise_listing_valid_ones() -> None:
    with pytest.raises(NasError, match="rmse"):
        check_metric("accuracy", "regression")
    with pytest.raises(NasError, match="accuracy"):
        check_metric("auc", "classification")
    with pytest.raises(NasError, match="known metrics"):
        metric_direction("nope")
    with pytest.raises(NasError, match="generation"):
        default_metric("generation")
    assert check_metric("f1", "classification") == "f1"
