"""Train a GAN on one TaskData: alternating Adam steps, optional scoring, early-failure rules.

Like :func:`nas.train.train_model`, training knows nothing of Optuna: callbacks receive
``on_epoch_end(epoch, logs)`` with the epoch's losses, diversity and score, and the search wires
a pruning callback into them. Any exception a callback raises propagates, except
:class:`nas.train.StopTraining`, which ends training cleanly. Real batches are slices of the
in-memory training tensors under a seeded permutation; epochs are numbered from 1 and an epoch
is one pass of the discriminator over the training data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from nas.data.taskdata import TaskData
from nas.errors import NasError, TrainingError
from nas.gan import losses
from nas.gan.health import (
    GanChecks,
    HealthMonitor,
    diverged,
    finite_weights,
)
from nas.gan.model import (
    check_model,
    check_train_spec,
    discriminator_params,
    generator_params,
)
from nas.gan.score import GanScores
from nas.train import Callback, StopTraining, steps_per_epoch

Scorer = Callable[[nn.Module], "GanScores | float"]


@dataclass
class GanTrainResult:
    """What happened in :func:`train_gan`; the model itself is trained in place."""

    history: list[dict[str, Any]]  # per epoch: d_loss, g_loss, d_accuracy, diversity, score, ...
    epochs_run: int
    seconds: float
    best_epoch: int  # the epoch whose weights the model holds on return
    best_score: float | None  # lowest score (FCD) seen; None without a scorer
    stop_reason: str  # completed | callback
    steps_d: int  # discriminator optimizer steps
    steps_g: int  # generator optimizer steps

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy."""
        return asdict(self)


def _score_value(result: GanScores | float) -> tuple[float, dict[str, Any]]:
    if isinstance(result, GanScores):
        extra = {k: v for k, v in result.to_dict().items() if k not in ("fcd", "n")}
        return float(result.fcd), extra
    return float(result), {}


def train_gan(
    model: nn.Module,
    data: TaskData,
    train: Any = None,
    *,
    epochs: int,
    callbacks: Sequence[Callback] = (),
    seed: int | None = None,
    device: torch.device | str | None = None,
    scorer: Scorer | None = None,
    score_every: int = 1,
    checks: GanChecks | None = GanChecks(),
) -> GanTrainResult:
    """Train ``model`` (a GanModel) adversarially on ``data.train`` for ``epochs`` epochs.

    ``train`` is a GanTrainSpec (or anything with its fields; default ``model.spec.train``):
    Adam with ``(beta1, beta2)`` for both sides, ``critic_steps`` discriminator steps per
    generator step, the ``loss`` ns | hinge | wgan_gp. A conditional model sees the real labels
    on real batches and labels drawn with the training set's class frequencies on generated
    ones. ``scorer(model)`` (a :class:`~nas.gan.score.GanScorer`, or any function returning a
    float where lower is better) runs every ``score_every`` epochs and after the last; the
    weights of the best-scoring epoch are restored at the end. ``seed`` fixes batch order, noise
    and labels (the global RNG is restored afterwards). The rules of :mod:`nas.gan.health`
    (``checks=None`` turns off the epoch-level ones) raise :class:`TrainingError` with the
    reason; its ``history`` attribute holds the epochs run so far.

    Each epoch's logs (and history row): ``epoch``, ``d_loss``, ``g_loss``, ``d_accuracy``
    (share of real and generated samples the discriminator gets right), ``diversity`` (relative
    to the real data, see :mod:`nas.gan.health`), ``score`` (None on unscored epochs) and, from a
    GanScorer, ``precision``, ``recall``, ``cond_accuracy``; then ``seconds``. Callbacks also
    get ``steps`` (optimizer steps so far, both players).
    """
    train = model.spec.train if train is None else train
    check_train_spec(train)
    check_model(model, data)
    for name, value in (("epochs", epochs), ("score_every", score_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise NasError(f"{name} must be an integer >= 1, got {value!r}.")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(dev)
    with torch.random.fork_rng(
        devices=[dev] if dev.type == "cuda" else [], enabled=seed is not None
    ):
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
            torch.default_generator.manual_seed(seed)  # dropout on the CPU
            if dev.type == "cuda":
                torch.cuda.manual_seed(seed)
        history: list[dict[str, Any]] = []
        try:
            return _fit(
                model,
                data,
                train,
                dev,
                gen,
                history,
                epochs,
                callbacks,
                scorer,
                score_every,
                checks,
            )
        except TrainingError as err:
            err.history = history  # type: ignore[attr-defined]
            raise


def _fit(
    model: nn.Module,
    data: TaskData,
    train: Any,
    dev: torch.device,
    gen: torch.Generator,
    history: list[dict[str, Any]],
    epochs: int,
    callbacks: Sequence[Callback],
    scorer: Scorer | None,
    score_every: int,
    checks: GanChecks | None,
) -> GanTrainResult:
    start = time.perf_counter()
    g_params, d_params = generator_params(model), discriminator_params(model)
    betas = (float(train.beta1), float(train.beta2))
    opt_g = torch.optim.Adam(g_params, lr=train.lr_g, betas=betas)
    opt_d = torch.optim.Adam(d_params, lr=train.lr_d, betas=betas)
    X, n = data.train.X.to(dev), len(data.train)
    cond, latent = bool(model.conditional), int(model.latent_dim)
    Y = data.train.y.long().to(dev) if cond else None
    freq = torch.bincount(data.train.y.long(), minlength=model.n_classes).double() if cond else None
    bs, spe = min(train.batch_size, n), steps_per_epoch(n, train.batch_size)

    def noise(m: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(m, latent, generator=gen).to(dev)
        y = torch.multinomial(freq, m, replacement=True, generator=gen).to(dev) if cond else None
        return z, y

    checks = checks or HealthMonitor.disabled()
    limit = checks.max_abs_loss
    hint = f"lower the learning rates (lr_g={train.lr_g:g}, lr_d={train.lr_d:g})"
    n_div = min(checks.diversity_samples, n)
    div_gen = torch.Generator().manual_seed((gen.initial_seed() + 1) % 2**63)
    fixed_z = torch.randn(n_div, latent, generator=div_gen).to(dev)
    fixed_y = (torch.arange(n_div) % model.n_classes).to(dev) if cond else None
    real_idx = torch.randperm(n, generator=div_gen)[:n_div]
    real_y = data.train.y[real_idx].long() if cond else None
    monitor = HealthMonitor(checks, train.loss, data.train.X[real_idx], real_y)
    best: dict[str, Any] = {"score": math.inf, "epoch": None, "state": None}
    steps_d = steps_g = 0
    stop_reason = "completed"
    for cb in callbacks:
        begin = {"epochs": epochs, "steps_per_epoch": spe, "n_train": n, "device": str(dev)}
        cb.on_train_begin({**begin, "metric": "fcd" if scorer is not None else None})
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen).to(dev)
        sums = torch.zeros(3, dtype=torch.float64, device=dev)  # d_loss, d_accuracy, g_loss
        g_in_epoch = 0
        for b in range(spe):
            idx = perm[b * bs : (n if b == spe - 1 else (b + 1) * bs)]
            real, y_real = X[idx], (Y[idx] if cond else None)
            z, y_fake = noise(len(idx))
            with torch.no_grad():
                fake = model.generate(z, y_fake)
            real_logits = model.discriminate(real, y_real)
            fake_logits = model.discriminate(fake, y_fake)
            loss_d = losses.d_loss(train.loss, real_logits, fake_logits)
            if train.loss == "wgan_gp" and train.gp_weight > 0:
                alpha = torch.rand(len(idx), generator=gen).to(dev)
                penalty = losses.gradient_penalty(
                    lambda x, y=y_real: model.discriminate(x, y), real, fake, alpha
                )
                loss_d = loss_d + train.gp_weight * penalty
            value = float(loss_d.detach())  # one sync per step buys a precise divergence report
            if not abs(value) <= limit:  # also catches NaN
                where = f"at epoch {epoch} step {b + 1} (discriminator step {steps_d + 1})"
                raise diverged("discriminator loss", value, where, hint)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            steps_d += 1
            acc = losses.d_accuracy(train.loss, real_logits.detach(), fake_logits.detach())
            sums[0] += value
            sums[1] += acc
            if (b + 1) % train.critic_steps == 0 or (b == spe - 1 and g_in_epoch == 0):
                z, y_fake = noise(bs)
                loss_g = losses.g_loss(
                    train.loss, model.discriminate(model.generate(z, y_fake), y_fake)
                )
                value = float(loss_g.detach())
                if not abs(value) <= limit:
                    where = f"at epoch {epoch} step {b + 1} (generator step {steps_g + 1})"
                    raise diverged("generator loss", value, where, hint)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                steps_g += 1
                g_in_epoch += 1
                sums[2] += value
        if not finite_weights(g_params + d_params):
            raise diverged("model's weights", "non-finite", f"after epoch {epoch}", hint)
        model.eval()
        with torch.no_grad():
            diversity = monitor.diversity_ratio(model.generate(fixed_z, fixed_y), fixed_y)
        row: dict[str, Any] = {
            "epoch": epoch,
            "d_loss": float(sums[0]) / spe,
            "d_accuracy": float(sums[1]) / spe,
            "g_loss": float(sums[2]) / g_in_epoch,
            "diversity": diversity,
            "score": None,
        }
        if scorer is not None and (epoch % score_every == 0 or epoch == epochs):
            score, extra = _score_value(scorer(model))
            row.update(score=score, **extra)
            if score < best["score"]:
                state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best.update(score=score, epoch=epoch, state=state)
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        monitor.check(epoch, row)
        for cb in callbacks:
            try:
                cb.on_epoch_end(epoch, {**row, "steps": steps_d + steps_g})
            except StopTraining:
                stop_reason = "callback"
        if stop_reason != "completed":
            break
    if best["state"] is not None and best["epoch"] != len(history):
        model.load_state_dict(best["state"])
    model.train()
    return GanTrainResult(
        history=history,
        epochs_run=len(history),
        seconds=time.perf_counter() - start,
        best_epoch=best["epoch"] or len(history),
        best_score=None if best["epoch"] is None else best["score"],
        stop_reason=stop_reason,
        steps_d=steps_d,
        steps_g=steps_g,
    )


__all__ = [
    "GanTrainResult",
    "discriminator_params",
    "generator_params",
    "train_gan",
]
