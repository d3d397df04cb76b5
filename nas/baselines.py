"""What the winner's test score is worth: baselines measured once on the same split, and
the test score's bootstrap interval from the stored predictions.

``fit_baselines`` runs as the search starts (its time is part of ``--timeout``'s) and
``score_baselines`` in its finalize step, once the winner is tested: a trivial
predictor (the train + validation majority class, or mean), a strong classical one
(scikit-learn's LogisticRegression, or Ridge, on the same preprocessed train + validation arrays,
flattened, as the final retrain sees them) and, for tabular data only, gradient-boosted trees
(scikit-learn's HistGradientBoostingClassifier, or Regressor: on tables they are the reference
a neural network has to beat), all scored on the test split with the run's own metrics.
``best/baselines.json`` keeps them; ``nas report`` only reads that file (:func:`read_baselines`)
and never loads data or fits anything.
"""

from __future__ import annotations

import json
import time
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.data.taskdata import TaskData
from nas.metrics import compute_metrics, metrics_for

FILE = "baselines.json"
MAX_ROWS = 5000  # the classical baseline is fitted on at most this many rows (a few seconds)
MAX_VALUES = 20_000_000  # ... and on at most this many numbers (rows x inputs): memory and time
MIN_ROWS = 500  # ... but never fewer rows than this
MAX_ITER = 200  # LogisticRegression's lbfgs iterations
# The trees (tabular data only) are fitted on one core on at most TREE_MAX_VALUES numbers (rows x
# inputs: 5,000 rows of 30 inputs; never fewer than MIN_ROWS rows) and grow at most TREE_MAX_TREES
# trees (max_iter x the trees an iteration grows: one per class beyond two, one per target), with
# scikit-learn's default of 100 iterations below that. Measured with benchmarks/baseline_time.py on
# 5,000 rows x 30 inputs, one core: 0.3-0.5 s for 2 classes or a target, 1.6-2 s class-balanced (the
# weighted bins), 10 classes 1.5-3.5 s at 50 iterations (4-6 s at 100).
TREE_MAX_VALUES = 150_000
TREE_MAX_TREES = 500
TREE_ITER = 100  # HistGradientBoosting's default max_iter
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


def _rows(data: TaskData, cap: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Train + validation's inputs (flattened) and targets, ``cap`` rows of them drawn at random
    with ``seed`` when there are more, and the words for what they are."""
    y = np.concatenate([data.train.y.numpy(), data.val.y.numpy()])
    n, n_train = len(y), len(data.train)
    rows = np.sort(np.random.default_rng(seed).choice(n, cap, replace=False)) if n > cap else None
    if rows is None:
        Xf, yf = np.concatenate([_flat(data.train.X), _flat(data.val.X)]), y
    else:  # only the chosen rows are copied: a large image set never sits in memory twice
        idx = torch.as_tensor(rows)
        parts = [_flat(data.train.X[idx[idx < n_train]]),
                 _flat(data.val.X[idx[idx >= n_train] - n_train])]  # fmt: skip
        Xf, yf = np.concatenate(parts), y[rows]
    fitted_on = f"train + validation ({len(Xf):,} rows" + (
        f", a random {cap:,} of {n:,})" if rows is not None else ")"
    )
    return Xf, yf, fitted_on


@dataclass
class Fitted:
    """The baselines fitted on train + validation, before the search (their time is part of
    ``--timeout``'s), to be scored on the test split once the winner is tested."""

    trivial: dict[str, Any]  # name, detail, and the constant output (class frequencies, mean)
    classical: dict[str, Any]  # name, detail, the fitted scikit-learn model, its seconds
    trees: dict[str, Any] | None = None  # the same for gradient boosting; tabular data only


def fit_baselines(data: TaskData, seed: int = 0, metric: str | None = None) -> Fitted:
    """The trivial and the classical baseline of ``data`` (and for tabular data the trees),
    fitted on train + validation (the test split is not read), each for the validation
    ``metric`` as the search's models are trained for it (nas.train.loss_name): a class-balanced
    logistic regression and trees for a metric that weighs the classes alike, the median and
    trees of least absolute error for MAE."""
    from sklearn.linear_model import LogisticRegression, Ridge

    from nas.train.loop import loss_name

    y = np.concatenate([data.train.y.numpy(), data.val.y.numpy()])
    width = int(np.prod(data.input_shape))
    cap = min(MAX_ROWS, max(MIN_ROWS, MAX_VALUES // max(width, 1)))
    Xf, yf, fitted_on = _rows(data, cap, seed)
    if data.task == "classification":
        k = data.output_size
        freq = np.bincount(y.astype(int), minlength=k) / len(y)
        top = int(freq.argmax())
        label = data.class_names[top] if top < len(data.class_names) else str(top)
        trivial = {"name": "majority class", "output": freq, "detail": (
            f"always predicts train + validation's most frequent class ({label}, {freq[top]:.1%})"
        )}  # fmt: skip
    elif loss_name(data.task, metric) == "l1":  # the constant of least absolute error
        trivial = {"name": "median predictor", "output": np.median(y, axis=0),
                   "detail": "always predicts the train + validation median target (the "
                             "constant of least absolute error)"}  # fmt: skip
    else:
        trivial = {"name": "mean predictor", "output": y.mean(axis=0),
                   "detail": "always predicts the train + validation mean target"}  # fmt: skip
    balanced = loss_name(data.task, metric) == "cross_entropy_balanced"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs stopped at MAX_ITER: a capped baseline, said so
        if data.task == "classification":
            weight = "balanced" if balanced else None  # as the search's models train
            model: Any = LogisticRegression(max_iter=MAX_ITER, class_weight=weight)
            model.fit(Xf, yf.astype(int))
            name, how = (
                "logistic regression" + (" (class-balanced)" if balanced else ""),
                f"scikit-learn LogisticRegression(max_iter={MAX_ITER}"
                + (', class_weight="balanced")' if balanced else ")"),
            )
        else:
            model = Ridge(alpha=1.0).fit(Xf, yf)
            name, how = "ridge regression", "scikit-learn Ridge(alpha=1.0)"
    classical = {"name": name, "model": model, "seconds": time.perf_counter() - t0,
                 "detail": f"{how} on the {width:,} preprocessed inputs, flattened, fitted on "
                           f"{fitted_on}"}  # fmt: skip
    trees = None
    if data.modality == "tabular":  # on images and sequences trees are no reference
        tree_cap = min(cap, max(MIN_ROWS, TREE_MAX_VALUES // max(width, 1)))
        if tree_cap < cap:
            Xf, yf, fitted_on = _rows(data, tree_cap, seed)
            fitted_on = (f"{fitted_on[:-1]}; the trees' cap: {TREE_MAX_VALUES:,} values, at "
                         f"least {MIN_ROWS:,} rows)")  # fmt: skip
        trees = _fit_trees(data, Xf, yf, seed, metric, width, fitted_on)
    return Fitted(trivial, classical, trees)


def _fit_trees(
    data: TaskData,
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    metric: str | None,
    width: int,
    fitted_on: str,
) -> dict[str, Any]:
    """Gradient-boosted trees on the rows the classical baseline saw (or fewer, for wide
    tables), for ``metric`` as the models are trained for it, on one core (the project's
    stance: an OpenMP region on a busy core waits for its slowest thread, nas.train.threads)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.multioutput import MultiOutputRegressor
    from threadpoolctl import threadpool_limits

    from nas.train.loop import loss_name

    loss = loss_name(data.task, metric)
    classify = data.task == "classification"
    # one tree an iteration for two classes or one target; one per class or target beyond that
    # (HistGradientBoostingRegressor is single-output: MultiOutputRegressor fits one per target)
    outputs = (
        (data.output_size if data.output_size > 2 else 1)
        if classify
        else int(np.prod(np.shape(y)[1:]))
    )
    max_iter = min(TREE_ITER, max(10, TREE_MAX_TREES // max(outputs, 1)))
    args: dict[str, Any] = {}
    if max_iter != TREE_ITER:
        args["max_iter"] = max_iter
    if loss == "cross_entropy_balanced":
        args["class_weight"] = "balanced"  # as the search's models train
    if loss == "l1":
        args["loss"] = "absolute_error"  # the trees of least absolute error, for MAE
    args["random_state"] = seed
    said = ", ".join(f"{k}={v!r}".replace("'", '"') for k, v in args.items())
    t0, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(limits=1, user_api="openmp"):
        if classify:
            how = f"HistGradientBoostingClassifier({said})"
            model: Any = HistGradientBoostingClassifier(**args).fit(X, y.astype(int))
        elif outputs == 1:
            how = f"HistGradientBoostingRegressor({said})"
            model = HistGradientBoostingRegressor(**args).fit(X, y.reshape(len(y)))
        else:
            how = (f"MultiOutputRegressor(HistGradientBoostingRegressor({said})) (one for each "
                   f"of the {outputs} targets)")  # fmt: skip
            model = MultiOutputRegressor(HistGradientBoostingRegressor(**args)).fit(X, y)
    capped = (
        f"; max_iter capped from {TREE_ITER} to keep it to {TREE_MAX_TREES} trees "
        f"({outputs} an iteration)"
        if max_iter != TREE_ITER
        else ""
    )
    name = "gradient boosting" + (" (class-balanced)" if "class_weight" in args else "")
    return {"name": name, "model": model, "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - cpu,  # benchmarks/baseline_time.py
            "detail": f"scikit-learn {how} on the {width:,} preprocessed inputs, fitted "
                      f"on {fitted_on}, on one core{capped}"}  # fmt: skip


def score_baselines(fitted: Fitted, data: TaskData) -> dict[str, Any]:
    """The fitted baselines scored on the test split, with the run's own metrics."""
    X_test, y_test = _flat(data.test.X), data.test.y.numpy()
    t0 = time.perf_counter()
    constant = np.asarray(fitted.trivial["output"])
    trivial = np.repeat(constant.reshape(1, -1), len(y_test), axis=0)
    if data.task != "classification":
        trivial = trivial.reshape((len(y_test), *np.shape(y_test)[1:]))
    out: list[dict[str, Any]] = [{
        "name": fitted.trivial["name"], "kind": "trivial", "detail": fitted.trivial["detail"],
        "metrics": _scored(data, y_test, trivial), "seconds": time.perf_counter() - t0,
        "outputs": np.round(trivial, 6).tolist(),
    }]  # fmt: skip
    for kind, b in (("classical", fitted.classical), ("trees", fitted.trees)):
        if b is None:  # no trees: not tabular data
            continue
        model = b["model"]
        t0 = time.perf_counter()
        if data.task == "classification":
            outputs = np.zeros((len(X_test), data.output_size))
            outputs[:, model.classes_] = model.predict_proba(X_test)
        else:
            outputs = model.predict(X_test).reshape(y_test.shape)
        row = {"name": b["name"], "kind": kind, "detail": b["detail"],
               "metrics": _scored(data, y_test, outputs),
               "seconds": b["seconds"] + time.perf_counter() - t0,
               # per test row, as best/predictions.npz holds the winner's (probabilities; a
               # regression's standardized values): to compare the two on the same rows
               "outputs": np.round(outputs, 6).tolist()}  # fmt: skip
        if kind == "classical":
            # its size beside the winner's: a tie with a far smaller model is worth saying
            row["params"] = int(np.size(model.coef_) + np.size(model.intercept_))
        out.append(row)
    return {"split": "test", "n_test": len(y_test), "fitted_on": "train+val", "baselines": out}


def measure_baselines(data: TaskData, seed: int = 0, metric: str | None = None) -> dict[str, Any]:
    """The baselines of ``data`` (trivial, classical, and trees for tabular data), fitted and
    scored on its test split."""
    return score_baselines(fit_baselines(data, seed, metric), data)


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


def _winner_outputs(
    best_dir: Path, task: str, info: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The test targets and the winner's outputs from ``best/predictions.npz`` (a regression's
    in the target's units), or None when they are missing, unreadable or do not match."""
    path = Path(best_dir) / "predictions.npz"
    if task not in ("classification", "regression") or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            y, out = np.asarray(z["y_true"]), np.asarray(z["outputs"])
    except (OSError, ValueError, KeyError, EOFError, NotImplementedError, zipfile.BadZipFile,
            zlib.error):  # fmt: skip
        return None  # garbage, 0 bytes (EOFError), a damaged deflate stream (zlib.error)
    if y.dtype.kind not in "biuf" or out.dtype.kind not in "biuf" or len(y) != len(out):
        return None
    if len(y) < 2:
        return None
    if task == "regression":
        pre = info.get("preprocessing") or {}
        mean, std = np.asarray(pre.get("y_mean", 0.0)), np.asarray(pre.get("y_std", 1.0))
        y, out = y * std + mean, out * std + mean
    return y, out


def _percentiles(values: np.ndarray) -> tuple[float, float] | None:
    """The 2.5th and 97.5th percentiles of the finite ``values``; None when fewer than half
    of the resamples gave one."""
    finite = values[np.isfinite(values)]
    if len(finite) < BOOTSTRAP // 2:
        return None
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return float(lo), float(hi)


def _draws(n: int) -> np.ndarray:
    """The resamples of ``n`` test rows, one row of indices each (seeded: the same run gives
    the same intervals)."""
    return np.random.default_rng(0).integers(0, n, (BOOTSTRAP, n))


def bootstrap_interval(
    best_dir: Path, task: str, metric: str, info: dict[str, Any]
) -> dict[str, Any]:
    """The percentile bootstrap 95% interval of the winner's test ``metric`` from
    ``best/predictions.npz`` (seeded: the same run gives the same interval), for the metrics
    whose interval has no closed form; ``{}`` for accuracy (the report uses Wilson's) or when
    the predictions are missing or unreadable."""
    if task not in ("classification", "regression") or metric not in metrics_for(task):
        return {}
    if metric in ("accuracy", "log_loss"):
        return {}
    found = _winner_outputs(best_dir, task, info)
    if found is None:
        return {}
    y, out = found
    bounds = _percentiles(resampled(metric, task, y, out, _draws(len(y)), from_logits=True))
    if bounds is None:
        return {}
    found_interval: dict[str, Any] = {
        "metric": metric, "lo": bounds[0], "hi": bounds[1], "n": len(y),
        "method": f"percentile bootstrap, {BOOTSTRAP} resamples",
    }  # fmt: skip
    largest = largest_errors(metric, y, out)
    if largest:
        found_interval["largest"] = largest
    return found_interval


#: The metrics whose error a few rows can hold most of: the squared ones most.
ROW_ERRORS = {"rmse": 2, "mse": 2, "mae": 1}


def largest_errors(metric: str, y: np.ndarray, out: np.ndarray) -> dict[str, Any] | None:
    """How much of a regression's test error its largest errors hold: ``{"rows": k, "of": n,
    "share": s}``, the k = 1 % of rows (one at least) with the largest errors holding the share
    s of the sum of squared (``mae``: absolute) errors; None for other metrics or outputs.
    Heavy-tailed noise puts one row's error above all the others': a gap between validation
    and test it makes is not over-fitting, and the report says so (/tmp/oG6 F1: one test row
    of 258 held 51 % of the squared error; the true function showed a larger gap than the
    winner, which had been said to have over-fitted)."""
    power = ROW_ERRORS.get(metric)
    if power is None:
        return None
    err = np.abs(np.asarray(y, dtype=np.float64) - np.asarray(out, dtype=np.float64))
    err = err.reshape(len(err), -1).mean(axis=1) ** power  # several outputs: their mean
    total = float(err.sum())
    if not np.isfinite(total) or total <= 0:
        return None
    k = max(1, int(np.ceil(0.01 * len(err))))
    return {"rows": k, "of": len(err), "share": float(np.sort(err)[-k:].sum() / total)}


def paired_difference(
    best_dir: Path, task: str, metric: str, info: dict[str, Any], outputs: Any
) -> dict[str, Any]:
    """The percentile bootstrap 95% interval of (a baseline's test ``metric`` minus the
    winner's), both scored on the same resampled test rows: ``outputs`` are the baseline's per
    row (baselines.json), the winner's are in ``best/predictions.npz``. Two models tested on
    the same rows are judged by their difference, not by one's score against the other's
    interval: a baseline with one more right answer of 225 (accuracy 1 against 0.9956) lay
    beyond the winner's Wilson interval and had been said to beat it. For a classifier's
    accuracy, :func:`mcnemar`'s exact test of the same rows too (``p``, ``discordant``,
    ``test``): the report claims a difference only where both agree. ``{}`` when either's
    outputs are missing or do not match."""
    found = _winner_outputs(best_dir, task, info)
    try:
        base = np.asarray(outputs, dtype=np.float64)
    except (ValueError, TypeError):
        return {}
    if found is None or len(base) != len(found[0]) or base.shape[1:] != found[1].shape[1:]:
        return {}
    y, win = found
    if task == "regression":  # stored standardized, as the winner's
        pre = info.get("preprocessing") or {}
        mean, std = np.asarray(pre.get("y_mean", 0.0)), np.asarray(pre.get("y_std", 1.0))
        base = base * std + mean
    rows = _draws(len(y))
    mine = resampled(metric, task, y, base, rows, from_logits=False)
    bounds = _percentiles(mine - resampled(metric, task, y, win, rows, from_logits=True))
    if bounds is None:
        return {}
    out = {"lo": bounds[0], "hi": bounds[1], "n": len(y),
           "method": f"paired percentile bootstrap, {BOOTSTRAP} resamples"}  # fmt: skip
    if task == "classification" and metric == "accuracy":
        out.update(mcnemar(y, base, win))
    return out


def unseen_scores(
    best_dir: Path,
    task: str,
    metric: str,
    info: dict[str, Any],
    baselines: list[tuple[str, Any]],
    repeated: Any,
) -> dict[str, Any] | None:
    """The winner's and each baseline's test ``metric`` on the test rows that repeat no
    training or validation row (``repeated``: the positions of those that do, recorded with
    the data notes): where a third of the test rows were copies, trees that memorise them
    scored 39 of 39 there and were said to beat the winner, who was within one row of them on
    the 29 others. ``baselines`` holds (name, outputs per test row); None without repeats, the
    winner's predictions, or at least 2 other rows."""
    if not isinstance(repeated, list) or not repeated or metric not in metrics_for(task):
        return None
    found = _winner_outputs(best_dir, task, info)
    if found is None:
        return None
    y, win = found
    keep = np.ones(len(y), dtype=bool)
    keep[[int(i) for i in repeated if isinstance(i, int) and 0 <= i < len(y)]] = False
    m = int(keep.sum())
    if m < 2 or m == len(y):
        return None
    rows = np.arange(m)[None, :]

    def score(out: np.ndarray, from_logits: bool) -> float | None:
        value = float(resampled(metric, task, y[keep], out[keep], rows, from_logits)[0])
        return value if np.isfinite(value) else None

    out: dict[str, Any] = {"n": m, "of": len(y), "winner": score(win, True), "baselines": []}
    for name, outputs in baselines:
        try:
            arr = np.asarray(outputs, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if len(arr) != len(y) or arr.shape[1:] != win.shape[1:]:
            continue
        if task == "regression":  # stored standardized, as the winner's
            pre = info.get("preprocessing") or {}
            arr = arr * np.asarray(pre.get("y_std", 1.0)) + np.asarray(pre.get("y_mean", 0.0))
        out["baselines"].append({"name": name, "value": score(arr, False)})
    return out if out["winner"] is not None else None


def mcnemar(y: np.ndarray, base: np.ndarray, win: np.ndarray) -> dict[str, Any]:
    """McNemar's exact test of two classifiers' accuracy on the same rows: only the rows where
    one is right and the other wrong tell them apart, and under "as accurate" each is the
    baseline's with probability 1/2 (SciPy's two-sided ``binomtest``). A percentile bootstrap
    of the paired difference is anti-conservative on a few rows: on 6 test rows, 3 of them
    right for the winner alone, it excluded 0 (an all-tie resample has probability 1/64) where
    this test gives p = 0.25. ``base`` holds the baseline's probabilities, ``win`` the
    winner's logits (best/predictions.npz): ``{p, discordant [rows right for the baseline
    alone, for the winner alone], test}``."""
    from scipy.stats import binomtest

    labels = y.reshape(-1).astype(np.int64)
    right_base = _predicted(base, from_logits=False) == labels
    right_win = _predicted(win, from_logits=True) == labels
    for_base, for_win = int(np.sum(right_base & ~right_win)), int(np.sum(right_win & ~right_base))
    m = for_base + for_win
    p = float(binomtest(for_base, m, 0.5).pvalue) if m else 1.0
    test = "McNemar's exact test (two-sided binomial on the rows where they disagree)"
    return {"p": p, "discordant": [for_base, for_win], "test": test}


def _predicted(out: np.ndarray, from_logits: bool) -> np.ndarray:
    """The predicted class of each row, as :func:`resampled` takes it: the most probable of a
    row of scores, or the label itself."""
    from nas.metrics import _probabilities

    if out.ndim == 2:
        return _probabilities(out, from_logits).argmax(axis=1)
    return out.astype(np.int64)


def resampled(
    metric: str, task: str, y: np.ndarray, out: np.ndarray, rows: np.ndarray, from_logits: bool
) -> np.ndarray:
    """``metric`` of ``out`` against ``y`` on each resample of test rows (``rows``: one row of
    indices per resample; NaN where it is undefined), as :func:`nas.metrics.metric_value`
    computes it, in counts weighted by how often each row was drawn: 1,000 resamples of 225
    rows take milliseconds (scikit-learn's scorer, called 2,000 times, took 3-6 s); ROC AUC as
    the weighted Mann-Whitney statistic."""
    n = len(y)
    w = np.zeros((len(rows), n))
    np.add.at(w, (np.arange(len(rows))[:, None], rows), 1.0)
    if task == "regression" and metric in ("mae", "mse", "rmse", "r2"):
        yy = y.reshape(n, -1).astype(np.float64)
        e = out.reshape(n, -1) - yy
        mse = w @ e**2 / n
        if metric == "mae":
            return (w @ np.abs(e) / n).mean(axis=1)
        if metric == "mse":
            return mse.mean(axis=1)
        if metric == "rmse":
            return np.sqrt(mse).mean(axis=1)
        ybar = w @ yy / n
        sst = w @ yy**2 / n - ybar**2
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sst > 1e-12 * (ybar**2 + 1), 1 - mse / sst, np.nan).mean(axis=1)
    if task != "classification":
        return np.full(len(rows), np.nan)
    from nas.metrics import _probabilities

    labels = y.reshape(-1).astype(np.int64)
    proba = _probabilities(out, from_logits) if out.ndim == 2 else None
    pred = proba.argmax(axis=1) if proba is not None else out.astype(np.int64)
    if metric == "accuracy":
        return w @ (pred == labels) / n
    if metric == "log_loss" and proba is not None:
        p = np.clip(proba[np.arange(n), labels], np.finfo(np.float64).eps, 1.0)
        return w @ -np.log(p) / n
    k = int(max(labels.max(), pred.max(), (proba.shape[1] - 1) if proba is not None else 0)) + 1
    if metric in ("balanced_accuracy", "precision", "recall", "f1"):
        truth, said = (
            labels[None, :] == np.arange(k)[:, None],
            pred[None, :] == np.arange(k)[:, None],
        )
        tp, fp, fn = w @ (truth & said).T, w @ (~truth & said).T, w @ (truth & ~said).T
        with np.errstate(divide="ignore", invalid="ignore"):
            if metric == "balanced_accuracy":  # the recall of each class present in y
                return np.nanmean(np.where(tp + fn > 0, tp / (tp + fn), np.nan), axis=1)
            present = (tp + fp + fn) > 0  # classes in y or in the predictions
            score = {"precision": np.where(tp + fp > 0, tp / (tp + fp), 0.0),
                     "recall": np.where(tp + fn > 0, tp / (tp + fn), 0.0),
                     "f1": np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0)}[metric]  # fmt: skip
            return (score * present).sum(axis=1) / present.sum(axis=1)
    if metric == "roc_auc" and proba is not None and k >= 2:
        # one-vs-rest, macro (scikit-learn's for k > 2); undefined where a class is absent
        classes = [1] if k == 2 else range(k)
        aucs = np.stack([_weighted_auc(proba[:, c], labels == c, w) for c in classes])
        return aucs.mean(axis=0)
    return np.full(len(rows), np.nan)


def _weighted_auc(score: np.ndarray, positive: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ROC AUC of ``score`` for ``positive`` rows on each resample (``w``: how often each row
    was drawn, one line per resample): the weighted Mann-Whitney statistic, a tie counting
    one half, which is what scikit-learn's trapezoidal AUC of the resampled rows equals. NaN
    where a resample lacks positives or negatives."""
    order = np.argsort(score, kind="stable")
    s, pos, ww = score[order], positive[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    wp = np.add.reduceat(ww * pos, starts, axis=1)
    wn = np.add.reduceat(ww * ~pos, starts, axis=1)
    below = np.cumsum(wn, axis=1) - wn  # negatives' weight under each group's score
    pairs = wp.sum(axis=1) * wn.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs > 0, (wp * (below + 0.5 * wn)).sum(axis=1) / pairs, np.nan)


__all__ = [
    "mcnemar",
    "unseen_scores",
    "paired_difference",
    "resampled",
    "FILE",
    "Fitted",
    "bootstrap_interval",
    "fit_baselines",
    "measure_baselines",
    "read_baselines",
    "score_baselines",
]
