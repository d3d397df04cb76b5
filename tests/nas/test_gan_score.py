"""nas.gan.score and nas.gan.classifier: known answers for FD, precision/recall, the classifier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nas.data.builtin import load_dataset
from nas.data.taskdata import Split, TaskData
from nas.errors import DataError, NasError
from nas.gan.classifier import FeatureClassifier, feature_classifier
from nas.gan.score import (
    GanScorer,
    conditional_accuracy,
    frechet_classifier_distance,
    frechet_distance,
    precision_recall,
    score_generator,
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def whitened(n: int, d: int, seed: int) -> np.ndarray:
    """``n`` points whose sample mean is exactly 0 and sample covariance exactly I."""
    x = np.random.default_rng(seed).normal(size=(n, d))
    x -= x.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(x, rowvar=False))
    return x @ np.linalg.inv(chol).T


def test_frechet_distance_is_zero_for_identical_sets_and_symmetric() -> None:
    a = np.random.default_rng(0).normal(size=(500, 16)) * np.arange(1, 17)
    b = np.random.default_rng(1).normal(size=(400, 16))
    assert frechet_distance(a, a) <= 1e-6 * np.trace(np.cov(a, rowvar=False))
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    assert frechet_distance(torch.as_tensor(a), torch.as_tensor(b)) == pytest.approx(
        frechet_distance(a, b), rel=1e-6
    )


def test_frechet_distance_of_a_mean_shift_is_its_squared_norm() -> None:
    a = np.random.default_rng(0).normal(size=(300, 8))
    direction = np.random.default_rng(1).normal(size=8)
    values = []
    for step in (0.0, 0.5, 1.0, 2.0, 4.0):
        shift = step * direction
        values.append(frechet_distance(a, a + shift))  # same covariance, exactly
        assert values[-1] == pytest.approx(shift @ shift, rel=1e-6, abs=1e-6)
    assert values == sorted(values) and values[0] < 1e-6 < values[1]


def test_frechet_distance_of_diagonal_gaussians_matches_the_closed_form() -> None:
    mu_a, sd_a = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 2.0, 0.5, 3.0])
    mu_b, sd_b = np.array([1.0, 1.0, 0.0, -0.5]), np.array([2.0, 1.0, 0.5, 1.0])
    a = whitened(400, 4, 0) * sd_a + mu_a  # sample mean and covariance exactly as stated
    b = whitened(300, 4, 1) * sd_b + mu_b
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((sd_a - sd_b) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_survives_singular_covariances() -> None:
    a = np.zeros((50, 6))
    a[:, 0] = np.arange(50)  # rank one
    assert np.isfinite(frechet_distance(a, a + 1.0))
    with pytest.raises(DataError, match="NaN or inf"):
        frechet_distance(np.full((5, 2), np.nan), a[:, :2])
    with pytest.raises(DataError, match="differ in width"):
        frechet_distance(a, a[:, :3])


def clusters(centres: np.ndarray, per: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([c + 0.1 * rng.normal(size=(per, centres.shape[1])) for c in centres])


def test_precision_recall_known_answers() -> None:
    centres = np.random.default_rng(0).normal(size=(10, 2)) * 20  # far-apart modes
    real = clusters(centres, 100, seed=1)
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real, real + 1000.0) == (0.0, 0.0)
    half = clusters(centres[:5], 200, seed=2)  # new samples of half the modes
    precision, recall = precision_recall(torch.as_tensor(real), torch.as_tensor(half), k=3)
    assert precision > 0.95  # k-NN balls miss a few tail points of the same distribution
    assert recall == pytest.approx(0.5, abs=0.05)
    with pytest.raises(NasError, match="k must be an integer >= 1"):
        precision_recall(real, half, k=0)
    with pytest.raises(DataError, match="more than k=3 points"):
        precision_recall(real[:3], half)


@pytest.fixture(scope="module")
def digits() -> TaskData:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def clf(digits: TaskData) -> FeatureClassifier:
    torch.set_num_threads(1)
    return feature_classifier(digits, seed=0)


def test_feature_classifier_on_digits(digits: TaskData, clf: FeatureClassifier) -> None:
    assert clf.config.test_accuracy > 0.9 and clf.config.val_accuracy > 0.9
    assert clf.config.n_train == len(digits.train) and clf.config.seconds < 30
    assert feature_classifier(digits, seed=0) is clf  # cached in-process
    assert clf.features(digits.test.X[:5]).shape == (5, clf.config.feature_dim)
    acc = conditional_accuracy(clf, digits.test.X, digits.test.y)
    assert acc == pytest.approx(clf.config.test_accuracy, abs=1e-6)


def test_fcd_of_real_halves_is_small_and_of_noise_large(
    digits: TaskData, clf: FeatureClassifier
) -> None:
    noise = torch.rand(len(digits.test), 1, 8, 8, generator=torch.Generator().manual_seed(0))
    fcd_real = frechet_classifier_distance(clf, digits.val.X, digits.test.X)
    fcd_noise = frechet_classifier_distance(clf, digits.test.X, noise)
    assert fcd_real < 0.2 * fcd_noise, (fcd_real, fcd_noise)


def test_classifier_save_load_round_trip(tmp_path: Path, clf: FeatureClassifier) -> None:
    path = tmp_path / "classifier.pt"
    clf.save(path)
    loaded = FeatureClassifier.load(path)
    assert loaded.config == clf.config
    x = torch.rand(7, 1, 8, 8)
    assert torch.equal(loaded.features(x), clf.features(x))
    assert set(torch.load(path, weights_only=True)) == {"config", "state_dict"}


def sequence_data(n: int, seed: int) -> Split:
    """Two classes of (40, 1) signals: a bump early or late."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    t = torch.arange(40.0)
    centre = torch.where(y == 1, 28.0, 12.0)[:, None]
    X = torch.exp(-((t - centre) ** 2) / 8) + 0.1 * torch.randn(n, 40, generator=g)
    return Split(X[:, :, None], y)


@pytest.mark.parametrize("shape", [(40, 1), (6,)])
def test_classifier_for_sequences_and_tables_is_deterministic(shape: tuple[int, ...]) -> None:
    splits = [sequence_data(n, s) for n, s in ((200, 0), (60, 1), (60, 2))]
    if shape == (6,):  # the same signals, summarised as six features
        splits = [Split(s.X[:, :36, 0].reshape(len(s), 6, 6).sum(-1), s.y) for s in splits]
    data = TaskData("toy", "classification", "tabular", shape, 2, *splits)
    a, b = (
        FeatureClassifier.fit(data, seed=5, epochs=5),
        FeatureClassifier.fit(data, seed=5, epochs=5),
    )
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
    assert a.config.test_accuracy > 0.9


class ReplayGan(nn.Module):
    """A 'generator' that returns real images of the requested class (chosen by the noise)."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        super().__init__()
        self.generator = nn.Linear(1, 1)
        self.X, self.y, self.conditional, self.n_classes = X, y, True, 10

    def sample(self, n: int, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = []
        for label in y.tolist():
            pool = (self.y == label).nonzero().flatten()
            out.append(self.X[pool[torch.randint(len(pool), (1,), generator=generator)]])
        return torch.cat(out)


def test_score_generator_of_replayed_real_data(digits: TaskData, clf: FeatureClassifier) -> None:
    model = ReplayGan(digits.train.X, digits.train.y)
    scores = score_generator(model, clf, digits.test.X, 300, seed=0)
    assert scores.n == 300 and scores.cond_accuracy > 0.95
    assert scores.precision > 0.8 and scores.recall > 0.8
    noise = torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert scores.fcd < 0.2 * frechet_classifier_distance(clf, digits.test.X, noise)
    scorer = GanScorer(clf, digits.test.X, digits.test.y, seed=0)
    assert scorer(model) == scorer(model)  # same noise every call
    assert scorer(model).cond_accuracy > 0.95 and scorer(model).n == len(digits.test)
