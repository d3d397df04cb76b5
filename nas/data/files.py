"""The user's own data: CSV/TSV tables and NPZ arrays, checked with errors that say the fix."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from nas.data.fingerprint import file_fingerprint
from nas.data.prepare import (
    TASK_RULE,
    check_enough_rows,
    check_task,
    encode_labels,
    from_arrays,
    infer_task,
    task_note,
)
from nas.data.split import check_split_args
from nas.data.taskdata import TaskData
from nas.errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
SUPPORTED_SUFFIXES = (*TABLE_SUFFIXES, ".npz")
_MODALITY_BY_NDIM = {2: "tabular", 3: "sequence", 4: "image"}


def load_file(
    path: str | PathLike[str],
    *,
    target: str | None = None,
    task: str | None = None,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    drop: Sequence[str] = (),
) -> TaskData:
    """Load a CSV/TSV table or an NPZ file as a TaskData, split from ``seed``, preprocessing
    fitted on train only.

    CSV/TSV: ``target`` names the column to predict; ``drop`` names columns to leave out; the
    delimiter (comma, semicolon, tab, pipe) is sniffed; text columns are one-hot encoded; gaps
    are imputed (median / most frequent); numeric columns are standardized. NPZ: arrays ``X``
    (2-D tabular ``(N, F)``, 3-D sequence ``(N, T, F)``, 4-D image ``(N, C, H, W)``) and ``y``;
    optional ``feature_names`` and ``class_names``. ``task`` ("classification" or "regression")
    overrides the inferred one (rule: ``nas.data.prepare.TASK_RULE``).
    """
    file = Path(path).expanduser()
    try:
        there = file.exists()  # a name over 255 bytes is an OSError here (/tmp/oD4 F11)
    except OSError as e:
        raise DataError(f"Cannot read data file {str(file)!r} ({e.strerror or e}); check "
                        "the path.") from None  # fmt: skip
    if not there:
        raise DataError(f"Data file {str(file)!r} does not exist; check the path.")
    if file.is_dir():
        raise DataError(
            f"{str(file)!r} is a folder, not a data file; pass a {', '.join(SUPPORTED_SUFFIXES)} "
            "file inside it."
        )
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"Unsupported data file type {suffix or '(no extension)'!r} for {file.name}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}. Export it as CSV, or save arrays "
            "X and y with numpy.savez."
        )
    if file.stat().st_size == 0:
        raise DataError(f"{file} is empty; give a file with data in it.")
    data = _load(file, suffix, target=target, task=task, seed=seed, val_fraction=val_fraction,
                 test_fraction=test_fraction, drop=drop)  # fmt: skip
    data.fingerprint = file_fingerprint(file)
    return data


def _load(
    file: Path,
    suffix: str,
    *,
    target: str | None,
    task: str | None,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    drop: Sequence[str],
) -> TaskData:
    if suffix in TABLE_SUFFIXES:
        from nas.data.tabular import load_csv  # pandas and sklearn load only when needed

        return load_csv(
            file,
            target=target,
            task=task,
            seed=seed,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            drop=drop,
        )
    if target is not None or drop:
        raise DataError(
            f"target and drop apply to CSV files, but {file.name} is an NPZ whose target is "
            "its array y; leave them out."
        )
    return load_npz(
        file, task=task, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction
    )


def load_npz(
    path: Path, *, task: str | None, seed: int, val_fraction: float, test_fraction: float
) -> TaskData:
    """An NPZ of arrays ``X`` and ``y`` as a TaskData; see :func:`load_file`."""
    check_split_args(seed, val_fraction, test_fraction)
    source = {"path": str(path), "format": "npz"}
    return from_npz_arrays(_read_npz(path), name=path.name, source=source, task=task, seed=seed,
                           val_fraction=val_fraction, test_fraction=test_fraction)  # fmt: skip


def from_npz_arrays(
    arrays: Mapping[str, np.ndarray],
    *,
    name: str,
    source: Mapping[str, Any],
    task: str | None,
    seed: int,
    val_fraction: float,
    test_fraction: float,
) -> TaskData:
    """The arrays an NPZ file holds (``X``, ``y``, optionally ``feature_names`` and
    ``class_names``) as a TaskData, checked as a file's are: the path of NPZ files and of
    registered datasets (``nas.data.registered``). ``name`` names them in messages."""
    check_split_args(seed, val_fraction, test_fraction)
    task = check_task(task)
    X, y = arrays["X"], arrays["y"]
    if y.ndim == 0:
        raise DataError(f"y in {name} is a single value; save one target per example.")
    if X.ndim not in _MODALITY_BY_NDIM:
        raise DataError(
            f"X in {name} has shape {X.shape}; expected 2-D (N, features), 3-D (N, steps, "
            "features) or 4-D (N, channels, height, width). Reshape it before saving."
        )
    if X.dtype.kind not in "biuf":
        raise DataError(f"X in {name} has dtype {X.dtype}; it must be numeric. Encode it first.")
    if len(X) != len(y):
        raise DataError(
            f"X and y in {name} have different lengths ({len(X)} vs {len(y)}); save one target "
            "per example."
        )
    if len(X) == 0:
        raise DataError(f"{name} holds no examples (X has shape {X.shape}); add data.")
    if 0 in X.shape[1:]:
        raise DataError(f"X in {name} has shape {X.shape}: each example is empty; save at least "
                        "one feature (and step, channel or pixel) per example.")  # fmt: skip
    check_enough_rows(len(X), f"{name} holds {len(X)} example(s)")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        bad = ~np.isfinite(X)
        first = int(np.argwhere(bad)[0][0])
        raise DataError(
            f"X in {name} contains {int(bad.sum())} NaN/inf values (first in example {first}); "
            "impute or remove them before saving."
        )
    modality = _MODALITY_BY_NDIM[X.ndim]
    prep: dict[str, Any] = {"source": dict(source)}
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"y in {name} contains NaN/inf targets; remove those examples.")
    y, one_hot = _labels_from_one_hot(y)
    if one_hot:
        prep["target"] = "one-hot y converted to class indices"
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] == 0):
        raise DataError(f"y in {name} has shape {y.shape}; expected (N,) or (N, targets).")
    multi_output = y.ndim == 2 and y.shape[1] > 1
    flat = y.reshape(len(y)) if not multi_output else y
    inferred = "regression" if multi_output else infer_task(flat)
    prep["task"] = {"inferred": inferred, "given": task, "rule": TASK_RULE}
    notes = [task_note(inferred, flat, "y")] if task is None and not multi_output else []
    task = task or inferred
    class_names: list[str] = []
    if task == "classification":
        if multi_output:
            raise DataError(
                f"y in {name} has {y.shape[1]} columns; classification needs one label per "
                "example (shape (N,)) or one-hot rows. Or use --task regression "
                "(task='regression' in Python)."
            )
        y, class_names = encode_labels(flat, "y")
        class_names = _given_names(arrays, "class_names", class_names, name)
    else:
        if y.dtype.kind not in "biuf":
            raise DataError(
                f"y in {name} has dtype {y.dtype}, which cannot be regressed; use "
                "--task classification (task='classification' in Python) or save numeric "
                "targets."
            )
        constant = np.all(y == y[:1], axis=0)
        if np.any(constant):
            which = "y" if not multi_output else f"y's column(s) {np.flatnonzero(constant)[:3]}"
            raise DataError(f"{which} in {name} has one value in all {len(y)} examples: there is "
                            "nothing to predict. Choose another target.")  # fmt: skip
    width = X.shape[1] if modality in ("tabular", "image") else X.shape[2]
    default = [f"{'channel' if modality == 'image' else 'x'}{i}" for i in range(width)]
    feature_names = _given_names(arrays, "feature_names", default, name)
    data = from_arrays(
        X,  # as saved: standardized in float64, then float32 (1.7e9 + u collapsed in float32)
        y,
        name=name,
        task=task,
        modality=modality,
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        feature_names=feature_names,
        class_names=class_names,
        target_name="y",
        preprocessing=prep,
    )
    data.notes = notes + _layout_notes(X.shape, name)
    return data


def _layout_notes(shape: tuple[int, ...], name: str) -> list[str]:
    """Notes on axes that look read in the wrong order: each shape is valid for some data, so
    none is refused, but an outsider's (N, channels, steps) sequences were searched as 4 steps
    of 60 features, and (N, height, width, 1) images as 16-channel 16x1 images (validation
    0.456 against 0.996 the right way round)."""
    n, *dims = shape
    if len(dims) == 2:
        steps, features = dims
        if steps == features and steps >= 8:
            return [f"X in {name} has shape {tuple(shape)}, read as {steps} steps of {features} "
                    "features (nas takes sequences as (N, steps, features)); if these are "
                    f"{steps}x{features} images, save them with a channel axis: "
                    "X[:, None]."]  # fmt: skip
        if steps <= 16 and features >= 4 * steps:
            return [f"X in {name} has shape {tuple(shape)}, read as {steps} steps of {features} "
                    f"features each (nas takes sequences as (N, steps, features)); if it holds "
                    f"{features} steps of {steps} channels (PyTorch's (N, channels, steps)), "
                    "save X.transpose(0, 2, 1)."]  # fmt: skip
    if len(dims) == 3:
        channels, height, width = dims
        if width in (1, 3, 4) and channels not in (1, 3, 4):
            return [f"X in {name} has shape {tuple(shape)}, read as {channels} channels of "
                    f"{height}x{width} images (nas takes images as (N, channels, height, "
                    f"width)); if it is (N, height, width, channels), save "
                    "X.transpose(0, 3, 1, 2)."]  # fmt: skip
    return []


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path.name} is not an NPZ archive; save arrays with numpy.savez.")
    try:
        with np.load(path, allow_pickle=False) as stored:
            present = list(stored.files)
            if "X" not in present or "y" not in present:
                shown = ", ".join(repr(a) for a in present) or "none"
                raise DataError(
                    f"{path.name} must hold arrays named 'X' and 'y'; it holds: {shown}. Save "
                    "with numpy.savez(path, X=inputs, y=targets)."
                )
            return {key: stored[key] for key in present}
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as err:
        raise DataError(  # zlib.error: a compressed member cut short or corrupted
            f"Cannot read {path.name} as an NPZ archive ({err}); save it with numpy.savez."
        ) from err
    except ValueError as err:  # object arrays need pickle, which is refused for safety
        raise DataError(
            f"Cannot read {path.name} without pickle ({err}); save plain numeric or string "
            "arrays (not dtype=object) with numpy.savez. Sequences of different lengths make an "
            "object array: pad them to one length first."
        ) from err


def _labels_from_one_hot(y: np.ndarray) -> tuple[np.ndarray, bool]:
    """Class indices if ``y`` is one-hot rows (0/1, one 1 per row), else ``y`` unchanged."""
    if y.ndim == 2 and y.shape[1] > 1 and y.dtype.kind in "biuf":
        values = y.astype(np.float64)
        if np.isin(values, (0.0, 1.0)).all() and (values.sum(axis=1) == 1).all():
            return values.argmax(axis=1).astype(np.int64), True
    return y, False


def _given_names(
    arrays: dict[str, np.ndarray], key: str, default: list[str], name: str
) -> list[str]:
    """Names stored in the NPZ under ``key`` when there is one per item, else ``default``."""
    if key not in arrays:
        return default
    given = [str(v) for v in np.asarray(arrays[key]).reshape(-1)]
    if len(given) != len(default):
        raise DataError(
            f"{key} in {name} has {len(given)} entries but the data has {len(default)}; save "
            f"one per {'class' if key == 'class_names' else 'feature (or channel)'}."
        )
    return given
