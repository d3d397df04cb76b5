"""The GAN winner's final model and the run-directory artifacts a GAN run adds
(``best/samples.npz``, ``explain/gan.json``) and the report's ``gan`` data.

The final model is *not* retrained on train + validation: GAN quality is not monotone in the
epochs and, without the validation split, nothing would choose the epoch to keep. Instead the
winner is retrained with its trial's seed on the training split, scored on validation every
epoch and stopped at the trial's best epoch, which reproduces the trial's best weights on the
CPU; the test split is then scored once.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch

from nas import run as rundir
from nas.cost import measure_cost
from nas.data.taskdata import TaskData
from nas.gan.classifier import FeatureClassifier
from nas.gan.score import GanScorer, frechet_distance, sample_generator, score_generator
from nas.gan.search import curve_row as _curve_row
from nas.gan.search import generator_cost
from nas.gan.train import train_gan
from nas.kinds._base import FinalModel
from nas.trial import SearchSettings, recorded_best_epoch, seed_number, seeded, trial_seed
from search_spaces.gan import GanModel, GanSpec, build_gan

SAMPLES_PER_CLASS = 8  # in best/samples.npz


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
    seed = trial_seed(settings.seed, seed_number(trial))
    model = seeded(build_gan, spec, seed)
    epochs = max(1, recorded_best_epoch(trial, settings.epochs))
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
    rundir.save_arrays(folder / "samples.npz", grid)


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
    """The report's ``gan`` section in the shape explain/report/SCHEMA.md gives it: the test
    scores with their floor (real data) and noise references and the feature classifier's
    accuracy, the final model's training curves, and the stored explanations' views (grid,
    traversals, latent change, discriminator) at the top level; None for a run that is not a
    GAN's."""
    if best is None or best.get("family") != "gan":
        return None
    test = best.get("test") if isinstance(best.get("test"), dict) else {}
    classifier = best.get("classifier") if isinstance(best.get("classifier"), dict) else {}
    retrain = best.get("retrain") if isinstance(best.get("retrain"), dict) else {}
    out: dict[str, Any] = {
        "scores": {
            "test": test,
            "floor_fcd": test.get("real_fcd"),  # real data against the test split: the floor
            "noise_fcd": test.get("noise_fcd"),
            "classifier_accuracy": classifier.get("test_accuracy"),
        },
        "curves": retrain.get("history") or best.get("search_curve") or [],
        "summary": _in_words(test),
        "classifier": classifier,
        "cost_discriminator": best.get("cost_discriminator"),
    }
    path = Path(run_dir) / "explain" / "gan.json"
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        views = stored.get("views") if isinstance(stored, dict) else None
        if stored.get("trial") == best.get("trial") and isinstance(views, dict):
            out.update(views)  # modality, data_shape, grid, traversals, discriminator, ...
    samples = Path(run_dir) / "best" / "samples.npz"
    if samples.is_file():
        try:
            with np.load(samples, allow_pickle=False) as z:
                out["samples"] = {k: _plain(z[k]) for k in z.files}
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error,
                NotImplementedError):  # fmt: skip
            # damaged (0 bytes, cut short): the report shows the scores without the grid,
            # rather than ending in "error: aborted." (/tmp/oX 5)
            out["samples_damaged"] = (f"{samples} is damaged (empty or cut short), so the "
                                      f"samples are not shown; {rundir.RETRAIN}.")  # fmt: skip
    return out


def _in_words(test: dict[str, Any]) -> str | None:
    """Where the test FCD sits against real data and noise, in one sentence."""
    fcd, floor, noise = test.get("fcd"), test.get("real_fcd"), test.get("noise_fcd")
    if not all(isinstance(v, int | float) for v in (fcd, floor, noise)):
        return None
    if fcd >= noise:
        return (f"The generator's samples score FCD {fcd:.4g}, no closer to the real test data "
                f"than uniform random inputs ({noise:.4g}): they are not yet realistic. Real "
                f"data scores {floor:.4g}.")  # fmt: skip
    return (f"The generator's samples score FCD {fcd:.4g}, between real data ({floor:.4g}, "
            f"the best reachable) and uniform random inputs ({noise:.4g}); lower is "
            "better.")  # fmt: skip


__all__ = [
    "SAMPLES_PER_CLASS",
    "explain_gan_run",
    "reference_scores",
    "report_data",
    "retrain_and_score",
    "sample_grid",
    "save_samples",
]
