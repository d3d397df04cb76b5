"""One search session, start to end, for any search kind: open the run directory and the study,
record the config, enqueue the starting points, run trials here and in worker processes, wait
for the workers of other machines, then finalize (retrain, test, explain, report) once."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from nas import run as rundir
from nas.config import SearchConfig, check_study_name
from nas.deadline import Deadline
from nas.errors import NasError, StorageError
from nas.finalize import explain_and_report, finalize_run
from nas.kinds.registry import get_kind
from nas.leaderboard import (
    SCALE_ATTR,
    check_impossible_budget,
    leaderboard_rows,
    make_stop_on_impossible,
    queued_retries,
)
from nas.result import SearchResult
from nas.study import (
    checkpoint,
    make_pruner,
    make_sampler,
    open_storage,
    redact,
    session_seed,
    storage_kept,
    storage_url,
)
from nas.terminal import say
from nas.train import configure_threads, limit_kernel_cache
from nas.trial import SearchSettings
from nas.warm_start import fit_starts
from nas.worker import (
    CATCH,
    DEADLINE_ATTR,
    QUIET_ENV,
    RUN_ATTR,
    SESSION_ATTR,
    StudyTotal,
    counted_trials,
    heartbeat_kwargs,
    requeue_interrupted,
    session_running,
    start_workers,
    stop_workers,
    workers_cannot_start,
)
from search_spaces import SpaceContext, extensions
from search_spaces.extensions import extension_modules
from search_spaces.spaces import Choice, Fixed, IntRange, starting_points


@dataclass(frozen=True)
class RunOptions:
    """How this process runs a search (not part of the run's record)."""

    out: str | PathLike[str] | None = None  # the run directory (default runs/<study>)
    storage: str | None = None  # the Optuna storage URL as given (password included)
    progress: bool = False  # a Rich live view
    finalize: bool = True  # retrain and test the winners
    explain: bool = False
    report: bool = False
    explain_samples: int = 200
    reports_dir: str | PathLike[str] | None = "reports"  # where the report is copied
    threads: int | None = None  # torch threads (default one per process)
    heartbeat: int | None = 10  # seconds between worker heartbeats (RDB storages)
    started: float | None = None  # time.time() the --timeout counts from (default: the call)


def run_search(config: SearchConfig, options: RunOptions) -> SearchResult:
    """Run the search ``config`` describes (resuming the study in its run directory)."""
    with contextlib.ExitStack() as held:  # the run directory's lock, once it is taken
        return _run_search(config, options, held)


@contextlib.contextmanager
def search_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock (``run_dir/.nas.lock``, ``flock``) while this search runs:
    two searches started together on one new folder had both passed the resume check and
    merged into one study, each retraining and reporting (or, on other data, one failed with
    SQLite's "UNIQUE constraint failed: alembic_version"). Forked workers share the lock with
    their leader; it is released when the search ends, however it ends."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock (the resume check still compares the search)
        yield
        return
    with open(run_dir / rundir.LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise NasError(
                f"Another nas search is running in {run_dir} now; wait for it to end (or stop "
                "it), or give this search another --out."
            ) from None
        yield


def _run_search(
    config: SearchConfig, options: RunOptions, held: contextlib.ExitStack
) -> SearchResult:
    # Checked before anything is loaded or created: nas writes into a run directory or a
    # new / empty folder only, never into someone's folder that has an explain/ or a top/.
    # --timeout counts from here (or from the process's start): the search and its retrain
    # end by it
    started = time.time() if options.started is None else options.started
    limit_kernel_cache()  # before anything runs a convolution
    run_dir = rundir.check_run_dir(
        Path(options.out)
        if options.out is not None
        else Path("runs") / check_study_name(config.study)  # a SearchConfig built by hand
    )
    td = config.load_data()
    kind = get_kind(config.kind)
    config = config.resolve(td)
    settings = config.settings()
    url = storage_url(options.storage, run_dir)
    # Bad names and URLs fail here, before run.json records a search that never ran, and a
    # --storage of its own before the run directory is made.
    notes = _check_resume(run_dir, config)  # another search in this folder: refused first
    multi = len(config.objectives) > 1  # an unknown sampler or pruner leaves no folder either
    optuna_sampler = make_sampler(config.sampler, config.seed, multi)
    optuna_pruner = make_pruner(config.pruner, config.epochs, multi, config.objectives)
    opening = heartbeat_kwargs(url, options.heartbeat)
    resuming = (run_dir / "run.json").is_file()
    if resuming and options.storage is None:
        _check_own_study(run_dir)
    store = open_storage(url, **opening) if options.storage is not None else None
    new_study = False
    if store is not None:  # a refused join leaves no folder behind
        new_study = _check_joined_study(store, config, url, resuming=resuming)
    run_dir = rundir.ensure_writable(run_dir)
    held.enter_context(search_lock(run_dir))
    notes[:] = _check_resume(run_dir, config)  # again, now that no other search can write here
    if store is None:
        store = open_storage(url, **opening)
        new_study = _check_joined_study(store, config, url, resuming=resuming)
    config = replace(
        config,
        storage=redact(url),
        command=redact(config.command or shlex.join(sys.argv)),  # pasteable: quoted
        versions=_versions(),
        extensions=extension_modules(),
        extension_digests=extensions.digests(extension_modules()),
        extras={**config.extras, **kind.record_extras(run_dir)},
    )
    in_main = extensions.main_warning()  # its run would need code no process can load
    if in_main and not options.progress:  # a notebook's nas.search says nothing otherwise
        warnings.warn(in_main, UserWarning, stacklevel=4)  # nas.search(...)'s caller
    notes += ([in_main] if in_main else []) + _unused_augment(config, kind, td.modality)
    notes += _rare_class(config, td)
    notes += _replaced_tokens(config, td)
    no_workers = workers_cannot_start(config.jobs)
    notes += [no_workers] if no_workers else []
    config.write(run_dir)
    if options.progress:  # said before the search, while the user can still stop and mend it
        for note in getattr(td, "notes", []):
            say(f"note: {note}")
        for warning in notes:
            say(f"warning: {warning}")
        if config.jobs > 1 and not no_workers:  # the README says so in its --seed row only
            say(f"note: with --jobs {config.jobs} the processes take trials as they free up, so "
                 "the same command gives another trial history each time; one process (--jobs "
                 "1) and --seed repeat a search exactly.")  # fmt: skip
    state = kind.prepare(td, settings, config.extras, leader=True)

    configure_threads(options.threads, workers=config.jobs)
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    def create(load_if_exists: bool) -> optuna.Study:
        return optuna.create_study(storage=store, study_name=config.study,
                                   load_if_exists=load_if_exists,
                                   directions=list(config.directions), sampler=optuna_sampler,
                                   pruner=optuna_pruner)  # fmt: skip

    try:
        # a study found new is created as new: the storage's unique name then tells two
        # searches that found it new at the same moment apart (they had mixed their trials)
        st = create(load_if_exists=not new_study)
    except optuna.exceptions.DuplicatedStudyError:
        _await_record(store, config, url)  # the other search's settings, then as any join
        st = create(load_if_exists=True)
    # a resumed study: a sampler seeded as before would propose the first session's trials again
    st.sampler = make_sampler(config.sampler, session_seed(config.seed, 0, st), multi)
    names = list(config.objectives)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        st.set_metric_names(names)
    orphans = _session_orphans(st, store, url, options.heartbeat, config.n_trials)
    st.set_user_attr(SESSION_ATTR, orphans)
    # what the leaderboard, the live view and the report multiply a trial's value by to show it
    # in the test metrics' units (a regression's standardized errors -> the target's units)
    st.set_user_attr(SCALE_ATTR, kind.metric_scale(td, settings.metric))
    # what `nas worker` processes read to join the study: this session's settings (the same
    # search, checked above, with its new --trials or --timeout)
    st.set_user_attr(RUN_ATTR, config.to_dict())
    objective = kind.objective(td, settings, state)
    requeue_interrupted(st)  # what a Ctrl-C stopped runs again, in the place it held
    if config.warm_start and not st.get_trials(deepcopy=False):
        points = starting_points(config.space, SpaceContext.of(td))
        for params, fitted in fit_starts(points, objective):  # shrunk to the budget if need be
            attrs = {"warm_start": True, **({"fitted_to_budget": fitted} if fitted else {})}
            st.enqueue_trial(params, user_attrs=attrs)
    n_trials, timeout = config.n_trials, config.timeout
    if timeout is not None:
        objective.deadline = Deadline.for_data(
            timeout, td, top=config.top, start=started, factor=kind.retrain_factor
        )
    # what a `nas worker` started by hand follows (None: this session has no --timeout)
    st.set_user_attr(DEADLINE_ATTR, None if timeout is None else objective.deadline.end)
    if timeout is not None and options.progress and objective.deadline.left() <= 0:
        # said before the search, not only after it (/tmp/oD4 F14: --timeout 1 ran 15 s)
        spent = timeout - objective.deadline.left()
        say(f"warning: --timeout {timeout:g} s has passed already: starting and loading the "
            f"data took {spent:.1f} s. One trial and the winner's retrain still run, so the "
            "wait will be longer than asked; give a longer --timeout.")  # fmt: skip
    left = None if timeout is None else max(1.0, objective.deadline.left())  # same end
    quiet = not options.progress and QUIET_ENV not in os.environ  # workers inherit it
    if quiet:
        os.environ[QUIET_ENV] = "1"
    try:
        workers = [] if no_workers else start_workers(
            url, config.study, config.jobs - 1, data=td, n_trials=n_trials, timeout=left,
            heartbeat=options.heartbeat, store=store)  # fmt: skip
    finally:
        if quiet:
            os.environ.pop(QUIET_ENV, None)
    # a database lost mid-search: one line, not Optuna's tracebacks
    with storage_kept(url):
        interrupted = False
        try:
            _optimize(st, objective, settings, run_dir, n_trials, timeout, options.progress)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            stop_workers(workers, interrupt=interrupted)  # retrain once, after every worker is done
            write_leaderboard(st, names, run_dir)
            checkpoint(url)  # study.db alone holds every trial, even after an interrupt
        grace = heartbeat_kwargs(url, options.heartbeat).get("grace_period")
        said_by = say if options.progress else None
        while True:
            _wait_for_other_machines(st, grace=grace, to_total=n_trials is not None, say=said_by)
            before = None if n_trials is None else counted_trials(st)
            if before is None or before >= n_trials:
                break
            # short of the total: a dead worker's trial was failed and re-queued (during the wait,
            # or during this session's trials, whose count was fixed as they started): run it here
            _optimize(st, objective, settings, run_dir, n_trials, timeout, options.progress)
            if counted_trials(st) <= before:
                break  # nothing more could run (the deadline)
        notes += queued_retries(st)  # a dead worker's retry the total left unrun
        result = SearchResult(run_dir, st, write_leaderboard(st, names, run_dir), data=td,
                              config=config, warnings=notes,
                              said=len(notes) if options.progress else 0)  # fmt: skip
        if options.finalize:
            if options.progress:  # it had been silent here for as long as the search (/tmp/oD4 F3)
                which = "winner" if config.top <= 1 else f"{config.top} kept models"
                say(f"retraining the {which} on train + validation, then testing once ...")
            finalize_run(result, st, td, settings, config.top, kind, state)
            result.warnings += _overran(timeout, time.time() - started)
            from nas.exporting import export_notes  # a resumed search that changed the winner:
            # its earlier exports said at the end, not only by a later `nas show` (/tmp/oE4 N8)

            result.warnings += [line for usable, line in export_notes(run_dir) if not usable]
            explain_and_report(result, kind, options)
        checkpoint(url)
        return result


def _overran(timeout: float | None, took: float) -> list[str]:
    """A warning when the search and its retrain ended well past ``timeout`` (10 % and a
    second): one trial and the winner's retrain always run, so a timeout shorter than they take
    is overrun, and the user should know the wait they asked for was not the wait they got."""
    if timeout is None or took <= 1.1 * timeout + 1.0:
        return []
    return [f"the search and the winner's retrain took {took:.1f} s, over the timeout of "
            f"{timeout:g} s: one trial and the retrain always run; give a longer timeout for "
            "the wait to be the one asked for."]  # fmt: skip


def _session_orphans(
    st: optuna.Study,
    store: optuna.storages.BaseStorage,
    url: str,
    heartbeat: int | None,
    n_trials: int | None,
) -> list[int]:
    """The RUNNING trials this session does not count (``SESSION_ATTR``). Trials an earlier,
    stopped session left RUNNING never finish without heartbeats: not counted. With heartbeats
    and a trial total they count, like a live worker's: silent for the grace period (a killed
    search re-run at once) they are failed, and their retry takes their place within the
    total, which the search waits for before it retrains. Each gets a heartbeat now: a trial
    killed before its first one has none, and Optuna never fails a trial without one (the
    re-run waited 90 s for it, then ended one short); a live worker's next beat follows."""
    running = st.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if n_trials is None or not heartbeat_kwargs(url, heartbeat):
        return [t.number for t in running]
    study_id = store.get_study_id_from_name(st.study_name)
    for t in running:
        trial_id = store.get_trial_id_from_study_id_trial_number(study_id, t.number)
        store.record_heartbeat(trial_id)  # type: ignore[attr-defined]
    return []


# a class under this share of the training rows, and under a third of the most frequent one's
# (the report's imbalance alert's ratio), makes accuracy misleading
RARE_CLASS = 0.1


def _rare_class(config: SearchConfig, td: Any) -> list[str]:
    """A warning before an accuracy search on classes of very unequal sizes: saying the most
    frequent class for every row scores its share (0.97 of a 97:3 file), so the trials tie near
    it and the search chooses nothing (an outsider's 8 trials all scored 0.9767, each saying
    "no" to every churner)."""
    if config.metric != "accuracy" or getattr(td, "task", None) != "classification":
        return []
    import numpy as np

    from nas.data.transform import label_name

    y = np.asarray(td.train.y).reshape(-1)
    names = list(getattr(td, "class_names", None) or [])
    if len(y) == 0 or len(names) < 2:
        return []
    counts = np.bincount(y.astype(np.int64), minlength=len(names))
    rare, common = int(np.argmin(counts)), int(np.argmax(counts))
    if counts[rare] >= RARE_CLASS * len(y) or 3 * counts[rare] > counts[common]:
        return []  # (ten classes of 10 % each: digits' 9.7 % is no rare class)
    share = counts[common] / len(y)
    said = (
        f"accuracy rewards saying the most frequent class for every row, so trials may tie "
        f"near {share:.2f} and choose nothing"
        if share >= 0.5  # fmt: skip
        else f"accuracy counts a class by its rows, so a model may miss every row of "
        f"{label_name(names[rare])!r} at a cost of {counts[rare] / len(y):.3f} of "
        f"accuracy"
    )  # (40 classes, the largest 3.7 %: no tie near 0.04, /tmp/oB4 F10)
    return [
        f"class {label_name(names[rare])!r} is {counts[rare] / len(y):.1%} of the training rows "
        f"(the most frequent, {label_name(names[common])!r}, {share:.1%}): {said}; --metric "
        "balanced_accuracy (or f1) counts each class alike."
    ]


def _unused_augment(config: SearchConfig, kind: Any, modality: str) -> list[str]:
    """A note when the space asks for ``train.augment`` where it cannot apply: shifts move the
    images of a kind that trains ArchSpecs; other inputs, and other kinds, train as they are."""
    dim = config.space.config.get("train.augment")
    if dim is None or dim == Fixed("none"):
        return []
    if modality == "image" and kind.uses_augment:
        return []
    what = f"{modality} inputs" if kind.uses_augment else f"a {kind.name} search"
    return [
        f"the space asks for train.augment, which moves images; with {what} every trial "
        "trains on the inputs as they are (drop augment from the space file)."
    ]


def _replaced_tokens(config: SearchConfig, td: Any) -> list[str]:
    """A note for transformer windows and patches the data is too small for: the space
    (search_spaces/spaces/transformer.py) gives a window over half the steps one token per
    step, and a patch over an image's side one token per row, which a trial takes silently."""
    if config.space.name not in ("transformer", "auto"):
        return []
    shape = tuple(td.input_shape)
    if td.modality == "sequence" and len(shape) == 2:
        key, limit = "transformer.window", shape[0] // 2
        what = f"half of the {shape[0]} steps ({limit})"
        instead = "one token per step (window 1)"
    elif td.modality == "image" and len(shape) == 3:
        key, limit = "transformer.patch", min(shape[1:])
        what = f"the {shape[1]}x{shape[2]} image's side ({limit})"
        instead = "one token per image row (patch 0)"
    else:
        return []
    dim = config.space.config.get(key)
    if isinstance(dim, Fixed):
        values = [dim.value]
    elif isinstance(dim, Choice):
        values = list(dim.values)
    else:
        values = [dim.high] if isinstance(dim, IntRange) else []
    over = sorted({int(v) for v in values if isinstance(v, int | float) and v > limit})
    if not over:
        return []
    return [f"{key} {', '.join(map(str, over))} is more than {what}: a trial that takes it "
            f"uses {instead}; list values up to {limit} in the space file."]  # fmt: skip


def _check_own_study(run_dir: Path) -> None:
    """A StorageError when a run directory whose trials ran has no study.db and no --storage
    is given: the search would start a fresh study there (a run copied without its study.db,
    or one whose study lives in another storage), and lose the record of those trials."""
    db = run_dir / "study.db"
    recorded = rundir.trials_recorded(run_dir)
    if db.exists() or recorded is None:
        return
    earlier = SearchConfig.read(run_dir, warn=False).storage
    named = (
        f" (run.json names {earlier})" if earlier and earlier != storage_url(None, run_dir) else ""
    )
    raise StorageError(
        f"{db} does not exist, but {run_dir / 'run.json'} records a search whose trials ran "
        f"({recorded}); searching there would start afresh and lose the record of those "
        f"trials. Pass --storage with the study's storage{named}, copy its study.db there, "
        "or pass --out a new folder to search afresh."
    )


def _check_resume(run_dir: Path, config: SearchConfig) -> list[str]:
    """Refuse to mix two different searches in one run directory; the warnings of a resume
    that could not compare everything (a record older than data fingerprints)."""
    path = run_dir / "run.json"
    if not path.is_file():
        return []
    earlier = SearchConfig.read(run_dir, warn=False)
    what = earlier.resume_conflict(config)
    if what and what.startswith("other data"):
        raise NasError(
            f"{path.parent} holds a search on {what}; its trials were scored on the old data "
            "and cannot be mixed with new ones. Restore the old data to resume, or pass --out "
            "another folder for a new search."
        )
    if what:
        raise NasError(
            f"{path.parent} holds a search with {what}; resume it with the same settings, "
            "or pass another --out / --study."
        )
    # an extension edited in place had run on, mixing trials of two versions (/tmp/oG5 F4)
    other_code = extensions.changed_refusal(str(path.parent), earlier.extension_digests)
    if other_code:
        raise NasError(other_code)
    if earlier.data_fingerprint is None:
        return [
            f"{path} was written before nas recorded a fingerprint of the data, so the data of "
            "its earlier trials could not be compared with this data; recorded it from now on."
        ]
    return []


def _check_joined_study(
    store: optuna.storages.BaseStorage, config: SearchConfig, url: str, *, resuming: bool
) -> bool:
    """Refuse to add trials to a study of the storage that another search started with other
    settings (a shared --storage, another --out): its trials were scored on other data, another
    split or another budget, and its winner would be picked from both. A study that nas did not
    create, already holding trials, is refused too, unless this run directory is resumed (a run
    from before nas recorded its settings in the study). True when the study does not exist
    yet."""
    if len(config.study) > MAX_STUDY_NAME and not url.startswith("sqlite"):
        raise NasError(  # the database's column: a traceback and half a run had followed
            f"--study is {len(config.study):,} characters long; a study name in "
            f"{redact(url).split(':', 1)[0]} storage takes at most {MAX_STUDY_NAME}: pass a "
            "shorter --study."
        )
    try:
        study_id = store.get_study_id_from_name(config.study)
    except KeyError:
        return True  # a new study
    where = f"study {config.study!r} in {redact(url)}"
    record = store.get_study_user_attrs(study_id).get(RUN_ATTR)
    if record is None:
        if resuming or not store.get_all_trials(study_id, deepcopy=False):
            return False
        raise NasError(
            f"{where} already holds trials that nas did not start (it records no nas settings); "
            "pass another --study name."
        )
    what = SearchConfig.from_dict(record, source=where).resume_conflict(config)
    if what:
        raise NasError(
            f"{where} holds a search with {what}; its trials cannot be mixed with this "
            "search's. Join it with the same settings (or `nas worker --storage URL --study "
            "NAME`, which reads them from the study), or pass another --study."
        )
    return False


#: Optuna's RDB storage keeps a study's name in a column of this many characters.
MAX_STUDY_NAME = 512

#: How long a search that found its study new, then lost the race to create it, waits for the
#: winner of that race to record its settings (it does so within a second of creating it).
RECORD_WAIT = 15.0


def _await_record(store: optuna.storages.BaseStorage, config: SearchConfig, url: str) -> None:
    """Another search created this study between our check and our creating it (/tmp/oF5 F1:
    two searches started together on one new study name had both passed the check, and each
    picked its winner from both's trials). Wait for that search's settings, then judge the
    join as any other: the same search may join, another is refused."""
    deadline = time.monotonic() + RECORD_WAIT
    study_id = store.get_study_id_from_name(config.study)
    while RUN_ATTR not in store.get_study_user_attrs(study_id):
        if time.monotonic() > deadline:
            raise NasError(
                f"study {config.study!r} in {redact(url)} was created by another process at "
                "the same moment as this search, which has not recorded its settings; pass "
                "another --study, or start this search again once that one runs."
            )
        time.sleep(0.2)
    _check_joined_study(store, config, url, resuming=False)


def _optimize(
    st: optuna.Study,
    objective: Any,
    settings: SearchSettings,
    run_dir: Path,
    n_trials: int | None,
    timeout: float | None,
    progress: bool,
) -> None:
    remaining = None
    if n_trials is not None:
        remaining = n_trials - counted_trials(st)
        if remaining <= 0:
            return
    names = list(settings.objectives)
    callbacks: list[Any] = [
        lambda s, t: write_leaderboard(s, names, run_dir),
        make_stop_on_impossible(settings),
    ]
    if n_trials is not None:  # the study's total, shared by every worker on this storage
        callbacks.append(StudyTotal(n_trials))
    deadline = getattr(objective, "deadline", None)
    if deadline is not None:
        callbacks.append(deadline.callback)
        if not deadline.room_for_a_trial(st) and st.best_trials:
            return  # (with no completed trial yet, one runs anyway: the deadline ends it)

    def run(cbs: list[Any]) -> None:
        st.optimize(objective, n_trials=remaining, timeout=timeout, callbacks=cbs, catch=CATCH)

    try:
        if progress:
            from nas.progress import SearchProgress

            with SearchProgress(st, settings.metric, remaining, timeout,
                                deadline=deadline) as view:  # fmt: skip
                objective.on_epoch = view.tick
                try:
                    run([*callbacks, view])
                finally:
                    objective.on_epoch = None
        else:
            run(callbacks)
    finally:
        write_leaderboard(st, names, run_dir)
    check_impossible_budget(st, settings)


def _wait_for_other_machines(
    st: optuna.Study, *, grace: float | None, to_total: bool, say: Any = None
) -> None:
    """Wait for the trials that ``nas worker`` processes of other machines are still running:
    they count toward the total, and the winners are picked once, from every trial. With
    heartbeats (``grace``: seconds without one before a trial counts as dead) a dead worker's
    trial is failed, so the wait ends; without them a trial of another machine cannot be told
    from an orphan, and is not waited for. A trial that never sent a heartbeat is waited for at
    most twice the longest trial so far (a minute at least). With a trial total (``to_total``)
    the trials that start meanwhile (the retry of a dead worker's trial) are waited for too.

    ``say`` tells the user what the search waits for. A dead worker's trial it fails is
    re-queued for a retry (Optuna's RetryFailedTrialCallback), which the caller runs when the
    study is short of its total.
    """
    if not grace:
        return
    pending = {t.number for t in session_running(st)}
    if pending and say is not None:
        say(f"waiting for trial(s) {', '.join(map(str, sorted(pending)))}, still running: "
            f"another machine's, or left by a stopped search (failed and retried after "
            f"{grace:.0f} s without a heartbeat).")  # fmt: skip
    done = st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    longest = max(((t.datetime_complete - t.datetime_start).total_seconds() for t in done
                   if t.datetime_complete and t.datetime_start), default=0.0)  # fmt: skip
    deadline = time.monotonic() + grace + max(ORPHAN_WAIT, 2 * longest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        while pending:
            # the cut-off is for trials that never sent a heartbeat: a live worker's trial
            # (its heartbeat fresh, else fail_stale_trials fails it) is waited for to its
            # end, however long (/tmp/oF5: the code had cut those off too)
            if time.monotonic() >= deadline and not pending & _beating(st):
                break
            optuna.storages.fail_stale_trials(st)
            time.sleep(1.0)
            running = {t.number for t in session_running(st)}
            pending = running if to_total else pending & running


#: The least time the search waits for a running trial that never sent a heartbeat.
ORPHAN_WAIT = 60.0


def _beating(st: optuna.Study) -> set[int]:
    """The numbers of the study's running trials that have sent a heartbeat (Optuna's RDB
    storage keeps one row per trial); empty where that cannot be read."""
    storage = getattr(st._storage, "_backend", st._storage)
    session_factory = getattr(storage, "scoped_session", None)
    if session_factory is None:
        return set()
    from optuna.storages._rdb import models

    with contextlib.closing(session_factory()) as session:
        rows = (session.query(models.TrialModel.number)
                .join(models.TrialHeartbeatModel,
                      models.TrialHeartbeatModel.trial_id == models.TrialModel.trial_id)
                .filter(models.TrialModel.study_id == st._study_id,
                        models.TrialModel.state == optuna.trial.TrialState.RUNNING)
                .all())  # fmt: skip
    return {int(number) for (number,) in rows}


def write_leaderboard(st: optuna.Study, names: list[str], run_dir: Path) -> pd.DataFrame:
    """Write ``leaderboard.csv`` from the study; the same rows as a DataFrame."""
    rows = leaderboard_rows(st, names)
    extra = [f"objective_{n}" for n in names[1:]]
    extra += [c for c in ("faithfulness", "feasible") if any(c in r for r in rows)]
    rundir.write_leaderboard(run_dir / "leaderboard.csv", rows, extra)
    return pd.DataFrame(rows)


def _versions() -> dict[str, str]:
    import platform

    import torch

    from nas._version import __version__

    return {
        "nas": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "optuna": optuna.__version__,
    }


def reload_study(run_dir: Path, storage: str | None) -> optuna.Study:
    """The run's study, to read: from ``storage`` when given, else from the run's own
    ``study.db`` (read-only) — never from the storage its run.json names, since a run
    directory may come from anyone (a search in PostgreSQL or a journal file needs
    ``storage``)."""
    from nas.study import read_study

    study, recorded = SearchConfig.study_location(run_dir)
    return read_study(Path(run_dir), study, storage, recorded)


__all__ = ["RunOptions", "reload_study", "run_search", "write_leaderboard"]
