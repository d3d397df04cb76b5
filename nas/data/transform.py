"""The fitted input transform, the one implementation of preprocessing: fitted on the training
split when a file is loaded, recorded in ``TaskData.preprocessing["transform"]`` (JSON), rebuilt
from that record, and applied both to the loaded rows and to new ones (``nas predict``).

Tabular (CSV): per numeric column a median fill and a standardization; per text column a
most-frequent fill and a one-hot encoding of the recorded categories (rare ones share an
``<other>`` feature, and so does a category never seen in training, as scikit-learn's
``handle_unknown='infrequent_if_exist'`` does; without rare ones an unseen category is all
zeros). Arrays (NPZ, built-ins): the recorded scaling of ``inputs``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from nas.errors import DataError, NasError

MAX_CATEGORIES = 50  # rarer categories of a text column share one "<other>" feature
OTHER = "<other>"
_STAT_AXES = {"tabular": (0,), "sequence": (0, 1), "image": (0, 2, 3)}


def mean_std(values: np.ndarray, axis: int | tuple[int, ...] = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation along ``axis`` in float64, with std 1 for a constant.

    Where the plain computation fails although the values vary (squares that overflow for
    values near 1e300, or underflow to a std of 0 for values near 1e-300; scikit-learn's
    StandardScaler then scales by 1 too), they are computed again on the values divided by
    their largest magnitude, which neither overflows nor underflows. Elsewhere they are
    numpy's own numbers, bit for bit."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        mean, std = v.mean(axis=axis), v.std(axis=axis)
        varies = np.ptp(v, axis=axis) > 0 if v.size else np.zeros_like(std, dtype=bool)
        bad = (~np.isfinite(std) | ~np.isfinite(mean) | (std == 0)) & varies
        if np.any(bad):
            top = np.max(np.abs(v), axis=axis, keepdims=True)
            u = v / np.where(top > 0, top, 1.0)
            big = np.squeeze(top, axis=axis)
            mean = np.where(bad, u.mean(axis=axis) * big, mean)
            std = np.where(bad, u.std(axis=axis) * big, std)
    std = np.where((std == 0) | ~np.isfinite(std), 1.0, std)  # a constant stays constant
    return mean, std


def label_name(value: Any) -> str:
    """A value as text: ``3.0`` reads ``"3"``, text stays as it is."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def is_numeric(series: pd.Series) -> bool:
    """A numeric column (booleans are read as 0/1 but are not "numeric" text)."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def as_text(series: pd.Series) -> np.ndarray:
    """A text column's cells as an object array of str, missing cells NaN."""
    return series.astype("string").to_numpy(dtype=object, na_value=np.nan)


@dataclass(frozen=True)
class Numeric:
    """A numeric column: gaps filled with the train median, then standardized."""

    median: float
    mean: float
    std: float

    @property
    def binary(self) -> bool:
        """Whether the training values were all 0 or 1 (False / True): only then their mean m
        and standard deviation s (the population one, scikit-learn's) meet s² = m (1 - m)."""
        m = self.mean
        if self.median not in (0.0, 0.5, 1.0) or not 0.0 <= m <= 1.0:  # 0.5: as many 0s as 1s
            return False
        if m in (0.0, 1.0):  # a constant 0 or 1 (its scale is recorded as 1)
            return True
        return abs(self.std**2 - m * (1.0 - m)) <= 1e-6


@dataclass(frozen=True)
class Categorical:
    """A text column: gaps filled with the train's most frequent value, then one-hot over
    ``categories`` (sorted) plus an ``<other>`` feature for the rare ones in ``other``."""

    fill: str
    categories: list[str]
    other: list[str] = field(default_factory=list)
    # a category never seen in training goes to <other> when there is one, as the rare ones
    # do (scikit-learn's handle_unknown="infrequent_if_exist"); a record written before this
    # field (False) keeps all zeros, as its model was tested with
    unseen_to_other: bool = False


@dataclass
class Applied:
    """The transformed rows and what the user should know of how new rows were read."""

    X: np.ndarray
    imputed: dict[str, int] = field(default_factory=dict)  # column -> cells filled
    filled: dict[str, list[int]] = field(default_factory=dict)  # column -> rows filled
    unknown: dict[str, list[str]] = field(default_factory=dict)  # column -> unseen categories


@dataclass
class TabularTransform:
    """Imputation, standardization and one-hot encoding of a table's feature columns."""

    columns: list[str]  # the feature columns, in the training file's order
    numeric: dict[str, Numeric]
    categorical: dict[str, Categorical]

    @classmethod
    def fit(cls, frame: pd.DataFrame, train: np.ndarray) -> TabularTransform:
        """Fit on the ``train`` rows of ``frame`` (scikit-learn's imputers, scaler, encoder)."""
        from sklearn.impute import SimpleImputer  # scikit-learn loads only when a CSV is read
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        numeric_cols = [c for c in frame.columns if is_numeric(frame[c]) or frame[c].dtype == bool]
        numeric: dict[str, Numeric] = {}
        if numeric_cols:
            values = frame[numeric_cols].to_numpy(dtype=np.float64)[train]
            imputer = SimpleImputer(strategy="median").fit(values)
            medians = np.asarray(imputer.statistics_, dtype=np.float64)
            off = ~np.isfinite(medians)  # the two middle values' mean overflowed (1e308 twice):
            # recorded as null, the run could not predict (/tmp/oZ D5)
            if off.any():
                top = np.nanmax(np.abs(values[:, off]), axis=0)
                medians[off] = np.nanmedian(values[:, off] / top, axis=0) * top
            filled = (np.where(np.isnan(values), medians, values) if off.any()
                      else imputer.transform(values))  # fmt: skip
            scaler = StandardScaler().fit(filled)
            mean, std = mean_std(filled)  # where the scaler's own overflow or underflow
            for j, c in enumerate(numeric_cols):
                # numbers it got right (not NaN: a column of +-1e308 overflowed its sums, and
                # every input scaled to NaN diverged the training, /tmp/oX 8)
                got = np.isfinite(scaler.scale_[j]) and np.isfinite(scaler.mean_[j])
                plain = got and (scaler.scale_[j] != 1.0 or std[j] == 1.0)
                numeric[c] = Numeric(float(medians[j]),
                                     float(scaler.mean_[j] if plain else mean[j]),
                                     float(scaler.scale_[j] if plain else std[j]))  # fmt: skip
        categorical: dict[str, Categorical] = {}
        for c in frame.columns:
            if c in numeric:
                continue
            values = as_text(frame[c])[train][:, None]
            imputer = SimpleImputer(strategy="most_frequent").fit(values)
            encoder = OneHotEncoder(
                handle_unknown="ignore", max_categories=MAX_CATEGORIES, sparse_output=False
            ).fit(imputer.transform(values))
            rare = encoder.infrequent_categories_[0]
            other = [] if rare is None else [str(v) for v in rare]
            rare_set = set(other)  # once: a set per category made an ID column quadratic
            kept = [str(v) for v in encoder.categories_[0] if str(v) not in rare_set]
            categorical[c] = Categorical(str(imputer.statistics_[0]), kept, other, True)
        return cls([str(c) for c in frame.columns], numeric, categorical)

    @property
    def feature_names(self) -> list[str]:
        """The model's input features: a numeric column, or ``column=category`` per one-hot."""
        names: list[str] = []
        for c in self.columns:
            if c in self.numeric:
                names.append(c)
            else:
                cat = self.categorical[c]
                names += [f"{c}={v}" for v in cat.categories] + ([f"{c}={OTHER}"] * bool(cat.other))
        return names

    def apply(self, frame: pd.DataFrame, source: str = "the data") -> Applied:
        """The model's inputs (float32) for the rows of ``frame``: feature columns by name, in
        any order; extra columns are not read. A missing column or a text value in a numeric
        column is a DataError naming it."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            by_case = {str(c).strip().casefold(): str(c) for c in frame.columns}
            near = [(c, by_case[c.casefold()]) for c in missing if c.casefold() in by_case]
            hint = (
                " ({} in the data: names must match exactly)".format(
                    ", ".join(f"{have!r} for {want!r}" for want, have in near[:3])
                )
                if near
                else ""
            )
            raise DataError(
                f"{source} lacks feature column(s) {', '.join(map(repr, missing))} that the model "
                f"was trained on{hint}; add them (the features are "
                f"{', '.join(map(repr, self.columns))})."
            )
        blocks: list[np.ndarray] = []
        out = Applied(np.empty(0))
        for c in self.columns:
            series = frame[c]
            if c in self.numeric:
                blocks.append(self._numeric(c, series, source, out))
            else:
                blocks.append(self._categorical(c, series, out))
        X = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(frame), 0))
        out.X = X.astype(np.float32)
        return out

    def _numeric(self, c: str, series: pd.Series, source: str, out: Applied) -> np.ndarray:
        if series.dtype == bool:
            if not self.numeric[c].binary:
                spec = self.numeric[c]
                raise DataError(
                    f"Column {c!r} of {source} holds True/False, but the model was trained on "
                    f"numbers there (mean {spec.mean:.4g}, std {spec.std:.4g}); give the numbers."
                )
            values = series.to_numpy(dtype=np.float64)
        else:
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
            bad = np.isnan(values) & series.notna().to_numpy()
            if bad.any():
                example = series[bad].iloc[0]
                raise DataError(
                    f"Column {c!r} of {source} holds text ({example!r} in row "
                    f"{int(np.argmax(bad))}) but the model was trained on numbers; fix the column."
                )
        if np.isinf(values).any():
            raise DataError(f"Column {c!r} of {source} holds infinite values; replace them.")
        spec = self.numeric[c]
        gaps = np.isnan(values)
        if gaps.any():
            out.imputed[c] = int(gaps.sum())
            out.filled[c] = np.flatnonzero(gaps).tolist()
            values = np.where(gaps, spec.median, values)
        scaled = (values - spec.mean) / spec.std
        beyond = np.abs(scaled) > np.finfo(np.float32).max  # inf once the model's float32
        if beyond.any():
            row = int(np.argmax(beyond))
            raise DataError(
                f"Column {c!r} of {source} holds {values[row]:.4g} (row {row}), beyond what the "
                f"model's float32 inputs hold once scaled (training mean {spec.mean:.4g}, std "
                f"{spec.std:.4g}); check the column's units, or remove the row."
            )
        return scaled[:, None]

    def _categorical(self, c: str, series: pd.Series, out: Applied) -> np.ndarray:
        spec = self.categorical[c]
        if is_numeric(series):  # a text column of training given as numbers: 3.0 reads "3"
            values = np.array([np.nan if pd.isna(v) else label_name(v) for v in series], object)
        else:
            values = as_text(series)
        gaps = pd.isna(values)
        if gaps.any():
            out.imputed[c] = int(gaps.sum())
            out.filled[c] = np.flatnonzero(gaps).tolist()
            values = np.where(gaps, spec.fill, values)
        known = spec.categories + spec.other
        codes = pd.Index(known).get_indexer(values).astype(np.int64)  # -1: never seen
        unseen = codes < 0
        if unseen.any():
            out.unknown[c] = sorted({str(v) for v in values[unseen]})
        width = len(spec.categories) + bool(spec.other)
        codes = np.minimum(codes, len(spec.categories))  # every rare category: <other>
        to_other = spec.unseen_to_other and bool(spec.other)
        onehot = np.zeros((len(values), width + 1))
        unseen_code = width - 1 if to_other else width  # width: a column dropped below
        onehot[np.arange(len(values)), np.where(unseen, unseen_code, codes)] = 1.0
        return onehot[:, :width]  # an unseen category: <other>, or all zeros without one

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "tabular",
            "columns": list(self.columns),
            "numeric": {c: asdict(v) for c, v in self.numeric.items()},
            "categorical": {c: asdict(v) for c, v in self.categorical.items()},
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> TabularTransform:
        return cls(
            list(record["columns"]),
            {c: Numeric(**v) for c, v in record["numeric"].items()},
            {c: Categorical(**v) for c, v in record["categorical"].items()},
        )


@dataclass
class ArrayTransform:
    """The scaling of numeric arrays: standardization per feature / channel, or a divisor."""

    modality: str
    mean: list[float] | None = None
    std: list[float] | None = None
    divisor: float | None = None

    @classmethod
    def fit(cls, X: np.ndarray, train: np.ndarray, modality: str) -> ArrayTransform:
        """Standardization with the mean / std of the ``train`` rows (constant: std 1)."""
        axes = _STAT_AXES[modality]
        mean, std = mean_std(X[train], axes)  # a constant feature stays constant, not NaN
        return cls(modality, [float(v) for v in mean.reshape(-1)],
                   [float(v) for v in std.reshape(-1)])  # fmt: skip

    @classmethod
    def from_inputs(cls, inputs: dict[str, Any], modality: str) -> ArrayTransform:
        """Rebuilt from ``preprocessing["inputs"]`` as a loader recorded it."""
        if inputs.get("method") == "scale":
            return cls(modality, divisor=float(inputs["divisor"]))
        return cls(modality, list(inputs["mean"]), list(inputs["std"]))

    def apply(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if self.divisor is not None:
            return (X.astype(np.float64) / self.divisor).astype(np.float32)
        shape = [1] * X.ndim
        shape[2 if self.modality == "sequence" else 1] = -1
        mean = np.asarray(self.mean).reshape(shape)
        std = np.asarray(self.std).reshape(shape)
        return ((X - mean) / std).astype(np.float32)

    def apply_finite(self, X: np.ndarray, source: str = "the data") -> np.ndarray:
        """:meth:`apply`, or a DataError naming the first value that is beyond float32 once
        scaled as in training (1e39 where training's std is 50): its row, not an inf."""
        with np.errstate(over="ignore"):  # refused just below, by name
            scaled = self.apply(X)
        if not np.isfinite(scaled).all():
            at = tuple(int(i[0]) for i in np.nonzero(~np.isfinite(scaled)))
            raise DataError(
                f"{source} holds {float(np.asarray(X)[at]):.4g} (example {at[0]}, at "
                f"{list(at[1:])}), beyond what the model's float32 inputs hold once scaled as in "
                "training; check its units, or remove the example."
            )
        return scaled


def fitted_transform(
    preprocessing: dict[str, Any],
    modality: str,
    source: str = "the run's record",
    fix: str = "re-run the search into a new --out folder",
) -> TabularTransform | ArrayTransform:
    """The input transform a run recorded (``TaskData.preprocessing``), rebuilt. A record that
    is not of the kinds :meth:`TabularTransform.to_dict` or a loader writes (a hand-edited or
    damaged run.json: a column list that is a number, a category list that is not text, a
    scale of 0) is a NasError naming ``source``, the key and ``fix``: not a TypeError here, or
    an error later that blames the rows given to predict."""
    check = _RecordCheck(source, fix)
    if "transform" in preprocessing:
        return TabularTransform.from_dict(check.tabular(preprocessing["transform"]))
    if "inputs" in preprocessing:
        return ArrayTransform.from_inputs(check.inputs(preprocessing["inputs"]), modality)
    raise DataError(
        "The run records no input preprocessing (it predates the record, or its data was a CSV "
        "read by an older nas); search again to predict new rows."
    )


class _RecordCheck:
    """The checks of a recorded transform, each a NasError naming the key under
    ``data_info.preprocessing`` of ``source``."""

    KEY = "data_info.preprocessing"

    def __init__(self, source: str, fix: str) -> None:
        self.source, self.fix = source, fix

    def error(self, key: str, should: str, value: Any) -> NasError:
        shown = "absent" if value is _ABSENT else json.dumps(value, default=str)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return NasError(f"{self.source}: its {self.KEY}.{key} should be {should}, not "
                        f"{shown}; {self.fix}.")  # fmt: skip

    def mapping(self, key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, "a JSON object", value)
        return value

    def texts(self, key: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "a list of strings", value)
        return value

    def number(self, key: str, value: Any, scale: bool = False) -> float:
        """A finite number; a scale (a std, a divisor) a positive one too."""
        real = isinstance(value, int | float) and not isinstance(value, bool)
        if not real or not math.isfinite(value) or (scale and value <= 0):
            raise self.error(key, "a positive number (a scale)" if scale else "a number", value)
        return float(value)

    def tabular(self, record: Any) -> dict[str, Any]:
        record = self.mapping("transform", record)
        columns = self.texts("transform.columns", record.get("columns", _ABSENT))
        numeric = self.mapping("transform.numeric", record.get("numeric", _ABSENT))
        categorical = self.mapping("transform.categorical", record.get("categorical", _ABSENT))
        for c, spec in numeric.items():
            key = f"transform.numeric[{c!r}]"
            spec = self.mapping(key, spec)
            if set(spec) != {"median", "mean", "std"}:
                raise self.error(key, "an object of median, mean and std", spec)
            for name in ("median", "mean", "std"):
                self.number(f"{key}.{name}", spec[name], scale=name == "std")
        for c, spec in categorical.items():
            key = f"transform.categorical[{c!r}]"
            spec = self.mapping(key, spec)
            if not {"fill", "categories"} <= set(spec) <= {f.name for f in fields(Categorical)}:
                raise self.error(key, "an object of fill, categories, other and unseen_to_other",
                                 spec)  # fmt: skip
            if not isinstance(spec["fill"], str):
                raise self.error(f"{key}.fill", "a string", spec["fill"])
            self.texts(f"{key}.categories", spec["categories"])
            self.texts(f"{key}.other", spec.get("other", []))
            if not isinstance(spec.get("unseen_to_other", False), bool):
                raise self.error(f"{key}.unseen_to_other", "true or false",
                                 spec["unseen_to_other"])  # fmt: skip
        unknown = [c for c in columns if c not in numeric and c not in categorical]
        if unknown:
            raise NasError(f"{self.source}: its {self.KEY}.transform.columns names {unknown[0]!r}, "
                           "which neither transform.numeric nor transform.categorical "
                           f"describes; {self.fix}.")  # fmt: skip
        return record

    def inputs(self, record: Any) -> dict[str, Any]:
        record = self.mapping("inputs", record)
        if record.get("method") == "scale":
            self.number("inputs.divisor", record.get("divisor", _ABSENT), scale=True)
            return record
        for key in ("mean", "std"):  # as many as the model's features: checked with it
            values = record.get(key, _ABSENT)
            if not isinstance(values, list) or not values:
                raise self.error(f"inputs.{key}", "a list of numbers", values)
            for i, v in enumerate(values):
                self.number(f"inputs.{key}[{i}]", v, scale=key == "std")
        return record


_ABSENT = object()  # a key the record lacks


__all__ = [
    "MAX_CATEGORIES",
    "Applied",
    "ArrayTransform",
    "Categorical",
    "Numeric",
    "TabularTransform",
    "as_text",
    "fitted_transform",
    "is_numeric",
]
