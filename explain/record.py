"""The record of one model's explanations: attributions per method, the method choices and
their reasons, the quality table and the picked samples, as plain data that saves to a folder
and loads back (``explanations.json`` + ``attributions.npz``, no pickles).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explain.types import Attribution, Check, MethodChoice
from explain.views import global_importance, to_jsonable


@dataclass
class Explanations:
    """Everything explained about one model: per method, attributions shaped like the inputs
    with their metadata; the method choices and their reasons; the quality table; the views."""

    task: str
    modality: str
    input_shape: tuple[int, ...]
    feature_names: list[str]
    class_names: list[str]
    X: np.ndarray  # the explained test inputs (N, *input_shape)
    y: np.ndarray  # their true targets
    predicted: np.ndarray  # (N,) predicted class, or the first output for regression
    probability: np.ndarray  # (N,) probability of the predicted class (NaN for regression)
    attributions: dict[str, Attribution]
    choices: list[MethodChoice]
    checks: list[Check] = field(default_factory=list)
    samples: dict[str, list[int]] = field(default_factory=dict)  # category -> row indices
    seconds: float = 0.0

    def global_views(self) -> dict[str, dict[str, Any]]:
        """Mean |attribution| per input element, overall and per (true) class, per method."""
        n = len(self.class_names) if self.task == "classification" else None
        y = self.y if self.task == "classification" else None
        return {m: global_importance(a, y=y, n_classes=n) for m, a in self.attributions.items()}

    def table(self) -> list[dict[str, Any]]:
        """The quality table: one row per check."""
        return [c.to_dict() for c in self.checks]

    # --- persistence ----------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write ``explanations.json`` (metadata) and ``attributions.npz`` (arrays) there."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "X": self.X,
            "y": self.y,
            "predicted": self.predicted,
            "probability": self.probability,
        }
        for m, a in self.attributions.items():
            arrays[f"{m}/values"] = a.values
            arrays[f"{m}/targets"] = a.targets
            if a.delta is not None:
                arrays[f"{m}/delta"] = np.asarray(a.delta)
            if a.base_values is not None:
                arrays[f"{m}/base_values"] = np.asarray(a.base_values)
            for k, v in a.arrays.items():
                arrays[f"{m}/arrays/{k}"] = np.asarray(v)
        np.savez_compressed(folder / "attributions.npz", **arrays)
        meta = {
            "task": self.task, "modality": self.modality, "input_shape": list(self.input_shape),
            "feature_names": self.feature_names, "class_names": self.class_names,
            "methods": {m: a.meta() for m, a in self.attributions.items()},
            "choices": [vars(c) for c in self.choices], "checks": self.table(),
            "samples": self.samples, "seconds": self.seconds,
        }  # fmt: skip
        (folder / "explanations.json").write_text(json.dumps(to_jsonable(meta), indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Explanations:
        """Read what :meth:`save` wrote (``allow_pickle=False``)."""
        folder = Path(folder)
        meta = json.loads((folder / "explanations.json").read_text())
        try:
            with np.load(folder / "attributions.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:  # a truncated or foreign file
            raise ValueError(f"{folder / 'attributions.npz'} is damaged ({e})") from None
        attrs = {}
        for m, info in meta["methods"].items():
            side = {k.split("/", 2)[2]: v for k, v in arrays.items()
                    if k.startswith(f"{m}/arrays/")}  # fmt: skip
            attrs[m] = Attribution(
                method=info.get("method", m), values=arrays[f"{m}/values"],
                targets=arrays[f"{m}/targets"], baseline=info.get("baseline", ""),
                delta=arrays.get(f"{m}/delta"), seconds=info.get("seconds", 0.0),
                params=info.get("params", {}), note=info.get("note", ""),
                base_values=arrays.get(f"{m}/base_values"), arrays=side,
            )  # fmt: skip
        return cls(
            task=meta["task"], modality=meta["modality"], input_shape=tuple(meta["input_shape"]),
            feature_names=meta["feature_names"], class_names=meta["class_names"],
            X=arrays["X"], y=arrays["y"], predicted=arrays["predicted"],
            probability=arrays["probability"], attributions=attrs,
            choices=[MethodChoice(**c) for c in meta["choices"]],
            checks=[Check(**c) for c in meta["checks"]], samples=meta["samples"],
            seconds=meta.get("seconds", 0.0),
        )  # fmt: skip
