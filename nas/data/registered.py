"""Datasets an extension registers: a function that returns the arrays an NPZ file would hold.

```python
import nas

@nas.register_dataset("my_signals", description="sensor windows, 3 fault classes")
def my_signals():
    return {"X": X, "y": y}  # optional: "feature_names", "class_names"
```

``--dataset my_signals`` then works in every process that loads the extension (``nas
--extension``, ``NAS_EXTENSIONS``, an entry point: ``search_spaces.extensions``). The arrays
are read as an NPZ file's are (the same checks, task inference and notes), split from the
search's seed, and fingerprinted by their bytes; the function is called once per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.data.fingerprint import arrays_fingerprint
from nas.data.taskdata import TaskData
from nas.errors import DataError
from search_spaces import extensions

Loader = Callable[[], Any]
F = Callable[[], Any]
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class _Entry:
    name: str
    load: Loader
    description: str
    task: str | None


_DATASETS: dict[str, _Entry] = {}
_RESERVED: set[str] = set()  # the built-in datasets' names (nas.data.builtin reserves them)
_ARRAYS: dict[str, dict[str, np.ndarray]] = {}  # each dataset's arrays, once per process


def register_dataset(
    name: str, *, description: str = "", task: str | None = None
) -> Callable[[F], F]:
    """Register the decorated function as the dataset ``name``: it takes no arguments and
    returns ``{"X": ..., "y": ...}`` (optionally ``feature_names``, ``class_names``) or a pair
    ``(X, y)``, as an NPZ file holds them. ``task`` fixes classification or regression where
    inference from ``y`` would not (the rule of NPZ files)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DataError(f"A dataset name is letters, digits, '_' and '-', starting with a "
                        f"letter; got {name!r}.")  # fmt: skip
    if name in _RESERVED or name in _DATASETS:
        raise DataError(f"A dataset named {name!r} exists already; choose another name.")
    if task not in (None, "classification", "regression"):
        raise DataError(f"task must be 'classification', 'regression' or None; got {task!r}.")

    def decorate(load: F) -> F:
        if not callable(load):
            raise DataError(f"register_dataset({name!r}) decorates a function, not "
                            f"{type(load).__name__}.")  # fmt: skip
        _DATASETS[name] = _Entry(name, load, str(description), task)
        extensions.note("dataset", name, load)
        return load

    return decorate


def reserve(names: Iterable[str]) -> None:
    """Names no extension may register (the built-in datasets')."""
    _RESERVED.update(names)


def unregister_dataset(name: str) -> None:
    """Remove a registered dataset (tests add one and take it away)."""
    _DATASETS.pop(name, None)
    _ARRAYS.pop(name, None)
    extensions.forget("dataset", name)


def registered_names() -> list[str]:
    """The registered datasets' names, in registration order."""
    return list(_DATASETS)


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registered dataset (loading the installed extensions once)."""
    return name in _DATASETS or (extensions.load_installed() and name in _DATASETS)


def _arrays(name: str) -> dict[str, np.ndarray]:
    if name in _ARRAYS:
        return _ARRAYS[name]
    entry = _DATASETS[name]
    where = f"dataset {name!r} ({extensions.origin('dataset', name)})"
    try:
        got = entry.load()
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"The function of {where} failed ({type(e).__name__}: {e}); fix "
                        "it.") from None  # fmt: skip
    if isinstance(got, tuple) and len(got) == 2:
        got = {"X": got[0], "y": got[1]}
    if not isinstance(got, Mapping) or "X" not in got or "y" not in got:
        raise DataError(f"The function of {where} returned {type(got).__name__}; return "
                        "{'X': inputs, 'y': targets} or a pair (X, y).")  # fmt: skip
    arrays = {}
    for key, value in got.items():
        try:
            array = np.asarray(value)
        except ValueError as e:  # ragged lists: numpy refuses them (an object array before)
            raise DataError(f"{key} of {where} is not a regular array ({e}); return numeric "
                            "arrays padded to one shape.") from None  # fmt: skip
        if array.dtype == object:
            raise DataError(f"{key} of {where} is an object array; return numeric arrays (and "
                            "strings for the names), padded to one shape.")  # fmt: skip
        arrays[str(key)] = array
    _ARRAYS[name] = arrays
    return arrays


def load_registered(
    name: str, *, task: str | None, seed: int, val_fraction: float, test_fraction: float
) -> TaskData:
    """The registered dataset ``name`` as a TaskData, read as an NPZ file's arrays are."""
    from nas.data.files import from_npz_arrays

    entry = _DATASETS[name]
    arrays = _arrays(name)
    source = {"registered": str(extensions.origin("dataset", name)), "format": "arrays"}
    data = from_npz_arrays(arrays, name=name, source=source, task=task or entry.task,
                           seed=seed, val_fraction=val_fraction,
                           test_fraction=test_fraction)  # fmt: skip
    data.fingerprint = arrays_fingerprint(arrays["X"], arrays["y"])
    return data


def description(name: str) -> str:
    """What ``nas datasets`` says of a registered dataset."""
    entry = _DATASETS[name]
    origin = extensions.origin("dataset", name)
    return f"{entry.description or name} (registered by {origin})"


__all__ = [
    "is_registered",
    "load_registered",
    "register_dataset",
    "registered_names",
    "unregister_dataset",
]
