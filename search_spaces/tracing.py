"""Where in the user's own code (an extension's block or space, a script) an exception arose:
what a failed trial's reason and a broken extension's message name (/tmp/oG5 F1, F2)."""

from __future__ import annotations

import functools
import importlib.util
import os
import sysconfig
import traceback


@functools.cache
def _library_dirs() -> tuple[str, ...]:
    """The folders whose code is not the user's: the standard library, the installed packages
    (torch, Optuna, ...) and nas's own packages (search_spaces, nas, explain)."""
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    for name in ("search_spaces", "nas", "explain"):
        spec = importlib.util.find_spec(name)
        dirs.update(spec.submodule_search_locations or () if spec else ())
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


def _users(filename: str) -> bool:
    """Whether code in ``filename`` (a traceback frame's) is the user's: an extension, a
    script, a notebook cell; not the standard library, an installed package or nas."""
    if filename.startswith("<frozen "):
        return False
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not os.path.realpath(filename).startswith(_library_dirs())


def where_raised(error: BaseException) -> str | None:
    """Where in the user's code ``error`` was raised: the innermost frame of its traceback
    outside the standard library, the installed packages and nas, as ``file:line in
    function``; None when it arose in none (/tmp/oG5 F1: a reason that names the line of the
    extension's block that failed, not torch's)."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if _users(frame.filename):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return None
