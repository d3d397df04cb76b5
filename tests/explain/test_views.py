"""Views on hand-made attributions and hand-made logits, whose answers are worked out below."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from explain.types import Attribution
from explain.views import global_importance, reduce_to_units, select_samples, to_jsonable


def attr(values: list | np.ndarray, targets: list[int]) -> Attribution:
    v = np.asarray(values, dtype=np.float32)
    return Attribution("integrated_gradients", v, np.asarray(targets), "zeros")


TAB = [[1, -2, 0], [3, 0, -1], [-1, 1, 1], [0, 0, 2]]


def test_global_importance_tabular_overall_and_per_class() -> None:
    gi = global_importance(attr(TAB, [0, 1, 0, 1]), n_classes=3)
    np.testing.assert_allclose(gi["overall"], [1.25, 0.75, 1.0])
    np.testing.assert_allclose(gi["per_class"][0], [1.0, 1.5, 0.5])  # rows 0 and 2
    np.testing.assert_allclose(gi["per_class"][1], [1.5, 0.0, 1.5])  # rows 1 and 3
    np.testing.assert_allclose(gi["per_class"][2], [0.0, 0.0, 0.0])
    assert gi["counts"] == {0: 2, 1: 2, 2: 0} and gi["by"] == "explained target"
    assert gi["unit"] == "feature" and gi["ranking"].tolist() == [0, 2, 1]
    np.testing.assert_allclose(gi["units"]["overall"], gi["overall"])
    by_label = global_importance(attr(TAB, [0, 1, 0, 1]), y=torch.tensor([1, 1, 0, 0]))
    assert by_label["by"] == "true label"
    np.testing.assert_allclose(by_label["per_class"][0], [0.5, 0.5, 1.5])  # rows 2 and 3


def test_global_importance_sequence_and_image_units() -> None:
    seq = np.zeros((2, 3, 2))
    seq[0, 1] = [1, -1]  # step 1: |1| + |-1| = 2 in example 0
    seq[1, 2] = [0, 4]  # step 2: 4 in example 1
    gs = global_importance(attr(seq, [0, 1]))
    assert gs["overall"].shape == (3, 2) and gs["unit"] == "step"
    np.testing.assert_allclose(gs["units"]["overall"], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(gs["units"]["per_class"][1], [0.0, 0.0, 4.0])
    assert gs["ranking"].tolist() == [2, 1, 0]
    img = np.zeros((2, 2, 2, 2))
    img[:, 0, 1, 0], img[:, 1, 1, 0] = 1.0, -3.0  # pixel (1, 0) over both channels: 4
    img[0, 0, 0, 1] = 2.0  # pixel (0, 1): 2 in one example of two -> mean 1
    gim = global_importance(attr(img, [1, 1]))
    assert gim["overall"].shape == (2, 2, 2) and gim["unit"] == "pixel"
    np.testing.assert_allclose(gim["units"]["overall"], [[0.0, 1.0], [4.0, 0.0]])
    assert gim["ranking"][:2].tolist() == [2, 1]  # flattened (H, W): (1, 0) then (0, 1)
    assert reduce_to_units(img).shape == (2, 2, 2)


def test_global_importance_is_json_ready_and_checks_its_input() -> None:
    gi = global_importance(attr(TAB, [0, 1, 0, 1]))
    data = json.loads(json.dumps(to_jsonable(gi)))
    assert data["per_class"]["1"] == [1.5, 0.0, 1.5] and data["ranking"] == [0, 2, 1]
    with pytest.raises(ValueError, match="labels"):
        global_importance(attr(TAB, [0, 1, 0, 1]), y=[0, 1])


class Logits(nn.Module):
    """The inputs are the logits; a dropout shows whether eval mode was used."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(x)


LOGITS = torch.tensor(
    [
        [5.0, 0.0, 0.0],  # label 0, right, most confident
        [0.0, 3.0, 0.0],  # label 1, right
        [1.0, 1.1, 0.0],  # label 0, wrong (says 1), nearly a tie
        [0.0, 0.0, 4.0],  # label 0, wrong (says 2), confidently
        [2.0, 0.0, 0.0],  # label 0, right
        [0.0, 0.0, 0.1],  # label 2, right, the closest call of all
    ]
)
LABELS = torch.tensor([0, 1, 0, 0, 0, 2])


def test_select_samples_classification_categories() -> None:
    model = Logits().train()
    s = select_samples(model, LOGITS, LABELS, "classification", n=8)
    assert model.training  # restored after running in eval mode
    assert s["correct"] == [0, 1, 5, 4]  # round-robin over classes 0, 1, 2, then class 0 again
    assert s["misclassified"] == [3, 2]  # the confident mistake first
    assert s["confident"] == [0, 3, 1, 4, 2, 5]
    assert s["uncertain"][:2] == [5, 2]
    two = select_samples(model, LOGITS, LABELS, "classification", n=2)
    assert two == {
        "correct": [0, 1],
        "misclassified": [3, 2],
        "confident": [0, 3],
        "uncertain": [5, 2],
    }
    assert select_samples(model, LOGITS, LABELS, "classification", n=2) == two  # deterministic


def test_select_samples_single_logit_and_regression() -> None:
    z = torch.tensor([[2.0], [-1.0], [0.1]])
    s = select_samples(Logits(), z, torch.tensor([1, 1, 0]), "classification", n=3)
    assert s["correct"] == [0] and s["misclassified"] == [1, 2]
    X = torch.tensor([[1.0, 9.0], [2.0, 9.0], [3.0, 9.0], [4.0, 9.0]])
    head = Logits()
    head.forward = lambda x: x[:, :1]  # type: ignore[method-assign]
    y = np.array([1.5, 2.0, 0.0, 4.2])  # errors 0.5, 0, 3, 0.2
    r = select_samples(head, X, y, "regression", n=2)
    assert r == {"low_error": [1, 3], "high_error": [2, 0]}
    with pytest.raises(ValueError, match="task"):
        select_samples(head, X, y, "generation")
