"""Rules that end a failing GAN run early, each with the reason in a :class:`TrainingError`.

Checked by :func:`nas.gan.train.train_gan`:

1. **Divergence** (every step, and the weights after every epoch): a non-finite discriminator
   or generator loss, a loss beyond ``±max_abs_loss`` (healthy GAN losses stay within tens, even
   WGAN-GP's; 1e6 means the weights are running away), a non-finite weight, or non-finite
   generated samples.
2. **The discriminator wins completely** (non-saturating and hinge losses): for
   ``d_win_epochs`` consecutive epochs the discriminator classifies at least ``d_win_accuracy``
   of real and generated samples right (logit > 0 is "real") while the generator's epoch loss is
   at least ``d_win_g_loss`` -- for the non-saturating loss ``D(G(z)) < e^-8 ~ 3e-4``, for hinge
   generated logits eight margins deep. The generator then gets no useful signal. WGAN-GP is
   exempt: its critic is meant to separate the two sets, and its gradients stay informative.
3. **Mode collapse**: the *diversity* of the generator -- the mean pairwise L2 distance of a
   fixed-noise batch of ``diversity_samples`` samples -- divided by the same statistic of as many
   real training samples, stays below ``collapse_fraction`` for ``collapse_epochs`` consecutive
   epochs. A generator that ignores its noise (one image for every z) scores 0. For a
   conditional GAN the distances are taken within each class (the fixed batch cycles through
   the classes) and averaged over classes, so one template per class reads as the collapse it
   is instead of borrowing the variety between classes.

The defaults were set on digits: healthy runs dip to about 0.1 in their first epochs (an
unconditional MLP generator at lr 2e-4 hovered at 0.10-0.15 for 12 epochs while still
improving), so the collapse rule waits for 0.05 three epochs in a row. A stricter rule would
fail trials that recover: in a digits search of unconditional GANs (seed 2) one rose from 0.06
through six epochs below 0.2 to 0.96, its validation recall 0.00 for twelve epochs and then 0.40,
while a conditional one-template-per-class generator sat at 0.14-0.16 with recall 0.00 for 20
epochs. A winner that has collapsed less than this rule asks is called so instead (after the
search: :func:`collapse_alert`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from nas.errors import NasError, TrainingError


@dataclass(frozen=True)
class GanChecks:
    """Thresholds of the early-failure rules (see the module docstring)."""

    collapse_fraction: float = 0.05  # diversity below this share of the real data's ...
    collapse_epochs: int = 3  # ... for this many epochs in a row is mode collapse
    d_win_accuracy: float = 0.99  # discriminator accuracy at least this ...
    d_win_g_loss: float = 8.0  # ... with a generator loss at least this ...
    d_win_epochs: int = 3  # ... for this many epochs in a row: the discriminator has won
    diversity_samples: int = 256  # fixed-noise samples (and real samples) per diversity check
    max_abs_loss: float = 1e6  # a step's loss beyond this is divergence, finite or not

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
    dist = torch.cdist(flat, flat, compute_mode="donot_use_mm_for_euclid_dist")  # exact zeros
    return float(dist.sum() / (n * (n - 1)))


def diversity(x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """:func:`mean_pairwise_distance` of ``x``, or with labels ``y`` its mean within classes
    (classes with fewer than two samples are left out)."""
    if y is None:
        return mean_pairwise_distance(x)
    x, y = x.detach().cpu(), y.detach().cpu()
    within = [mean_pairwise_distance(x[y == c]) for c in y.unique() if int((y == c).sum()) >= 2]
    if not within:
        raise NasError("Need two samples of some class to measure within-class diversity.")
    return sum(within) / len(within)


def diverged(what: str, value: float | str, where: str, hint: str) -> TrainingError:
    """The error of a runaway value, saying where it appeared and what to change."""
    if isinstance(value, float) and math.isfinite(value):
        value = f"{value:.3g}"
    return TrainingError(f"The GAN diverged: the {what} became {value} {where}; {hint}")


class HealthMonitor:
    """Counts consecutive bad epochs and raises :class:`TrainingError` when a rule fires."""

    @staticmethod
    def disabled() -> GanChecks:
        """Thresholds that never fire (NaN and inf still end the run)."""
        return GanChecks(collapse_fraction=-1.0, d_win_accuracy=math.inf, max_abs_loss=math.inf)

    def __init__(
        self,
        checks: GanChecks,
        loss: str,
        real_x: torch.Tensor,
        real_y: torch.Tensor | None = None,
    ) -> None:
        self.checks = checks
        self.loss = loss
        self.real_diversity = diversity(real_x, real_y)  # within classes when labelled
        self.collapsed = 0
        self.d_won = 0

    def diversity_ratio(self, fake: torch.Tensor, y: torch.Tensor | None = None) -> float:
        """Diversity of ``fake`` (within the classes ``y`` if given) relative to the real
        data's."""
        if not torch.isfinite(fake).all():
            raise TrainingError(
                "The GAN diverged: the generator produced NaN or inf samples; lower the "
                "learning rates (lr_g, lr_d) or check the generator's output layer."
            )
        return diversity(fake, y) / max(self.real_diversity, 1e-12)

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


# --- the winner, after the search ------------------------------------------------------------
# Thresholds of :func:`collapse_alert`, set on digits (`nas search --dataset digits --space gan
# --timeout 480 --seed 1`, 71 trials, 23 complete): at their best epoch the 11 complete trials
# with validation FCD <= 15 (real data: ~6-8) had validation recall 0.47-0.89 and diversity
# 0.60-1.04 of the real data's; the 5 with FCD 35-50 had recall 0.00-0.07, three of them
# diversity 0.09-0.24 (the outside tester's 120 s winner, one template per class: 0.14, and
# test recall 0.00). Real data against real data: recall ~0.9.
COLLAPSE_RECALL = 0.1  # a winner's test recall below this covers almost none of the real data
COLLAPSE_DIVERSITY = 0.25  # a winner's within-class diversity below this share of real data's


def _number(x: Any) -> float | None:
    ok = isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
    return float(x) if ok else None


def winner_diversity(best: Mapping[str, Any]) -> float | None:
    """The diversity ratio (:meth:`HealthMonitor.diversity_ratio`) of the winner's final
    weights: its retrain's row of the best epoch (the weights kept), else the last row; None
    when metrics.json records no retrain history."""
    retrain = best.get("retrain") if isinstance(best.get("retrain"), Mapping) else {}
    rows = [r for r in retrain.get("history") or [] if isinstance(r, Mapping)]
    if not rows:
        return None
    kept = next((r for r in rows if r.get("epoch") == retrain.get("best_epoch")), rows[-1])
    return _number(kept.get("diversity"))


def collapse_alert(best: Mapping[str, Any] | None) -> dict[str, str] | None:
    """A warning when the GAN winner (its metrics.json) has collapsed: its test recall is below
    :data:`COLLAPSE_RECALL` (its samples cover almost none of the real data) or the samples of
    a class barely vary with the noise (diversity below :data:`COLLAPSE_DIVERSITY` of the real
    data's); what it means and what to do. None for a healthy winner or one without scores."""
    if not isinstance(best, Mapping):
        return None
    test = best.get("test") if isinstance(best.get("test"), Mapping) else {}
    recall, div = _number(test.get("recall")), winner_diversity(best)
    low_recall = recall is not None and recall < COLLAPSE_RECALL
    low_div = div is not None and div < COLLAPSE_DIVERSITY
    if not (low_recall or low_div):
        return None
    conditional = test.get("cond_accuracy") is not None
    each = "each class" if conditional else "its output"
    scores = " and conditional accuracy" if conditional else " and precision"
    seen = []
    if low_recall:
        seen.append(
            f"samples cover {recall:.0%} of the real test data (recall (k-NN manifold) "
            f"{recall:.2f}; real data against real data scores about 0.9)"
        )
    if low_div:
        within = " of one class" if conditional else ""
        seen.append(f"samples{within} vary {div:.0%} as much as real examples do")
    if low_div:
        head = "Mode collapse: the winning generator's"
        means = f"it draws {each} as nearly one image and ignores its noise input"
    else:
        head = "The winning generator misses most of the real data: its"
        means = ("whole modes of the real data are missing (mode collapse), or its samples are "
                 "unlike real ones (see its precision)")  # fmt: skip
    return {
        "level": "warn",
        "text": (
            f"{head} {' and its '.join(seen)}: {means}, whatever its FCD{scores} say. Do "
            "not ship it to generate varied samples: search longer (a larger --timeout, so that "
            "more trials can beat this one), or search other settings (a TOML space with "
            "another gan.loss, e.g. wgan_gp, or a lower gan.lr_g range; `nas spaces gan` "
            "lists them)."
        ),
    }


def finite_weights(params: list[torch.nn.Parameter]) -> bool:
    """Whether every parameter is finite (one reduction, one sync)."""
    if not params:
        return True
    return bool(torch.stack([torch.isfinite(p).all() for p in params]).all())


__all__ = [
    "COLLAPSE_DIVERSITY",
    "COLLAPSE_RECALL",
    "GanChecks",
    "HealthMonitor",
    "collapse_alert",
    "diverged",
    "diversity",
    "finite_weights",
    "mean_pairwise_distance",
    "winner_diversity",
]
