"""The adversarial losses a GAN trains with: non-saturating, hinge, and WGAN-GP.

Each discriminator loss takes the discriminator's logits on a real and a generated batch;
each generator loss the logits on a generated batch. WGAN-GP's gradient penalty needs the
discriminator itself, so it is a separate function.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

LOSSES = ("ns", "hinge", "wgan_gp")


def d_loss(loss: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss (without WGAN-GP's penalty) for logits on real and fake."""
    if loss == "ns":  # BCE: real -> 1, fake -> 0
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if loss == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    return fake.mean() - real.mean()  # wgan_gp: the critic's estimate of -W(real, fake)


def g_loss(loss: str, fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss for the discriminator's logits on generated samples."""
    if loss == "ns":  # BCE with fake -> 1: log D(G(z)) is maximised, not log(1 - D) minimised
        return F.softplus(-fake).mean()
    return -fake.mean()  # hinge and wgan_gp


def gradient_penalty(
    discriminate: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    alpha: torch.Tensor,
) -> torch.Tensor:
    """``mean((|grad D(x_hat)| - 1)^2)`` at ``x_hat = alpha real + (1 - alpha) fake``
    (Gulrajani et al. 2017); ``alpha`` is ``(N,)`` uniform in [0, 1]."""
    a = alpha.reshape(-1, *([1] * (real.ndim - 1)))
    x_hat = (a * real.detach() + (1.0 - a) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminate(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def d_accuracy(loss: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Share of the two batches the discriminator gets right: logit > 0 means "real".

    A WGAN critic's values have no fixed zero, so for ``wgan_gp`` the threshold is the midpoint
    of the two batches' mean values instead.
    """
    t = (real.mean() + fake.mean()) / 2 if loss == "wgan_gp" else 0.0
    return ((real > t).float().sum() + (fake < t).float().sum()) / (len(real) + len(fake))


__all__ = ["LOSSES", "d_accuracy", "d_loss", "g_loss", "gradient_penalty"]
