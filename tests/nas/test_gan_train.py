"""nas.gan.train with a tiny stand-in GanModel on digits: losses, scoring, failure rules."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from nas.data.builtin import load_dataset
from nas.data.taskdata import Split, TaskData
from nas.errors import NasError, ShapeError, TrainingError
from nas.gan.classifier import feature_classifier
from nas.gan.health import GanChecks, diversity, mean_pairwise_distance
from nas.gan.model import GanModelLike
from nas.gan.score import frechet_classifier_distance, make_scorer, sample_generator
from nas.gan.train import discriminator_params, generator_params, train_gan
from nas.train import LambdaCallback, StopTraining


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass(frozen=True)
class TrainCfg:
    """The fields of a GanTrainSpec that train_gan reads."""

    loss: str = "ns"
    lr_g: float = 1e-3
    lr_d: float = 2e-3
    beta1: float = 0.5
    beta2: float = 0.999
    critic_steps: int = 1
    gp_weight: float = 10.0
    batch_size: int = 32


class StandInGan(nn.Module):
    """The GanModel interface on (1, 8, 8) images: an upsampling conv generator, a strided conv
    discriminator, label embeddings when conditional (projection discriminator)."""

    def __init__(self, train: TrainCfg = TrainCfg(), conditional: bool = False, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.latent_dim, self.conditional, self.n_classes = 16, conditional, 10
        self.data_shape = (1, 8, 8)
        self.spec = SimpleNamespace(train=train)
        self.generator = nn.Sequential(
            nn.Linear(16, 32 * 16), nn.ReLU(), nn.Unflatten(1, (32, 4, 4)),
            nn.Upsample(scale_factor=2), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 1, 3, padding=1), nn.Sigmoid(),
        )  # fmt: skip
        self.discriminator = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(32, 64, 4, 2, 1),
            nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(256, 1),
        )  # fmt: skip
        if conditional:
            self.label_embed_g = nn.Embedding(10, 16)
            self.label_embed_d = nn.Embedding(10, 256)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z + self.label_embed_g(y) if self.conditional else z)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.discriminator[:-1](x)
        out = self.discriminator[-1](h).squeeze(1)
        return out + (self.label_embed_d(y) * h).sum(1) if self.conditional else out

    def sample(self, n: int, y=None, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=generator)
        return self.generate(z, y)


class ConstantGan(StandInGan):
    """A generator that ignores its noise: one learnable image for every z."""

    def __init__(self, train: TrainCfg = TrainCfg()):
        super().__init__(train)
        self.generator = nn.Sequential(nn.Linear(1, 64), nn.Sigmoid())

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(torch.ones(len(z), 1)).reshape(len(z), 1, 8, 8)


class TemplateGan(StandInGan):
    """Conditional, but ignores its noise: one learnable image per class."""

    def __init__(self) -> None:
        super().__init__(conditional=True)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(self.label_embed_g(y))


class FarNoiseGan(StandInGan):
    """A 'generator' of noise far from the data that training cannot move (weights times 0)."""

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        base = 5.0 + torch.randn(len(z), 1, 8, 8)
        return base + 0.0 * self.generator(z)


class NanGan(StandInGan):
    """A generator whose samples are NaN."""

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return super().generate(z, y) * float("nan")


@pytest.fixture(scope="module")
def digits() -> TaskData:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def small(digits: TaskData) -> TaskData:
    """128 training images: for tests of mechanics, not quality."""
    train = Split(digits.train.X[:128], digits.train.y[:128])
    return replace(digits, name="digits-small", train=train)


def test_params_split_by_name_prefix() -> None:
    model = StandInGan(conditional=True)
    g, d = generator_params(model), discriminator_params(model)
    assert {id(p) for p in g}.isdisjoint(id(p) for p in d)
    assert len(g) + len(d) == len(list(model.parameters()))
    assert any(p is model.label_embed_g.weight for p in g)
    assert any(p is model.label_embed_d.weight for p in d)
    with pytest.raises(NasError, match="no trainable generator"):
        generator_params(nn.Linear(2, 2))


@pytest.mark.parametrize(
    ("loss", "conditional", "critic_steps"),
    [("ns", False, 1), ("hinge", True, 1), ("wgan_gp", False, 2), ("wgan_gp", True, 1)],
)
def test_each_loss_trains_a_few_steps(
    small: TaskData, loss: str, conditional: bool, critic_steps: int
) -> None:
    model = StandInGan(TrainCfg(loss=loss, critic_steps=critic_steps), conditional)
    before = [p.detach().clone() for p in generator_params(model)]
    result = train_gan(model, small, epochs=2, seed=0)
    assert result.epochs_run == 2 and result.stop_reason == "completed"
    assert result.steps_d == 2 * 4 and result.steps_g == 2 * 4 // critic_steps
    assert all(math.isfinite(h[k]) for h in result.history for k in ("d_loss", "g_loss"))
    assert result.best_score is None and result.best_epoch == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, generator_params(model)))
    json.dumps(result.to_dict())


def test_same_seed_same_run(small: TaskData) -> None:
    runs = [train_gan(StandInGan(), small, epochs=1, seed=3).history[0] for _ in range(2)]
    assert runs[0]["d_loss"] == runs[1]["d_loss"] and runs[0]["g_loss"] == runs[1]["g_loss"]


def test_short_training_beats_noise_on_fcd(digits: TaskData) -> None:
    clf = feature_classifier(digits)
    scorer = make_scorer(digits, classifier=clf)
    model = StandInGan()
    result = train_gan(model, digits, epochs=12, seed=0, scorer=scorer, score_every=4)
    assert [h["score"] is not None for h in result.history].count(True) == 3
    assert scorer(model).fcd == pytest.approx(result.best_score)  # best weights restored
    noise = torch.rand(len(digits.test), 1, 8, 8, generator=torch.Generator().manual_seed(0))
    fake, _ = sample_generator(model, len(digits.test), seed=1)
    fcd_noise = frechet_classifier_distance(clf, digits.test.X, noise)
    fcd_gan = frechet_classifier_distance(clf, digits.test.X, fake)
    assert fcd_gan < 0.5 * fcd_noise, (fcd_gan, fcd_noise)
    assert {"precision", "recall", "diversity"} <= result.history[-1].keys()


def test_nan_generator_raises_with_the_reason(small: TaskData) -> None:
    with pytest.raises(TrainingError, match="discriminator loss became nan at epoch 1 step 1"):
        train_gan(NanGan(), small, epochs=1, seed=0)


@pytest.mark.parametrize("loss", ["ns", "wgan_gp"])
def test_huge_learning_rate_raises(small: TaskData, loss: str) -> None:
    model = StandInGan(TrainCfg(loss=loss, lr_g=100.0, lr_d=100.0))
    with pytest.raises(TrainingError, match=r"diverged: the (generator|discriminator) loss became"
                       r" -?[0-9.]+e\+\d+ at epoch 1 .*lr_g=100, lr_d=100") as info:  # fmt: skip
        train_gan(model, small, epochs=5, seed=0)
    assert info.value.history == []


def test_constant_generator_is_mode_collapse(small: TaskData) -> None:
    with pytest.raises(TrainingError, match="Mode collapse at epoch 3") as info:
        train_gan(ConstantGan(), small, epochs=6, seed=0)
    assert [h["diversity"] for h in info.value.history] == [0.0, 0.0, 0.0]
    result = train_gan(ConstantGan(), small, epochs=4, seed=0, checks=None)
    assert result.epochs_run == 4


def test_one_template_per_class_is_mode_collapse(small: TaskData) -> None:
    # between classes the samples differ as much as real digits; within each class not at all
    with pytest.raises(TrainingError, match="Mode collapse at epoch 3"):
        train_gan(TemplateGan(), small, epochs=4, seed=0)


def test_within_class_diversity_known_answer() -> None:
    x = torch.tensor([[0.0], [2.0], [10.0], [10.0], [7.0]])
    y = torch.tensor([0, 0, 1, 1, 2])  # class 2 has one sample: left out
    assert diversity(x, y) == pytest.approx((2.0 + 0.0) / 2)
    assert diversity(x) == mean_pairwise_distance(x)


def test_trains_the_real_gan_model(small: TaskData) -> None:
    optuna = pytest.importorskip("optuna")
    from search_spaces.gan import build_gan
    from search_spaces.spaces import SpaceContext, get_space, starting_points

    ctx = SpaceContext((1, 8, 8), "image", "classification", 10)
    (point,) = starting_points(get_space("gan"), ctx)
    model = build_gan(get_space("gan").sample(optuna.trial.FixedTrial(point), ctx))
    assert isinstance(model, GanModelLike) and model.conditional
    g, d = generator_params(model), discriminator_params(model)
    assert len(g) + len(d) == len(list(model.parameters()))
    result = train_gan(model, small, epochs=1, seed=0)  # its own spec.train
    assert result.steps_d == 2 and math.isfinite(result.history[0]["diversity"])


def test_discriminator_winning_ends_the_run(small: TaskData) -> None:
    model = FarNoiseGan(TrainCfg(lr_d=1e-2))
    with pytest.raises(TrainingError, match="discriminator won completely") as info:
        train_gan(model, small, epochs=10, seed=0)
    last = info.value.history[-1]
    assert last["d_accuracy"] >= 0.99 and last["g_loss"] >= 8.0 and last["diversity"] > 0.5
    # WGAN-GP's critic is meant to separate the sets: the rule does not apply
    wgan = FarNoiseGan(TrainCfg(loss="wgan_gp", lr_d=1e-2))
    assert train_gan(wgan, small, epochs=3, seed=0, checks=GanChecks(d_win_epochs=1)).epochs_run


def test_callbacks_get_logs_and_their_errors_propagate(small: TaskData) -> None:
    seen: list[tuple[int, dict]] = []
    train_gan(StandInGan(), small, epochs=2, seed=0, callbacks=[LambdaCallback(
        lambda e, logs: seen.append((e, logs)))])  # fmt: skip
    assert [e for e, _ in seen] == [1, 2]
    assert {"d_loss", "g_loss", "score", "diversity", "d_accuracy", "seconds"} <= seen[0][1].keys()

    def boom(epoch: int, logs: dict) -> None:
        raise ValueError(f"pruned at {epoch}")

    with pytest.raises(ValueError, match="pruned at 1"):
        train_gan(StandInGan(), small, epochs=3, seed=0, callbacks=[LambdaCallback(boom)])

    def stop(epoch: int, logs: dict) -> None:
        raise StopTraining

    result = train_gan(StandInGan(), small, epochs=3, seed=0, callbacks=[LambdaCallback(stop)])
    assert result.epochs_run == 1 and result.stop_reason == "callback"


def test_bad_arguments(small: TaskData) -> None:
    with pytest.raises(NasError, match="GAN loss must be one of ns, hinge, wgan_gp"):
        train_gan(StandInGan(TrainCfg(loss="lsgan")), small, epochs=1)
    with pytest.raises(NasError, match="critic_steps must be an integer >= 1"):
        train_gan(StandInGan(TrainCfg(critic_steps=0)), small, epochs=1)
    model = StandInGan()
    model.data_shape = (1, 28, 28)
    with pytest.raises(ShapeError, match=r"\(1, 28, 28\).*\(1, 8, 8\)"):
        train_gan(model, small, epochs=1)


def test_mean_pairwise_distance_known_answer() -> None:
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert mean_pairwise_distance(x) == pytest.approx((5 + 5 + 0) * 2 / 6)
