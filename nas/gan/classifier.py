"""A small classifier trained on a dataset's real training split, used as a feature extractor.

Scoring a generator needs features in which real and generated samples can be compared. The
usual choice (Inception-v3 for FID) needs a download and fits 299x299 photos, not 8x8 digits or
1-D signals, so each dataset gets its own classifier instead: an MLP for tabular data, a small
CNN for images ``(C, H, W)`` and sequences ``(T, F)``. Its penultimate layer gives the features
(:meth:`FeatureClassifier.features`), its predictions the conditional accuracy. It trains in
seconds on the CPU, deterministically from its seed, and records its own test accuracy so a
report can say how much its features are worth.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nas.data.taskdata import TaskData
from nas.errors import DataError, NasError

FEATURE_DIM = 64  # small, so that covariances estimated from a few hundred samples stay sane
EVAL_BATCH = 1024
DEFAULT_EPOCHS = 20


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to rebuild a :class:`FeatureClassifier` (JSON values only)."""

    dataset: str  # TaskData.name it was trained on
    input_shape: tuple[int, ...]
    n_classes: int
    seed: int  # initialisation and batch order
    epochs: int
    feature_dim: int = FEATURE_DIM
    n_train: int = 0
    val_accuracy: float | None = None  # of the kept (best-val) weights
    test_accuracy: float | None = None
    seconds: float = 0.0


class _Transpose(nn.Module):
    """(N, T, F) sequences to (N, F, T) channels for Conv1d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


def _body(input_shape: tuple[int, ...], width: int) -> nn.Sequential:
    """The layers up to (and including) the feature layer, chosen by the input's rank."""
    if len(input_shape) == 3:  # image (C, H, W)
        return nn.Sequential(
            nn.Conv2d(input_shape[0], 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2) if min(input_shape[1:]) >= 4 else nn.Identity(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(32 * 16, width),
            nn.ReLU(),
        )
    if len(input_shape) == 2:  # sequence (T, F): convolve over time, features as channels
        return nn.Sequential(
            _Transpose(),
            nn.Conv1d(input_shape[1], 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(2) if input_shape[0] >= 8 else nn.Identity(),
            nn.Conv1d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool1d(2) if input_shape[0] >= 8 else nn.Identity(),
            nn.Conv1d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveMaxPool1d(4),
            nn.Flatten(),
            nn.Linear(64 * 4, width),
            nn.ReLU(),
        )
    if len(input_shape) == 1:  # tabular (F,)
        return nn.Sequential(
            nn.Linear(input_shape[0], 128), nn.ReLU(), nn.Linear(128, width), nn.ReLU()
        )
    raise DataError(f"FeatureClassifier takes inputs of rank 1-3, got shape {input_shape}.")


class FeatureClassifier:
    """A classifier of the real data whose penultimate layer serves as the feature space.

    ``FeatureClassifier.fit(data, seed)`` trains one on ``data.train`` (keeping the weights of
    the best ``data.val`` epoch); ``features(x)``, ``predict(x)`` and ``accuracy(x, y)`` use it;
    ``save(path)`` / ``FeatureClassifier.load(path)`` keep it in a run directory.
    """

    def __init__(self, config: ClassifierConfig, device: torch.device | str = "cpu") -> None:
        self.config = config
        self.body = _body(tuple(config.input_shape), config.feature_dim)
        self.head = nn.Linear(config.feature_dim, config.n_classes)
        self.device = torch.device(device)
        self.body.to(self.device).eval()
        self.head.to(self.device).eval()

    @classmethod
    def fit(
        cls,
        data: TaskData,
        seed: int = 0,
        epochs: int = DEFAULT_EPOCHS,
        *,
        batch_size: int = 64,
        lr: float = 3e-3,
        device: torch.device | str = "cpu",
    ) -> FeatureClassifier:
        """Train on ``data.train`` (real data, class labels) and record val/test accuracy."""
        if data.task != "classification" and data.train.y.dtype != torch.int64:
            raise DataError(
                f"The feature classifier needs class labels, but dataset {data.name!r} has task "
                f"{data.task!r}; use a classification dataset."
            )
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise NasError(f"epochs must be an integer >= 1, got {epochs!r}.")
        n_classes = int(data.output_size)
        config = ClassifierConfig(data.name, tuple(data.input_shape), n_classes, seed, epochs)
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self = cls(config, device)
            gen = torch.Generator().manual_seed(seed)
            X, y = data.train.X.to(self.device), data.train.y.long().to(self.device)
            params = [*self.body.parameters(), *self.head.parameters()]
            opt = torch.optim.Adam(params, lr=lr, weight_decay=1e-4)
            best_acc, best_state = -1.0, None
            n = len(X)
            for _ in range(epochs):
                self.body.train()
                self.head.train()
                perm = torch.randperm(n, generator=gen).to(self.device)
                for i in range(0, n, batch_size):
                    idx = perm[i : i + batch_size]
                    loss = F.cross_entropy(self.head(self.body(X[idx])), y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                if len(data.val) == 0:
                    continue
                acc = self.accuracy(data.val.X, data.val.y)
                if acc > best_acc:
                    best_acc, best_state = acc, self.state_dict()
        if best_state is not None:
            self.load_state_dict(best_state)
        test_acc = self.accuracy(data.test.X, data.test.y) if len(data.test) else None
        self.config = ClassifierConfig(
            **{
                **asdict(config),
                "n_train": n,
                "val_accuracy": best_acc if best_state is not None else None,
                "test_accuracy": test_acc,
                "seconds": time.perf_counter() - start,
            }
        )
        return self

    def _eval(self, x: torch.Tensor, head: bool) -> torch.Tensor:
        self.body.eval()
        self.head.eval()
        parts = []
        with torch.no_grad():
            for i in range(0, len(x), EVAL_BATCH):
                out = self.body(x[i : i + EVAL_BATCH].float().to(self.device))
                parts.append((self.head(out) if head else out).cpu())
        return torch.cat(parts) if parts else torch.empty(0, self.config.feature_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer's activations, ``(N, feature_dim)`` float32 on the CPU."""
        return self._eval(x, head=False)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, ``(N, n_classes)`` on the CPU."""
        return self._eval(x, head=True)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted class indices, ``(N,)`` int64."""
        return self.logits(x).argmax(dim=1)

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Share of ``x`` predicted as ``y``."""
        return float((self.predict(x) == y.long().reshape(-1).cpu()).float().mean())

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Both parts' weights, cloned, under ``body.`` / ``head.``."""
        state = {f"body.{k}": v.detach().clone() for k, v in self.body.state_dict().items()}
        state.update({f"head.{k}": v.detach().clone() for k, v in self.head.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """The inverse of :meth:`state_dict`."""
        self.body.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("body.")})
        self.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})

    def save(self, path: str | Path) -> None:
        """Config and weights in one file that loads with ``torch.load(weights_only=True)``."""
        config = {**asdict(self.config), "input_shape": list(self.config.input_shape)}
        torch.save({"config": config, "state_dict": self.state_dict()}, Path(path))

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> FeatureClassifier:
        """A classifier written by :meth:`save`."""
        blob: dict[str, Any] = torch.load(Path(path), map_location="cpu", weights_only=True)
        raw = dict(blob["config"])
        raw["input_shape"] = tuple(raw["input_shape"])
        self = cls(ClassifierConfig(**raw), device)
        self.load_state_dict(blob["state_dict"])
        return self


_CACHE: dict[tuple[str, int, int, int, int], FeatureClassifier] = {}


def feature_classifier(
    data: TaskData, seed: int = 0, epochs: int = DEFAULT_EPOCHS
) -> FeatureClassifier:
    """:meth:`FeatureClassifier.fit` once per process for each (dataset name, split seed,
    classifier seed, training-set size, epochs); later calls return the same object."""
    key = (data.name, int(data.seed), int(seed), len(data.train), int(epochs))
    if key not in _CACHE:
        _CACHE[key] = FeatureClassifier.fit(data, seed=seed, epochs=epochs)
    return _CACHE[key]


def clear_classifier_cache() -> None:
    """Forget every cached classifier (tests, or after the data changed under the same name)."""
    _CACHE.clear()


__all__ = [
    "ClassifierConfig",
    "FeatureClassifier",
    "clear_classifier_cache",
    "feature_classifier",
]
