"""Rules that end a failing GAN run early, each with the reason in a :class:`TrainingError`.

Checked by :func:`nas.gan.train.train_gan`:

1. **Divergence** (every step, and the weights after every epoch): a non-finite discriminator
   or generator loss, a non-finite weight, or non-finite generated samples.
2. **The discriminator wins completely** (non-saturating and hinge losses): for
   ``d_win_epochs`` consecutive epochs the discriminator classifies at least ``d_win_accuracy``
   of real and generated samples right (logit > 0 is "real") while the generator's epoch loss is
   at least ``d_win_g_loss`` -- for the non-saturating loss ``D(G(z)) < e^-8 ~ 3e-4``, for hinge
   generated logits eight margins deep. The generator then gets no useful signal. WGAN-GP is
   exempt: its critic is meant to separate the two sets, and its gradients stay informative.
3. **Mode collapse**: the *diversity* of the generator -- the mean pairwise L2 distance of a
   fixed-noise batch of ``diversity_samples`` samples -- divided by the same statistic of as many
   real training samples, stays below ``collapse_fraction`` for ``collapse_epochs`` consecutive
   epochs. A generator that ignores its noise (one image for every z) scores 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from nas.errors import NasError, TrainingError


@dataclass(frozen=True)
class GanChecks:
    """Thresholds of the early-failure rules (see the module docstring)."""

    collapse_fraction: float = 0.1  # diversity below this share of the real data's ...
    collapse_epochs: int = 2  # ... for this many epochs in a row is mode collapse
    d_win_accuracy: float = 0.99  # discriminator accuracy at least this ...
    d_win_g_loss: float = 8.0  # ... with a generator loss at least this ...
    d_win_epochs: int = 3  # ... for this many epochs in a row: the discriminator has won
    diversity_samples: int = 256  # fixed-noise samples (and real samples) per diversity check

    def __post_init__(self) -> None:
        for name in ("collapse_epochs", "d_win_epochs", "diversity_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise NasError(f"GanChecks.{name} must be an integer >= 1, got {value!r}.")
        if self.diversity_samples < 2:
            raise NasError("GanChecks.diversity_samples must be >= 2 to measure distances.")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy."""
        return asdict(self)


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean L2 distance between distinct rows of ``x`` (flattened per sample)."""
    flat = x.detach().flatten(1).double()
    n = len(flat)
    if n < 2:
        raise NasError(f"Need at least 2 samples to measure diversity, got {n}.")
    return float(torch.cdist(flat, flat).sum() / (n * (n - 1)))


def diverged(what: str, value: float | str, where: str, hint: str) -> TrainingError:
    """The error of a non-finite value, saying where it appeared and what to change."""
    return TrainingError(f"The GAN diverged: the {what} became {value} {where}; {hint}")


class HealthMonitor:
    """Counts consecutive bad epochs and raises :class:`TrainingError` when a rule fires."""

    def __init__(self, checks: GanChecks, loss: str, real_diversity: float) -> None:
        self.checks = checks
        self.loss = loss
        self.real_diversity = real_diversity
        self.collapsed = 0
        self.d_won = 0

    def diversity_ratio(self, fake: torch.Tensor) -> float:
        """Diversity of ``fake`` relative to the real data's."""
        if not torch.isfinite(fake).all():
            raise TrainingError(
                "The GAN diverged: the generator produced NaN or inf samples; lower the "
                "learning rates (lr_g, lr_d) or check the generator's output layer."
            )
        return mean_pairwise_distance(fake) / max(self.real_diversity, 1e-12)

    def check(self, epoch: int, row: dict[str, Any]) -> None:
        """Apply the epoch-level rules to one history row."""
        c = self.checks
        diversity = row["diversity"]
        self.collapsed = self.collapsed + 1 if diversity < c.collapse_fraction else 0
        if self.collapsed >= c.collapse_epochs:
            raise TrainingError(
                f"Mode collapse at epoch {epoch}: the generator's diversity (mean pairwise "
                f"distance of a fixed-noise batch) is {diversity:.3g} of the real data's, below "
                f"{c.collapse_fraction} for {self.collapsed} epochs in a row; try a lower lr_g, "
                "another loss (hinge, wgan_gp) or more critic steps."
            )
        won = (
            self.loss != "wgan_gp"
            and row["d_accuracy"] >= c.d_win_accuracy
            and row["g_loss"] >= c.d_win_g_loss
        )
        self.d_won = self.d_won + 1 if won else 0
        if self.d_won >= c.d_win_epochs:
            raise TrainingError(
                f"The discriminator won completely at epoch {epoch}: accuracy "
                f"{row['d_accuracy']:.3f} >= {c.d_win_accuracy} with generator loss "
                f"{row['g_loss']:.3g} >= {c.d_win_g_loss} for {self.d_won} epochs in a row, so "
                "the generator gets no useful gradient; lower lr_d, raise lr_g, or use wgan_gp."
            )


def finite_weights(params: list[torch.nn.Parameter]) -> bool:
    """Whether every parameter is finite (one reduction, one sync)."""
    if not params:
        return True
    return bool(torch.stack([torch.isfinite(p).all() for p in params]).all())


__all__ = [
    "GanChecks",
    "HealthMonitor",
    "diverged",
    "finite_weights",
    "mean_pairwise_distance",
]
