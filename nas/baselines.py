"""What the winner's test score is worth: two baselines measured once on the same split, and
the test score's bootstrap interval from the stored predictions.

``measure_baselines`` runs in a search's finalize step, where the data is at hand: a trivial
predictor (the train + validation majority class, or mean) and a strong classical one
(scikit-learn's LogisticRegression, or Ridge, on the same preprocessed train + validation arrays,
flattened, as the final retrain sees them), both scored on the test split with the run's own
metrics. ``best/baselines.json`` keeps them; ``nas report`` only reads that file
(:func:`read_baselines`) and never loads data or fits anything.
"""

from __future__ import annotations

import json
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.data.taskdata import TaskData
from nas.metrics import compute_metrics, metric_value, metrics_for

FILE = "baselines.json"
MAX_ROWS = 5000  # the classical baseline is fitted on at most this many rows (a few seconds)
MAX_VALUES = 20_000_000  # ... and on at most this many numbers (rows x inputs): memory and time
MIN_ROWS = 500  # ... but never fewer rows than this
MAX_ITER = 200  # LogisticRegression's lbfgs iterations
BOOTSTRAP = 1000  # resamples of the test predictions for a metric without a closed-form interval


def _flat(x: Any) -> np.ndarray:
    a = np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)
    return a.reshape(len(a), -1)


def _scored(data: TaskData, y_test: np.ndarray, outputs: np.ndarray) -> dict[str, Any]:
    """The run's metrics of ``outputs`` on the test split (probabilities for a classifier;
    standardized values, turned into the target's units, for a regressor)."""
    if data.task == "classification":
        m = compute_metrics(data.task, y_test, outputs, data.output_size, from_logits=False)
        m.pop("confusion_matrix", None)
        return m
    truth = data.targets_in_units(data.test)  # y_test's values as read
    return compute_metrics(data.task, truth, data.inverse_target(outputs))


def measure_baselines(data: TaskData, seed: int = 0) -> dict[str, Any]:
    """The trivial and the classical baseline of ``data``, scored on its test split."""
    from sklearn.linear_model import LogisticRegression, Ridge

    y = np.concatenate([data.train.y.numpy(), data.val.y.numpy()])
    n, width = len(y), int(np.prod(data.input_shape))
    cap = min(MAX_ROWS, max(MIN_ROWS, MAX_VALUES // max(width, 1)))
    rows = np.sort(np.random.default_rng(seed).choice(n, cap, replace=False)) if n > cap else None
    n_train = len(data.train)
    if rows is None:
        Xf, yf = np.concatenate([_flat(data.train.X), _flat(data.val.X)]), y
    else:  # only the chosen rows are copied: a large image set never sits in memory twice
        idx = torch.as_tensor(rows)
        parts = [_flat(data.train.X[idx[idx < n_train]]),
                 _flat(data.val.X[idx[idx >= n_train] - n_train])]  # fmt: skip
        Xf, yf = np.concatenate(parts), y[rows]
    X_test, y_test = _flat(data.test.X), data.test.y.numpy()
    fitted_on = f"train + validation ({len(Xf):,} rows" + (
        f", a random {cap:,} of {n:,})" if rows is not None else ")"
    )
    out: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if data.task == "classification":
        k = data.output_size
        freq = np.bincount(y.astype(int), minlength=k) / len(y)
        trivial = np.tile(freq, (len(y_test), 1))
        top = int(freq.argmax())
        label = data.class_names[top] if top < len(data.class_names) else str(top)
        name = "majority class"
        detail = (
            f"always predicts train + validation's most frequent class ({label}, {freq[top]:.1%})"
        )
    else:
        mean = y.mean(axis=0, keepdims=True)
        trivial = np.repeat(mean, len(y_test), axis=0)
        name, detail = "mean predictor", "always predicts the train + validation mean target"
    out.append({"name": name, "kind": "trivial", "detail": detail,
                "metrics": _scored(data, y_test, trivial),
                "seconds": time.perf_counter() - t0})  # fmt: skip
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs stopped at MAX_ITER: a capped baseline, said so
        if data.task == "classification":
            model = LogisticRegression(max_iter=MAX_ITER).fit(Xf, yf.astype(int))
            proba = np.zeros((len(X_test), data.output_size))
            proba[:, model.classes_] = model.predict_proba(X_test)
            name, outputs = "logistic regression", proba
            how = f"scikit-learn LogisticRegression(max_iter={MAX_ITER})"
        else:
            model = Ridge(alpha=1.0).fit(Xf, yf)
            name, outputs = "ridge regression", model.predict(X_test).reshape(y_test.shape)
            how = "scikit-learn Ridge(alpha=1.0)"
    out.append({
        "name": name, "kind": "classical",
        "detail": f"{how} on the {width:,} preprocessed inputs, flattened, fitted on "
        f"{fitted_on}",
        "metrics": _scored(data, y_test, outputs), "seconds": time.perf_counter() - t0,
    })  # fmt: skip
    return {"split": "test", "n_test": len(y_test), "fitted_on": "train+val", "baselines": out}


def read_baselines(best_dir: Path) -> dict[str, Any] | None:
    """``best/baselines.json`` as report data; None when the run has none; only a ``note``
    when the file is there but damaged (the report says so, rather than "not measured")."""
    path = Path(best_dir) / FILE
    if not path.is_file():
        return None
    damaged = {"note": f"{path} is damaged (not the JSON nas wrote); a new search measures "
                       "the baselines again."}  # fmt: skip
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return damaged
    if not isinstance(data, dict) or not isinstance(data.get("baselines"), list):
        return damaged
    return data


def bootstrap_interval(
    best_dir: Path, task: str, metric: str, info: dict[str, Any]
) -> dict[str, Any]:
    """The percentile bootstrap 95% interval of the winner's test ``metric`` from
    ``best/predictions.npz`` (seeded: the same run gives the same interval), for the metrics
    whose interval has no closed form; ``{}`` for accuracy (the report uses Wilson's) or when
    the predictions are missing or unreadable."""
    path = Path(best_dir) / "predictions.npz"
    if (
        task not in ("classification", "regression")
        or metric not in metrics_for(task)
        or metric in ("accuracy", "log_loss")
        or not path.is_file()
    ):
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            y, out = np.asarray(z["y_true"]), np.asarray(z["outputs"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return {}
    if (
        y.dtype.kind not in "biuf"
        or out.dtype.kind not in "biuf"
        or len(y) != len(out)
        or len(y) < 2
    ):
        return {}
    if task == "regression":
        pre = info.get("preprocessing") or {}
        mean, std = np.asarray(pre.get("y_mean", 0.0)), np.asarray(pre.get("y_std", 1.0))
        y, out = y * std + mean, out * std + mean
    n_classes = int(out.shape[1]) if task == "classification" and out.ndim == 2 else None
    rng = np.random.default_rng(0)
    values = []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, len(y), len(y))
        try:
            v = metric_value(metric, task, y[i], out[i], n_classes)
        except ValueError:
            continue
        if v is not None and np.isfinite(v):
            values.append(v)
    if len(values) < BOOTSTRAP // 2:
        return {}
    lo, hi = np.percentile(values, [2.5, 97.5])
    return {"metric": metric, "lo": float(lo), "hi": float(hi), "n": len(y),
            "method": f"percentile bootstrap, {BOOTSTRAP} resamples"}  # fmt: skip


__all__ = ["FILE", "bootstrap_interval", "measure_baselines", "read_baselines"]
