"""GAN training and download-free scoring: the search side of the ``gan`` space.

- :func:`train_gan` trains a GanModel (``search_spaces.gan``) with the ns, hinge or WGAN-GP loss,
  reports each epoch to callbacks, and ends failing runs early with the reason
  (:mod:`nas.gan.health`).
- :class:`FeatureClassifier` is a small classifier of the real data whose features replace
  Inception's; :func:`frechet_distance`, :func:`precision_recall`, :func:`conditional_accuracy`
  and :func:`score_generator` score samples in its feature space.
"""

from __future__ import annotations

from nas.gan.classifier import FeatureClassifier, clear_classifier_cache, feature_classifier
from nas.gan.health import GanChecks
from nas.gan.model import GanModelLike, discriminator_params, generator_params
from nas.gan.score import (
    GanScorer,
    GanScores,
    conditional_accuracy,
    frechet_classifier_distance,
    frechet_distance,
    make_scorer,
    precision_recall,
    sample_generator,
    score_generator,
)
from nas.gan.train import GanTrainResult, train_gan

__all__ = [
    "FeatureClassifier",
    "GanChecks",
    "GanModelLike",
    "GanScorer",
    "GanScores",
    "GanTrainResult",
    "clear_classifier_cache",
    "conditional_accuracy",
    "discriminator_params",
    "feature_classifier",
    "frechet_classifier_distance",
    "frechet_distance",
    "generator_params",
    "make_scorer",
    "precision_recall",
    "sample_generator",
    "score_generator",
    "train_gan",
]
