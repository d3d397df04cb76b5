"""All of nas's own exceptions, in one place. Each message names the problem and the fix."""

from __future__ import annotations

from search_spaces.errors import (
    NasError,
    ShapeError,
    SpaceError,
    SpecError,
    UnknownBlockError,
    UnknownNameError,
    UnknownSpaceError,
)


class DataError(NasError, ValueError):
    """A dataset cannot be loaded or used: missing file, bad column, NaNs, a single class."""


class UnknownDatasetError(UnknownNameError, DataError):
    """A dataset name that is neither built in nor registered (perhaps an extension's that
    was not loaded)."""


class BudgetError(NasError, ValueError):
    """A budget is malformed, or no architecture of the space can meet it."""


class StorageError(NasError, ValueError):
    """An Optuna storage URL is malformed or unreachable, or an output folder is unwritable."""


class SettingsError(NasError, ValueError):
    """A search setting given to an estimator is invalid (scikit-learn's convention: a
    ValueError at fit)."""


class TrainingError(NasError, RuntimeError):
    """Training failed in a way that ends a trial (non-finite loss); never ends the search."""


class ModelTooLargeError(NasError, RuntimeError):
    """A sampled model whose training would not fit in this machine's memory; its trial ends
    as failed before a byte of it is allocated."""


class TrialTimeoutError(NasError, RuntimeError):
    """A trial ran past its per-trial time limit (``--trial-timeout``); it ends as failed."""


class TrialError(NasError, RuntimeError):
    """A trial's own code, most often an extension's block or space, raised an exception of a
    kind nas does not expect there (AttributeError, KeyError, TypeError, ...): the trial ends as
    failed with the exception's type, message and place in its reason, and the search goes on;
    one such exception had ended the whole search with a traceback (/tmp/oG5 F1)."""


class Interrupted(KeyboardInterrupt):
    """A Ctrl-C at a step after which running the same command again is not the way on (the
    search's explanations and report: a re-run retrains the winner first). Its message says
    what is kept and which command finishes the job; the CLI prints it instead of its
    generic words. A KeyboardInterrupt still, so whatever stops on Ctrl-C stops on it."""


__all__ = [
    "BudgetError",
    "DataError",
    "Interrupted",
    "ModelTooLargeError",
    "NasError",
    "ShapeError",
    "SpaceError",
    "SettingsError",
    "SpecError",
    "StorageError",
    "TrainingError",
    "TrialError",
    "TrialTimeoutError",
    "UnknownBlockError",
    "UnknownDatasetError",
    "UnknownNameError",
    "UnknownSpaceError",
]
