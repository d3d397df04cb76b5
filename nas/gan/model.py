"""What training needs of a GAN model, and the checks that it has it.

A GanModel (``search_spaces.gan``; any module with the same surface will do, see
:class:`GanModelLike`) keeps its two players under fixed attribute names, so their parameter
sets are found by name prefix: ``generator.`` and ``label_embed_g.`` train with the generator's
optimizer, ``discriminator.`` and ``label_embed_d.`` with the discriminator's.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from nas.data.taskdata import TaskData
from nas.errors import DataError, NasError, ShapeError
from nas.gan.losses import LOSSES


@runtime_checkable
class GanModelLike(Protocol):
    """The surface :func:`nas.gan.train.train_gan` and :mod:`nas.gan.score` use."""

    latent_dim: int
    conditional: bool
    n_classes: int  # classes conditioned on (0 or unused when unconditional)
    data_shape: tuple[int, ...]
    generator: nn.Module
    discriminator: nn.Module

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, latent_dim)`` noise (and labels) -> ``(N, *data_shape)`` samples."""
        ...

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, *data_shape)`` samples (and labels) -> ``(N,)`` logits."""
        ...

    def sample(
        self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` samples from seeded noise."""
        ...


def _params_by_prefix(model: nn.Module, prefixes: tuple[str, ...], side: str) -> list[nn.Parameter]:
    params = [
        p for name, p in model.named_parameters() if name.startswith(prefixes) and p.requires_grad
    ]
    if not params:
        raise NasError(
            f"The model has no trainable {side} parameters (names starting with "
            f"{' or '.join(prefixes)}); a GAN model needs .generator and .discriminator."
        )
    return params


def generator_params(model: nn.Module) -> list[nn.Parameter]:
    """Parameters named ``generator.*`` or ``label_embed_g.*``."""
    return _params_by_prefix(model, ("generator.", "label_embed_g."), "generator")


def discriminator_params(model: nn.Module) -> list[nn.Parameter]:
    """Parameters named ``discriminator.*`` or ``label_embed_d.*``."""
    return _params_by_prefix(model, ("discriminator.", "label_embed_d."), "discriminator")


def check_train_spec(train: Any) -> None:
    """NasError naming the field when ``train`` is not a usable GanTrainSpec."""
    loss = getattr(train, "loss", None)
    if loss not in LOSSES:
        raise NasError(f"GAN loss must be one of {', '.join(LOSSES)}, got {loss!r}.")
    for name in ("lr_g", "lr_d"):
        value = getattr(train, name)
        if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
            raise NasError(f"{name} must be a positive number, got {value!r}.")
    for name in ("beta1", "beta2"):
        if not 0.0 <= getattr(train, name) < 1.0:
            raise NasError(f"{name} must be in [0, 1), got {getattr(train, name)!r}.")
    for name in ("critic_steps", "batch_size"):
        value = getattr(train, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise NasError(f"{name} must be an integer >= 1, got {value!r}.")
    if train.loss == "wgan_gp" and not train.gp_weight >= 0:
        raise NasError(f"gp_weight must be >= 0, got {train.gp_weight!r}.")


def check_model(model: nn.Module, data: TaskData) -> None:
    """ShapeError / DataError when ``model`` cannot train on ``data``."""
    if tuple(model.data_shape) != tuple(data.input_shape):
        raise ShapeError(
            f"The GAN generates samples of shape {tuple(model.data_shape)} but dataset "
            f"{data.name!r} has inputs of shape {tuple(data.input_shape)}; build the model for it."
        )
    if len(data.train) < 2:
        raise DataError(f"Dataset {data.name!r} has {len(data.train)} training examples.")
    if model.conditional and (
        data.train.y.dtype != torch.int64 or int(data.train.y.max()) >= model.n_classes
    ):
        raise DataError(
            f"A conditional GAN needs class labels below n_classes={model.n_classes}; dataset "
            f"{data.name!r} has {data.task} targets of dtype {data.train.y.dtype}."
        )


__all__ = [
    "GanModelLike",
    "check_model",
    "check_train_spec",
    "discriminator_params",
    "generator_params",
]
