"""Predictions of a run's winner on new data: :func:`load_predictor` (``nas predict``).

New rows go through the run's recorded preprocessing, fitted on its training split
(:func:`nas.data.transform.fitted_transform`: the same object the loader applied), then through
the model in batches; classes come back as the original labels, regression in the target's
own units.
"""

from __future__ import annotations

import json
import re
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from nas.caller_state import keeps_caller_state
from nas.config import SearchConfig
from nas.data.csvfile import read_table
from nas.data.files import SUPPORTED_SUFFIXES
from nas.data.fingerprint import file_fingerprint
from nas.data.prepare import label_name
from nas.data.transform import OTHER, ArrayTransform, TabularTransform, fitted_transform
from nas.errors import DataError, NasError
from nas.metrics import compute_metrics
from nas.reading import (
    REDO,
    load_model,
    read_json,
    readable_run_dir,
    unchecked_note,
    version_notes,
)
from nas.train import predict as model_outputs
from search_spaces import ArchSpec

# Rows per forward pass, the last pass padded with zeros: every row is computed in a pass of
# the same shape, so its output does not depend on which other rows came with it (float32
# kernels round differently by batch size: scikit-learn's subset-invariance check failed).
BATCH = 64


@dataclass
class Prediction:
    """A table of predictions (the input's rows plus the prediction and, for classification,
    one probability column per class), the test metrics when the target was given, notes on
    how the rows were read, and a caveat on the metrics when the rows are the run's own."""

    table: pd.DataFrame
    metrics: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    caveat: str | None = None  # the metrics are not a test score: the rows trained the model


class Predictor:
    """A run's winner with its preprocessing: ``predict``, ``predict_proba``, ``predict_table``."""

    def __init__(self, run_dir: Path, config: SearchConfig, model: torch.nn.Module) -> None:
        info = dict(config.data_info)
        self.run_dir, self.config, self.model = run_dir, config, model
        self.transform = checked_transform(run_dir, info, model)  # first: checks info's kinds
        self.task: str = info.get("task", "")
        self.modality: str = info.get("modality", "tabular")
        self.class_names: list[str] = list(info.get("class_names") or [])
        self.target_name: str = info.get("target_name") or "target"
        self.feature_names: list[str] = list(info.get("feature_names") or [])
        self.preprocessing: dict[str, Any] = dict(info.get("preprocessing") or {})
        self.standing: list[str] = [  # said with every prediction: files nothing checks, ...
            *([note] if (note := unchecked_note(run_dir / "best")) else []),
            *version_notes(config.versions),  # ... a run of a newer nas, another torch
        ]
        self.notes: list[str] = list(self.standing)  # of the last call
        self.filled: dict[str, list[int]] = {}  # of the last call: column -> rows filled in

    # --- inputs --------------------------------------------------------------------------
    def inputs(self, X: Any, source: str = "the data") -> torch.Tensor:
        """The model's inputs for raw rows ``X`` (a DataFrame, or an array shaped as the run's
        data was); notes on imputed cells and unseen categories go to ``self.notes``."""
        self.notes, self.filled = list(self.standing), {}
        if isinstance(X, str | PathLike):
            raise DataError(f"{source} is a path ({str(X)!r}); predict takes rows (a DataFrame "
                            "or an array): give a file to predict_file(path).")  # fmt: skip
        if isinstance(self.transform, TabularTransform):
            frame = self._frame(X, self.transform.columns, source)
            applied = self.transform.apply(frame, source)
            self._note(applied.imputed, applied.unknown, source)
            self.filled = applied.filled
            return torch.from_numpy(applied.X)
        return torch.from_numpy(self.transform.apply_finite(self._array(X, source), source))

    def _frame(self, X: Any, columns: list[str], source: str) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            extra = [c for c in X.columns if c not in columns and c != self.target_name
                     and not _output_column(c)]  # fmt: skip
            if extra:
                shown = ", ".join(map(repr, extra[:5])) + (" ..." if len(extra) > 5 else "")
                self.notes.append(f"{len(extra)} column(s) of {source} the model does not use "
                                  f"were ignored: {shown}.")  # fmt: skip
            return X
        arr = np.asarray(X)
        if arr.ndim != 2 or arr.shape[1] != len(columns):
            raise DataError(
                f"{source} has shape {arr.shape}; give a DataFrame with columns "
                f"{', '.join(map(repr, columns))}, or an array of {len(columns)} columns in "
                "that order."
            )
        return pd.DataFrame(arr, columns=columns)

    def _array(self, X: Any, source: str) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self.feature_names if c not in X.columns]
            if missing:
                raise DataError(
                    f"{source} lacks feature column(s) {', '.join(map(repr, missing[:5]))} that "
                    f"the model was trained on; add them (the model takes {len(self.feature_names)}"
                    " columns, in the order of load_predictor(RUN).feature_names)."
                )
            X = self._frame(X, self.feature_names, source)[self.feature_names]
            numbers = X.apply(pd.to_numeric, errors="coerce")
            bad = numbers.isna() & X.notna()
            if bad.to_numpy().any():
                row, col = (int(i[0]) for i in np.nonzero(bad.to_numpy()))
                raise DataError(
                    f"Column {X.columns[col]!r} of {source} holds text ({X.iat[row, col]!r} in row "
                    f"{row}) but the model was trained on numbers; fix the column."
                )
            X = numbers
        arr = np.asarray(X)
        shape = tuple(self.config.data_info.get("input_shape") or ())
        if arr.ndim == 0:  # np.float32(3) saved as X: len() of it had been a traceback
            raise DataError(f"{source}'s inputs are a single value ({arr.item()!r}); the model "
                            f"takes examples of shape {shape}: give an array of them, one "
                            "per row.")  # fmt: skip
        if arr.dtype.kind not in "biuf":  # before the shape: text is not a shape problem
            what = "text" if arr.dtype.kind in "USO" else f"dtype {arr.dtype}"
            raise DataError(f"{source} holds {what} where the model takes numbers; give numeric "
                            "inputs.")  # fmt: skip
        if shape and arr.shape == shape:  # one example
            arr = arr[None]
            self.notes.append(f"{source} has the shape of one example, {shape}, and was read "
                              "as one (stack several along a first axis).")  # fmt: skip
        if tuple(arr.shape[1:]) != shape:
            raise DataError(
                f"{source} has {len(arr)} example(s) of shape {tuple(arr.shape[1:])}; the model "
                f"takes {shape} (as the run's data had); {_reshape_hint(arr.shape[1:], shape)}"
            )
        if not np.isfinite(arr).all():
            raise DataError(f"{source} holds NaN/inf values; impute or remove them first.")
        return arr

    def _note(self, imputed: dict[str, int], unknown: dict[str, list[str]], source: str) -> None:
        if imputed:
            shown = ", ".join(f"{c!r} ({n})" for c, n in imputed.items())
            self.notes.append(f"missing values of {source} were filled in as in training "
                              f"(the training rows' median / most frequent): {shown}.")  # fmt: skip
        categorical = getattr(self.transform, "categorical", {}) or {}
        for column, values in unknown.items():
            shown = ", ".join(map(repr, values[:5])) + (" ..." if len(values) > 5 else "")
            spec = categorical.get(column)
            how = (f"encoded as the rare categories are ({OTHER!r})"
                   if spec is not None and spec.unseen_to_other and spec.other
                   else "encoded as none of the known ones (all zeros)")  # fmt: skip
            self.notes.append(f"column {column!r} of {source} holds categories never seen in "
                              f"training ({shown}); {how}.")  # fmt: skip

    # --- outputs -------------------------------------------------------------------------
    @keeps_caller_state
    def outputs(self, X: Any, source: str = "the data") -> np.ndarray:
        """The model's raw outputs (logits; standardized regression values), batched. A row
        whose output is not a number (inputs so far from training that the network overflows,
        1e30 where it saw 5 +- 3) is a DataError naming it: its argmax would be a label."""
        inputs = self.inputs(X, source)
        if len(inputs) == 0:
            raise DataError(f"{source} holds no rows to predict; give at least one.")
        out = row_outputs(self.model, inputs)
        bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
        if bad.any():
            row = int(np.argmax(bad))
            flat = inputs[row].reshape(-1).double().abs()
            j = int(flat.argmax())
            names = list(getattr(self.transform, "feature_names", None) or self.feature_names)
            where = f"{names[j]!r}, " if len(names) == len(flat) else ""
            raise DataError(
                f"{source}: the model gives no finite output for {int(bad.sum())} row(s), first "
                f"row {row}, whose inputs lie far outside what it was trained on ({where}"
                f"{float(flat[j]):.3g} after the run's scaling, where training inputs lie within "
                "a few units of 0); check the values' units."
            )
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (the original values) or regression values in the target's units."""
        return self._decide(self._warned(self.outputs(X)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(N, classes)``, columns in the order of ``classes_``."""
        if self.task != "classification":
            raise NasError(f"predict_proba needs a classification run; this one is {self.task}.")
        return _softmax(self._warned(self.outputs(X)))

    @property
    def classes_(self) -> np.ndarray:
        """The original labels, numbers when every label is one."""
        return _labels(self.class_names)

    def _warned(self, outputs: np.ndarray) -> np.ndarray:
        for note in self.notes:
            warnings.warn(note, UserWarning, stacklevel=3)
        return outputs

    def _decide(self, outputs: np.ndarray) -> np.ndarray:
        if self.task == "classification":
            return self.classes_[outputs.argmax(1)]
        mean, std = self.preprocessing.get("y_mean"), self.preprocessing.get("y_std")
        values = outputs * np.asarray(std) + np.asarray(mean) if mean is not None else outputs
        return values[:, 0] if values.shape[1] == 1 else values

    # --- tables --------------------------------------------------------------------------
    def predict_table(self, X: Any, y: Any = None, source: str = "the data") -> Prediction:
        """The rows of ``X`` (a DataFrame keeps its columns) with ``prediction`` and, for
        classification, ``proba_<class>`` columns; metrics when targets ``y`` (or ``X``'s
        target column) are given, regression in the target's own units."""
        if y is not None:
            self._check_targets(np.asarray(y), len(X), source)
        outputs = self.outputs(X, source)
        if isinstance(X, pd.DataFrame):
            table = X.reset_index(drop=True).copy()
            if y is None and self.target_name in X.columns:
                y = X[self.target_name].to_numpy()
        else:
            table = pd.DataFrame(index=range(len(outputs)))
        predicted = self._decide(outputs)
        added: dict[str, np.ndarray] = {}
        if predicted.ndim == 1:
            added["prediction"] = predicted
        else:
            for j in range(predicted.shape[1]):
                added[f"prediction_{j}"] = predicted[:, j]
        if self.task == "classification":
            proba = _softmax(outputs)
            for j, name in enumerate(self.class_names):
                added[f"proba_{name}"] = proba[:, j]
        if self.task == "classification" and predicted.ndim == 1 and len(predicted) >= 10:
            said = pd.unique(predicted)
            if len(said) == 1 and len(self.class_names) > 1:  # e.g. "no" to every churner
                self.notes.append(
                    f"the model predicts {label_name(said[0])!r} for every one of the "
                    f"{len(predicted)} rows: it tells no row from another here; its run's "
                    "per-class recall (nas show) says whether it ever predicts the other "
                    "classes."
                )
        replaced = [c for c in added if c in table.columns]
        if replaced:  # a table predicted before, say: its columns hold the new predictions
            self.notes.append(f"column(s) {', '.join(map(repr, replaced))} of {source} were "
                              "replaced by this model's predictions.")  # fmt: skip
        for column, values in added.items():
            table[column] = values
        with warnings.catch_warnings():  # scikit-learn's on one row or one class: not news
            warnings.simplefilter("ignore", UserWarning)
            metrics = self._metrics(outputs, y) if y is not None else None
        return Prediction(table, metrics, list(self.notes))

    def _check_targets(self, y: np.ndarray, rows: int, source: str) -> None:
        """Targets given with the rows: one per row, of the width the model predicts."""
        if y.ndim == 0:
            raise DataError(f"{source}'s targets are a single value ({y.item()!r}); give one "
                            "per row, or leave them out to only predict.")  # fmt: skip
        if len(y) != rows:
            raise DataError(f"{source} has {rows} rows of inputs but {len(y)} targets; give a "
                            "target for every row, or none.")  # fmt: skip
        width = int(np.prod(y.shape[1:], dtype=np.int64)) if y.ndim > 1 else 1
        wanted = int(self.config.data_info.get("output_size") or 1)
        if self.task == "classification" and width != 1:
            raise DataError(f"{source}'s targets have shape {y.shape}; give one label per row "
                            f"(shape ({rows},)), or leave them out to only predict.")  # fmt: skip
        if self.task == "regression" and width != wanted:
            raise DataError(f"{source}'s targets have {width} value(s) per row; the model "
                            f"predicts {wanted}: give them as shape ({rows}, {wanted}), or leave "
                            "them out to only predict.")  # fmt: skip

    def _metrics(self, outputs: np.ndarray, y: Any) -> dict[str, Any] | None:
        y = np.asarray(y)
        # an empty target cell is a row without a label, not a label the run never saw
        empty = pd.isna(y.reshape(len(y), -1)).any(axis=1)
        if empty.any():
            what = "label" if self.task == "classification" else "target value"
            self.notes.append(f"{int(empty.sum())} row(s) have no {what} (empty target cell) and "
                              "are left out of the metrics.")  # fmt: skip
        if self.task == "classification":
            index = {name: i for i, name in enumerate(self.class_names)}
            names = [label_name(v) for v in y.reshape(-1)]
            known = np.array([n in index for n in names]) & ~empty
            unseen = [n for n, k, e in zip(names, known, empty, strict=True) if not (k or e)]
            if unseen and not known.any():
                self.notes.append(f"none of the {len(unseen)} target value(s) is a label the run "
                                  f"knows (e.g. {unseen[0]!r}); no metrics.")  # fmt: skip
            elif unseen:
                self.notes.append(f"{len(unseen)} row(s) have a label the run never saw; "
                                  "the metrics leave them out.")  # fmt: skip
            if not known.any():
                return None
            labels = np.array([index[n] for n, k in zip(names, known, strict=True) if k])
            return compute_metrics("classification", labels, outputs[known], len(index))
        values = pd.DataFrame(y.reshape(len(y), -1)).apply(pd.to_numeric, errors="coerce")
        values = values.to_numpy(dtype=np.float64)
        good = np.isfinite(values).all(axis=1)
        if (~good & ~empty).any():
            self.notes.append(f"{int((~good & ~empty).sum())} row(s) have a target that is not a "
                              "number; the metrics leave them out.")  # fmt: skip
        if not good.any():
            return None
        predicted = self._decide(outputs).reshape(len(outputs), -1)
        return compute_metrics("regression", values[good], predicted[good])

    def predict_file(self, path: str | PathLike[str] | None = None) -> Prediction:
        """Predictions for a CSV/TSV or NPZ file, or (``path`` None) the test split of the
        run's built-in dataset."""
        if path is None:
            if self.config.dataset is None:
                raise DataError(
                    f"{self.run_dir} searched a file, not a built-in dataset; give the rows to "
                    "predict with --data <file>."
                )
            data = self.config.load_data()
            changed = self.config.data_changed(data.fingerprint)
            if changed:  # its "test split" is no longer the rows the winner was tested on
                raise DataError(
                    f"The data of {str(self.run_dir)!r} changed since its search ({changed}): "
                    "the rows it would call the test split are not the ones the winner was "
                    "tested on, nor held out from its training. Restore that data to predict "
                    "its test split, or predict other rows with --data FILE."
                )
            self.notes = list(self.standing)
            outputs = row_outputs(self.model, data.test.X)
            y = data.targets_in_units(data.test)  # as read: not back from float32
            if self.task == "classification":
                y = np.asarray(self.class_names)[y]
            table = pd.DataFrame({self.target_name: list(y) if np.ndim(y) == 1 else y[:, 0]})
            if data.test.rows is not None:  # which example each prediction is of
                table.insert(0, "row", data.test.rows)
            return _fill(self, table, outputs)
        file = Path(path)
        X, y = self.read_file(file)
        result = self.predict_table(X, y, source=file.name)
        if result.metrics is not None and file_fingerprint(file) == self.config.data_fingerprint:
            result.caveat = self._own_rows(file.name)
        return result

    def _own_rows(self, name: str) -> str:
        """Why metrics on the very file the run searched are no test score, with the one that is."""
        metric = self.config.metric
        try:
            tested = read_json(self.run_dir / "best" / "metrics.json")["test"][metric]
            held_out = f"; its test {metric}, on rows held out from all of that, is {tested:.4g}"
        except (NasError, KeyError, TypeError, ValueError):
            held_out = ""
        return (f"{name} is the file this run searched on: most of its rows trained the model or "
                f"chose it, so these metrics overstate what new rows will get{held_out} "
                f"({self.run_dir / 'best' / 'metrics.json'}).")  # fmt: skip

    def read_file(self, file: Path, to: str = "predict") -> tuple[Any, np.ndarray | None]:
        """The rows of a CSV/TSV (a DataFrame) or an NPZ (``X`` and its ``y`` if any) given to
        this run, which must be of the kind the run searched: a CSV run's columns are checked
        by name, which an NPZ's arrays do not have."""
        if not file.is_file():
            raise DataError(f"{file} is not a file; give a CSV/TSV or NPZ of rows to {to}.")
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise DataError(
                f"Unsupported data file type {file.suffix or '(no extension)'!r} for "
                f"{file.name}; give a {', '.join(SUPPORTED_SUFFIXES)} file (arrays: "
                "numpy.savez(path, X=inputs))."
            )
        if file.suffix.lower() == ".npz":
            if self._searched("csv"):
                columns = list(getattr(self.transform, "columns", self.feature_names))
                shown = ", ".join(map(repr, columns[:4])) + (", ..." if len(columns) > 4 else "")
                raise DataError(f"{self.run_dir} was searched on a CSV file; give a CSV/TSV "
                                f"with its columns ({shown}) to {to}, not an NPZ, whose "
                                "arrays have no column names to check.")  # fmt: skip
            arrays = _read_npz(file)
            return arrays["X"], arrays.get("y")
        if self.searched_npz():
            raise DataError(f"{self.run_dir} was searched on an NPZ file; give an NPZ (X, "
                            f"optionally y) to {to}, not a CSV.")  # fmt: skip
        return self.read_csv(file), None

    def _searched(self, form: str) -> bool:
        origin = self.preprocessing.get("source")  # a built-in's is its name
        return isinstance(origin, dict) and origin.get("format") == form

    def searched_npz(self) -> bool:
        """Whether the run searched an NPZ file (then new rows come as an NPZ, not a CSV)."""
        return isinstance(self.transform, ArrayTransform) and self._searched("npz")

    def read_csv(self, file: Path) -> pd.DataFrame:
        """The rows of a CSV/TSV file, with the columns that were text in training read as text
        (a file whose codes are all digits, ``01``, would otherwise read 1: an unseen category),
        and a class column too where the labels are such codes."""
        text = list(getattr(self.transform, "categorical", {}))
        if self.task == "classification" and any(_code(n) for n in self.class_names):
            text.append(self.target_name)
        return read_table(file, text=text)[0]


# data_info's values a Predictor reads, by the kind each must be (absent or null: a default)
_INFO_KINDS: dict[str, tuple[type, str]] = {
    "task": (str, "a string"),
    "modality": (str, "a string"),
    "class_names": (list, "a list of strings"),
    "feature_names": (list, "a list of strings"),
    "target_name": (str, "a string"),
    "preprocessing": (dict, "a JSON object"),
    "input_shape": (list, "a list of integers"),
    "output_size": (int, "an integer"),
}
_AXIS = {"tabular": 0, "sequence": 1, "image": 0}  # where the per-feature / channel scales go
_PER = {"tabular": "feature", "sequence": "feature", "image": "channel"}


def checked_transform(
    run_dir: Path, info: Mapping[str, Any], model: torch.nn.Module
) -> TabularTransform | ArrayTransform:
    """The input transform ``run_dir``'s run.json records (its ``data_info``), rebuilt, once
    that record is checked against ``model`` (the winner, its spec.json and model.pt checked
    against each other as they load): the values a Predictor reads of the kinds the search
    writes; as many class names as outputs; the preprocessing giving the inputs the model
    takes; the same task, modality and shapes; a regression's target scale. Else a NasError
    naming run.json, the key and the fix: a damaged record had been a TypeError, an IndexError
    of the probabilities, a matrix product of the wrong shapes, or an error blaming the rows."""
    record = str(run_dir / "run.json")
    for key, (kind, words) in _INFO_KINDS.items():
        value = info.get(key)
        if value is None:
            continue
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if ok and key in ("class_names", "feature_names"):
            ok = all(isinstance(v, str) for v in value)
        if ok and key == "input_shape":
            ok = all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        if not ok:
            raise NasError(f"{record}: its data_info.{key} should be {words}, not "
                           f"{_shown(value)}; {REDO}.")  # fmt: skip
    prep = dict(info.get("preprocessing") or {})
    transform = fitted_transform(prep, info.get("modality", "tabular"), record, REDO)
    spec = getattr(model, "spec", None)
    if not isinstance(spec, ArchSpec):  # a GAN's: nothing it predicts to check
        return transform

    def mismatch(what: str) -> NasError:
        return NasError(f"{record} does not fit the model ({run_dir / 'best'}): {what}; {REDO}.")

    for key, model_has in (("task", spec.task), ("modality", spec.modality)):
        if info.get(key, model_has) != model_has:
            raise mismatch(f"its data_info.{key} is {info.get(key)!r} where the model's is "
                           f"{model_has!r}")  # fmt: skip
    shape, outputs = tuple(spec.input_shape), spec.output_size
    if info.get("input_shape") is not None and tuple(info["input_shape"]) != shape:
        raise mismatch(f"its data_info.input_shape is {tuple(info['input_shape'])} where the "
                       f"model takes {shape}")  # fmt: skip
    if info.get("output_size") is not None and info["output_size"] != outputs:
        raise mismatch(f"its data_info.output_size is {info['output_size']} where the model "
                       f"gives {outputs} outputs")  # fmt: skip
    classes = list(info.get("class_names") or [])
    if spec.task == "classification" and len(classes) != outputs:
        raise mismatch(f"its data_info.class_names name {len(classes)} class(es) where the "
                       f"model gives {outputs} outputs, one per class")  # fmt: skip
    if isinstance(transform, TabularTransform):
        width = len(transform.feature_names)
        if (width,) != shape:
            raise mismatch(f"its recorded preprocessing (data_info.preprocessing.transform) "
                           f"gives {width} inputs per row where the model takes "
                           f"{int(np.prod(shape))}")  # fmt: skip
    elif transform.divisor is None:
        axis = _AXIS.get(spec.modality, 0)
        has = shape[axis] if len(shape) > axis else 0
        for key, scales in (("mean", transform.mean), ("std", transform.std)):
            if len(scales or []) != has:
                per = _PER.get(spec.modality, "feature")
                raise mismatch(f"its recorded preprocessing (data_info.preprocessing.inputs."
                               f"{key}) scales {len(scales or [])} {per}(s) where the model's "
                               f"inputs, of shape {shape}, have {has}")  # fmt: skip
    named = list(info.get("feature_names") or [])
    if spec.modality == "tabular" and named and (len(named),) != shape:
        raise mismatch(f"its data_info.feature_names name {len(named)} feature(s) where the "
                       f"model takes {int(np.prod(shape))} inputs per row")  # fmt: skip
    if spec.task == "regression":
        _check_target_scale(prep, outputs, record)
    return transform


def _shown(value: Any) -> str:
    """A recorded value as JSON, cut to 60 characters."""
    shown = json.dumps(value, default=str)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _check_target_scale(prep: dict[str, Any], outputs: int, record: str) -> None:
    """A regression's recorded y_mean and y_std (no y_mean: the outputs are in the target's
    own units): finite numbers, one per output (or one for all), the std positive."""
    if prep.get("y_mean") is None:
        return
    for key in ("y_mean", "y_std"):
        value = prep.get(key)
        values = value if isinstance(value, list) else [value]
        real = all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
                   for v in values)  # fmt: skip
        ok = real and len(values) in (1, outputs) and (
            key == "y_mean" or all(v > 0 for v in values))  # fmt: skip
        if not ok:
            what = "positive number(s) (scales)" if key == "y_std" else "number(s)"
            raise NasError(f"{record}: its data_info.preprocessing.{key} should be "
                           f"{outputs} {what}, one per output, not {_shown(value)}; "
                           f"{REDO}.")  # fmt: skip


def row_outputs(model: torch.nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """The model's outputs for ``inputs`` in passes of exactly :data:`BATCH` rows (the last
    padded with zeros): a row's output is the same whichever rows come with it."""
    pad = (-len(inputs)) % BATCH
    padded = torch.cat([inputs, inputs.new_zeros((pad, *inputs.shape[1:]))]) if pad else inputs
    return model_outputs(model, padded, batch_size=BATCH).numpy()[: len(inputs)]


def _reshape_hint(got: tuple[int, ...], shape: tuple[int, ...]) -> str:
    """What to do with examples of shape ``got`` for a model that takes ``shape``: the axes in
    another order are transposed (a reshape would scramble them silently), a missing channel
    axis added."""
    got = tuple(got)
    if len(shape) > 1 and shape[0] == 1 and got == shape[1:]:
        return "these look like examples without the channel axis: add it (X[:, None])."
    if len(got) == 2 and got == shape[::-1] and got != shape:
        return ("these look like sequences with their steps and features swapped: transpose "
                "them (X.transpose(0, 2, 1)), do not reshape.")  # fmt: skip
    if len(got) == 3 and got == (shape[1], shape[2], shape[0]):
        return ("these look like images with their channels last: move the channels first "
                "(X.transpose(0, 3, 1, 2)), do not reshape.")  # fmt: skip
    return "give inputs of that shape."


def _fill(predictor: Predictor, table: pd.DataFrame, outputs: np.ndarray) -> Prediction:
    """Predictions of a built-in's test split, with its metrics."""
    y = table[predictor.target_name].to_numpy()
    table["prediction"] = predictor._decide(outputs)
    if predictor.task == "classification":
        proba = _softmax(outputs)
        for j, name in enumerate(predictor.class_names):
            table[f"proba_{name}"] = proba[:, j]
    return Prediction(table, predictor._metrics(outputs, y), list(predictor.notes))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(path):  # np.load reads a text file as a pickle, and says so
        raise DataError(f"{path.name} is not an NPZ archive; save the rows with "
                        "numpy.savez(path, X=inputs).")  # fmt: skip
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
            zlib.error) as e:  # fmt: skip
        # zlib.error: a damaged member of a compressed one (numpy.savez_compressed)
        raise DataError(f"Cannot read {path.name} as an NPZ of plain arrays ({e}); save it with "
                        "numpy.savez(path, X=inputs).") from None  # fmt: skip
    if "X" not in arrays:
        raise DataError(f"{path.name} holds no array 'X'; save numpy.savez(path, X=inputs).")
    return arrays


def _softmax(outputs: np.ndarray) -> np.ndarray:
    """Probabilities in float64 (rows sum to 1 within 1e-15: numpy's ``choice(p=row)`` and
    scikit-learn's log_loss check it; float32 rows were off by up to 1e-7)."""
    z = np.asarray(outputs, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _output_column(name: Any) -> bool:
    """A column nas predict writes (noted as replaced, not as ignored, in a table's input)."""
    return str(name) == "prediction" or str(name).startswith(("prediction_", "proba_"))


_INTEGER = re.compile(r"[+-]?\d+")  # as numbers print: int() also reads "1_2" and " 3"


def _code(name: str) -> bool:
    """A label of digits that no number prints as (``01``): text, though pandas reads 1."""
    return bool(_INTEGER.fullmatch(name)) and label_name(int(name)) != name


def _labels(names: list[str]) -> np.ndarray:
    """The class labels as the user's values: booleans where every label is ``True`` or
    ``False`` (as Python and pandas print them), integers where every label is one as numbers
    print, floats where every one reads as a plain number, else the text."""
    if names and set(names) <= {"False", "True"}:
        return np.array([n == "True" for n in names])
    if all(_INTEGER.fullmatch(n) and not _code(n) for n in names):
        return np.array([int(n) for n in names])
    try:
        values = [float(n) for n in names]
    except ValueError:
        return np.array(names, dtype=object)
    if all(label_name(v) == n for v, n in zip(values, names, strict=True)):
        return np.array(values)
    return np.array(names, dtype=object)  # "1_2", "01.5": not as a number prints


@keeps_caller_state
def load_predictor(run_dir: str | PathLike[str]) -> Predictor:
    """The winner of a finished run with its recorded preprocessing, ready for new rows: a
    :class:`Predictor` whose ``predict`` / ``predict_proba`` take rows (a DataFrame, or an
    array shaped as the search's data) and ``predict_file`` a CSV or NPZ file.

    Raises a :class:`nas.NasError` (one line naming the problem and the fix) when the run has no
    winner, is a GAN's (it generates rather than predicts), or its files are missing or not the
    ones the search saved."""
    folder = readable_run_dir(run_dir)
    config = SearchConfig.read(folder)
    if config.data_info.get("task") not in ("classification", "regression"):
        raise NasError(f"{folder} is a {config.data_info.get('task')} run; nas predict "
                       "predicts with classifiers and regressors only.")  # fmt: skip
    model = load_model(folder)
    if getattr(getattr(model, "spec", None), "task", None) not in ("classification", "regression"):
        raise NasError(f"{folder} is a {config.kind} run: its model generates examples rather "
                       "than predicting a target, and nas predict predicts with classifiers and "
                       "regressors only. Draw its samples in Python: nas.load_model(RUN).sample("
                       "n).")  # fmt: skip
    return Predictor(folder, config, model)


__all__ = ["Prediction", "Predictor", "checked_transform", "load_predictor"]
