"""Training callbacks: how a caller (the search's pruning, say) hooks into the training loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class StopTraining(Exception):
    """Raised by a callback to end training cleanly: best weights restored, a result returned."""


class Callback:
    """Base class of training callbacks: override the hooks you need; the others do nothing.

    Raise :class:`StopTraining` to stop; any other exception (``optuna.TrialPruned`` from a
    pruning callback, say) propagates out of :func:`~nas.train.train_model` unchanged.
    """

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Before the first epoch; logs: epochs, steps_per_epoch, n_train, metric, device,
        micro_batch (examples per forward/backward pass: the batch size unless split)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """After each epoch; logs: the epoch's history row plus ``metric`` and ``steps``."""


class LambdaCallback(Callback):
    """A plain function ``fn(epoch, logs)`` used as an ``on_epoch_end`` callback."""

    def __init__(self, fn: Callable[[int, dict[str, Any]], None]) -> None:
        self.fn = fn

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.fn(epoch, logs)


__all__ = ["Callback", "LambdaCallback", "StopTraining"]
