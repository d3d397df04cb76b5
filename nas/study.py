"""Optuna plumbing: storage URLs, samplers, pruners and objectives — Optuna's own classes,
chosen by name, so that the study opens with Optuna's CLI and optuna-dashboard."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import optuna

from nas.errors import NasError, StorageError
from nas.metrics import METRICS, metric_direction

SAMPLERS = ("tpe", "random", "nsga2", "gp")
PRUNERS = ("hyperband", "median", "none")
COST_OBJECTIVES = {"params": "params", "flops": "flops", "latency": "latency_ms",
                   "memory": "memory_mb"}  # fmt: skip
# Objectives scored after training, by the trial's model (nas.faithfulness), maximised.
QUALITY_OBJECTIVES = ("faithfulness",)
MIN_FAITHFULNESS = "min_faithfulness"  # the constraint's name (Trial.set_constraint)
_RDB = re.compile(r"^(sqlite|postgresql|postgres|mysql)(\+\w+)?://")
_PG_NO_DRIVER = re.compile(r"^postgres(?:ql)?://")


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for logs and run.json): the one in its
    user part (``user:pass@host``, up to the LAST ``@`` before the host: an unencoded ``@`` in
    the password had left its end showing) and one given as a query parameter
    (``?password=...``, as libpq and SQLAlchemy take it: it had been stored and printed in
    clear; /tmp/oF5 F3)."""
    text = str(url)
    scheme = text.find("://")
    if scheme >= 0:
        start = scheme + 3
        end = len(text)
        for stop in "/?#":  # the authority ends at the path, the query or the fragment
            at = text.find(stop, start)
            if at >= 0:
                end = min(end, at)
        authority = text[start:end]
        user, sep, host = authority.rpartition("@")
        if sep and ":" in user:
            name = user.split(":", 1)[0]
            text = f"{text[:start]}{name}:***@{host}{text[end:]}"
    return _SECRET_PARAM.sub(r"\1***", text)


#: Query parameters that carry a password (libpq's and the drivers' names).
_SECRET_PARAM = re.compile(r"([?&](?:password|passwd|pwd|sslpassword|secret)=)[^&#\s]*", re.I)


def _secrets(url: str) -> list[str]:
    """The passwords in ``url`` (its user part's, its query's), and the pieces of each an
    unencoded ``@`` or ``&`` splits it into: a driver that misreads such a URL repeats a piece
    in its error ("could not translate host name "cret9@127.0.0.1""; /tmp/oF6 F3)."""
    found: list[str] = []
    scheme = url.find("://")
    if scheme >= 0:
        rest = url[scheme + 3 :]
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        user = authority.rpartition("@")[0]
        if ":" in user:
            found.append(user.split(":", 1)[1])
    for match in re.finditer(r"[?&](?:password|passwd|pwd|sslpassword|secret)=([^#\s]*)", url,
                             re.I):  # fmt: skip
        found.append(match.group(1))  # up to the end: an unencoded & cuts it in the driver
    pieces = {p for secret in found for p in [secret, *re.split(r"[@&]", secret)] if len(p) >= 3}
    return sorted(pieces, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's error about ``url``) with every password of ``url``, or piece of
    one, as ``***``."""
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def _raw_at_hint(url: str) -> str:
    """Advice for a password written with an unencoded ``@`` (the URL then names a wrong host),
    or an empty string."""
    return (" The password seems to hold an '@' written as it is: write it as %40 "
            "(urllib.parse.quote), or keep it in PGPASSWORD."
            if any("@" in s for s in _secrets(url)) else "")  # fmt: skip


def storage_url(storage: str | None, run_dir: Path) -> str:
    """The storage URL for a run: ``--storage`` as given, or SQLite in the run directory."""
    if storage is None:
        return f"sqlite:///{(run_dir / 'study.db').resolve()}"
    journal = _journal_path(storage)
    if journal is not None:  # absolute, so that load_run works from any working directory
        return ("journal:" if storage.startswith("journal:") else "") + str(journal.resolve())
    return storage


def _journal_path(url: str) -> Path | None:
    """The file of a journal storage (``journal:PATH`` or ``PATH.log`` / ``.journal``), or None."""
    if url.startswith("journal:"):
        return Path(url[len("journal:") :].removeprefix("//"))
    if not _RDB.match(url) and url.endswith((".log", ".journal")):
        return Path(url)
    return None


def open_storage(
    url: str,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = None,
) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``: an RDB URL (sqlite:///, postgresql://, mysql://) or a
    journal file (``journal:PATH`` or a path ending in ``.log`` / ``.journal``).

    With ``heartbeat_interval`` (RDB only) the trials of a dead worker are marked failed after
    ``grace_period`` seconds and retried up to ``max_retry`` times by Optuna's
    RetryFailedTrialCallback.
    """
    if not isinstance(url, str) or not url.strip():
        raise StorageError(
            "The --storage URL is empty; use sqlite:///PATH/study.db, "
            "postgresql://USER:PASS@HOST/DB or a journal file PATH.log."
        )
    path = _journal_path(url)
    if path is not None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as e:
            raise StorageError(
                f"Cannot open journal file {str(path)!r} ({e}); choose a writable path."
            ) from None
    if not _RDB.match(url):
        raise StorageError(
            f"Malformed --storage URL {redact(url)!r}; use sqlite:///PATH/study.db, "
            "postgresql://USER:PASS@HOST:PORT/DB, or a journal file PATH.log."
        )
    kwargs: dict = {}
    given, url = url, with_driver(url)
    if url.startswith("sqlite"):
        # Several processes may share one SQLite file: wait for the lock instead of failing.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    if heartbeat_interval:
        kwargs.update(heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        kwargs.update(_retry_callback(max_retry))
    try:
        with warnings.catch_warnings():
            # heartbeats are "experimental" in Optuna: not worth a warning on every run
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            rdb = QueueSafeSQLite if url.startswith("sqlite") else optuna.storages.RDBStorage
            storage = rdb(url, **kwargs)
    except ImportError as e:
        fix = (
            "run `pip install 'nas[postgres]'`"
            if url.startswith("postgres")
            else "install a MySQL driver (`pip install pymysql`) and name it: mysql+pymysql://…"
        )
        raise StorageError(
            f"The driver for {redact(given)!r} is not installed ({e}); {fix}."
        ) from None
    except Exception as e:  # sqlalchemy raises many kinds: bad host, auth, missing db
        first = scrub(str(e).splitlines()[0], given)
        db = Path(url.split("///", 1)[1].split("?")[0]) if url.startswith("sqlite:///") else None
        if db is not None and not _in_memory(url) and db.exists():  # there, but unreadable
            cause = ("it is a folder" if db.is_dir()
                     else re.sub(r"^\(\w+(\.\w+)*\) ", "", first.split(" [SQL:")[0]))  # fmt: skip
            raise StorageError(
                f"{db} is not a readable Optuna study ({cause}); restore it from a copy, or "
                "re-run the search into a new --out folder."
            ) from None
        raise StorageError(
            f"Cannot open storage {redact(given)!r}: {first}. "
            "Check the URL, that the server runs and the database exists." + _raw_at_hint(given)
        ) from None
    if url.startswith("sqlite") and not _in_memory(url):
        _fast_sqlite(storage.engine)
    return storage


class QueueSafeSQLite(optuna.storages.RDBStorage):
    """Optuna's RDBStorage for SQLite, whose taking of a queued (WAITING) trial is atomic.

    ``Study.ask`` takes a queued trial by reading its state and then writing RUNNING, relying on
    ``SELECT ... FOR UPDATE``, which SQLite does not have: two processes that asked together
    both read WAITING, both wrote RUNNING and both trained the same starting design; the
    second one's result was refused with "ValueError: Cannot tell a COMPLETE trial" (a worker's
    traceback), and each such double counted once while taking two processes' time, so the
    study ended past its --trials (/tmp/oD4 F7). Here the state changes in one conditional
    UPDATE (WAITING -> RUNNING): of processes racing for a trial, one takes it and the others
    go on to the next queued trial or a new one, as Optuna's queue means them to."""

    def set_trial_state_values(
        self, trial_id: int, state: optuna.trial.TrialState, values: Sequence[float] | None = None
    ) -> bool:
        if state != optuna.trial.TrialState.RUNNING or values is not None:
            return super().set_trial_state_values(trial_id, state, values)
        from datetime import datetime

        from optuna.storages._rdb.models import TrialModel

        session = self.scoped_session()
        try:
            taken = (
                session.query(TrialModel)
                .filter(TrialModel.trial_id == trial_id,
                        TrialModel.state == optuna.trial.TrialState.WAITING)
                .update({TrialModel.state: optuna.trial.TrialState.RUNNING},
                        synchronize_session=False)
            )  # fmt: skip
            if taken == 1:  # this transaction holds SQLite's write lock until the commit
                trial = session.get(TrialModel, trial_id)
                if trial is not None:
                    trial.datetime_start = datetime.now()
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return taken == 1


def with_driver(url: str) -> str:
    """A PostgreSQL URL that names no driver (``postgresql://`` or ``postgres://``) with the
    driver that is installed, psycopg2 (what ``nas[postgres]`` installs) else psycopg 3:
    SQLAlchemy's default is psycopg2 before 2.1 and psycopg 3 from 2.1, and ``postgres://`` is
    no dialect of its own. Any other URL as given."""
    if not _PG_NO_DRIVER.match(url):
        return url
    import importlib.util

    driver = next((d for d in ("psycopg2", "psycopg") if importlib.util.find_spec(d)), None)
    return _PG_NO_DRIVER.sub(f"postgresql+{driver}://", url, count=1) if driver else url


def read_study(
    run_dir: Path, study: str, storage: str | None, recorded: str | None = None
) -> optuna.Study:
    """A run's study, to read: from ``storage`` when given, else from the run's own
    ``study.db`` — never from the storage its run.json names (``recorded``, only named in the
    message when the run has no study.db): a run directory may come from anyone. SQLite files
    are opened read-only and a missing file is an error, so reading creates nothing."""
    if storage is None:
        db = Path(run_dir) / "study.db"
        if not db.exists():
            own = f"sqlite:///{db.resolve()}"
            where = (f" (its run.json names {redact(recorded)})"
                     if recorded and recorded != own else "")  # fmt: skip
            raise StorageError(
                f"{db} does not exist, so the run's trials cannot be read{where}; pass the "
                "study's storage with --storage URL (storage=<full URL> in Python)."
            )
        store, where = _read_only_sqlite(db), str(db)
    else:
        store, where = _reader(storage), redact(storage)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        return optuna.load_study(study_name=study, storage=store)
    except KeyError:
        raise StorageError(
            f"{where} holds no study named {study!r} (the study run.json names); pass the "
            "storage of this run with --storage."
        ) from None


def storage_file(url: str) -> Path | None:
    """The file a SQLite or journal URL names (None for a server or an in-memory database)."""
    journal = _journal_path(url)
    if journal is not None:
        return journal
    sqlite_file = _SQLITE_FILE.match(url)
    return Path(sqlite_file[2]) if sqlite_file and not _in_memory(url) else None


def _reader(url: str) -> optuna.storages.BaseStorage:
    """The storage at ``url``, to read: a SQLite or journal file must exist (then SQLite is
    opened read-only); a server's URL opens as given."""
    path = storage_file(url)
    if path is not None and not path.is_file():
        raise StorageError(
            f"{path} (from --storage {redact(url)}) does not exist; pass the storage the "
            "search wrote (its study.db or journal file)."
        )
    if path is not None and _journal_path(url) is None:
        return _read_only_sqlite(path)
    return open_storage(url)


def _read_only_sqlite(db: Path) -> optuna.storages.RDBStorage:
    """A SQLite study file opened read-only: ``immutable`` when no process writes it (no -wal
    file beside it, or an empty one: then SQLite creates no -wal / -shm either), else
    ``mode=ro``, which reads the trials still in the -wal file of a running or killed search."""
    import sqlite3
    from urllib.parse import quote

    wal = db.with_name(db.name + "-wal")  # empty once nas.study.checkpoint merged it
    mode = "mode=ro" if wal.exists() and wal.stat().st_size > 0 else "immutable=1"
    uri = f"file:{quote(str(db.resolve()))}?{mode}"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.storages.RDBStorage(
                "sqlite://", engine_kwargs={"creator": connect}, skip_table_creation=True
            )
    except Exception as e:  # sqlalchemy and Optuna raise many kinds on a damaged file
        cause = str(e.__cause__ or e).splitlines()[0].split(" [SQL:")[0]
        cause = re.sub(r"^\(\w+(\.\w+)*\) ", "", cause)  # "(sqlite3.DatabaseError) ..."
        raise StorageError(
            f"{db} is not a readable Optuna study ({cause}); restore it from a copy, or re-run "
            "the search into a new --out folder."
        ) from None


def _retry_callback(max_retry: int | None) -> dict[str, Any]:
    """The RDBStorage keyword that retries a dead worker's trial, by this Optuna's name for it:
    ``RetryFailedTrialCallback`` / ``failed_trial_callback`` are deprecated since Optuna 4.9 and
    print FutureWarnings on every run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry)
            return {"heartbeat_stale_trial_callback": retry}
        return {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry)}


@contextlib.contextmanager
def storage_kept(url: str) -> Iterator[None]:
    """Within it, a database that stops answering (a PostgreSQL server stopped or lost, a
    SQLite file locked past its timeout) is one StorageError naming the storage, instead of
    Optuna's chain of tracebacks (812 lines when a server stopped mid-search, ending in a
    message about "invalid data in the commit"); what it recorded before is kept in it."""
    try:
        yield
    except NasError:
        raise
    except Exception as e:  # noqa: BLE001 -- only a database failure is turned into words
        cause = database_failure(e)
        if cause is None:
            raise
        detail = str(getattr(cause, "orig", None) or cause).strip().splitlines()[0][:200]
        detail = scrub(detail, url)
        raise StorageError(
            f"The study's storage {redact(url)!r} stopped answering ({detail}); the trials it "
            "recorded are kept in it: run the same command again once it is reachable."
        ) from None


def database_failure(e: BaseException) -> BaseException | None:
    """The database connection error in ``e``'s chain (raised, or being handled when ``e``
    was: Optuna raises its own errors while recovering from one), if any."""
    from sqlalchemy import exc

    seen: set[int] = set()
    at: BaseException | None = e
    while at is not None and id(at) not in seen:
        seen.add(id(at))
        if isinstance(at, exc.OperationalError | exc.InterfaceError | exc.DisconnectionError):
            return at
        at = at.__cause__ or at.__context__
    return None


def release_connections(storage: Any) -> None:
    """Close the pooled database connections of an RDB ``storage`` (they reopen when next
    used). Called before workers are forked: a SQLite connection must not cross ``fork`` (its
    POSIX locks stay with the parent, so a child that closed or used it could see the
    write-ahead log as nobody's and remove it under a live writer; SQLite's own rule:
    https://www.sqlite.org/howtocorrupt.html, section 2.6)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def checkpoint(url: str) -> None:
    """Merge a SQLite study file's write-ahead log into the file (``wal_checkpoint(TRUNCATE)``),
    so that ``study.db`` alone holds every trial: a process that exits with its connections
    open leaves them in ``study.db-wal``, which a copy of ``study.db`` without it lacks. Does
    nothing for other storages; a busy or failing checkpoint is left to SQLite's own."""
    import contextlib
    import sqlite3

    file = _SQLITE_FILE.match(url)
    if not file or _in_memory(url):
        return
    db = Path(file[2])
    if not db.with_name(db.name + "-wal").exists():
        return
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        pass


_SQLITE_FILE = re.compile(r"^sqlite(\+\w+)?:///([^?]+)$")  # group 2: the file's path


def _in_memory(url: str) -> bool:
    return url.rstrip("/") == "sqlite:" or ":memory:" in url or "mode=memory" in url


def _fast_sqlite(engine: Any) -> None:
    """WAL journal + synchronous=NORMAL on every connection of a file-backed SQLite study.

    Optuna commits once per parameter and user attribute (about 40 times per trial); in
    SQLite's default rollback mode each commit waits for several fsyncs (~15 ms on an ordinary
    disk), which made bookkeeping cost more than training a small model. In WAL mode with
    synchronous=NORMAL a commit survives a killed process (only a power cut may lose the last
    ones), readers never block the writer, and the file stays a plain SQLite database that
    Optuna's CLI and optuna-dashboard open as before.
    """

    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        except Exception:  # a file system without shared memory: keep SQLite's defaults
            pass
        finally:
            cursor.close()

    engine.dispose()  # connections opened while Optuna set up the schema lack the pragmas


def parse_objectives(
    objectives: str | Sequence[str] | None, metric: str
) -> tuple[list[str], list[str]]:
    """Objective names and directions; the first is always the task metric.

    ``"accuracy,params"`` -> (["accuracy", "params"], ["maximize", "minimize"]).
    """
    if objectives is None:
        names = [metric]
    else:
        names = [
            o.strip()
            for o in (objectives.split(",") if isinstance(objectives, str) else objectives)
            if o.strip()
        ]
    if not names:
        raise NasError("--objectives is empty; give e.g. 'accuracy' or 'accuracy,params'.")
    if names[0] not in METRICS and any(n in METRICS for n in names[1:]):
        metric_given = next(n for n in names if n in METRICS)
        rest = ",".join(n for n in names if n != metric_given)
        raise NasError(
            f"The first objective must be the metric, got {names[0]!r} before "
            f"{metric_given!r}; give --objectives {metric_given},{rest}."
        )
    if names[0] in COST_OBJECTIVES or names[0] in QUALITY_OBJECTIVES:
        names = [metric, *names]
    if names[0] not in METRICS:
        raise NasError(
            f"The first objective must be a metric ({', '.join(METRICS)}), got "
            f"{names[0]!r}; e.g. --objectives {metric},params."
        )
    for n in names[1:]:
        if n not in COST_OBJECTIVES and n not in QUALITY_OBJECTIVES:
            raise NasError(
                f"Unknown objective {n!r}; after the metric choose costs from "
                f"{list(COST_OBJECTIVES)} or {list(QUALITY_OBJECTIVES)}."
            )
    if len(set(names)) != len(names):
        raise NasError(f"--objectives repeats a name: {names}.")
    return names, [metric_direction(names[0])] + [
        "maximize" if n in QUALITY_OBJECTIVES else "minimize" for n in names[1:]
    ]


def session_seed(seed: int, index: int, study: optuna.Study) -> int:
    """The sampler seed of worker ``index`` (0: the search process) joining ``study``: the
    search's seed for a new study, as before; offset by the trials the study already holds
    (queued ones aside) when it resumes. A resumed search whose sampler had the first
    session's seed proposed that session's architectures again: trials 5-8 of a re-run to 10
    repeated trials 1-4. Still one seed per history, so a resumed search is reproducible."""
    held = sum(t.state != optuna.trial.TrialState.WAITING
               for t in study.get_trials(deepcopy=False))  # fmt: skip
    return seed + 7919 * index + 104729 * held


def make_sampler(name: str, seed: int, multi_objective: bool) -> optuna.samplers.BaseSampler:
    """An Optuna sampler by name, seeded. A constrained search (``--min-faithfulness``) needs
    nothing more: each trial sets its constraint with ``Trial.set_constraint``, which TPE,
    NSGA-II and GP read (Optuna 5), and ``Study.best_trials`` keeps to the feasible trials."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            # group=True splits the define-by-run space by which params co-occur (per family).
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed)
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed)
    raise NasError(f"Unknown sampler {name!r}; choose one of {list(SAMPLERS)}.")


def make_pruner(
    name: str, epochs: int, multi_objective: bool, objectives: Sequence[str] = ()
) -> optuna.pruners.BasePruner:
    """An Optuna pruner by name. A multi-objective study (``objectives``: the metric, then its
    costs) gets nas's own Pareto halving (:mod:`nas.pareto_pruner`) for any pruner but "none":
    Optuna's pruners judge one objective only."""
    if name not in PRUNERS:
        raise NasError(f"Unknown pruner {name!r}; choose one of {list(PRUNERS)}.")
    if name == "none" or epochs < 2:
        return optuna.pruners.NopPruner()
    if multi_objective:
        from nas.pareto_pruner import ParetoHalvingPruner

        if any(o in QUALITY_OBJECTIVES for o in objectives[1:]):
            # faithfulness is scored after training: no rung can compare it
            return optuna.pruners.NopPruner()
        costs = [COST_OBJECTIVES[o] for o in objectives[1:]]
        if not costs:  # a multi-objective study nas did not set up: nothing known to compare
            return optuna.pruners.NopPruner()
        return ParetoHalvingPruner(
            min_resource=max(1, epochs // 6), reduction_factor=3, cost_attrs=costs,
            max_resource=epochs,
        )  # fmt: skip
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(1, epochs // 4))
    # The first rung after a sixth of the epochs, not after the first: a one-cycle schedule is
    # still warming up then, and epoch-1 scores would cut good slow starters (issue 11).
    return optuna.pruners.HyperbandPruner(
        min_resource=max(1, epochs // 6), max_resource=epochs, reduction_factor=3
    )
