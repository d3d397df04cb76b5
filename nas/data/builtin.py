"""The built-in datasets: small, offline, and split / scaled the same way as a user's file.

``list_datasets()`` reads a fixed table (no data is loaded); a test checks the table against the
loaded data. Generated datasets are cached in-process, and mnist1d also on disk (see
:mod:`nas.data.cache`), because generating it takes seconds.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nas.data import registered
from nas.data.cache import cached_arrays
from nas.data.fingerprint import arrays_fingerprint, text_fingerprint
from nas.data.prepare import did_you_mean, from_arrays
from nas.data.taskdata import TaskData
from nas.errors import DataError, UnknownDatasetError
from search_spaces import extensions


@dataclass(frozen=True)
class DatasetInfo:
    """What a built-in dataset is, known without loading it."""

    name: str
    task: str  # classification | regression
    modality: str  # tabular | image | sequence
    input_shape: tuple[int, ...]  # per example
    output_size: int  # classes, or regression targets
    n_examples: int  # all splits together
    description: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``input_shape`` as a list)."""
        return {**asdict(self), "input_shape": list(self.input_shape)}


_INFOS = (
    DatasetInfo("digits", "classification", "image", (1, 8, 8), 10, 1797,
                "8x8 grey images of handwritten digits (scikit-learn), pixels scaled to [0, 1]"),
    DatasetInfo("mnist1d", "classification", "sequence", (40, 1), 10, 5000,
                "MNIST-1D: 1-D signals of 10 digit templates, shifted, sheared and noised; "
                "keeps its own 1000-example test set"),
    DatasetInfo("breast_cancer", "classification", "tabular", (30,), 2, 569,
                "Wisconsin breast cancer: 30 cell-nucleus measurements, malignant vs benign"),
    DatasetInfo("wine", "classification", "tabular", (13,), 3, 178,
                "Wine recognition: 13 chemical measurements, 3 cultivars"),
    DatasetInfo("iris", "classification", "tabular", (4,), 3, 150,
                "Iris flowers: 4 petal and sepal measurements, 3 species"),
    DatasetInfo("diabetes", "regression", "tabular", (10,), 1, 442,
                "Diabetes progression one year on from 10 baseline variables (target "
                "standardized on train; inverse_target gives original units)"),
    DatasetInfo("sine_forecast", "regression", "sequence", (32, 1), 1, 2000,
                "Forecast the next value of noisy sums of 1-3 sines from the past 32 steps "
                "(generated, fixed seed)"),
)  # fmt: skip
_BY_NAME = {info.name: info for info in _INFOS}
BUILTIN_DATASETS: tuple[str, ...] = tuple(_BY_NAME)
registered.reserve(BUILTIN_DATASETS)

_MNIST1D_CACHE_KEY = "mnist1d-v1-default-args"  # change when the generation below changes
_SINE_SEED = 20240517
_SINE_SERIES, _SINE_WINDOW = 2000, 32


def list_datasets() -> list[DatasetInfo]:
    """Every dataset's name, task, modality, shapes and size: the built-in ones (from a table,
    loading nothing), then those extensions registered (loaded to be described)."""
    extensions.load_installed()
    return [*_INFOS, *(_listed(n) for n in registered.registered_names())]


def _listed(name: str) -> DatasetInfo:
    """A registered dataset's entry for the listing; one that does not load is listed with
    why, not allowed to hide the others."""
    try:
        return dataset_info(name)
    except DataError as e:
        return DatasetInfo(name, "?", "?", (), 0, 0, f"does not load: {e}")


def dataset_names() -> list[str]:
    """The built-in datasets' names, then the registered ones'."""
    return [*BUILTIN_DATASETS, *registered.registered_names()]


def dataset_info(name: str) -> DatasetInfo:
    """The table entry of one dataset (a registered one's from its arrays); an
    UnknownDatasetError (a DataError) naming the known ones otherwise."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if isinstance(name, str) and registered.is_registered(name):
        data = registered.load_registered(name, task=None, seed=0, val_fraction=0.15,
                                          test_fraction=0.15)  # fmt: skip
        n = sum(len(split.y) for split in (data.train, data.val, data.test))
        return DatasetInfo(name, data.task, data.modality, tuple(data.input_shape),
                           int(data.output_size), n, registered.description(name))  # fmt: skip
    hint = (
        " To load your own file, pass data=<path> (--data)." if "." in name or "/" in name else ""
    )
    known = dataset_names()
    raise UnknownDatasetError(
        f"Unknown dataset {name!r}{did_you_mean(str(name), known)}; datasets are: "
        f"{', '.join(known)}.{hint}" + extensions.unknown_hint("dataset"),
        registry="dataset",
        name=str(name),
    )


def load_dataset(
    name: str, *, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> TaskData:
    """A built-in dataset, split train/val/test from ``seed`` (stratified for classification)
    with every scaling fitted on train. mnist1d keeps its own test set (``test_fraction`` then
    does not apply) and takes ``round(val_fraction * 5000)`` of its training part as val."""
    info = dataset_info(name)
    if name not in _LOADERS:  # a registered dataset: read as an NPZ file's arrays are
        return registered.load_registered(name, task=info.task, seed=seed,
                                          val_fraction=val_fraction,
                                          test_fraction=test_fraction)  # fmt: skip
    arrays = _LOADERS[name]()
    data = from_arrays(
        arrays.X,
        arrays.y,
        name=name,
        task=info.task,
        modality=info.modality,
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        feature_names=arrays.feature_names,
        class_names=arrays.class_names,
        target_name=arrays.target_name,
        preprocessing={"source": arrays.source},
        input_divisor=arrays.input_divisor,
        test_index=arrays.test_index,
    )
    data.fingerprint = _fingerprint(name, arrays)
    return data


def _fingerprint(name: str, arrays: _Raw) -> str:
    """The bundled tables by their arrays; generated data by what generates it, since a
    regenerated float may differ in its last bit from one machine to the next."""
    if name == "mnist1d":
        from importlib.metadata import PackageNotFoundError, version

        try:
            package = version("mnist1d")
        except PackageNotFoundError:  # pragma: no cover - the loader needs it installed
            package = "unknown"
        return text_fingerprint(f"{_MNIST1D_CACHE_KEY} mnist1d=={package}")
    if name == "sine_forecast":
        return text_fingerprint(
            f"sine_forecast-v1 seed={_SINE_SEED} series={_SINE_SERIES} window={_SINE_WINDOW}"
        )
    return arrays_fingerprint(arrays.X, arrays.y)


@dataclass(frozen=True)
class _Raw:
    """A dataset's arrays before splitting and scaling (read-only; shared by every load)."""

    X: np.ndarray
    y: np.ndarray  # class indices, or regression values
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    target_name: str
    source: str
    input_divisor: float | None = None  # a fixed scale instead of train standardization
    test_index: np.ndarray | None = None  # a canonical test set, kept as test


def _frozen(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.setflags(write=False)


def _sklearn_table(loader_name: str, target_name: str, **kwargs: Any) -> _Raw:
    from sklearn import datasets  # bundled files: no network

    bunch = getattr(datasets, loader_name)(**kwargs)
    X, y = np.asarray(bunch.data, dtype=np.float32), np.asarray(bunch.target)
    regression = y.dtype.kind == "f"
    y = y.astype(np.float32) if regression else y.astype(np.int64)
    _frozen(X, y)
    return _Raw(
        X=X,
        y=y,
        feature_names=tuple(str(f) for f in bunch.feature_names),
        class_names=() if regression else tuple(str(c) for c in bunch.target_names),
        target_name=target_name,
        source=f"sklearn.datasets.{loader_name}",
    )


@functools.lru_cache(maxsize=1)
def _digits() -> _Raw:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = np.asarray(bunch.images, dtype=np.float32)[:, None, :, :]  # (N, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    _frozen(X, y)
    return _Raw(
        X=X,
        y=y,
        feature_names=("intensity",),
        class_names=tuple(str(c) for c in range(10)),
        target_name="digit",
        source="sklearn.datasets.load_digits",
        input_divisor=16.0,  # pixels are 0..16; a fixed scale keeps 0 = blank for attribution
    )


def _generate_mnist1d() -> dict[str, np.ndarray]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise DataError(
            f"The mnist1d dataset needs the mnist1d package ({err}); install it with "
            "`pip install mnist1d`, or pick another dataset."
        ) from err
    py_state, np_state = random.getstate(), np.random.get_state()
    try:  # make_dataset reseeds the global generators; give the caller's state back
        generated = make_dataset(get_dataset_args())  # never get_dataset: it downloads
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {k: np.asarray(generated[k]) for k in ("x", "y", "x_test", "y_test")}


@functools.lru_cache(maxsize=1)
def _mnist1d() -> _Raw:
    arrays = cached_arrays(_MNIST1D_CACHE_KEY, _generate_mnist1d, ("x", "y", "x_test", "y_test"))
    x, x_test = arrays["x"], arrays["x_test"]
    if x.ndim != 2 or x.shape[1] != 40 or x_test.shape[1:] != x.shape[1:]:
        raise DataError(
            f"mnist1d produced signals of shape {x.shape}, expected (N, 40); install a "
            "compatible mnist1d (pyproject.toml pins the range) or clear the cache folder."
        )
    X = np.concatenate([x, x_test]).astype(np.float32)[:, :, None]  # (N, 40 steps, 1 feature)
    y = np.concatenate([arrays["y"], arrays["y_test"]]).astype(np.int64)
    test_index = np.arange(len(x), len(X))
    _frozen(X, y, test_index)
    return _Raw(
        X=X,
        y=y,
        feature_names=("signal",),
        class_names=tuple(str(c) for c in range(10)),
        target_name="digit",
        source="mnist1d.data.make_dataset(get_dataset_args())",
        test_index=test_index,
    )


@functools.lru_cache(maxsize=1)
def _sine_forecast() -> _Raw:
    rng = np.random.default_rng(_SINE_SEED)
    n, steps, components = _SINE_SERIES, _SINE_WINDOW + 1, 3
    t = np.arange(steps, dtype=np.float64)
    freq = rng.uniform(0.01, 0.15, size=(n, components, 1))  # cycles per step
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, components, 1))
    amp = rng.uniform(0.2, 1.0, size=(n, components, 1))
    used = np.arange(components)[None, :, None] < rng.integers(1, components + 1, size=(n, 1, 1))
    series = (used * amp * np.sin(2 * np.pi * freq * t + phase)).sum(axis=1)
    series += rng.normal(0.0, 0.05, size=series.shape)
    X = series[:, :_SINE_WINDOW, None].astype(np.float32)  # (N, 32 steps, 1 feature)
    y = series[:, _SINE_WINDOW].astype(np.float32)
    _frozen(X, y)
    return _Raw(
        X=X,
        y=y,
        feature_names=("value",),
        class_names=(),
        target_name="next value",
        source=f"generated: sums of 1-3 sines plus N(0, 0.05) noise, seed {_SINE_SEED}",
    )


_LOADERS: dict[str, Callable[[], _Raw]] = {
    "digits": _digits,
    "mnist1d": _mnist1d,
    "breast_cancer": functools.lru_cache(maxsize=1)(
        functools.partial(_sklearn_table, "load_breast_cancer", "diagnosis")
    ),
    "wine": functools.lru_cache(maxsize=1)(
        functools.partial(_sklearn_table, "load_wine", "cultivar")
    ),
    "iris": functools.lru_cache(maxsize=1)(
        functools.partial(_sklearn_table, "load_iris", "species")
    ),
    "diabetes": functools.lru_cache(maxsize=1)(
        functools.partial(_sklearn_table, "load_diabetes", "disease progression", scaled=False)
    ),
    "sine_forecast": _sine_forecast,
}
