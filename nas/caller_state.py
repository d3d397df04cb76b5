"""What nas's Python API changes in the caller's process, put back when the call returns.

A search sets torch's thread count (one per process), quiets Optuna's logger, caps oneDNN's
kernel cache through an environment variable, and draws from torch's global random stream
(weights are initialised from it, costs are timed on ``randn`` inputs). From the ``nas``
command none of that matters; from a notebook it did: every later PyTorch cell ran on one
thread, the user's own Optuna studies stopped logging, and ``torch.randn`` after
``torch.manual_seed(0)`` depended on whether a search had run (/tmp/oH5 F1).

The caller's own modes no longer reach nas either: under ``torch.set_default_dtype(float64)``
(common in scientific notebooks) every trial had failed in "mat1 and mat2 must have the same
dtype", and inside ``with torch.no_grad():`` in "element 0 of tensors does not require grad",
both blamed on "the budget, the space or the data" (/tmp/oH5 F2). nas works in float32 with
gradients on, whatever the caller's defaults, and gives them back.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import optuna
import torch

from nas.train.threads import KERNEL_CACHE_VARIABLE

F = TypeVar("F", bound=Callable[..., Any])


_depth = threading.local()


@contextmanager
def caller_state_kept() -> Iterator[None]:
    """Run the body with nas's torch defaults (float32, gradients on) and give the caller
    back its torch threads, default dtype, grad mode, torch's global random state, Optuna's
    verbosity and the oneDNN cache variable, however the body ends (Ctrl-C included).

    Only the outermost call does: inside a search, ``measure_cost`` and the rest run as they
    always have (a trial's dropout draws from the random stream its cost timing left), so a
    search's trials, and every number BENCHMARKS.md records, are the same as before."""
    level = getattr(_depth, "level", 0)
    if level:
        _depth.level = level + 1
        try:
            yield
        finally:
            _depth.level = level
        return
    _depth.level = 1
    try:
        with _kept():
            yield
    finally:
        _depth.level = 0


@contextmanager
def _kept() -> Iterator[None]:
    threads = torch.get_num_threads()
    dtype = torch.get_default_dtype()
    grad = torch.is_grad_enabled()
    rng = torch.random.get_rng_state()
    verbosity = optuna.logging.get_verbosity()
    cache = os.environ.get(KERNEL_CACHE_VARIABLE)
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    try:
        yield
    finally:
        torch.set_grad_enabled(grad)
        torch.set_default_dtype(dtype)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.random.set_rng_state(rng)
        optuna.logging.set_verbosity(verbosity)
        if cache is None:
            os.environ.pop(KERNEL_CACHE_VARIABLE, None)
        else:
            os.environ[KERNEL_CACHE_VARIABLE] = cache


def keeps_caller_state(fn: F) -> F:
    """A public function that runs under :func:`caller_state_kept`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with caller_state_kept():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


__all__ = ["caller_state_kept", "keeps_caller_state"]
