"""The trial plumbing every search kind shares, written once: the settings a trial obeys, its
seed, the budget check before training, the pruning and deadline callbacks, the time limit, and
how a trial's outcome (complete, pruned, over budget, failed) is recorded on it.

A kind's trial function subclasses :class:`TrialObjective` and fills in what differs: how a
sampled spec becomes a model, what its cost is, how it trains, and what value it scores.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import signal
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import optuna
import torch

from nas.cost import Budget, Cost, check_fits_memory, count_params, params_before_building
from nas.data.taskdata import TaskData
from nas.errors import (
    ModelTooLargeError,
    NasError,
    StorageError,
    TrainingError,
    TrialError,
    TrialTimeoutError,
)
from nas.pareto_pruner import ParetoPruningCallback
from nas.study import COST_OBJECTIVES, MIN_FAITHFULNESS, QUALITY_OBJECTIVES, database_failure
from nas.train import Callback, LambdaCallback
from search_spaces import Space, SpaceContext
from search_spaces.tracing import where_raised

COST_KEYS = ("params", "flops", "latency_ms", "latency_ms_batch", "memory_mb", "energy_mj")

STOPPED_BY = "Ctrl-C"  # what interrupts this process: "SIGTERM" once that arrived (nas.cli)


@dataclass(frozen=True)
class SearchSettings:
    """Everything that decides what a trial does."""

    space: Space
    metric: str  # the validation metric optimised (first objective)
    objectives: tuple[str, ...]  # metric first, then cost names: params, flops, latency, memory
    budget: Budget = field(default_factory=Budget)
    epochs: int = 20  # the most epochs a trial may train
    patience: int = 5  # early stopping on the validation loss
    seed: int = 0
    max_rejects: int = 50  # over-budget samples in a row (with no feasible one) before giving up
    latency_repeats: int = 5  # timed runs per latency measurement
    trial_timeout: float | None = None  # seconds a trial may take before it is ended as failed
    min_faithfulness: float | None = None  # a constraint on the trial's nas.faithfulness score

    @property
    def scores_faithfulness(self) -> bool:
        """Whether every completed trial computes its faithfulness score (an objective, or a
        constraint)."""
        return self.min_faithfulness is not None or any(
            o in QUALITY_OBJECTIVES for o in self.objectives[1:]
        )


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial ``number``: weights and batch order depend on it alone."""
    return (seed * 100_003 + number) % (2**31 - 1)


SEED_OF = "seed_of"  # user attr: the trial number whose seed a trial trains with


def seed_number(trial: Any) -> int:
    """The number a trial's seed comes from: its own, or, for a re-run of an interrupted or
    lost trial, the first attempt's (its ``seed_of``, which re-runs inherit), so that the re-run
    trains as the uninterrupted trial would have: it had trained with its own number's seed
    and scored 0.389 where the same architecture scores 0.411 uninterrupted (/tmp/oC4 F4)."""
    number = trial.user_attrs.get(SEED_OF)
    return number if isinstance(number, int) else trial.number


def seeded(build: Any, spec: Any, seed: int) -> Any:
    """``build(spec)`` with torch's global RNG seeded by ``seed`` and restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(spec)


class PruningCallback(Callback):
    """Reports the validation metric (the ``key`` of the epoch's logs: ``val_metric``, or a
    GAN's ``score``) to the trial after each epoch; prunes when Optuna says so."""

    def __init__(self, trial: optuna.Trial, key: str = "val_metric"):
        self.trial, self.key = trial, key

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        value = logs.get(self.key)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            self.trial.set_user_attr("status", "pruned")
            self.trial.set_user_attr("reason", f"pruned by the pruner after epoch {epoch}")
            self.trial.set_user_attr("epochs", epoch)
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")


class DeadlineCallback(Callback):
    """Ends training after the epoch in which the trial's time limit passed."""

    def __init__(self, start: float, limit: float):
        self.start, self.limit = start, limit

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if time.perf_counter() - self.start > self.limit:
            raise TrialTimeoutError(
                f"the trial ran past its {self.limit:g} s limit at epoch {epoch}; raise "
                "--trial-timeout or lower --epochs."
            )


@contextlib.contextmanager
def time_limit(limit: float | None, start: float) -> Iterator[None]:
    """Interrupt a trial that hangs inside an epoch: SIGALRM raises TrialTimeoutError at the
    limit (main thread on POSIX only; elsewhere the per-epoch DeadlineCallback still applies)."""
    usable = (
        limit
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise TrialTimeoutError(
            f"the trial hung past its {limit:g} s limit; raise --trial-timeout or lower --epochs."
        )

    previous = signal.signal(signal.SIGALRM, on_alarm)
    began = time.monotonic()
    # the caller's own timer (a notebook's signal.alarm), if one was set, comes back after
    # the trial with what is left of it: it had been cancelled (/tmp/oH5 F1)
    theirs, every = signal.setitimer(
        signal.ITIMER_REAL, max(0.01, limit - (time.perf_counter() - start))
    )
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if theirs > 0:  # due during the trial: it goes off now
            left = theirs - (time.monotonic() - began)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), every)


def failure_reason(error: BaseException) -> str:
    """A failed trial's reason: the kind of failure (diverged, time limit, too large, or the
    exception's type, with where in the user's code it was raised) and the message's first
    line."""
    if isinstance(error, TrainingError):
        kind = "diverged"
    elif isinstance(error, TrialTimeoutError):
        kind = "time limit"
    elif isinstance(error, ModelTooLargeError):
        kind = "too large"
    elif isinstance(error, NasError):
        kind = type(error).__name__
    else:
        where = where_raised(error)
        kind = type(error).__name__ + (f" at {where}" if where else "")
    lines = str(error).splitlines()
    return f"{kind}: {lines[0][:300]}" if lines and lines[0].strip() else kind


def stops_the_search(error: BaseException) -> bool:
    """Whether ``error``, raised in a trial, must end the search rather than the trial: the
    study's database failing (``nas.study.storage_kept`` makes it one line; every later trial
    would fail to record), or Optuna's own errors about the study."""
    return database_failure(error) is not None or isinstance(error, optuna.exceptions.OptunaError)


@contextlib.contextmanager
def trial_outcome(trial: optuna.Trial, start: float) -> Iterator[None]:
    """Record on the trial how it ended when it ends by an exception (which goes on up):
    interrupted, pruned, or failed with the reason (diverged, time limit, ...). Any other
    exception of the trial's code (an extension's block raising AttributeError, a builder's
    KeyError) fails the trial too, raised on as a TrialError that the search's ``catch``
    takes; only a database failure or one of Optuna's own errors ends the search (/tmp/oG5
    F1)."""
    try:
        yield
    except KeyboardInterrupt:
        trial.set_user_attr("status", "failed")
        trial.set_user_attr("reason", f"interrupted ({STOPPED_BY}); a re-run runs it again")
        trial.set_user_attr("seconds", time.perf_counter() - start)
        raise
    except optuna.TrialPruned:
        trial.set_user_attr("seconds", time.perf_counter() - start)
        raise
    except (NasError, RuntimeError, ValueError) as e:
        _record_failure(trial, e, start)
        raise
    except Exception as e:
        if stops_the_search(e):
            raise
        raise TrialError(_record_failure(trial, e, start)) from e


def _record_failure(trial: optuna.Trial, error: BaseException, start: float) -> str:
    """Record on ``trial`` that ``error`` failed it; returns the reason."""
    reason = failure_reason(error)
    history = getattr(error, "history", None)  # GAN training keeps the epochs it ran
    if history:
        trial.set_user_attr("curve", [dict(h) for h in history])
        trial.set_user_attr("epochs", len(history))
    trial.set_user_attr("status", "failed")
    trial.set_user_attr("reason", reason)
    trial.set_user_attr("seconds", time.perf_counter() - start)
    return reason


def recorded_best_epoch(trial: optuna.trial.FrozenTrial, default: int) -> int:
    """The best epoch :meth:`TrialObjective.finish` recorded on ``trial``; ``default`` when it
    recorded none (or 0). A value that is not a whole number >= 1 comes from an edited or
    damaged storage and raises :class:`StorageError` naming the trial and the fix."""
    value = trial.user_attrs.get("best_epoch")
    if not value:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StorageError(
            f"Trial {trial.number} of the study records best_epoch {value!r}, not a whole "
            "number of epochs >= 1: its storage was edited or damaged. Restore study.db from a "
            "copy, or re-run the search into a new --out folder."
        )
    return value


def release_memory() -> None:
    """Give the heap a finished trial freed back to the system (glibc's ``malloc_trim``), so
    that a long search holds the memory of its largest trial, not the fragments of all of
    them (measured: 604 -> 440 MB after a 766k-parameter trial). Elsewhere: nothing."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None  # glibc's malloc_trim once found, False where there is none


def record_cost(trial: optuna.Trial, cost: Cost) -> None:
    """The cost of the trial's model, as user attributes (the leaderboard's columns)."""
    for key in COST_KEYS:
        trial.set_user_attr(key, getattr(cost, key))


class MicroBatchRecord(Callback):
    """Records ``micro_batch`` on the trial when its steps run in passes smaller than a batch
    (``nas.train.loop.micro_batch``), pruned trials included."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        split, n = logs.get("micro_batch"), logs.get("n_train")
        spec = self.trial.user_attrs.get("spec") or {}
        batch = (spec.get("train") or {}).get("batch_size")
        if split is not None and batch is not None and n is not None and split < min(batch, n):
            self.trial.set_user_attr("micro_batch", split)


class TrialObjective(ABC):
    """The function Optuna calls per trial: sample, build with the trial's seed, measure the
    cost and reject an over-budget model before training, train with the pruning and deadline
    callbacks, record the outcome, return the value (and the cost objectives)."""

    monitor = "val_metric"  # the epoch log the pruner reads
    budget_label = ""  # said in an over-budget reason, e.g. " (generator)"

    def __init__(self, data: TaskData, settings: SearchSettings, device: str | None = None):
        self.data = data
        self.s = settings
        self.ctx = SpaceContext.of(data)
        self.device = device
        # one objective: Optuna's report / should_prune; several: nas.pareto_pruner's callback
        self.prune = len(settings.objectives) == 1
        self.deadline: Any = None  # a nas.deadline.Deadline when the search has a --timeout
        # called after each epoch (the live view's refresh, while it shows): other workers'
        # trials end during this one's, and the view should count them without waiting for it
        self.on_epoch: Any = None

    # --- what a kind fills in ------------------------------------------------------------
    @abstractmethod
    def build(self, spec: Any) -> torch.nn.Module:
        """The untrained model of ``spec`` (called under the trial's seed)."""

    @abstractmethod
    def cost(self, model: torch.nn.Module, **kwargs: Any) -> Cost:
        """The deployable part's cost (``measure_cost`` keyword arguments pass through)."""

    @abstractmethod
    def train(self, model: torch.nn.Module, spec: Any, trial: optuna.Trial,
              callbacks: list[Callback]) -> Any:  # fmt: skip
        """Train; the result has ``epochs_run``, ``best_epoch`` and ``history``."""

    @abstractmethod
    def value(self, result: Any) -> float | None:
        """The trial's score from the training result."""

    @abstractmethod
    def curve_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """One epoch of the learning curve as stored on the trial."""

    def family(self, spec: Any) -> str:
        """The family recorded on the trial."""
        return str(spec.family)

    def check_spec(self, spec: Any) -> None:
        """Raise NasError when the space gave a spec this kind cannot train."""
        return None

    def budget_part(self, model: torch.nn.Module) -> torch.nn.Module:
        """The part of ``model`` the budget applies to (what :meth:`cost` measures)."""
        return model

    def record_model(self, trial: optuna.Trial, model: torch.nn.Module) -> None:
        """Anything more to record about the model before training."""
        return None

    def extra_callbacks(self) -> list[Callback]:
        """Callbacks of the kind's own (after the pruner's)."""
        return []

    def quality(self, model: torch.nn.Module) -> dict[str, Any]:
        """The trained model's explanation-quality scores (``faithfulness`` and its parts), for
        a search that optimises or constrains them; a kind that can score none refuses such a
        search before it starts (``SearchKind.scores_faithfulness``)."""
        raise NasError("internal: this search kind has no faithfulness score.")

    # --- the lifecycle, once -------------------------------------------------------------
    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        try:
            return self._run(trial)
        finally:
            release_memory()

    def _run(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        start = time.perf_counter()
        trial.set_user_attr("status", "running")
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # who ran it
        trial.set_user_attr(SEED_OF, seed_number(trial))  # a lost worker's retry copies it
        with trial_outcome(trial, start):
            spec = self.s.space.sample(trial, self.ctx)
            self.check_spec(spec)
            trial.set_user_attr("family", self.family(spec))
            trial.set_user_attr("spec", spec.to_dict())
            self.before_building(trial, spec, start)
            model = seeded(self.build, spec, trial_seed(self.s.seed, seed_number(trial)))
            cost, violations = self.measure(model)
            record_cost(trial, cost)
            self.record_model(trial, model)
            if violations:  # stopped before a single optimizer step
                reason = f"over budget{self.budget_label}: " + "; ".join(violations)
                trial.set_user_attr("status", "over_budget")
                trial.set_user_attr("reason", reason)
                trial.set_user_attr("seconds", time.perf_counter() - start)
                raise optuna.TrialPruned(reason)
            callbacks: list[Callback] = [
                PruningCallback(trial, self.monitor)
                if self.prune
                else ParetoPruningCallback(trial, self.monitor)
            ]
            callbacks += [MicroBatchRecord(trial), *self.extra_callbacks()]
            if self.s.trial_timeout:
                callbacks.append(DeadlineCallback(start, self.s.trial_timeout))
            if self.deadline is not None:
                callbacks.append(self.deadline.stopper(trial))
            if self.on_epoch is not None:
                callbacks.append(LambdaCallback(lambda epoch, logs: self.on_epoch()))
            with time_limit(self.s.trial_timeout, start):
                result = self.train(model, spec, trial, callbacks)
            if "latency" in self.s.objectives[1:]:
                self.retime(trial, model)
            if self.s.scores_faithfulness:
                self.score_quality(trial, model)
        return self.finish(trial, result, start)

    def before_building(self, trial: optuna.Trial, spec: Any, start: float) -> None:
        """Count the sample's parameters on torch's meta device, before anything is allocated:
        over ``--max-params``, the trial is stopped there (the other costs unmeasured); too
        large to train on this machine, it fails with the reason (a space with units = 1e11
        would otherwise allocate until the memory ran out)."""
        shapes = params_before_building(self.build, spec)
        if shapes is None:
            return
        params, limit = count_params(self.budget_part(shapes)), self.s.budget.max_params
        if limit is not None and params > limit:
            reason = f"over budget{self.budget_label}: params {params:,} > max_params {limit:,}"
            trial.set_user_attr("params", params)
            self.record_model(trial, shapes)  # shapes are all it reads (a GAN's critic size)
            trial.set_user_attr("status", "over_budget")
            trial.set_user_attr("reason", reason)
            trial.set_user_attr("seconds", time.perf_counter() - start)
            raise optuna.TrialPruned(reason)
        check_fits_memory(count_params(shapes), "the sampled model")

    def score_quality(self, trial: optuna.Trial, model: torch.nn.Module) -> None:
        """Score the trained model's explanations; record the score, its parts, its cost and
        the constraint value (``--min-faithfulness``) on the trial."""
        scores = self.quality(model)
        for key, value in scores.items():
            trial.set_user_attr(key, value)
        if self.s.min_faithfulness is not None:  # <= 0: feasible (Optuna's convention)
            trial.set_constraint(
                MIN_FAITHFULNESS, float(self.s.min_faithfulness) - float(scores["faithfulness"])
            )

    def finish(self, trial: optuna.Trial, result: Any, start: float) -> float | tuple[float, ...]:
        """Record the training on the trial; the value with the cost objectives."""
        trial.set_user_attr("seconds", time.perf_counter() - start)
        trial.set_user_attr("epochs", result.epochs_run)
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("curve", [self.curve_row(h) for h in result.history])
        value = self.value(result)
        if value is None or not math.isfinite(value):
            reason = f"undefined: validation {self.s.metric} is {value}"
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("reason", reason)
            raise TrainingError(f"{reason}; the trial cannot be ranked.")
        trial.set_user_attr("status", "complete")
        extra = [
            float(trial.user_attrs[COST_OBJECTIVES.get(o, o)]) for o in self.s.objectives[1:]
        ]  # a cost measured before training, or a quality scored after it
        return float(value) if not extra else (float(value), *extra)

    def retime(self, trial: optuna.Trial, model: torch.nn.Module) -> None:
        """Time a trained model once more when latency is an objective, and keep the lower of
        the two measurements: a burst of load on the machine only adds time, and one timing
        under it (1.7-2.4x the model's own, /tmp/oG) had decided which trials made the Pareto
        front. Both are recorded (``latency_timings``)."""
        first = trial.user_attrs.get("latency_ms")
        again = self.cost(
            model, latency=True, warmup=2, repeats=self.s.latency_repeats, device=self.device
        ).latency_ms
        if not isinstance(first, int | float) or again is None:
            return
        trial.set_user_attr("latency_timings", [float(first), float(again)])
        if again < first:
            trial.set_user_attr("latency_ms", float(again))

    def measure(self, model: torch.nn.Module) -> tuple[Cost, list[str]]:
        """The model's cost and budget violations; latency is timed only for a model that
        meets every other limit, so that rejecting a sample costs no timed forward passes."""
        cost = self.cost(model, latency=False, device=self.device)
        violations = replace(self.s.budget, max_latency_ms=None).check(cost)
        if violations:
            return cost, violations

        def timed() -> Cost:
            return self.cost(
                model, latency=True, warmup=2, repeats=self.s.latency_repeats, device=self.device
            )

        cost = timed()
        violations = self.s.budget.check(cost)
        limit, measured = self.s.budget.max_latency_ms, cost.latency_ms
        if violations and limit is not None and measured is not None and measured <= 1.3 * limit:
            # only the latency is over (every other limit was met above), by under 30 %: a
            # burst of load can do that, so it is measured once more and the lower one counts
            again = timed()
            if again.latency_ms is not None and again.latency_ms < measured:
                cost, violations = again, self.s.budget.check(again)
        return cost, violations


__all__ = [
    "DeadlineCallback",
    "PruningCallback",
    "SearchSettings",
    "TrialObjective",
    "failure_reason",
    "record_cost",
    "recorded_best_epoch",
    "release_memory",
    "seeded",
    "time_limit",
    "trial_outcome",
    "trial_seed",
    "where_raised",
]
