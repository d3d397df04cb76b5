"""Scores of a generator that need no download: Fréchet classifier distance, precision/recall,
conditional accuracy, all in the feature space of a :class:`FeatureClassifier` of the real data.

- The Fréchet distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule")
  between Gaussian fits of two feature sets: ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^½)``.
  Computed with the features of the dataset's own classifier it is the Fréchet *classifier*
  distance (FCD); lower is better, 0 for identical sets. Like FID it is biased upwards for small
  samples, so compare scores computed with the same sample sizes only.
- Precision and recall (Kynkäänniemi et al. 2019, "Improved precision and recall metric for
  assessing generative models"): each point's radius is the distance to its k-th nearest
  neighbour within its own set; precision is the share of generated points inside the real
  manifold (the union of the real points' balls), recall the share of real points inside the
  generated manifold.
- Conditional accuracy: the share of samples the classifier puts in the class they were
  conditioned on.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from scipy import linalg
from torch import nn

from nas.data.taskdata import TaskData
from nas.errors import DataError, NasError
from nas.gan.classifier import FeatureClassifier, feature_classifier

Features = torch.Tensor | np.ndarray
CDIST_CHUNK = 1024  # rows per torch.cdist call: bounds memory at chunk x N distances


def _as_numpy(feats: Features, name: str) -> np.ndarray:
    a = feats.detach().cpu().double().numpy() if isinstance(feats, torch.Tensor) else feats
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or len(a) < 2:
        raise DataError(f"{name} must be a (N, d) array with N >= 2, got shape {a.shape}.")
    if not np.isfinite(a).all():
        raise DataError(f"{name} holds NaN or inf values; the generator's samples are not finite.")
    return a


def _sqrtm(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # singular products (dead ReLU features) are handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        out = linalg.sqrtm(a)
    return out[0] if isinstance(out, tuple) else out  # scipy < 1.16 may return (sqrtm, error)


def frechet_distance(feats_a: Features, feats_b: Features, eps: float = 1e-6) -> float:
    """The Fréchet distance between Gaussian fits (mean, covariance) of two ``(N, d)`` sets.

    Follows the TTUR reference code: when the product of the covariances is singular enough
    that its square root is not finite, ``eps`` is added to both diagonals; a tiny imaginary
    part from rounding is dropped (a large one retries with the ``eps`` offset).
    """
    a, b = _as_numpy(feats_a, "feats_a"), _as_numpy(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise DataError(f"Feature sets differ in width: {a.shape[1]} vs {b.shape[1]}.")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = _sqrtm(s_a @ s_b)
    bad = not np.isfinite(covmean).all()
    if not bad and np.iscomplexobj(covmean):
        bad = not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)
    if bad:
        offset = np.eye(len(s_a)) * eps
        covmean = _sqrtm((s_a + offset) @ (s_b + offset))
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean).real
    return max(0.0, float(value))  # >= 0 in exact arithmetic; rounding can dip just below


def frechet_classifier_distance(
    classifier: FeatureClassifier, real_x: torch.Tensor, fake_x: torch.Tensor
) -> float:
    """The Fréchet distance between ``classifier.features`` of real and generated samples."""
    return frechet_distance(classifier.features(real_x), classifier.features(fake_x))


def _kth_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row to its k-th nearest neighbour among the other rows."""
    parts = [
        torch.cdist(x[i : i + CDIST_CHUNK], x).kthvalue(k + 1, dim=1).values  # +1: itself
        for i in range(0, len(x), CDIST_CHUNK)
    ]
    return torch.cat(parts)


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """For each point: whether it lies in some ball ``(centre, radius)``."""
    parts = [
        (torch.cdist(points[i : i + CDIST_CHUNK], centres) <= radii[None, :]).any(dim=1)
        for i in range(0, len(points), CDIST_CHUNK)
    ]
    return torch.cat(parts)


def _as_tensor(feats: Features) -> torch.Tensor:
    return torch.as_tensor(np.asarray(feats) if not isinstance(feats, torch.Tensor) else feats)


def precision_recall(real_feats: Features, fake_feats: Features, k: int = 3) -> tuple[float, float]:
    """Kynkäänniemi et al.'s k-NN precision and recall of ``fake_feats`` against ``real_feats``."""
    real = _as_tensor(real_feats).detach().double().cpu()
    fake = _as_tensor(fake_feats).detach().double().cpu()
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise NasError(f"k must be an integer >= 1, got {k!r}.")
    if min(len(real), len(fake)) <= k:
        raise DataError(
            f"precision_recall needs more than k={k} points per set, got {len(real)} real and "
            f"{len(fake)} generated."
        )
    precision = _inside(fake, real, _kth_radius(real, k)).double().mean()
    recall = _inside(real, fake, _kth_radius(fake, k)).double().mean()
    return float(precision), float(recall)


def conditional_accuracy(
    classifier: FeatureClassifier, fake_x: torch.Tensor, y: torch.Tensor
) -> float:
    """Share of generated samples that ``classifier`` assigns to the class they were
    conditioned on (``y``)."""
    return classifier.accuracy(fake_x, y)


@dataclass(frozen=True)
class GanScores:
    """The scores of one sample of a generator against real data."""

    fcd: float  # Fréchet classifier distance, lower is better
    precision: float  # share of generated samples that look real (fidelity)
    recall: float  # share of real samples the generator covers (diversity)
    cond_accuracy: float | None  # conditional models only
    n: int  # generated samples scored

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy."""
        return asdict(self)


def sample_generator(
    model: nn.Module, n: int, seed: int, y: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` samples of ``model`` in eval mode from a seeded noise generator, on the CPU, with
    the labels used (``y``, or ``0, 1, ..., K-1, 0, ...`` for a conditional model without it)."""
    labels = None
    if getattr(model, "conditional", False):
        labels = (
            y.long().reshape(-1)[:n] if y is not None else torch.arange(n) % int(model.n_classes)
        )
        if len(labels) != n:
            raise DataError(f"Got {len(labels)} labels for {n} samples.")
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            gen = torch.Generator(device=device).manual_seed(seed)
            y_dev = labels.to(device) if labels is not None else None
            fake = model.sample(n, y=y_dev, generator=gen)
    finally:
        model.train(was_training)
    return fake.detach().float().cpu(), labels


def _scores(
    classifier: FeatureClassifier,
    real_feats: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor | None,
    k: int,
) -> GanScores:
    fake_feats = classifier.features(fake)
    precision, recall = precision_recall(real_feats, fake_feats, k=k)
    return GanScores(
        fcd=frechet_distance(real_feats, fake_feats),
        precision=precision,
        recall=recall,
        cond_accuracy=None if labels is None else conditional_accuracy(classifier, fake, labels),
        n=len(fake),
    )


def score_generator(
    model: nn.Module,
    classifier: FeatureClassifier,
    real_x: torch.Tensor,
    n: int,
    seed: int,
    y: torch.Tensor | None = None,
    *,
    k: int = 3,
) -> GanScores:
    """Every score of ``n`` samples of ``model`` (seeded; conditioned on ``y`` when the model is
    conditional) against the real samples ``real_x``."""
    fake, labels = sample_generator(model, n, seed, y)
    return _scores(classifier, classifier.features(real_x), fake, labels, k)


class GanScorer:
    """A fixed validation sample and its features, scored against a model each call.

    ``scorer(model) -> GanScores``; :func:`nas.gan.train.train_gan` takes one as ``scorer`` and
    keeps the weights of the lowest FCD. The same seed gives the same noise every call, so
    epochs are compared on equal terms.
    """

    def __init__(
        self,
        classifier: FeatureClassifier,
        real_x: torch.Tensor,
        real_y: torch.Tensor | None = None,
        *,
        n: int | None = None,
        seed: int = 0,
        k: int = 3,
    ) -> None:
        self.classifier = classifier
        self.real_feats = classifier.features(real_x)
        self.real_y = real_y
        self.n = len(real_x) if n is None else n
        self.seed = seed
        self.k = k

    def __call__(self, model: nn.Module) -> GanScores:
        """Sample ``n`` (with the real labels, if conditional) and score them."""
        y = self.real_y
        if y is not None and len(y) < self.n:
            y = y.repeat((self.n + len(y) - 1) // len(y))
        fake, labels = sample_generator(model, self.n, self.seed, y)
        return _scores(self.classifier, self.real_feats, fake, labels, self.k)


def make_scorer(
    data: TaskData,
    *,
    split: str = "val",
    classifier: FeatureClassifier | None = None,
    seed: int = 0,
    n: int | None = None,
) -> GanScorer:
    """A :class:`GanScorer` on ``data``'s ``split`` with the (cached) feature classifier."""
    if split not in ("train", "val", "test"):
        raise NasError(f"split must be 'train', 'val' or 'test', got {split!r}.")
    part = getattr(data, split)
    if len(part) < 2:
        raise DataError(f"Dataset {data.name!r} has {len(part)} {split} examples; need >= 2.")
    classifier = classifier or feature_classifier(data, seed=seed)
    return GanScorer(classifier, part.X, part.y, n=n, seed=seed)


__all__ = [
    "GanScorer",
    "GanScores",
    "conditional_accuracy",
    "frechet_classifier_distance",
    "frechet_distance",
    "make_scorer",
    "precision_recall",
    "sample_generator",
    "score_generator",
]
