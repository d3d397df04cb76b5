"""An on-disk cache for generated datasets: ``.npz`` files under a user cache folder.

The cache only saves time. A missing, unreadable or unwritable cache means the arrays are
generated again, never an error. Files are written to a temporary name and renamed, so parallel
search workers never read a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

CACHE_ENV = "NAS_CACHE_DIR"


def cache_dir() -> Path:
    """``$NAS_CACHE_DIR``, else ``$XDG_CACHE_HOME/nas``, else ``~/.cache/nas``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "nas"


def cached_arrays(
    key: str, generate: Callable[[], dict[str, np.ndarray]], names: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """The arrays stored as ``<cache_dir>/<key>.npz``, generating and storing them when absent.

    ``key`` should change whenever ``generate`` would produce different arrays; a stored file
    that lacks one of ``names`` is replaced.
    """
    path = cache_dir() / f"{key}.npz"
    arrays = _read(path)
    if arrays is not None and all(name in arrays for name in names):
        return arrays
    arrays = generate()
    _write(path, arrays)
    return arrays


def _read(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def _write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz")
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache may be shared
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass  # read-only home, full disk: carry on without the cache
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
