"""scikit-learn estimators: :class:`NASClassifier` and :class:`NASRegressor`.

``fit(X, y)`` runs a real ``nas`` search on the in-memory arrays: they are written as an NPZ
into a temporary folder and searched with :func:`nas.search` (the same loader, split and
preprocessing as ``nas search --data file.npz``), and the winner comes back as a
:class:`nas.predict.Predictor`, which applies the run's recorded preprocessing (fitted on the
training split) to new rows. The temporary folder is deleted after ``fit``; ``run_dir=`` keeps
the run directory (with its ``data.npz``) for ``nas show / explain / report``.

As in every ``nas`` search, 15 % of the rows are the validation split the trials are chosen
on and 15 % a test split the winner is scored on once (``metrics_["test"]``); the winner is
retrained on the other 85 % (train + validation).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import optuna
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from nas.api import search
from nas.config import SearchConfig
from nas.cost import Budget
from nas.data.prepare import MIN_ROWS
from nas.data.transform import label_name
from nas.errors import DataError, NasError, SettingsError
from nas.predict import Predictor, load_predictor
from search_spaces.rebuild import build_spec, spec_from_dict

_PARAMS = """
    Parameters
    ----------
    space : str or Space, default="auto"
        The search space: a name (``auto``, ``fnn``, ...), a TOML file or a ``Space``.
    n_trials : int, default=None
        Trials of the search; with neither ``n_trials`` nor ``timeout``, 20.
    timeout : float, default=None
        Seconds the search and the winner's retrain may take.
    epochs, patience : int, default=20, 5
        The most epochs a trial trains; early stopping on the validation loss.
    max_params, max_flops, max_latency_ms, max_memory_mb : number, default=None
        The compute budget: an architecture over it is rejected before training.
    metric : str, default=None
        The validation metric optimised (accuracy / rmse when None).
    objectives : str or sequence of str, default=None
        A Pareto search, e.g. ``"accuracy,params"``; the front's best-metric model is kept.
    sampler, pruner : str, default="tpe", "hyperband"
        Optuna's sampler and pruner, by name.
    seed : int, default=0
        Seeds the split, the sampler and the weights: same seed and thread count, same model
        (on other threads torch sums in another order: last digits differ).
    trial_timeout : float, default=None
        Seconds one trial may run.
    threads : int, default=None
        Torch threads during ``fit`` (one when None); restored afterwards.
    run_dir : str or path, default=None
        Keep the run directory here (a new or empty folder, one per fit); a temporary folder,
        deleted after ``fit``, when None.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when ``X`` was a DataFrame with string columns
    model_ : torch.nn.Module
        The winner, retrained (it takes the standardized inputs ``predictor_`` makes).
    spec_ : ArchSpec
        The winner's architecture.
    predictor_ : nas.predict.Predictor
        The winner with the run's recorded preprocessing.
    metrics_ : dict
        The winner's metrics (``metrics_["test"]``: on the held-out test split), its cost.
    run_dir_ : Path or None
        The kept run directory (``run_dir``), or None.

    Pickling stores the winner as its spec and ``state_dict`` (no file of the run is needed
    afterwards). As with any scikit-learn estimator, unpickling can run arbitrary code:
    load only pickles from a source you trust.
"""


class _NASEstimator(BaseEstimator):
    """What the classifier and the regressor share: the parameters, the search, pickling."""

    _task: ClassVar[str]

    def __init__(
        self,
        *,
        space: Any = "auto",
        n_trials: int | None = None,
        timeout: float | None = None,
        epochs: int = 20,
        patience: int = 5,
        max_params: int | None = None,
        max_flops: int | None = None,
        max_latency_ms: float | None = None,
        max_memory_mb: float | None = None,
        metric: str | None = None,
        objectives: Any = None,
        sampler: str = "tpe",
        pruner: str = "hyperband",
        seed: int = 0,
        trial_timeout: float | None = None,
        threads: int | None = None,
        run_dir: Any = None,
    ) -> None:
        self.space = space
        self.n_trials = n_trials
        self.timeout = timeout
        self.epochs = epochs
        self.patience = patience
        self.max_params = max_params
        self.max_flops = max_flops
        self.max_latency_ms = max_latency_ms
        self.max_memory_mb = max_memory_mb
        self.metric = metric
        self.objectives = objectives
        self.sampler = sampler
        self.pruner = pruner
        self.seed = seed
        self.trial_timeout = trial_timeout
        self.threads = threads
        self.run_dir = run_dir

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # A time limit makes the trials that run depend on the machine's speed.
        tags.non_deterministic = self.timeout is not None or self.trial_timeout is not None
        return tags

    # --- the search ----------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        budget = Budget(max_params=self.max_params, max_flops=self.max_flops,
                        max_latency_ms=self.max_latency_ms,
                        max_memory_mb=self.max_memory_mb)  # fmt: skip
        seed = int(self.seed) if isinstance(self.seed, np.integer) else self.seed
        return dict(space=self.space, n_trials=self.n_trials, timeout=self.timeout,
                    epochs=self.epochs, patience=self.patience, budget=budget,
                    metric=self.metric, objectives=self.objectives, sampler=self.sampler,
                    pruner=self.pruner, seed=seed, trial_timeout=self.trial_timeout)  # fmt: skip

    def _search(self, X: np.ndarray, y: np.ndarray, class_names: Any = ()) -> None:
        """Search on ``X``, ``y`` (class indices, or values) and keep the winner."""
        keep = None if self.run_dir is None else Path(self.run_dir)
        if keep is not None and keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
            raise ValueError(
                f"run_dir {str(keep)!r} is not a new or empty folder; every fit runs a new "
                "search: give each fit its own folder, or run_dir=None for a temporary one."
            )
        arrays = {"X": X, "y": y}
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            arrays["feature_names"] = np.asarray(names, dtype=str)
        if len(class_names):
            arrays["class_names"] = np.asarray([label_name(c) for c in class_names], dtype=str)
        threads, verbosity = torch.get_num_threads(), optuna.logging.get_verbosity()
        with tempfile.TemporaryDirectory(prefix="nas-fit-") as tmp:
            data = Path(tmp) / "data.npz"
            np.savez(data, **arrays)
            out = keep if keep is not None else Path(tmp) / "run"
            # A temporary run keeps its study in a journal file: faster than SQLite.
            storage = None if keep is not None else f"journal:{Path(tmp) / 'study.log'}"
            try:
                result = search(data=data, out=out, task=self._task, storage=storage,
                                threads=self.threads, reports_dir=None,
                                **self._settings())  # fmt: skip
            except DataError as e:  # about the arrays given to fit, not nas's own file of them
                said = str(e).replace(str(data), data.name).replace(data.name, "the data given")
                raise type(e)(said) from None
            except NasError as e:  # a setting: a ValueError, as scikit-learn's estimators raise
                if isinstance(e, ValueError | RuntimeError):
                    raise
                raise SettingsError(str(e)) from None
            finally:  # a search sets both for the process
                torch.set_num_threads(threads)
                optuna.logging.set_verbosity(verbosity)
            if keep is not None:  # the kept run reads its data from inside itself
                shutil.copyfile(data, keep / "data.npz")
                config = SearchConfig.read(keep)
                replace(config, data=str((keep / "data.npz").resolve())).write(keep)
            predictor = load_predictor(out)
        self.predictor_ = predictor
        self.model_ = predictor.model
        self.spec_ = predictor.model.spec
        self.metrics_ = dict(result.metrics)
        self.run_dir_ = keep

    @contextlib.contextmanager
    def _fitting(self) -> Iterator[None]:
        """A fit that fails leaves the estimator as it was (a fitted one still predicts): the
        check of ``X`` sets ``n_features_in_`` before the search can refuse a setting, and a
        refused refit had left 30 features beside a model of 4 and the old ``classes_``."""
        before = {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}
        try:
            yield
        except BaseException:
            for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
                if k not in before:
                    delattr(self, k)
            vars(self).update(before)
            raise

    def _validate(self, *args: Any, **kwargs: Any) -> Any:
        """scikit-learn's ``validate_data``, its (few) two-line messages made one line."""
        try:
            # float64, as scikit-learn's own: the run standardizes it before float32
            return validate_data(self, *args, dtype=np.float64, **kwargs)
        except ValueError as e:
            if "\n" not in str(e):
                raise
            raise ValueError(" ".join(str(e).split())) from None

    def _inputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self._validate(X, reset=False)

    # --- pickling: the module as spec + state_dict ---------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: Python's own is the live __dict__
        predictor = state.pop("predictor_", None)
        if isinstance(predictor, Predictor):
            model = predictor.model
            state.pop("model_", None)
            state.pop("spec_", None)
            state["predictor_"] = {
                "config": predictor.config.to_dict(),
                "spec": model.spec.to_dict(),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        record = state.get("predictor_")
        if isinstance(record, dict):
            state = dict(state)
            spec = spec_from_dict(record["spec"])
            model = build_spec(spec)
            model.load_state_dict(record["state_dict"])
            model.eval()
            config = SearchConfig.from_dict(record["config"], source="the pickled estimator")
            where = state.get("run_dir_") or Path(f"<{type(self).__name__}>")
            state["predictor_"] = Predictor(Path(where), config, model)
            state["model_"], state["spec_"] = model, spec
        super().__setstate__(state)


class NASClassifier(ClassifierMixin, _NASEstimator):
    """A classifier whose architecture ``fit`` finds by a ``nas`` search of ``space``.

    ``classes_`` holds the labels of ``y`` as given (strings, integers, ...), sorted;
    ``predict`` returns them and ``predict_proba`` has one column per class, in that order.
    Inputs must be numeric and finite (NaN / inf is a ValueError).
    """

    __doc__ = (__doc__ or "") + _PARAMS
    _task = "classification"

    def fit(self, X: Any, y: Any) -> NASClassifier:
        """Search for the best classifier of ``X`` (n_samples, n_features) for labels ``y``."""
        with self._fitting():
            X, y = self._validate(X, y, ensure_min_samples=MIN_ROWS)
            check_classification_targets(y)
            classes, encoded = np.unique(y, return_inverse=True)
            if len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least two classes in y; it holds one "
                    f"({classes[0].item()!r}). Give labels of two or more classes."
                )
            self._search(X, encoded.astype(np.int64), classes)
            self.classes_ = classes
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``, columns in the order of ``classes_``."""
        X = self._inputs(X)
        return self.predictor_.predict_proba(X).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row, as one of the original labels."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class NASRegressor(RegressorMixin, _NASEstimator):
    """A regressor whose architecture ``fit`` finds by a ``nas`` search of ``space``.

    The target is standardized on the training split for the search; ``predict`` returns
    values in the target's own units. One target (``y`` of shape (n_samples,)).
    """

    __doc__ = (__doc__ or "") + _PARAMS
    _task = "regression"

    def fit(self, X: Any, y: Any) -> NASRegressor:
        """Search for the best regressor of ``X`` (n_samples, n_features) for targets ``y``."""
        with self._fitting():
            X, y = self._validate(X, y, y_numeric=True, ensure_min_samples=MIN_ROWS)
            self._search(X, np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values ``(n_samples,)`` in the target's own units."""
        X = self._inputs(X)
        return np.asarray(self.predictor_.predict(X), dtype=np.float64)


__all__ = ["NASClassifier", "NASRegressor"]
