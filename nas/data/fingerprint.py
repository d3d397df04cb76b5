"""What a dataset's content is, in one string: a resume compares it with the run's record, so
the trials of a study are never scored on two different datasets.

A user's file is fingerprinted by its bytes; a built-in by its arrays (the bundled
scikit-learn tables), or, for a generated one, by what generates it (its generator's version
and seed, and the installed package for mnist1d), which is cheap and the same on every machine.
"""

from __future__ import annotations

import hashlib
from os import PathLike
from pathlib import Path

import numpy as np

PREFIX = "sha256:"
_CHUNK = 1 << 20


def file_fingerprint(path: str | PathLike[str]) -> str:
    """``"sha256:<hex>"`` of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            h.update(chunk)
    return PREFIX + h.hexdigest()


def arrays_fingerprint(*arrays: np.ndarray) -> str:
    """``"sha256:<hex>"`` of arrays: their dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for array in arrays:
        a = np.ascontiguousarray(array)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    return PREFIX + h.hexdigest()


def text_fingerprint(text: str) -> str:
    """``"sha256:<hex>"`` of a text that identifies generated data."""
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def short(fingerprint: str | None) -> str:
    """The first 12 hex digits, enough to tell two fingerprints apart in a message."""
    return "none" if not fingerprint else fingerprint.removeprefix(PREFIX)[:12]


__all__ = ["arrays_fingerprint", "file_fingerprint", "short", "text_fingerprint"]
