"""Plain data that flows out of ``explain``: attributions, SHAP values, quality checks.

Explain knows nothing of the search: it takes a model, its spec and data that satisfies
:class:`ExplainData` (``nas.data.TaskData`` does), and returns these dataclasses of numpy arrays
and JSON-able metadata, so a report can be rebuilt from disk at any time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import torch


class SplitLike(Protocol):
    """A split: inputs ``X`` ``(N, *input_shape)`` and targets ``y``."""

    X: torch.Tensor
    y: torch.Tensor


class ExplainData(Protocol):
    """What explain needs of a dataset (``nas.data.TaskData`` satisfies it)."""

    task: str  # classification | regression
    modality: str  # tabular | image | sequence
    input_shape: tuple[int, ...]
    output_size: int
    feature_names: list[str]
    class_names: list[str]
    train: SplitLike
    test: SplitLike


@dataclass
class Attribution:
    """One method's attributions for a batch of inputs.

    ``values`` has the inputs' shape ``(N, *input_shape)``: the contribution of each input
    element to the output ``targets[i]`` (class index, or output index for regression),
    relative to ``baseline``.
    """

    method: str  # e.g. "integrated_gradients", "deeplift", "occlusion", "shap_permutation"
    values: np.ndarray  # (N, *input_shape), float32
    targets: np.ndarray  # (N,) int: the output explained for each example
    baseline: str  # how the reference input was chosen, e.g. "zeros", "train mean"
    delta: np.ndarray | None = None  # (N,) convergence / completeness error where defined
    seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)  # n_steps, window, nt_samples, ...
    note: str = ""  # e.g. why a fallback was used
    base_values: np.ndarray | None = None  # (N,) model output at the baseline (SHAP, IG, DeepLift)
    # Large side arrays a report may draw (e.g. attention maps); kept out of meta() and JSON.
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def magnitude(self) -> bool:
        """Whether ``values`` are magnitudes (Captum's ``abs=True``, as saliency's |gradient|):
        how much each element matters, not which way it moves the output. Such a map predicts
        no output change, so the checks that read attributions as signed contributions judge
        it by how far the output moves instead."""
        return bool(self.params.get("abs", False))

    def meta(self) -> dict[str, Any]:
        """JSON-able metadata (everything but the arrays)."""
        out = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("values", "targets", "delta", "base_values", "arrays")
        }
        if self.delta is not None:
            d = np.abs(np.asarray(self.delta, dtype=float))
            out["delta_mean_abs"] = float(d.mean()) if d.size else None
            out["delta_max_abs"] = float(d.max()) if d.size else None
        return out


@dataclass
class MethodChoice:
    """A method considered for a model, and why it was chosen or skipped."""

    method: str
    chosen: bool
    reason: str


@dataclass
class Check:
    """One quality check of one explanation: a value against a threshold, and a verdict."""

    name: str  # completeness, infidelity, sensitivity, deletion, insertion, randomisation, ...
    method: str  # the explanation checked ("a vs b" for agreement)
    value: float | None
    threshold: float | None
    status: str  # pass | warn | fail | skipped
    detail: str = ""  # one line on how to read it
    # curves, fitted scale, noise floor, completeness basis ... (JSON-able)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
