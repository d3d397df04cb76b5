"""The GAN side of the search: its objectives, the scorer's classifier, and the trial function.

A trial samples a :class:`~search_spaces.gan.GanSpec`, builds it from the trial's seed and
measures the *generator's* cost (the deployable part) before any training; the budget is checked
against it exactly as for a classifier (the shared lifecycle of :class:`nas.trial.TrialObjective`).
It then trains with :func:`nas.gan.train.train_gan`, reporting the validation Fréchet classifier
distance (FCD, lower is better) to the pruner after every epoch; the trial's value is its best
validation FCD. Divergence and mode collapse (:class:`~nas.errors.TrainingError`) fail the trial
with the reason; the search goes on.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import torch

from nas import run as rundir
from nas.cost import Cost, measure_cost
from nas.data.taskdata import TaskData
from nas.errors import NasError
from nas.gan.classifier import FeatureClassifier, feature_classifier
from nas.gan.score import GanScorer
from nas.gan.train import train_gan
from nas.study import COST_OBJECTIVES
from nas.train import Callback, StopTraining
from nas.trial import SearchSettings, TrialObjective, seed_number, trial_seed
from search_spaces.gan import GanModel, GanSpec, build_gan

GAN_METRICS = ("fcd",)  # validation scores a GAN search can optimise (lower is better)
SCORER_FILE = "classifier.pt"  # under RUN/scorer/


# --- settings -------------------------------------------------------------------------------
def gan_objectives(
    objectives: str | list[str] | None, metric: str | None
) -> tuple[str, list[str], list[str]]:
    """The metric, objective names and directions of a GAN search: ``fcd`` first (minimised),
    then cost objectives of the generator (``fcd,params``)."""
    metric = metric or "fcd"
    if metric not in GAN_METRICS:
        raise NasError(f"Metric {metric!r} is not a GAN metric; choose one of {list(GAN_METRICS)}.")
    if objectives is None:
        names = [metric]
    else:
        raw = objectives.split(",") if isinstance(objectives, str) else objectives
        names = [o.strip() for o in raw if o.strip()]
    if not names:
        raise NasError("--objectives is empty; give e.g. 'fcd' or 'fcd,params'.")
    if names[0] in COST_OBJECTIVES:
        names = [metric, *names]
    if names[0] not in GAN_METRICS:
        raise NasError(
            f"The first objective of a GAN search must be {list(GAN_METRICS)}, got "
            f"{names[0]!r}; e.g. --objectives fcd,params."
        )
    for n in names[1:]:
        if n not in COST_OBJECTIVES:
            raise NasError(f"Unknown cost objective {n!r}; choose from {list(COST_OBJECTIVES)}.")
    if len(set(names)) != len(names):
        raise NasError(f"--objectives repeats a name: {names}.")
    return names[0], names, ["minimize"] * len(names)


def check_gan_data(data: TaskData) -> None:
    """A GAN search needs class labels: the feature classifier that scores it is trained on them."""
    if data.task != "classification":
        raise NasError(
            f"The gan space scores generators with a classifier of the real data, so it needs a "
            f"classification dataset; {data.name!r} is {data.task}. Use e.g. --dataset digits."
        )


# --- the scorer's classifier, trained once per search ------------------------------------------
def scorer_path(run_dir: Path) -> Path:
    """Where a run keeps its feature classifier."""
    return Path(run_dir) / "scorer" / SCORER_FILE


def search_classifier(data: TaskData, seed: int, path: Path | None = None) -> FeatureClassifier:
    """The search's feature classifier: loaded from ``path`` when it holds one for this data
    (``weights_only``), otherwise trained once (cached per process) and saved there."""
    if path is not None and Path(path).is_file():
        clf = FeatureClassifier.load(path)
        c = clf.config
        same = (c.dataset, tuple(c.input_shape), c.n_train, c.seed) == (
            data.name, tuple(data.input_shape), len(data.train), seed)  # fmt: skip
        if same:
            return clf
    clf = feature_classifier(data, seed=seed)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(path).with_suffix(f".tmp{os.getpid()}")
        clf.save(tmp)
        os.replace(tmp, path)
        info = {**clf.config.__dict__, "input_shape": list(clf.config.input_shape)}
        rundir.write_json(Path(path).with_suffix(".json"), info)
    return clf


class _Patience(Callback):
    """Stops GAN training after ``patience`` epochs without a better validation FCD."""

    def __init__(self, patience: int):
        self.patience, self.best, self.since = patience, math.inf, 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        score = logs.get("score")
        if score is None:
            return
        if score < self.best:
            self.best, self.since = score, 0
            return
        self.since += 1
        if self.since >= self.patience:
            raise StopTraining()


def generator_cost(model: GanModel, **kwargs: Any) -> Cost:
    """Cost of what ``nas export`` ships of a GAN: the generator on its input ``(latent_dim +
    label_dim,)``, and a conditional one's label embedding (n_classes x label_dim parameters,
    and their bytes; its lookup costs no FLOPs)."""
    width = model.spec.latent_dim + model.spec.label_dim
    cost = measure_cost(model.generator, (width,), **kwargs)
    embed = model.label_embed_g
    if embed is None:
        return cost
    n = embed.weight.numel()
    return replace(cost, params=cost.params + n, trainable_params=cost.trainable_params + n,
                   memory_mb=cost.memory_mb + n * embed.weight.element_size() / 2**20)  # fmt: skip


def curve_row(h: dict[str, Any]) -> dict[str, Any]:
    keys = ("epoch", "d_loss", "g_loss", "d_accuracy", "diversity", "score", "precision",
            "recall", "cond_accuracy", "seconds")  # fmt: skip
    return {k: h.get(k) for k in keys}


class GanObjective(TrialObjective):
    """The function Optuna calls per trial of a ``gan`` space search."""

    monitor = "score"
    budget_label = " (generator)"

    def __init__(
        self,
        data: TaskData,
        settings: SearchSettings,
        device: str | None = None,
        classifier: FeatureClassifier | None = None,
    ):
        check_gan_data(data)
        super().__init__(data, settings, device)
        self.classifier = classifier or feature_classifier(data, seed=settings.seed)
        self.scorer = GanScorer(self.classifier, data.val.X, data.val.y, seed=settings.seed)

    def check_spec(self, spec: Any) -> None:
        if not isinstance(spec, GanSpec):
            raise NasError(f"space {self.s.space.name!r} gave no GanSpec; use space 'gan'.")

    def family(self, spec: Any) -> str:
        return "gan"

    def build(self, spec: GanSpec) -> GanModel:
        return build_gan(spec)

    def cost(self, model: torch.nn.Module, **kwargs: Any) -> Cost:
        return generator_cost(model, **kwargs)  # type: ignore[arg-type]

    def budget_part(self, model: torch.nn.Module) -> torch.nn.Module:
        # what nas export ships: the generator and a conditional one's label embedding
        return torch.nn.ModuleList([model.generator, model.label_embed_g or torch.nn.Identity()])

    def record_model(self, trial: optuna.Trial, model: torch.nn.Module) -> None:
        d_params = sum(p.numel() for n, p in model.named_parameters()
                       if n.startswith(("discriminator.", "label_embed_d.")))  # fmt: skip
        trial.set_user_attr("d_params", d_params)

    def extra_callbacks(self) -> list[Callback]:
        return [_Patience(self.s.patience)]

    def train(self, model: torch.nn.Module, spec: Any, trial: optuna.Trial,
              callbacks: list[Callback]) -> Any:  # fmt: skip
        return train_gan(
            model,  # type: ignore[arg-type]
            self.data,
            epochs=self.s.epochs,
            callbacks=callbacks,
            seed=trial_seed(self.s.seed, seed_number(trial)),
            device=self.device,
            scorer=self.scorer,
        )

    def value(self, result: Any) -> float | None:
        return result.best_score

    def curve_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return curve_row(row)


__all__ = [
    "GAN_METRICS",
    "GanObjective",
    "check_gan_data",
    "curve_row",
    "gan_objectives",
    "generator_cost",
    "scorer_path",
    "search_classifier",
]
