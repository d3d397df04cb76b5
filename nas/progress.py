"""The live view of a running search: a Rich progress bar over trials or time, the best result
so far with its family and cost, and counts of complete / pruned / failed / over-budget trials."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import optuna
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from explain.report.decision import metric_label
from nas.leaderboard import metric_scale, pick_winners, status_of
from nas.warm_start import fitted_words


class SearchProgress:
    """A study callback that keeps a Rich live view up to date; use as a context manager."""

    def __init__(
        self,
        study: optuna.Study,
        metric: str,
        n_trials: int | None,
        timeout: float | None,
        console: Console | None = None,
        deadline: Any = None,
    ):
        self.study = study
        self.deadline = deadline  # a nas.deadline.Deadline: the retrain's reserve is shown
        self.metric = metric
        self.timeout = timeout
        self.console = console or Console(stderr=True)
        self.start = self.last_tick = time.monotonic()
        self.pid = os.getpid()
        # n_trials is what this call runs; the bar shows the study's total, so that a resumed
        # search starts at the trials already finished instead of overflowing its total.
        self.done_before = _finished(study)
        total = self.done_before + n_trials if n_trials is not None else int(timeout or 0)
        self.by_time = n_trials is None
        self.progress = Progress(
            TextColumn("[bold]search"), BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} s") if self.by_time
            else MofNCompleteColumn(),
            TimeElapsedColumn(), console=self.console, transient=False,
        )  # fmt: skip
        self.task = self.progress.add_task(
            "search", total=total, completed=0 if self.by_time else self.done_before
        )
        # not a terminal (a log file, nohup, CI): Rich draws a live view only once, at its end,
        # so the log stayed empty for the whole search (/tmp/oD4 F2); one plain line per
        # trial that ends instead
        self.plain = not self.console.is_terminal
        self._said = self.done_before
        self._read(study)
        # drawn 4 times a second from Rich's own thread, between the trial's refreshes: the
        # clock-driven parts (a --timeout bar, the seconds left) move within a long epoch too;
        # what the study says is read in the trials' thread only (_read)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False,
                         get_renderable=self._render)  # fmt: skip

    def __enter__(self) -> SearchProgress:
        if not self.plain:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.plain:
            self.console.print(self._render())  # the bar once, at the end, as before
        else:
            self.live.refresh()
            self.live.__exit__(*exc)
        self.console.print()

    TICK_SECONDS = 2.0  # the fewest seconds between two refreshes from inside a trial

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self._update(study)

    def tick(self) -> None:
        """A refresh from inside this process's running trial (after an epoch), at most every
        ``TICK_SECONDS``: trials of other workers (``--jobs``) that end meanwhile are counted
        then, not only when this process's own trial ends. Run in the thread that runs the
        trials (Optuna's storage is not read from the live view's thread), and only in the
        process that made the view (a forked worker has no live view to draw)."""
        now = time.monotonic()
        if now - self.last_tick < self.TICK_SECONDS or os.getpid() != self.pid:
            return
        self.last_tick = now
        self._update(self.study)

    def _update(self, study: optuna.Study) -> None:
        if not self.by_time:  # from the study, so trials of other workers (--jobs) count
            # too; never past the total (a killed session's trials, failed and retried as
            # this one runs, had shown 8/6)
            total = self.progress.tasks[0].total or 0
            self.progress.update(self.task, completed=min(_finished(study), total))
        self._read(study)
        if self.plain:
            self._say_line(study)
        else:
            self.live.refresh()

    def _say_line(self, study: optuna.Study) -> None:
        """'trial 3/8 ended (complete 2, pruned 1, ...); best: ...', once per trial that ends
        (and not in a forked worker, which has no view)."""
        done = self._done  # as _read counted it just now
        if done == self._said or os.getpid() != self.pid:
            return
        self._said = done
        if self.by_time:
            where = f"{done} trials ended, {self._elapsed():.0f}/{self.timeout:g} s"
        else:
            where = f"trial {done}/{self.progress.tasks[0].total:.0f} ended"
        line = f"search: {where} ({self._counts.plain.replace('  ', ', ')}); {self._best.plain}"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def _read(self, study: optuna.Study) -> None:
        """What the view shows of the study (counts, the best trial, the retrain's reserve),
        read now, in the thread that runs the trials."""
        trials = study.get_trials(deepcopy=False)
        self._done = _finished(study, trials)  # one read of the study for all the view says
        counts = Counter(status_of(t) for t in trials)
        self._counts = Text.assemble(
            ("complete ", "green"), str(counts["complete"]), "  ",
            ("pruned ", "yellow"), str(counts["pruned"]), "  ",
            ("over budget ", "magenta"), str(counts["over_budget"]), "  ",
            ("failed ", "red"), str(counts["failed"]),
        )  # fmt: skip
        self._best = Text(best_line(study, self.metric))
        self._reserve = self.deadline.reserve(study) if self.deadline is not None else 0.0

    def _elapsed(self) -> float:
        """Seconds of the --timeout spent: counted from where its deadline counts (the
        process's start for `nas search`, imports and data loading included), so the bar and
        "N s left" agree; it had counted from the search's first trial, and read 9/30 s beside
        "8 s left" (/tmp/oG6 F3)."""
        if self.deadline is not None and self.timeout:
            return max(0.0, self.timeout - self.deadline.left())
        return time.monotonic() - self.start

    def _render(self) -> Group:
        """The view now: the study as last read, the clock as it is."""
        if self.by_time:
            self.progress.update(self.task, completed=min(self._elapsed(), self.timeout or 0))
        parts = [self.progress, self._counts, self._best]
        if self.deadline is not None:
            parts.append(Text(deadline_line(self.deadline, self._reserve), style="dim"))
        return Group(*parts)


def deadline_line(deadline: Any, reserve: float) -> str:
    """What the rest of the --timeout holds: the time kept for retraining the winner
    (``reserve``: ``deadline.reserve(study)``), and that the explanations and the report come
    after it."""
    kept = f"~{reserve:.0f} s kept for retraining the winner" if reserve else (
        "the winner's retrain is kept inside the time")  # fmt: skip
    return (f"--timeout: {max(0.0, deadline.left()):.0f} s left, {kept}; the explanations "
            "and the report follow it")  # fmt: skip


def _finished(study: optuna.Study, trials: list[Any] | None = None) -> int:
    """Trials that ended (complete, pruned, over budget, failed): not queued, not running, and
    not a dead worker's trial that a retry replaces nor one Ctrl-C interrupted (as the study's
    total counts them); of ``trials`` when given (read already)."""
    from nas.worker import interrupted, retry_history

    trials = study.get_trials(deepcopy=False) if trials is None else trials
    retried = {n for t in trials for n in retry_history(t)}
    return sum(status_of(t) not in ("running", "queued") and t.number not in retried
               and not interrupted(t) for t in trials)  # fmt: skip


def best_line(study: optuna.Study, metric: str) -> str:
    """'best: accuracy 0.981 (trial 12, cnn, 23,456 params, 1.2 MFLOPs, 0.31 ms)' or a dash:
    the trial that would win if the search ended now (``pick_winners``: feasible first, under
    ``--min-faithfulness``; a Pareto front's most accurate). A starting point says so (and,
    when it was shrunk to the budget, from what size): the search has not beaten it yet."""
    winners = pick_winners(study, 1)
    if not winners:
        return "best: - (no completed trial yet)"
    best = winners[0]
    a = best.user_attrs
    start = ""
    if a.get("warm_start"):
        words = fitted_words(a)
        start = ", a starting point" + (f" {words}" if words else "")
    return (
        f"best: val {metric_label(metric)} {best.values[0] * metric_scale(study):.4f} "
        f"(trial {best.number}, "
        f"{a.get('family')}, "
        f"{a.get('params', 0):,} params, {a.get('flops', 0) / 1e6:.2f} MFLOPs, "
        f"{a.get('latency_ms') or 0:.2f} ms{start})"
    )
