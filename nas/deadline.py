"""``--timeout`` as the time a user waits: the search *and* the final retrain end by it.

A :class:`Deadline` holds the wall-clock end of a search (``time.time()`` based, so the worker
processes of ``--jobs N`` on the same machine share it) and estimates, from the study's own
trials, what is still to come:

- the **retrain** of the winners: a trial's seconds per epoch x its best epoch x (train + val)
  / train x the kind's retrain factor (the final model trains on both, for its best epochs
  times the factor), summed over the models that would be kept now (``--top`` of a Pareto
  front: its small models retrain quickly, so the front's sum, not ``top`` x its largest);
- a **trial**: the median wall time of the completed trials.

Two hooks use it. :meth:`Deadline.callback` is an Optuna study callback: after each trial it
stops the study when the time left is less than a trial plus the retrain. :meth:`Deadline.
stopper` is a training callback: it ends the trial in flight (cleanly, with its best epoch so
far; the trial still counts) when another epoch and the retrain would no longer fit.
Explanations and the report come after the deadline; the live view says so.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from nas.train import Callback, StopTraining
from nas.trial import recorded_best_epoch

COMPLETE = optuna.trial.TrialState.COMPLETE
IMPORTED = time.time()  # when nas.deadline was imported: the fallback start of a process
COMMAND_STARTED: float | None = None  # set by the console script (nas.cli.main)
# The longest --timeout and --trial-timeout nas takes: a year. Longer ones (inf, 1e12) had
# overflowed the clocks they are handed to (the live view's int, SIGALRM's timer, which takes
# less than ~1e10 s) in tracebacks, after run.json was written (/tmp/oD4 F5).
LONGEST = 365 * 24 * 3600
# The longest --heartbeat: a day (a dead worker's trial is retried after 3 missed beats); 1e12
# had killed the heartbeat thread with a traceback, and stale trials were never failed (F6).
LONGEST_HEARTBEAT = 24 * 3600


def check_limits(
    timeout: float | None = None, trial_timeout: float | None = None, heartbeat: float = 0
) -> None:
    """A NasError naming the option (``--timeout``, ``--trial-timeout``, ``--heartbeat``) whose
    seconds are more than nas takes, or not finite; their lower bounds are the options' own."""
    from nas.errors import NasError

    for flag, seconds in (("--timeout", timeout), ("--trial-timeout", trial_timeout)):
        if seconds is not None and not seconds <= LONGEST:  # inf, nan, 1e12
            raise NasError(f"{flag} must be a finite number of seconds, at most {LONGEST:,} (365 "
                           f"days), got {seconds:g}; leave it out for no limit.")  # fmt: skip
    if not heartbeat <= LONGEST_HEARTBEAT:
        raise NasError(f"--heartbeat is the seconds between a worker's heartbeats, at most "
                       f"{LONGEST_HEARTBEAT:,} (a day), got {heartbeat:g}; 0 turns them "
                       "off.")  # fmt: skip


def process_started() -> float:
    """The ``time.time()`` at which this process started (Linux: from ``/proc``; elsewhere
    the time nas was imported), so that ``nas search --timeout`` counts its own start-up."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))  # fmt: skip
        started = boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return IMPORTED
    return started if abs(time.time() - started) < 86400 * 365 else IMPORTED


def seconds_per_epoch(trial: optuna.trial.FrozenTrial) -> float | None:
    """A finished trial's wall seconds per epoch (its cost measurement included), or None."""
    seconds, epochs = trial.user_attrs.get("seconds"), trial.user_attrs.get("epochs")
    if not isinstance(seconds, (int, float)) or not isinstance(epochs, int) or epochs < 1:
        return None
    return float(seconds) / epochs


class Deadline:
    """The end of a search (retrain included) and the estimates that keep it.

    ``seconds`` from ``start`` (``time.time()``, default now); ``top`` winners are retrained;
    ``scale`` is (train + val) / train, the retrain's share of data per epoch, and ``factor``
    how many times the winner's best epochs the retrain runs.
    """

    def __init__(
        self,
        seconds: float,
        *,
        top: int = 1,
        scale: float = 1.0,
        start: float | None = None,
        clock: Callable[[], float] = time.time,
        factor: float = 1.0,
    ) -> None:
        self.clock = clock
        self.end = (clock() if start is None else start) + float(seconds)
        self.top, self.scale = max(1, int(top)), max(1.0, float(scale)) * max(1.0, factor)

    @classmethod
    def for_data(
        cls,
        seconds: float,
        data: Any,
        top: int = 1,
        start: float | None = None,
        factor: float = 1.0,
    ) -> Deadline:
        """A deadline for a search on ``data`` (a TaskData: its train and val sizes) whose
        retrain runs ``factor`` times the winner's best epochs (the kind's retrain_factor)."""
        n_train, n_val = len(data.train), len(data.val)
        scale = (n_train + n_val) / max(1, n_train)
        return cls(seconds, top=top, scale=scale, start=start, factor=factor)

    def left(self) -> float:
        """Seconds to the deadline (negative past it)."""
        return self.end - self.clock()

    # --- estimates ------------------------------------------------------------------------
    def retrain_seconds(self, trial: optuna.trial.FrozenTrial) -> float:
        """The expected retrain of ``trial``: per-epoch time x best epoch x data scale."""
        per_epoch = seconds_per_epoch(trial)
        if per_epoch is None:
            return 0.0
        return per_epoch * recorded_best_epoch(trial, trial.user_attrs["epochs"]) * self.scale

    def winner_estimates(self, study: optuna.Study) -> list[float]:
        """The retrain estimates of the models that would be kept now
        (``nas.leaderboard.pick_winners``: the best, or the ``top`` of the Pareto front)."""
        from nas.leaderboard import pick_winners

        return [self.retrain_seconds(t) for t in pick_winners(study, self.top)]

    def reserve(self, study: optuna.Study, running: float = 0.0) -> float:
        """Seconds to keep for the retrain of the models kept now (:meth:`winner_estimates`),
        with ``running`` (the trial in flight's own estimate) in place of the quickest of them
        when it is slower, or beside them while fewer than ``top`` are kept."""
        return self.with_running(self.winner_estimates(study), running)

    def with_running(self, estimates: list[float], running: float) -> float:
        """The sum of ``estimates`` with ``running`` taking the quickest one's place (or a free
        place)."""
        kept = sorted(estimates)
        if len(kept) < self.top:
            kept.append(running)
        elif kept and running > kept[0]:
            kept[0] = running
        return float(sum(kept))

    def trial_seconds(self, study: optuna.Study) -> float:
        """The median wall time of the completed trials (0 before any)."""
        times = [float(t.user_attrs["seconds"]) for t in _complete(study)
                 if isinstance(t.user_attrs.get("seconds"), (int, float))]  # fmt: skip
        return statistics.median(times) if times else 0.0

    def room_for_a_trial(self, study: optuna.Study) -> bool:
        """Whether a new trial and the retrain still fit before the deadline."""
        return self.left() >= self.trial_seconds(study) + self.reserve(study)

    # --- hooks ----------------------------------------------------------------------------
    def callback(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """An Optuna study callback: stop starting trials once one more would not fit."""
        if not self.room_for_a_trial(study):
            study.stop()

    def stopper(self, trial: optuna.Trial) -> Callback:
        """A training callback that ends ``trial`` when another epoch and the retrain would
        pass the deadline; the trial keeps its best epoch so far and is completed."""
        return _StopAtDeadline(self, trial)


class _StopAtDeadline(Callback):
    def __init__(self, deadline: Deadline, trial: optuna.Trial) -> None:
        self.deadline, self.trial = deadline, trial
        self.start = self.deadline.clock()
        # the kept models' estimates, read once (not from storage every epoch)
        self.estimates = deadline.winner_estimates(trial.study)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        per_epoch = (self.deadline.clock() - self.start) / epoch
        own = per_epoch * epoch * self.deadline.scale  # this trial's retrain, if it won now
        reserve = self.deadline.with_running(self.estimates, own)
        if self.deadline.left() < per_epoch + reserve:
            self.trial.set_user_attr(
                "deadline", f"ended after epoch {epoch}: the --timeout was near (the retrain "
                f"of the winner needs about {reserve:.0f} s)"
            )  # fmt: skip
            raise StopTraining


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(COMPLETE,))


__all__ = ["Deadline", "process_started", "seconds_per_epoch"]
