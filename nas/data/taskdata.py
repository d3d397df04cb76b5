"""TaskData: what every consumer (trainer, search, explainers, report) sees of a dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)

TASKS = ("classification", "regression", "generation")
MODALITIES = ("tabular", "image", "sequence")


@dataclass
class Split:
    """One part of the data: inputs ``X`` (float32, ``(N, *input_shape)``) and targets ``y``.

    ``y`` is int64 ``(N,)`` class indices for classification, float32 ``(N, output_size)`` for
    regression (standardized); a regression's ``y_units`` keeps its targets as read, float64
    in the target's own units (float32 standardized values do not invert exactly: 75 came back
    as 75.0000042).
    """

    X: torch.Tensor
    y: torch.Tensor
    y_units: np.ndarray | None = None
    # each example's row number (0-based) in the data as read, before the split: a prediction
    # of the test split can be matched to its row (None where the split was made otherwise)
    rows: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])


@dataclass
class TaskData:
    """A dataset ready for training: preprocessed splits plus everything needed to read them.

    All preprocessing (scaling, imputation, encoding) was fitted on ``train`` only and is
    described in ``preprocessing`` (JSON-able), so a report can say what was done.
    """

    name: str  # "digits", "mnist1d", or the user's file name
    task: str  # classification | regression | generation
    modality: str  # tabular | image | sequence
    input_shape: tuple[int, ...]  # per example: (F,), (T, F) or (C, H, W)
    output_size: int  # classes for classification, targets for regression
    train: Split
    val: Split
    test: Split
    feature_names: list[str] = field(default_factory=list)  # one per input feature / channel
    class_names: list[str] = field(default_factory=list)  # classification only
    target_name: str = "target"
    preprocessing: dict[str, Any] = field(
        default_factory=dict
    )  # what was fitted on train, JSON-able
    seed: int = 0  # the seed of the split
    # What the data's content is ("sha256:<hex>" of a file's bytes or of a built-in's identity):
    # a resume compares it, so trials scored on other data are never mixed with these.
    fingerprint: str | None = None
    # Things the user should know about how the data was read (rows left out, the task
    # inferred); the CLI prints them as ``note:`` lines and run.json keeps them.
    notes: list[str] = field(default_factory=list)

    @property
    def sizes(self) -> dict[str, int]:
        """Examples per split: ``{"train": n, "val": n, "test": n}``."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary (for metrics.json, the report and ``nas datasets``)."""
        return {
            "name": self.name,
            "task": self.task,
            "modality": self.modality,
            "input_shape": list(self.input_shape),
            "output_size": self.output_size,
            "sizes": self.sizes,
            "feature_names": list(self.feature_names),
            "class_names": list(self.class_names),
            "target_name": self.target_name,
            "preprocessing": self.preprocessing,
            "seed": self.seed,
            "fingerprint": self.fingerprint,
            "notes": list(self.notes),
        }

    def targets_in_units(self, split: Split) -> np.ndarray:
        """``split``'s targets in their own units: as read when the split keeps them
        (``Split.y_units``), else ``inverse_target`` of its standardized ``y``."""
        if self.task == "regression" and split.y_units is not None:
            return np.asarray(split.y_units, dtype=np.float64)
        return self.inverse_target(split.y.numpy())

    def inverse_target(self, y: ArrayT) -> ArrayT:
        """Undo the train-fitted target standardization of a regression task: original units.

        Works on model outputs or ``split.y`` (tensor or array, ``(N, output_size)``); returns
        ``y`` unchanged for other tasks or when the targets were not standardized.
        """
        mean, std = self.preprocessing.get("y_mean"), self.preprocessing.get("y_std")
        if self.task != "regression" or mean is None or std is None:
            return y
        if isinstance(y, torch.Tensor):
            m = torch.as_tensor(mean, dtype=y.dtype, device=y.device)
            s = torch.as_tensor(std, dtype=y.dtype, device=y.device)
            return y * s + m
        return np.asarray(y) * np.asarray(std) + np.asarray(mean)
