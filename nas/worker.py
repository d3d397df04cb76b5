"""Workers: more processes on the same study — Optuna's own distributed mode, no scheduler.

``nas search --jobs N`` starts N-1 workers on this machine (forked from the search process on
Linux, else ``nas worker`` processes: :func:`start_workers`); on other machines
``nas worker --storage URL --study NAME`` joins the same study (PostgreSQL for many hosts). A
worker reads everything it needs from the study itself (the leader stores the run settings as
the study's user attribute ``nas_run``), runs trials until the study has its total or the time
is up, and never retrains: the final retraining and the report happen once, in the leader.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna

from nas.config import SearchConfig
from nas.data import TaskData
from nas.deadline import Deadline
from nas.errors import NasError
from nas.kinds import get_kind
from nas.leaderboard import make_stop_on_impossible
from nas.study import (
    make_pruner,
    make_sampler,
    open_storage,
    release_connections,
    session_seed,
    storage_file,
    storage_kept,
)
from nas.train import configure_threads, limit_kernel_cache
from nas.trial import SEED_OF, SearchSettings, seed_number
from search_spaces import extensions

RUN_ATTR = "nas_run"  # the study user attribute holding the run settings
# The storage URL of spawned workers travels here, not on their command lines, where any user
# of the machine could read its password (``ps``); ``nas worker`` reads it when --storage is
# not given (or is empty).
STORAGE_ENV = "NAS_STORAGE_URL"
# The trials the latest `nas search` session found RUNNING and does not count: they belong to
# a process that was stopped before and, without heartbeats to fail them, will never finish.
# (A trial queued before the session, a starting design, runs in it with its old number.)
SESSION_ATTR = "nas_session_orphans"
# A trial failing this way never ends the search; any other exception of a trial's code reaches
# it as a TrialError (nas.trial.trial_outcome; /tmp/oG5 F1), a database failure does not.
CATCH = (NasError, RuntimeError, ValueError)
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
            optuna.trial.TrialState.FAIL)  # fmt: skip
RUNNING = optuna.trial.TrialState.RUNNING
INTERRUPTED = "interrupted ("  # how a trial Ctrl-C or SIGTERM stopped begins its reason
TOLD_TWICE = "Cannot tell a "  # Optuna's ValueError for a result of a trial already finished
RETRY_OF = "retry_of"  # user attr of a trial that runs an interrupted one's params again
# The time (``time.time()``) a --timeout search's latest session ends, its retrain included, or
# None: a `nas worker` with no --trials or --timeout of its own stops starting trials as the
# search does. It had read only the trial count, and ran 29 trials after a --timeout 45
# search had picked its winner; the best of them was never seen (/tmp/oF5 F2).
DEADLINE_ATTR = "nas_deadline"
# Set for the workers of a search that shows no progress (``nas.search(progress=False)``):
# their closing "worker N: ran K trial(s)" line is left out (/tmp/oH5 F5). Errors are said.
QUIET_ENV = "NAS_WORKER_QUIET"


def session_running(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials some worker of the current session is running (the orphans it found of a
    stopped earlier session excluded)."""
    orphans = set(study.user_attrs.get(SESSION_ATTR) or ())
    return [t for t in study.get_trials(deepcopy=False, states=(RUNNING,))
            if t.number not in orphans]  # fmt: skip


def counted_trials(study: optuna.Study) -> int:
    """Trials that count toward the study's total: the finished ones, and those running now.

    A trial of a dead worker that Optuna's retry callback re-queued is not counted: its retry
    takes its place, so a lost machine does not eat into the total. Nor is one a Ctrl-C
    interrupted: a re-run runs it again (:func:`requeue_interrupted`).
    """
    trials = study.get_trials(deepcopy=False, states=FINISHED)
    retried = {n for t in study.get_trials(deepcopy=False) for n in retry_history(t)}
    return sum(t.number not in retried and not interrupted(t) for t in trials) + len(
        session_running(study)
    )


def interrupted(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether ``trial`` failed because Ctrl-C or SIGTERM stopped it (nas.trial.trial_outcome)."""
    reason = trial.user_attrs.get("reason")
    return trial.state == optuna.trial.TrialState.FAIL and str(reason).startswith(INTERRUPTED)


def requeue_interrupted(study: optuna.Study) -> list[int]:
    """Queue again, once each, the architectures a Ctrl-C stopped (a starting design stays
    one), so that a re-run runs them as a lost worker's are; the numbers queued again."""
    trials = study.get_trials(deepcopy=False)
    queued = {t.user_attrs.get(RETRY_OF) for t in trials}
    again = [t for t in trials if interrupted(t) and t.number not in queued]
    for t in again:
        attrs = {k: v for k, v in t.user_attrs.items() if k in ("warm_start", "fitted_to_budget")}
        attrs[SEED_OF] = seed_number(t)  # the re-run trains as the first attempt would have
        study.enqueue_trial(t.params, user_attrs={**attrs, RETRY_OF: t.number})
    return [t.number for t in again]


def retry_history(trial: optuna.trial.FrozenTrial) -> list[int]:
    """The earlier attempts this trial re-runs (``RetryFailedTrialCallback.retry_history``,
    read directly: that accessor warns that it is experimental)."""
    return list(trial.system_attrs.get("retry_history", ()))


class StudyTotal:
    """A study callback that stops this process once the study has ``total`` trials.

    Unlike ``optuna.study.MaxTrialsCallback(total, states=FINISHED)`` it also counts the trials
    other workers are running, so that N workers end at ``total`` trials rather than at
    ``total + N - 1`` (each starting one more while the others finish the last ones).
    """

    def __init__(self, total: int):
        self.total = total

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if counted_trials(study) >= self.total:
            study.stop()


def heartbeat_kwargs(url: str, heartbeat: int | None) -> dict[str, Any]:
    """Heartbeat settings for RDB storages (Optuna supports them there only): a dead worker's
    trial is failed after 3 missed beats and retried (twice at most) with the same params."""
    if not heartbeat or url.startswith("journal:") or url.endswith((".log", ".journal")):
        return {}
    return {"heartbeat_interval": heartbeat, "grace_period": 3 * heartbeat, "max_retry": 2}


def settings_from_record(record: dict[str, Any]) -> tuple[TaskData, SearchSettings]:
    """Reload the data and the search settings a leader recorded (its SearchConfig)."""
    config = SearchConfig.from_dict(record)
    return config.load_data(), config.settings()


def work(
    storage: str | None,
    study: str,
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    threads: int | None = 1,
    index: int = 1,
    heartbeat: int | None = 10,
    data: TaskData | None = None,
) -> int:
    """Join ``study`` on ``storage`` (default: ``$NAS_STORAGE_URL``) and run trials; return
    how many this worker ran. ``data``: the leader's loaded data (a worker forked from it),
    else the data is loaded from the study's record and checked against its fingerprint.

    A database that stops answering while the worker starts (reading the study, counting its
    trials) is the same one line as during its trials: it had been a 100-line traceback, exit
    1 (/tmp/oF5 F4)."""
    with storage_kept(storage or os.environ.get(STORAGE_ENV) or ""):
        return _work(storage, study, n_trials=n_trials, timeout=timeout, threads=threads,
                     index=index, heartbeat=heartbeat, data=data)  # fmt: skip


def _work(
    storage: str | None,
    study: str,
    *,
    n_trials: int | None,
    timeout: float | None,
    threads: int | None,
    index: int,
    heartbeat: int | None,
    data: TaskData | None,
) -> int:
    started = time.time()  # --timeout counts from here
    storage = storage or os.environ.get(STORAGE_ENV)
    if not storage:
        raise NasError(
            f"No storage URL: pass --storage URL (or set {STORAGE_ENV}) to name the study's "
            "storage."
        )
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    file = storage_file(storage)
    if file is not None and not file.is_file():  # opening it would create an empty one
        raise NasError(
            f"{file} (from --storage) does not exist; a worker joins a study that "
            "`nas search ... --storage URL --study NAME` started: pass that storage."
        )
    store = open_storage(storage, **heartbeat_kwargs(storage, heartbeat))
    try:
        loaded = optuna.load_study(study_name=study, storage=store)
    except KeyError:
        raise NasError(
            f"Study {study!r} does not exist in that storage; start it with "
            "`nas search ... --storage URL --study NAME` first."
        ) from None
    record = loaded.user_attrs.get(RUN_ATTR)
    if record is None:
        raise NasError(
            f"Study {study!r} was not created by `nas search` (it has no "
            f"'{RUN_ATTR}' settings); a worker cannot know what to search."
        )
    config = SearchConfig.from_dict(record)
    total = n_trials or config.n_trials
    end = loaded.user_attrs.get(DEADLINE_ATTR)
    if n_trials is None and timeout is None and isinstance(end, int | float):
        timeout = end - started  # the search's own end: its deadline, as its trials keep it
        if timeout <= 0:
            print(f"worker {index}: the search of study {study!r} ended its trials at its "
                  f"--timeout, {time.strftime('%H:%M:%S', time.localtime(end))}; give this "
                  "worker --trials N or --timeout SECONDS to add trials to it anyway.",
                  file=sys.stderr)  # fmt: skip
            return 0
    if total is None and timeout is None:
        raise NasError(
            "This study has no trial count; give the worker --trials N or "
            "--timeout SECONDS so that it stops."
        )
    configure_threads(threads)
    limit_kernel_cache()
    settings = config.settings()
    if data is None:
        recorded = Path(config.data) if config.data else None
        if recorded is not None and not recorded.exists():  # a worker has no --data to fix it
            raise NasError(
                f"The search of study {study!r} read its data from {str(recorded)!r}, which "
                "does not exist on this machine; a worker reads the file at the path the "
                "search recorded: put the same file there (a shared folder, or a copy)."
            )
        data = config.load_data()
    changed = config.data_changed(data.fingerprint, now="here")
    if changed:
        raise NasError(
            f"The data of study {study!r} changed since it started ({changed}); give this "
            "worker the same data the search started with."
        )
    multi = len(settings.objectives) > 1
    st = optuna.load_study(
        study_name=study, storage=store,
        # A different seed per worker, or they would all propose the same architectures.
        sampler=make_sampler(config.sampler, session_seed(config.seed, index, loaded), multi),
        pruner=make_pruner(config.pruner, settings.epochs, multi, config.objectives),
    )  # fmt: skip
    callbacks: list[Any] = [make_stop_on_impossible(settings)]
    if total is not None:
        callbacks.append(StudyTotal(total))
        if counted_trials(st) >= total:
            return 0
    ran: list[int] = []  # this process's trials (the study also grows by other workers' trials)
    callbacks.append(lambda study, trial: ran.append(trial.number))
    kind = get_kind(config.kind)
    state = kind.prepare(data, settings, config.extras, leader=False)
    objective = kind.objective(data, settings, state)
    if timeout is not None:  # the search's retrain must still fit: see nas.deadline
        objective.deadline = Deadline.for_data(
            timeout, data, top=config.top, start=started, factor=kind.retrain_factor
        )
        callbacks.append(objective.deadline.callback)
    with storage_kept(storage):  # a database lost: one line, as the search says it
        began = time.time()  # optimize's timeout counts from its start, as before
        while True:
            left = None if timeout is None else timeout - (time.time() - began)
            if left is not None and left <= 0:
                break
            try:
                st.optimize(objective, timeout=left, callbacks=callbacks, catch=CATCH)
                break
            except ValueError as e:
                if not str(e).startswith(TOLD_TWICE):
                    raise
                # the trial was also run, and finished first, by another process: a storage
                # that let two processes take one queued trial (nas.study.QueueSafeSQLite
                # closes that for SQLite; /tmp/oD4 F7). Its result stands; this one is dropped.
                said = str(e).rstrip(".")
                print(f"worker {index}: another process ran the same trial and finished it "
                      f"first ({said}); this worker's result of it is dropped, and it goes on.",
                      file=sys.stderr)  # fmt: skip
                if total is not None and counted_trials(st) >= total:
                    break
    return len(ran)


def workers_cannot_start(jobs: int) -> str | None:
    """Why this process's ``jobs - 1`` workers cannot run, in words, or None when they can.

    Where they cannot be forked (:func:`can_fork`: a notebook, or any program with other
    threads alive) they start as new processes and load this process's extensions. Two kinds
    of those do harm there (/tmp/oH5 F3): code defined in a notebook, ``python -c`` or stdin
    (``__main__``), which no new process can load (each worker ended "Unknown dataset" and the
    search ran alone, silently); and the very script that runs the search, without an
    ``if __name__ == "__main__":`` guard, whose import in a worker ran a second whole search
    into another folder. The search then runs in this process alone, and says why."""
    if jobs <= 1 or can_fork():
        return None
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    script = str(Path(main).resolve()) if isinstance(main, str) and main.endswith(".py") else None
    bad = [e for e in extensions.extension_modules() if extensions.unloadable(e)
           or (e == script and not _guarded(Path(e)))]  # fmt: skip
    if not bad:
        return None
    what = ("code defined in __main__ (a notebook, python -c or stdin)" if bad[0] == "__main__"
            else f"the script {bad[0]!r}, which would run again in each of them (it has no "
                 "`if __name__ == \"__main__\":` guard)")  # fmt: skip
    return (
        f"jobs={jobs}: this process runs other threads, so its workers would start as new "
        f"processes, and they cannot load {what}: the search runs in this process alone. "
        "Register your blocks, spaces and datasets in a .py file loaded with "
        "nas.load_extensions('file.py'), or guard the script's search with "
        '`if __name__ == "__main__":`.'
    )


def _guarded(script: Path) -> bool:
    """Whether ``script`` keeps its work under a top-level ``if __name__ == "__main__":``."""
    import ast

    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    return any(isinstance(node, ast.If) and extensions.is_main_guard(node.test)
               for node in tree.body)  # fmt: skip


#: A spawned worker's program: `nas worker`, quiet when a Ctrl-C reaches it while it still
#: imports torch (~2 s; /tmp/oH5 F4: its KeyboardInterrupt traceback had reached the terminal
#: of a search interrupted from Python), as the command is once it runs.
WORKER_MAIN = (
    "import sys\n"
    "try:\n"
    "    from nas.cli import main\n"
    "except KeyboardInterrupt:\n"
    "    sys.exit(130)\n"
    "sys.argv[0] = 'nas'\n"
    "main()\n"
)


def spawn_workers(
    storage: str,
    study: str,
    n: int,
    *,
    n_trials: int | None,
    timeout: float | None,
    heartbeat: int | None,
) -> list[subprocess.Popen[bytes]]:
    """Start ``n`` worker processes on this machine (one torch thread each); the storage URL
    goes by environment (``NAS_STORAGE_URL``), never on a command line, and so do the
    extensions this process loaded (``NAS_EXTENSIONS``)."""
    given = [e for e in os.environ.get(extensions.ENV, "").split(",") if e.strip()]
    loaded_extensions = list(dict.fromkeys([*given, *extensions.extension_modules()]))
    procs = []
    for i in range(1, n + 1):
        cmd = [
            sys.executable,
            "-c",
            WORKER_MAIN,
            "worker",
            "--storage",
            "",  # empty: read from the environment
            "--study",
            study,
            "--threads",
            "1",
            "--index",
            str(i),
            "--heartbeat",
            str(heartbeat or 0),
        ]
        if timeout is not None:
            cmd += ["--timeout", str(max(1.0, timeout))]
        if n_trials is not None:
            cmd += ["--trials", str(n_trials)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", STORAGE_ENV: storage}
        if loaded_extensions:  # the new process loads the leader's extensions first, from
            # the leader's import path (a module a script found after changing sys.path)
            env[extensions.ENV] = ",".join(loaded_extensions)
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL))
    return procs


class ForkedWorker:
    """A worker forked from the leader, with the part of ``subprocess.Popen`` that
    :func:`stop_workers` uses (``pid``, ``poll``, ``send_signal``, ``wait``)."""

    def __init__(self, process: Any):
        self.process = process  # a multiprocessing Process of the "fork" context

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def poll(self) -> int | None:
        return self.process.exitcode  # type: ignore[no-any-return]

    def send_signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait(self) -> int:
        self.process.join()
        return int(self.process.exitcode)


def can_fork() -> bool:
    """Whether workers may be forked from this process: on Linux, and only while it runs one
    thread (forking a process with other threads may deadlock the child on a lock one of them
    held). Elsewhere, or with threads, workers are started as new processes instead."""
    import threading

    return sys.platform.startswith("linux") and threading.active_count() == 1


def start_workers(
    storage: str,
    study: str,
    n: int,
    *,
    data: TaskData,
    n_trials: int | None,
    timeout: float | None,
    heartbeat: int | None,
    store: Any = None,
) -> list[Any]:
    """Start ``n`` workers on this machine for the search this process leads (``store``: the
    leader's open storage, whose connections are closed first).

    Forked from the leader where :func:`can_fork`: a worker then shares the leader's imports
    and loaded ``data`` and runs its first trial at once, where a new process spends ~3 s
    importing torch, Optuna and scikit-learn and loading the data again (measured on the
    parallel-scaling benchmark: BENCHMARKS.md). A forked worker opens its own connection to
    the storage and never touches the leader's. Otherwise :func:`spawn_workers`.

    With ``n_trials`` (the study's total), no more workers start than the trials left beside
    the leader's: each process that starts runs one trial at least, as they all start before
    any has counted the others' (--jobs 8 --trials 3 had ended with 6 trials; /tmp/oD4 F7).
    """
    if n_trials is not None:
        done = 0
        if store is not None:
            with contextlib.suppress(KeyError):  # no study yet: none done
                done = counted_trials(optuna.load_study(study_name=study, storage=store))
        n = min(n, n_trials - done - 1)
    if n <= 0:
        return []
    release_connections(store)  # none may cross fork (nas.study.release_connections)
    if not can_fork():
        return spawn_workers(storage, study, n, n_trials=n_trials, timeout=timeout,
                             heartbeat=heartbeat)  # fmt: skip
    import multiprocessing

    context = multiprocessing.get_context("fork")
    workers = []
    for i in range(1, n + 1):
        process = context.Process(
            target=_forked_worker,
            args=(storage, study, i, data, n_trials, timeout, heartbeat, os.getpid()),
            name=f"nas-worker-{i}",
        )
        process.start()
        workers.append(ForkedWorker(process))
    return workers


@contextlib.contextmanager
def interrupt_once() -> Iterator[None]:
    """Within it, SIGINT raises KeyboardInterrupt once, then is ignored: a worker gets Ctrl-C
    from the terminal and again from its leader (``stop_workers``), and a second one while
    Optuna recorded the interrupted trial as failed left it RUNNING, with a traceback. The
    handler before it is restored after."""
    import signal

    def first(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _forked_worker(
    storage: str,
    study: str,
    index: int,
    data: TaskData,
    n_trials: int | None,
    timeout: float | None,
    heartbeat: int | None,
    leader: int,
) -> None:
    """A forked worker's body: what ``nas worker`` does, with the leader's data; its exit code
    says how it ended (0, 2 for a NasError said in one line, 130 after Ctrl-C), as the
    command's would, and it prints no traceback for either. It dies with its leader
    (:func:`_die_with`)."""
    code = 0
    try:
        _die_with(leader)
        with interrupt_once():
            ran = work(storage, study, n_trials=n_trials,
                       timeout=None if timeout is None else max(1.0, timeout),
                       threads=1, index=index, heartbeat=heartbeat, data=data)  # fmt: skip
        if not os.environ.get(QUIET_ENV):
            print(f"worker {index}: ran {ran} trial(s) of study {study!r}.", file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
    except NasError as e:
        print(f"worker {index}: error: {e}", file=sys.stderr)
        code = 2
    sys.stderr.flush()
    sys.exit(code)


def _die_with(leader: int) -> None:
    """Have the kernel kill this forked worker when its leader dies (Linux's
    PR_SET_PDEATHSIG), and exit now if it already has. A worker that outlived a leader killed
    with ``kill -9`` went on adding trials while the re-run search counted its trial as a dead
    worker's and retried it; killed with it, its trial is left RUNNING and the re-run retries
    it once its heartbeat stops, as for any lost worker."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1  # <linux/prctl.h>
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
    if os.getppid() != leader:  # the leader died before the call above: nothing would kill us
        os._exit(1)


def stop_workers(procs: list[Any], *, interrupt: bool) -> list[int]:
    """Wait for the workers (after a Ctrl-C: ask them to stop first, with the signal that
    stopped this process, so their trials say which); their exit codes."""
    import signal

    import nas.trial

    stop = signal.SIGTERM if nas.trial.STOPPED_BY == "SIGTERM" else signal.SIGINT
    for p in procs:
        if interrupt and p.poll() is None:
            p.send_signal(stop)
    return [p.wait() for p in procs]


__all__ = [
    "ForkedWorker",
    "DEADLINE_ATTR",
    "QUIET_ENV",
    "RUN_ATTR",
    "SESSION_ATTR",
    "STORAGE_ENV",
    "StudyTotal",
    "counted_trials",
    "workers_cannot_start",
    "interrupted",
    "requeue_interrupted",
    "heartbeat_kwargs",
    "interrupt_once",
    "retry_history",
    "session_running",
    "settings_from_record",
    "can_fork",
    "spawn_workers",
    "start_workers",
    "stop_workers",
    "work",
]
