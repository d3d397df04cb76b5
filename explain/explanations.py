"""Explain one model on one dataset: attributions by the methods valid for its architecture,
SHAP values and the quality checks, gathered in an :class:`~explain.record.Explanations` record
(saved and loaded there; :func:`~explain.report_view.report_view` is what a report shows of it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from explain.attribution import attribute, choose_methods
from explain.errors import ExplainError
from explain.quality import RERUN_MIN, RERUN_SAMPLES, RERUN_SECONDS, rerun_calls, run_checks
from explain.record import Explanations
from explain.report_view import report_view
from explain.shap_values import shap_explain
from explain.types import Attribution, Check, ExplainData, MethodChoice
from explain.views import select_samples

# Explained by default (when chosen for the model): cheap, complete, and complementary.
DEFAULT_METHODS = ("integrated_gradients", "deeplift", "layer_gradcam", "attention")
SHAP = "shap"  # the method name that asks for SHAP values (the explainer is chosen per model)
N_LOCAL = 8  # local explanations shown per category
_BACKGROUND = 50  # training rows behind SHAP's base values
# A tabular classifier's SHAP values are also stored for every output (up to this many) on the
# first PER_OUTPUT_ROWS explained rows, so a beeswarm can show one output for all examples.
PER_OUTPUT_MAX = 10
PER_OUTPUT_ROWS = 100


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
    rerun_examples: Mapping[str, int] | None = None,
) -> Explanations:
    """Explain ``model`` on the first ``samples`` test examples of ``data``.

    Targets are the predicted classes (the output for regression), baselines zeros (labelled
    from ``data.preprocessing``, see :func:`~explain.attribution.zero_baseline_label`), and
    every explanation is checked (completeness, infidelity, sensitivity, deletion / insertion,
    randomisation, agreement). ``rerun_examples`` fixes, per method, how many examples the
    checks that re-run it use (else they fit a time limit: :func:`explain.quality.run_checks`).
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
    # What the zero baseline is depends on the preprocessing (TaskData records it); data
    # without a record gets a label that says so.
    preprocessing = getattr(data, "preprocessing", None)
    attrs: dict[str, Attribution] = {}
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.train.X), generator=g)[:_BACKGROUND]
    background = data.train.X[idx].float()  # SHAP's; the checks re-run it with the same rows
    per_example: dict[str, float] = {}  # seconds to explain one example: sizes the checks
    for m in names:
        began = time.perf_counter()
        if m == SHAP:
            a = shap_explain(
                model,
                X,
                background,
                targets=targets,
                seed=seed,
                feature_names=data.feature_names or None,
                task=data.task,
            )
        else:
            a = attribute(
                model,
                X,
                m,
                targets=targets,
                modality=data.modality,
                task=data.task,
                preprocessing=preprocessing,
            )
        attrs[a.method if m == SHAP else m] = a
        per_example[a.method if m == SHAP else m] = (time.perf_counter() - began) / len(X)
        if m == SHAP and classification and data.modality == "tabular":
            _shap_per_output(a, model, X, background, out.shape[1], seed, data)
        if m == SHAP:  # the explainer is picked per model: say which, and why, beside the rest
            why = a.note.removeprefix("auto: ") or "SHAP values"
            choices = [*choices, MethodChoice(a.method, True, why)]
    quality: list[Check] = []
    if checks:
        fns = {m: _explain_fn(m, data, background, seed) for m in attrs}
        pixel = {m: a for m, a in attrs.items() if a.values.shape == tuple(X.shape)}
        # SHAP values are relative to the background, not to the zero baseline: removing a
        # feature means setting it to the background (its mean, for infidelity and deletion)
        refs = {m: background.mean(0, keepdim=True) for m in pixel if m.startswith("shap")}
        t = torch.as_tensor(targets)
        if rerun_examples is None:  # the clock decides the re-runs' sizes: time them as they run
            per_example = _rerun_seconds(model, X, t, fns, per_example)
        quality = run_checks(model, X, t, pixel, fns, baseline=None,
                             references=refs, task=data.task, seed=seed,
                             seconds_per_example=per_example,
                             rerun_examples=rerun_examples)  # fmt: skip
    picked = select_samples(model, X, y, data.task, n=n_local)
    return Explanations(
        task=data.task, modality=data.modality, input_shape=tuple(data.input_shape),
        feature_names=list(data.feature_names), class_names=list(data.class_names),
        X=X.numpy(), y=y.numpy(), predicted=out.argmax(1) if classification else out[:, 0],
        probability=_softmax(out).max(1) if classification else np.full(len(X), np.nan),
        attributions=attrs, choices=choices, checks=quality, samples=picked,
        seconds=time.perf_counter() - start,
    )  # fmt: skip


def _shap_per_output(
    a: Attribution,
    model: nn.Module,
    X: torch.Tensor,
    background: torch.Tensor,
    n_outputs: int,
    seed: int,
    data: ExplainData,
    rows: int = PER_OUTPUT_ROWS,
) -> None:
    """SHAP values of every output (not only the predicted one) for the first ``rows``
    examples, in ``a.arrays``: ``per_output_values`` (K, n, *shape) and ``per_output_base``
    (K, n). The predicted output's values are reused; the others cost (K - 1) x n rows more."""
    if not 2 <= n_outputs <= PER_OUTPUT_MAX or a.base_values is None:
        return
    n = min(len(X), rows)
    t = np.asarray(a.targets).reshape(-1)[:n]
    own_base = np.broadcast_to(np.asarray(a.base_values, dtype=np.float64), (len(X),))[:n]
    values = np.zeros((n_outputs, n, *a.values.shape[1:]), dtype=np.float32)
    base = np.zeros((n_outputs, n))
    for k in range(n_outputs):
        own = t == k
        values[k, own], base[k, own] = a.values[:n][own], own_base[own]
        other = np.flatnonzero(~own)
        if other.size:
            b = shap_explain(model, X[torch.as_tensor(other)], background,
                             targets=np.full(other.size, k), seed=seed, method=a.method,
                             feature_names=data.feature_names or None, task=data.task)  # fmt: skip
            values[k, other] = b.values
            base[k, other] = np.broadcast_to(np.asarray(b.base_values), (other.size,))
    a.arrays["per_output_values"], a.arrays["per_output_base"] = values, base


def _softmax(out: np.ndarray) -> np.ndarray:
    z = np.exp(out - out.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _rerun_seconds(
    model: nn.Module,
    X: torch.Tensor,
    targets: torch.Tensor,
    fns: Mapping[str, Any],
    main: Mapping[str, float],
) -> dict[str, float]:
    """Seconds per example of re-running each method, as sensitivity and randomisation do.
    The main pass's own seconds (``main``) had overstated them 15-50 times (SHAP's exact
    explainer over every output, once, against its re-runs for one target; /tmp/oC4 F1), so
    a busy machine cut the re-runs to 8 examples where all 32 took 3.5 s, and the checks' values
    followed the load. A method whose main-pass figure could shrink its sample is timed on
    ``RERUN_MIN`` examples instead; a cheaper one keeps its figure (nothing to cut)."""
    out = dict(main)
    runs = rerun_calls(model)  # as quality._rerun_sizes counts them
    for m, fn in fns.items():
        if m not in out or out[m] * runs * RERUN_SAMPLES <= RERUN_SECONDS / max(len(fns), 1):
            continue
        k = min(RERUN_MIN, len(X))
        state = np.random.get_state()  # whether it runs depends on the clock: it must leave
        with torch.random.fork_rng():  # no trace in what the checks draw after it
            began = time.perf_counter()
            fn(model, X[:k], targets[:k])
            out[m] = min(out[m], (time.perf_counter() - began) / k)
        np.random.set_state(state)
    return out


def _explain_fn(method: str, data: ExplainData, background: torch.Tensor, seed: int) -> Any:
    """The explainer as a function of the model (what sensitivity and randomisation re-run):
    for SHAP, the same background rows and seed as the stored values."""
    if method.startswith("shap"):

        def shap_fn(model: nn.Module, X: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
            return shap_explain(
                model,
                X,
                background,
                targets=np.asarray(targets),
                seed=seed,
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


__all__ = [
    "DEFAULT_METHODS",
    "SHAP",
    "Explanations",
    "explain_model",
    "report_view",
    "resolve_methods",
]
