"""The loss a model is trained on follows the metric it is chosen by (nas.train.loop): a metric
that weighs every class alike trains on class-balanced cross-entropy, MAE on the absolute
error; the others keep cross-entropy and squared error. Known answers, then the effect."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from nas.data.taskdata import Split, TaskData
from nas.metrics import compute_metrics
from nas.train import predict, train_model
from nas.train.loop import _task_loss, class_weights, loss_name
from search_spaces.spec import TrainSpec


def test_class_weights_are_scikit_learns_balanced_weights() -> None:
    from sklearn.utils.class_weight import compute_class_weight

    y = torch.tensor([0] * 90 + [1] * 8 + [2] * 2)
    w = class_weights(y, 3)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y.numpy())
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)  # 100 / (3 n_c)
    np.testing.assert_allclose(w.numpy(), [100 / 270, 100 / 24, 100 / 6], rtol=1e-6)
    assert float(w[y].mean()) == pytest.approx(1.0, abs=1e-6)  # the examples' weights average 1
    assert class_weights(torch.tensor([0, 0, 2, 2]), 4).tolist() == [1.0, 0.0, 1.0, 0.0]


def test_the_balanced_loss_is_the_weighted_mean_of_each_examples_cross_entropy() -> None:
    g = torch.Generator().manual_seed(0)
    y_train = torch.tensor([0] * 30 + [1] * 10)
    out, target = torch.randn(7, 2, generator=g), torch.tensor([0, 1, 1, 0, 0, 0, 1])
    loss = _task_loss("classification", "balanced_accuracy", y_train, 2)(out, target)
    logp = torch.log_softmax(out.double(), 1)[torch.arange(7), target]
    w = torch.tensor([40 / 60, 40 / 20], dtype=torch.float64)[target]
    assert float(loss) == pytest.approx(float(-(w * logp).mean()), rel=1e-6)
    plain = _task_loss("classification", "accuracy", y_train, 2)(out, target)
    assert float(plain) == pytest.approx(float(F.cross_entropy(out, target)), rel=1e-7)
    y = torch.tensor([[0.0], [1.0], [5.0]])
    pred = torch.tensor([[1.0], [1.0], [1.0]])
    assert float(_task_loss("regression", "mae")(pred, y)) == pytest.approx(5 / 3)
    assert float(_task_loss("regression", "rmse")(pred, y)) == pytest.approx(17 / 3)


@pytest.mark.parametrize(
    ("task", "metric", "loss"),
    [("classification", "accuracy", "cross_entropy"), ("classification", "log_loss",
     "cross_entropy"), ("classification", "roc_auc", "cross_entropy"),
     ("classification", "balanced_accuracy", "cross_entropy_balanced"),
     ("classification", "f1", "cross_entropy_balanced"), ("regression", "rmse", "mse"),
     ("regression", "r2", "mse"), ("regression", "mae", "l1")],
)  # fmt: skip
def test_each_metric_names_its_loss(task: str, metric: str, loss: str) -> None:
    assert loss_name(task, metric) == loss


def _rare_class(n: int, seed: int) -> Split:
    """One class in 20, overlapping the common one: unweighted, a model predicts the common
    class nearly always; weighted, it trades some of it for the rare one."""
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.05).long()
    X = torch.randn(n, 2, generator=g) + 1.5 * y[:, None].float()
    return Split(X, y)


def test_balanced_accuracy_trains_a_model_that_finds_the_rare_class() -> None:
    data = TaskData(name="rare", task="classification", modality="tabular", input_shape=(2,),
                    output_size=2, train=_rare_class(2000, 1), val=_rare_class(500, 2),
                    test=_rare_class(2000, 3), class_names=["common", "rare"])  # fmt: skip
    scores = {}
    for metric in ("accuracy", "balanced_accuracy"):
        torch.manual_seed(0)
        model = nn.Linear(2, 2)
        spec = TrainSpec(optimizer="adam", lr=0.05, batch_size=128, schedule="none")
        result = train_model(model, data, spec, epochs=15, seed=0, patience=None, metric=metric)
        assert result.loss == loss_name("classification", metric)
        out = predict(model, data.test.X).numpy()
        scores[metric] = compute_metrics("classification", data.test.y.numpy(), out, 2)
    # the plain loss finds few of the rare class; the balanced loss most of them (the rare
    # class sits 1.5 sd away: the balanced optimum, a threshold midway, finds about 77 %)
    assert scores["accuracy"]["balanced_accuracy"] < 0.65
    assert scores["balanced_accuracy"]["balanced_accuracy"] > 0.7
    assert scores["accuracy"]["accuracy"] > scores["balanced_accuracy"]["accuracy"]
