"""The GAN side of the search: a trial objective, the final retraining and test scoring, and
the run-directory artifacts a GAN run adds (``scorer/``, ``best/samples.npz``,
``explain/gan.json``).

A trial samples a :class:`~search_spaces.gan.GanSpec`, builds it from the trial's seed and
measures the *generator's* cost (the deployable part) before any training; the budget is checked
against it exactly as for a classifier. It then trains with :func:`nas.gan.train.train_gan`,
reporting the validation Fréchet classifier distance (FCD, lower is better) to the pruner after
every epoch; the trial's value is its best validation FCD. Divergence and mode collapse
(:class:`~nas.errors.TrainingError`) fail the trial with the reason; the search goes on.

The final model is *not* retrained on train + validation: GAN quality is not monotone in the
epochs and, without the validation split, nothing would choose the epoch to keep. Instead the
winner is retrained with its trial's seed on the training split, scored on validation every
epoch and stopped at the trial's best epoch, which reproduces the trial's best weights on the
CPU; the test split is then scored once.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch

from nas import run as rundir
from nas.cost import Cost, measure_cost
from nas.data.taskdata import TaskData
from nas.errors import NasError, TrainingError
from nas.gan.classifier import FeatureClassifier, feature_classifier
from nas.gan.score import GanScorer, frechet_distance, sample_generator, score_generator
from nas.gan.train import GanTrainResult, train_gan
from nas.search import (
    DeadlineCallback,
    FinalModel,
    PruningCallback,
    SearchSettings,
    time_limit,
    trial_outcome,
    trial_seed,
)
from nas.study import COST_OBJECTIVES
from nas.train import Callback, StopTraining
from search_spaces import SpaceContext
from search_spaces.gan import GanModel, GanSpec, build_gan

GAN_METRICS = ("fcd",)  # validation scores a GAN search can optimise (lower is better)
SCORER_FILE = "classifier.pt"  # under RUN/scorer/
SAMPLES_PER_CLASS = 8  # in best/samples.npz


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


# --- the trial ------------------------------------------------------------------------------
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
    """Cost of the generator alone, on its input ``(latent_dim + label_dim,)``."""
    width = model.spec.latent_dim + model.spec.label_dim
    return measure_cost(model.generator, (width,), **kwargs)


def _curve_row(h: dict[str, Any]) -> dict[str, Any]:
    keys = ("epoch", "d_loss", "g_loss", "d_accuracy", "diversity", "score", "precision",
            "recall", "cond_accuracy", "seconds")  # fmt: skip
    return {k: h.get(k) for k in keys}


class GanObjective:
    """The function Optuna calls per trial of a ``gan`` space search."""

    def __init__(
        self,
        data: TaskData,
        settings: SearchSettings,
        device: str | None = None,
        classifier: FeatureClassifier | None = None,
    ):
        check_gan_data(data)
        self.data, self.s, self.device = data, settings, device
        self.ctx = SpaceContext.of(data)
        self.prune = len(settings.objectives) == 1
        self.classifier = classifier or feature_classifier(data, seed=settings.seed)
        self.scorer = GanScorer(self.classifier, data.val.X, data.val.y, seed=settings.seed)

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        start = time.perf_counter()
        trial.set_user_attr("status", "running")
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        with trial_outcome(trial, start):
            spec = self.s.space.sample(trial, self.ctx)
            if not isinstance(spec, GanSpec):
                raise NasError(f"space {self.s.space.name!r} gave no GanSpec; use space 'gan'.")
            trial.set_user_attr("family", "gan")
            trial.set_user_attr("spec", spec.to_dict())
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(trial_seed(self.s.seed, trial.number))
                model = build_gan(spec)
            cost, violations = self._measure(model)
            for key in ("params", "flops", "latency_ms", "latency_ms_batch", "memory_mb",
                        "energy_mj"):  # fmt: skip
                trial.set_user_attr(key, getattr(cost, key))
            d_params = sum(p.numel() for n, p in model.named_parameters()
                           if n.startswith(("discriminator.", "label_embed_d.")))  # fmt: skip
            trial.set_user_attr("d_params", d_params)
            if violations:  # stopped before a single optimizer step
                reason = "over budget (generator): " + "; ".join(violations)
                trial.set_user_attr("status", "over_budget")
                trial.set_user_attr("reason", reason)
                trial.set_user_attr("seconds", time.perf_counter() - start)
                raise optuna.TrialPruned(reason)
            callbacks: list[Callback] = [_Patience(self.s.patience)]
            if self.prune:
                callbacks.insert(0, PruningCallback(trial, key="score"))
            if self.s.trial_timeout:
                callbacks.append(DeadlineCallback(start, self.s.trial_timeout))
            with time_limit(self.s.trial_timeout, start):
                result = train_gan(
                    model,
                    self.data,
                    epochs=self.s.epochs,
                    callbacks=callbacks,
                    seed=trial_seed(self.s.seed, trial.number),
                    device=self.device,
                    scorer=self.scorer,
                )
        return self._finish(trial, result, start)

    def _finish(
        self, trial: optuna.Trial, result: GanTrainResult, start: float
    ) -> float | tuple[float, ...]:
        trial.set_user_attr("seconds", time.perf_counter() - start)
        trial.set_user_attr("epochs", result.epochs_run)
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("curve", [_curve_row(h) for h in result.history])
        value = result.best_score
        if value is None or not math.isfinite(value):
            reason = f"undefined: validation fcd is {value}"
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("reason", reason)
            raise TrainingError(f"{reason}; the trial cannot be ranked.")
        trial.set_user_attr("status", "complete")
        extra = [float(trial.user_attrs[COST_OBJECTIVES[o]]) for o in self.s.objectives[1:]]
        return float(value) if not extra else (float(value), *extra)

    def _measure(self, model: GanModel) -> tuple[Cost, list[str]]:
        from dataclasses import replace

        cost = generator_cost(model, latency=False, device=self.device)
        violations = replace(self.s.budget, max_latency_ms=None).check(cost)
        if violations:
            return cost, violations
        cost = generator_cost(
            model, latency=True, warmup=2, repeats=self.s.latency_repeats, device=self.device
        )
        return cost, self.s.budget.check(cost)


# --- finalize -------------------------------------------------------------------------------
def noise_samples(data: TaskData, n: int, seed: int) -> torch.Tensor:
    """A uniform-noise "generator": values uniform over the training data's range."""
    lo, hi = float(data.train.X.min()), float(data.train.X.max())
    gen = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(n, *data.input_shape, generator=gen)


def reference_scores(data: TaskData, clf: FeatureClassifier, seed: int) -> dict[str, float]:
    """FCD references on the test split: the floor (real vs real) and the ceiling (noise).

    - ``halves_fcd``: the two halves of the test split against each other;
    - ``real_fcd``: as many train + val examples as the test split has, against it (the same
      sample sizes as the generator's score, so the fairest floor);
    - ``noise_fcd``: uniform noise against the test split.
    """
    test = data.test.X
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(test), generator=gen)
    half = len(test) // 2
    pool = torch.cat([data.train.X, data.val.X])
    pick = torch.randperm(len(pool), generator=gen)[: len(test)]
    feats = clf.features(test)
    return {
        "halves_fcd": frechet_distance(feats[perm[:half]], feats[perm[half:]]),
        "real_fcd": frechet_distance(feats, clf.features(pool[pick])),
        "noise_fcd": frechet_distance(feats, clf.features(noise_samples(data, len(test), seed))),
    }


def sample_grid(model: GanModel, data: TaskData, n_per_class: int, seed: int) -> dict[str, Any]:
    """Generated and real test samples per class, ``(K, n, *data_shape)`` each."""
    k = model.n_classes if model.conditional else 1
    names = list(data.class_names) if model.conditional else ["all"]
    y = torch.arange(k).repeat_interleave(n_per_class) if model.conditional else None
    fake, _ = sample_generator(model, k * n_per_class, seed, y)
    real = []
    for c in range(k):
        rows = data.test.X if not model.conditional else data.test.X[data.test.y == c]
        rows = rows[:n_per_class]
        if len(rows) < n_per_class:  # pad a rare class with zeros, marked by real_count
            pad = torch.zeros(n_per_class - len(rows), *data.input_shape)
            rows = torch.cat([rows, pad])
        real.append(rows)
    return {
        "generated": fake.reshape(k, n_per_class, *data.input_shape).numpy(),
        "real": torch.stack(real).numpy(),
        "class_names": np.asarray(names),
    }


def retrain_and_score(
    data: TaskData,
    trial: optuna.trial.FrozenTrial,
    settings: SearchSettings,
    classifier: FeatureClassifier,
    rank: int = 1,
    device: str | None = None,
) -> tuple[FinalModel, dict[str, Any]]:
    """Rebuild the trial's GAN with its seed, retrain it to its best epoch (keeping the best
    validation weights), then score it once on the test split. Returns the final model and the
    sample grid of ``best/samples.npz``."""
    spec = GanSpec.from_dict(trial.user_attrs["spec"])
    seed = trial_seed(settings.seed, trial.number)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_gan(spec)
    epochs = max(1, int(trial.user_attrs.get("best_epoch") or settings.epochs))
    scorer = GanScorer(classifier, data.val.X, data.val.y, seed=settings.seed)
    result = train_gan(model, data, epochs=epochs, seed=seed, device=device, scorer=scorer)
    model.cpu().eval()
    cost = generator_cost(model, latency=True, warmup=3, repeats=20)
    d_cost = measure_cost(model.discriminator, tuple(data.input_shape), latency=False)
    y = data.test.y if spec.conditional else None
    scores = score_generator(model, classifier, data.test.X, len(data.test), settings.seed, y)
    floors = reference_scores(data, classifier, settings.seed)
    test = scores.to_dict()
    test.update(floors)
    test["fcd_vs_noise"] = test["fcd"] / floors["noise_fcd"] if floors["noise_fcd"] else None
    metrics = {
        "rank": rank,
        "trial": trial.number,
        "family": "gan",
        "metric": settings.metric,
        "test": test,
        "val": {settings.metric: trial.values[0] if trial.values else None},
        "objectives": dict(zip(settings.objectives, trial.values or [])),
        "cost": cost.to_dict(),
        "cost_discriminator": d_cost.to_dict(),
        "classifier": {
            **classifier.config.__dict__,
            "input_shape": list(classifier.config.input_shape),
        },  # fmt: skip
        "retrain": {
            "epochs": epochs,
            "seconds": result.seconds,
            "best_epoch": result.best_epoch,
            "best_val_fcd": result.best_score,
            "policy": "same seed, training split, best validation epoch (see nas.gan.search)",
            "history": [_curve_row(h) for h in result.history],
        },
        "search_curve": trial.user_attrs.get("curve", []),
        "summary": spec.summary(),
    }
    grid = sample_grid(model, data, SAMPLES_PER_CLASS, settings.seed)
    return FinalModel(rank, trial.number, spec, model, cost, metrics), grid  # type: ignore[arg-type]


def save_samples(folder: Path, grid: dict[str, Any]) -> None:
    """``folder/samples.npz``: generated and real samples per class."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".samples.{os.getpid()}.npz"
    np.savez_compressed(tmp, **grid)
    os.replace(tmp, folder / "samples.npz")


# --- explanations ---------------------------------------------------------------------------
def _plain(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return np.round(x, 5).tolist() if x.dtype.kind == "f" else x.tolist()
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def explain_gan_run(run_dir: Path, model: GanModel, data: TaskData, trial: int) -> Path | None:
    """``explain.gan.explain_gan`` of the winner, stored in ``RUN/explain/gan.json``; None when
    that module is not available."""
    try:
        from explain.gan import explain_gan  # type: ignore[import-not-found]
    except ImportError:
        return None
    views = explain_gan(model, data)
    path = Path(run_dir) / "explain" / "gan.json"
    rundir.write_json(path, {"trial": trial, "views": _plain(views)})
    return path


def report_data(run_dir: Path, best: dict[str, Any] | None) -> dict[str, Any] | None:
    """The report's ``gan`` section: scores, floors, classifier and the stored explanations."""
    if best is None or best.get("family") != "gan":
        return None
    out: dict[str, Any] = {
        "scores": best.get("test"),
        "classifier": best.get("classifier"),
        "cost_discriminator": best.get("cost_discriminator"),
        "explanations": None,
    }
    path = Path(run_dir) / "explain" / "gan.json"
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if stored.get("trial") == best.get("trial"):
            out["explanations"] = stored.get("views")
    samples = Path(run_dir) / "best" / "samples.npz"
    if samples.is_file():
        with np.load(samples, allow_pickle=False) as z:
            out["samples"] = {k: _plain(z[k]) for k in z.files}
    return out


__all__ = [
    "GAN_METRICS",
    "GanObjective",
    "explain_gan_run",
    "gan_objectives",
    "reference_scores",
    "report_data",
    "retrain_and_score",
    "save_samples",
    "search_classifier",
]
