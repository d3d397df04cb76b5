"""Explain one model on one dataset: attributions by the methods valid for its architecture,
SHAP values, the quality checks, and the views a report shows — as plain data that saves to a
folder and loads back (``explanations.json`` + ``attributions.npz``, no pickles).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from explain.attribution import attribute, choose_methods
from explain.errors import ExplainError
from explain.quality import run_checks
from explain.shap_values import shap_explain
from explain.types import Attribution, Check, ExplainData, MethodChoice
from explain.views import global_importance, select_samples, to_jsonable

# Explained by default (when chosen for the model): cheap, complete, and complementary.
DEFAULT_METHODS = ("integrated_gradients", "deeplift", "layer_gradcam", "attention")
SHAP = "shap"  # the method name that asks for SHAP values (the explainer is chosen per model)
N_LOCAL = 8  # local explanations shown per category
_BACKGROUND = 50  # training rows behind SHAP's base values


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
        with np.load(folder / "attributions.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
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


def _predict(model: nn.Module, X: torch.Tensor) -> np.ndarray:
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat([model(X[i : i + 512]) for i in range(0, len(X), 512)]).numpy()
    finally:
        model.train(was)


def resolve_methods(
    model: nn.Module,
    modality: str,
    methods: Sequence[str] | None,
    example: torch.Tensor | None = None,
) -> tuple[list[str], list[MethodChoice]]:
    """The methods to run: ``methods`` as asked (``"all"`` = every chosen one, plus SHAP), or
    the defaults among those chosen for this model. Unknown names are an error."""
    choices = choose_methods(model, modality, example=example)
    chosen = [c.method for c in choices if c.chosen]
    known = [c.method for c in choices] + [SHAP]
    if methods is None:
        return [m for m in DEFAULT_METHODS if m in chosen] + [SHAP], choices
    wanted = list(methods)
    if wanted == ["all"]:
        return [*chosen, SHAP], choices
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise ExplainError(
            f"Unknown explanation method {unknown[0]!r}; choose from {', '.join(known)} or 'all'."
        )
    for m in wanted:
        c = next((c for c in choices if c.method == m), None)
        if c is not None and not c.chosen:
            raise ExplainError(
                f"Method {m!r} is not valid for this model: {c.reason}. "
                f"Valid here: {', '.join(chosen)}."
            )
    return wanted, choices


def explain_model(
    model: nn.Module,
    data: ExplainData,
    *,
    samples: int = 200,
    methods: Sequence[str] | None = None,
    checks: bool = True,
    seed: int = 0,
    n_local: int = N_LOCAL,
) -> Explanations:
    """Explain ``model`` on the first ``samples`` test examples of ``data``.

    Targets are the predicted classes (the output for regression), baselines zeros (the train
    mean of standardized inputs; black for images in [0, 1]), and every explanation is checked
    (completeness, infidelity, sensitivity, deletion / insertion, randomisation, agreement).
    """
    if samples < 1:
        raise ExplainError(f"samples must be >= 1, got {samples}.")
    start = time.perf_counter()
    model = model.cpu().eval()
    X = data.test.X[:samples].float()
    y = data.test.y[:samples]
    out = _predict(model, X)
    classification = data.task == "classification"
    targets = out.argmax(1) if classification else np.zeros(len(X), dtype=int)
    names, choices = resolve_methods(model, data.modality, methods, example=X[:2])
    attrs: dict[str, Attribution] = {}
    for m in names:
        if m == SHAP:
            g = torch.Generator().manual_seed(seed)
            idx = torch.randperm(len(data.train.X), generator=g)[:_BACKGROUND]
            a = shap_explain(
                model,
                X,
                data.train.X[idx].float(),
                targets=targets,
                seed=seed,
                feature_names=data.feature_names or None,
                task=data.task,
            )
        else:
            a = attribute(model, X, m, targets=targets, modality=data.modality, task=data.task)
        attrs[a.method if m == SHAP else m] = a
        if m == SHAP:  # the explainer is picked per model: say which, and why, beside the rest
            why = a.note.removeprefix("auto: ") or "SHAP values"
            choices = [*choices, MethodChoice(a.method, True, why)]
    quality: list[Check] = []
    if checks:
        fns = {m: _explain_fn(m, data, attrs[m]) for m in attrs}
        pixel = {m: a for m, a in attrs.items() if a.values.shape == tuple(X.shape)}
        quality = run_checks(
            model, X, torch.as_tensor(targets), pixel, fns, baseline=None, task=data.task, seed=seed
        )
    picked = select_samples(model, X, y, data.task, n=n_local)
    return Explanations(
        task=data.task, modality=data.modality, input_shape=tuple(data.input_shape),
        feature_names=list(data.feature_names), class_names=list(data.class_names),
        X=X.numpy(), y=y.numpy(), predicted=out.argmax(1) if classification else out[:, 0],
        probability=_softmax(out).max(1) if classification else np.full(len(X), np.nan),
        attributions=attrs, choices=choices, checks=quality, samples=picked,
        seconds=time.perf_counter() - start,
    )  # fmt: skip


def _softmax(out: np.ndarray) -> np.ndarray:
    z = np.exp(out - out.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _explain_fn(method: str, data: ExplainData, done: Attribution) -> Any:
    """The explainer as a function of the model (what sensitivity and randomisation re-run)."""
    if method.startswith("shap"):
        background = data.train.X[: done.params.get("background_size", 25)].float()

        def shap_fn(model: nn.Module, X: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
            return shap_explain(
                model,
                X,
                background,
                targets=np.asarray(targets),
                method=method,
                feature_names=data.feature_names or None,
                task=data.task,
            ).values

        return shap_fn

    def fn(model: nn.Module, X: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
        return attribute(
            model, X, method, targets=targets, modality=data.modality, task=data.task
        ).values

    return fn


def _r(a: Any, digits: int = 5) -> Any:
    """Rounded nested lists (keeps the report small)."""
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def report_view(exp: Explanations, max_local: int = 4) -> dict[str, Any]:
    """The ``explanations`` part of the report's data (explain/report/SCHEMA.md)."""
    views = exp.global_views()
    names = exp.class_names or []

    def label(v: Any) -> str:
        if exp.task == "classification":
            i = int(v)
            return names[i] if i < len(names) else str(i)
        return f"{float(np.ravel(v)[0]):.4g}"

    glob = {}
    for m, g in views.items():
        # Regression has no classes: its one "class" would be the output index, not a label.
        per = {label(c): _r(v) for c, v in g["per_class"].items() if g["counts"].get(c)}
        per = per if exp.task == "classification" else {}
        glob[m] = {"overall": _r(g["overall"]), "per_class": per, "unit": g["unit"]}
    local = []
    for category, rows in exp.samples.items():
        for i in rows[:max_local]:
            a_i = {m: _r(a.values[i], 4) for m, a in exp.attributions.items()
                   if a.values.shape[1:] == tuple(exp.input_shape)}  # fmt: skip
            local.append(
                {
                    "index": int(i),
                    "category": category,
                    "label": label(exp.y[i]),
                    "predicted": label(exp.predicted[i]),
                    "probability": None
                    if np.isnan(exp.probability[i])
                    else round(float(exp.probability[i]), 4),
                    "input": _r(exp.X[i], 4),
                    "attributions": a_i,
                }
            )
    attention = None
    att = exp.attributions.get("attention")
    if att is not None and "attention_mean" in att.arrays:
        attention = {
            "layers": _r(att.arrays["attention_mean"], 4),
            "tokens": list(att.params.get("tokens", [])),
        }
    shap_view = None
    shap_m = next((m for m in exp.attributions if m.startswith("shap")), None)
    if shap_m and exp.modality == "tabular":
        s = exp.attributions[shap_m]
        base = s.base_values
        shap_view = {"method": shap_m, "base_value": float(np.mean(base)) if base is not None
                     else None, "values": _r(s.values, 4), "inputs": _r(exp.X, 4)}  # fmt: skip
    checks = [c.to_dict() for c in exp.checks if c.name != "agreement"]
    agreement = [c.to_dict() for c in exp.checks if c.name == "agreement"]
    return {
        "modality": exp.modality, "input_shape": list(exp.input_shape),
        "feature_names": exp.feature_names, "class_names": exp.class_names,
        "methods": [vars(c) for c in exp.choices], "global": glob, "local": local,
        "attention": attention, "shap": shap_view, "checks": to_jsonable(checks),
        "agreement": to_jsonable(agreement),
        "timing": {m: round(a.seconds, 3) for m, a in exp.attributions.items()},
        "seconds": round(exp.seconds, 2), "n_explained": int(len(exp.X)),
    }  # fmt: skip
