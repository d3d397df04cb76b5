"""Scale out and survive faults: several worker processes on one study (a real PostgreSQL server
and SQLite), a worker killed mid-trial and restarted, Ctrl-C, and the per-trial time limit.

Every search here runs the real ``nas`` command in subprocesses with one torch thread each, on
trials made slow enough (a GRU on MNIST-1D, batches of 8) to be caught in the middle.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import importlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from typer.testing import Result

import nas
from nas.train import Callback

search_mod = importlib.import_module("nas.kinds.classifier")  # the classifier kind's trials

pytestmark = pytest.mark.usefixtures("restore_global_state")

ROOT = Path(__file__).resolve().parents[2]
INSTALL_POSTGRES = ROOT / "scripts" / "install-postgres.sh"
TrialState = optuna.trial.TrialState
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
HOST = socket.gethostname()
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

# A GRU over MNIST-1D's 40 steps in batches of 8: recurrent steps run one after another, so an
# epoch takes seconds even with one thread; the tests need a trial they can interrupt mid-way.
SLOW_SPACE = """\
space = "rnn"
[rnn]
cell = "gru"
hidden = { choices = [24, 32] }
layers = 1
bidirectional = false
reduce = "last"
[head]
hidden = 0
[train]
batch_size = 8
"""
EPOCHS = 4


def nas_command(*args: str | Path) -> list[str]:
    """``nas ARGS`` as a subprocess command line (the venv's console script)."""
    script = Path(sys.executable).with_name("nas")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "nas.cli"]
    return [*head, *(str(a) for a in args)]


def search_args(space: Path, out: Path, study: str, trials: int, *extra: str) -> list[str]:
    """A slow-trial ``nas search`` on mnist1d: every trial trains all EPOCHS (no pruner)."""
    return nas_command(
        "search", "--dataset", "mnist1d", "--space", space, "--trials", str(trials),
        "--epochs", str(EPOCHS), "--patience", str(EPOCHS), "--pruner", "none",
        "--no-warm-start", "--study", study, "--out", out, "--threads", "1",
        "--no-report", "--no-explain", *extra,
    )  # fmt: skip


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Procs:
    """The subprocesses a test started (stdout to NAME.out, stderr to NAME.err in their folder);
    those still alive at the end of the test are killed."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started: list[tuple[subprocess.Popen[str], str]] = []

    def start(self, cmd: list[str], name: str) -> subprocess.Popen[str]:
        with (
            open(self.folder / f"{name}.out", "w") as out,
            open(self.folder / f"{name}.err", "w") as err,
        ):
            # a session of its own: the workers it spawns can be ended with it. SIGINT back to
            # its default first: a test run started in the background (`make test &`) ignores
            # SIGINT, children inherit that, and Python then never raises KeyboardInterrupt.
            p = subprocess.Popen(cmd, cwd=self.folder, stdout=out, stderr=err, env=ENV,
                                 text=True, start_new_session=True,
                                 preexec_fn=_default_sigint)  # fmt: skip
        self.started.append((p, name))
        return p

    def err(self, p: subprocess.Popen[str]) -> str:
        """What ``p`` wrote on stderr."""
        return next((self.folder / f"{n}.err").read_text() for q, n in self.started if q is p)

    def logs(self) -> str:
        """The tail of every process's output, for assertion messages."""
        return "\n".join(
            f"--- {n}.{kind}\n{(self.folder / f'{n}.{kind}').read_text()[-2000:]}"
            for _, n in self.started
            for kind in ("out", "err")
        )

    def wait(self, p: subprocess.Popen[str], timeout: float) -> int:
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{p.args[1]} still running after {timeout} s\n{self.logs()}")

    def kill_all(self) -> None:
        """SIGKILL each process this test started, with the workers it spawned (its group)."""
        for p, _ in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """Starts subprocesses with their output in tmp_path/NAME.out and .err; leaves none
    behind."""
    started = Procs(tmp_path)
    yield started
    started.kill_all()


class StudyWatch:
    """Reads a study another process writes, for polling and for the final checks."""

    def __init__(self, url: str, name: str):
        self.storage = optuna.storages.RDBStorage(url)
        self.name = name

    def trials(self) -> list[optuna.trial.FrozenTrial]:
        try:
            study = optuna.load_study(study_name=self.name, storage=self.storage)
        except KeyError:  # not created yet
            return []
        return study.get_trials(deepcopy=False)

    def has_settings(self) -> bool:
        try:
            study = optuna.load_study(study_name=self.name, storage=self.storage)
        except KeyError:
            return False
        return "nas_run" in study.user_attrs

    def close(self) -> None:
        self.storage.engine.dispose()


def wait_until(
    condition: Callable[[], Any], procs: Procs, alive: list[subprocess.Popen[str]],
    timeout: float, what: str,
) -> Any:  # fmt: skip
    """Poll ``condition`` until it returns something truthy; fail if a process of ``alive``
    ended first or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        ended = [p.args[1] for p in alive if p.poll() is not None]
        assert not ended, f"{ended} ended before {what}\n{procs.logs()}"
        assert time.monotonic() < deadline, f"no {what} in {timeout} s\n{procs.logs()}"
        time.sleep(0.05)


def mid_trial_of(watch: StudyWatch, pid: int | None = None) -> Callable[[], Any]:
    """A condition: a trial (of process ``pid``) is RUNNING with 1 to EPOCHS-2 epochs behind it
    (so at least one epoch is still ahead), and at least one other trial completed."""

    def condition() -> optuna.trial.FrozenTrial | None:
        trials = watch.trials()
        if not any(t.state == TrialState.COMPLETE for t in trials):
            return None
        for t in trials:
            mine = pid is None or t.user_attrs.get("worker") == f"{HOST}:{pid}"
            if (
                mine
                and t.state == TrialState.RUNNING
                and 1 <= len(t.intermediate_values) < EPOCHS - 1
            ):
                return t
        return None

    return condition


def assert_quiet(procs: Procs) -> None:
    """No process printed a traceback or a warning (Optuna's deprecations included)."""
    for p, name in procs.started:
        text = procs.err(p)
        assert "Traceback" not in text and "Warning" not in text, f"{name}: {text}"


def leaderboard(run_dir: Path) -> dict[int, dict[str, str]]:
    with open(run_dir / "leaderboard.csv", newline="") as f:
        return {int(r["number"]): r for r in csv.DictReader(f)}


def assert_search_finished(
    run_dir: Path, trials: list[optuna.trial.FrozenTrial], n: int, skip: int = 0
) -> None:
    """n trials, all finished (numbered 0..n-1, or 0..n+skip-1 when ``skip`` interrupted ones
    were left out of ``trials``); the winner and the summary written."""
    assert len(trials) == n and trials[-1].number == n + skip - 1
    assert Counter(t.state in FINISHED for t in trials) == {True: n}, [t.state for t in trials]
    for name in ("best/spec.json", "best/model.pt", "best/metrics.json", "summary.json"):
        assert (run_dir / name).is_file(), name
    board = leaderboard(run_dir)  # written after every worker's last trial ended
    assert sorted(board) == list(range(n + skip))
    assert "running" not in {r["state"] for r in board.values()}


# ---------------------------------------------------------------- a real PostgreSQL server


def _pg_bindir() -> Path | None:
    """Where initdb / pg_ctl live: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "initdb").is_file():
        return Path(found).resolve().parent
    dirs = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin") if Path(d, "initdb").is_file()]

    def version(d: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in d.parent.name.split(".") if x.isdigit())

    return max(dirs, key=version, default=None)


def _has_psycopg2() -> bool:
    importlib.invalidate_caches()
    return importlib.util.find_spec("psycopg2") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1 (initdb in a temporary folder), with a database
    and a password user: ``postgresql+psycopg2://nas:…@127.0.0.1:PORT/nas``. Installs the server
    and the driver with scripts/install-postgres.sh when missing; skips only if that cannot."""
    bindir = _pg_bindir()
    if bindir is None or not _has_psycopg2():
        done = subprocess.run(["bash", str(INSTALL_POSTGRES)], capture_output=True, text=True,
                              timeout=900, env={**os.environ, "VENV": sys.prefix})  # fmt: skip
        bindir = _pg_bindir()
        if bindir is None or not _has_psycopg2():
            note = (done.stderr or done.stdout).strip().splitlines()[-3:]
            pytest.skip(f"PostgreSQL or psycopg2 could not be installed: {' '.join(note)}")
    # Not under pytest's tmp folder: that is private to this user, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="nas-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root, and there is no 'postgres' OS user to run the server")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]

    def pg(tool: str, *args: str | Path, check: bool = True) -> None:
        exe = bindir / tool if (bindir / tool).is_file() else Path(shutil.which(tool) or tool)
        done = subprocess.run([*as_postgres, str(exe), *map(str, args)], cwd=root, text=True,
                              capture_output=True, timeout=120)  # fmt: skip
        if check and done.returncode != 0:
            log = root / "server.log"
            raise RuntimeError(f"{tool} failed: {done.stderr or done.stdout}"
                               + (log.read_text()[-2000:] if log.is_file() else ""))  # fmt: skip

    data, port, password = root / "data", _free_port(), "s3cret-pw"
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"  # a test server
    try:
        pg("initdb", "-D", data, "-U", "postgres", "-E", "UTF8", "--auth-local=trust",
           "--auth-host=scram-sha-256", "--no-sync")  # fmt: skip
        pg("pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-t", "60", "-o", options,
           "start")  # fmt: skip
        pg("psql", "-h", root, "-p", str(port), "-U", "postgres", "-d", "postgres",
           "-v", "ON_ERROR_STOP=1", "-c", f"CREATE USER nas WITH PASSWORD '{password}'",
           "-c", "CREATE DATABASE nas OWNER nas")  # fmt: skip
        yield f"postgresql+psycopg2://nas:{password}@127.0.0.1:{port}/nas"
    finally:
        if (data / "postmaster.pid").exists():
            pg("pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_postgresql_url_without_a_driver_opens_with_the_installed_one(
    postgres_url: str, scheme: str
) -> None:
    # the form --storage's help and nas's messages show; SQLAlchemy 2.1 would pick psycopg 3
    from nas.study import open_storage, with_driver

    plain = postgres_url.replace("postgresql+psycopg2://", f"{scheme}://", 1)
    assert with_driver(plain) == postgres_url
    storage = open_storage(plain)
    try:
        study = optuna.create_study(study_name=f"plain-{scheme}", storage=storage)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
        assert len(optuna.load_study(study_name=f"plain-{scheme}", storage=storage).trials) == 1
    finally:
        storage.engine.dispose()


def test_with_driver_leaves_other_urls_as_given() -> None:
    from nas.study import with_driver

    for url in ("postgresql+psycopg://u@h/db", "sqlite:///x.db", "mysql://u@h/db", "a.log"):
        assert with_driver(url) == url


# ---------------------------------------------------------------- many workers, one study


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_two_processes_share_one_postgresql_study(
    postgres_url: str, tmp_path: Path, make_space: Callable[..., Path], procs: Procs
) -> None:
    n, out, name = 6, tmp_path / "run", "pg-two"
    leader = procs.start(
        search_args(make_space(SLOW_SPACE), out, name, n, "--storage", postgres_url, "--jobs", "2"),
        "leader",
    )
    assert procs.wait(leader, 300) == 0, procs.logs()
    watch = StudyWatch(postgres_url, name)
    try:
        trials = watch.trials()
    finally:
        watch.close()

    assert_search_finished(out, trials, n)  # each trial once: no duplicates, no overshoot
    by_worker = Counter(t.user_attrs["worker"] for t in trials)
    mine = by_worker.pop(f"{HOST}:{leader.pid}", 0)
    assert len(by_worker) == 1, by_worker  # exactly one other process: the spawned worker
    ((worker, theirs),) = by_worker.items()
    assert mine >= 1 and theirs >= 1 and mine + theirs == n, (mine, by_worker)
    assert f"worker 1: ran {theirs} trial(s) of study '{name}'" in procs.err(leader)
    # the winner was retrained once, by the leader, from every trial of the study
    summary = nas.show(out)["best"]
    best = max((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.value)
    assert summary["trial"] == best.number
    assert "s3cret" not in (out / "run.json").read_text()  # the URL is kept without it
    assert_quiet(procs)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_jobs_2_forks_a_worker_that_shares_the_study_and_the_loaded_data(
    tmp_path: Path, make_space: Callable[..., Path], procs: Procs
) -> None:
    """On Linux the second process is forked from the leader (no second import of torch, no
    second load of the data): a child of the leader's, it runs trials of the same study from
    its first second, and says how many it ran, as `nas worker` does."""
    n, out, name = 6, tmp_path / "run", "fork-two"
    url = f"sqlite:///{out / 'study.db'}"
    leader = procs.start(search_args(make_space(SLOW_SPACE), out, name, n, "--jobs", "2"),
                         "leader")  # fmt: skip
    wait_until(lambda: (out / "run.json").is_file(), procs, [leader], 120, "run.json")
    watch = StudyWatch(url, name)
    try:
        leader_id = f"{HOST}:{leader.pid}"
        first = wait_until(lambda: [t for t in watch.trials()
                                    if t.user_attrs.get("worker") not in (None, leader_id)],
                           procs, [leader], 120, "a trial of the worker")  # fmt: skip
        worker_pid = int(first[0].user_attrs["worker"].rsplit(":", 1)[1])
        with open(f"/proc/{worker_pid}/stat") as f:  # alive now, mid-trial: its parent
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{worker_pid}/cmdline") as f:
            argv = f.read().split("\0")
        assert parent == leader.pid
        assert "search" in argv and "worker" not in argv  # forked, not a new `nas worker`
        assert procs.wait(leader, 300) == 0, procs.logs()
        trials = watch.trials()
    finally:
        watch.close()
    assert_search_finished(out, trials, n)
    by_worker = Counter(t.user_attrs["worker"] for t in trials)
    mine, theirs = by_worker[f"{HOST}:{leader.pid}"], by_worker[f"{HOST}:{worker_pid}"]
    assert mine >= 1 and theirs >= 1 and mine + theirs == n, by_worker
    assert f"worker 1: ran {theirs} trial(s) of study '{name}'" in procs.err(leader)
    said = " ".join(procs.err(leader).split())  # /tmp/oC4 F2: not repeatable, and said
    assert ("note: with --jobs 2 the processes take trials as they free up, so the same command "
            "gives another trial history each time") in said  # fmt: skip
    assert_quiet(procs)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_ctrl_c_with_a_forked_worker_fails_both_trials_and_says_one_line(
    tmp_path: Path, make_space: Callable[..., Path], procs: Procs
) -> None:
    n, out, name = 6, tmp_path / "run", "fork-ctrl-c"
    url = f"sqlite:///{out / 'study.db'}"
    leader = procs.start(search_args(make_space(SLOW_SPACE), out, name, n, "--jobs", "2"),
                         "leader")  # fmt: skip
    wait_until(lambda: (out / "run.json").is_file(), procs, [leader], 120, "run.json")
    watch = StudyWatch(url, name)

    def both_mid_trial() -> list[optuna.trial.FrozenTrial] | None:
        running = [t for t in watch.trials() if t.state == TrialState.RUNNING
                   and 1 <= len(t.intermediate_values) < EPOCHS - 1]  # fmt: skip
        return running if len({t.user_attrs.get("worker") for t in running}) == 2 else None

    try:
        running = wait_until(both_mid_trial, procs, [leader], 240, "two trials mid-way")
        os.killpg(leader.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: both processes
        assert procs.wait(leader, 60) == 130, procs.logs()
        after = {t.number: t for t in watch.trials()}
    finally:
        watch.close()
    stderr = procs.err(leader)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert [line for line in stderr.splitlines() if line.startswith("interrupted: ")], stderr
    for t in running:  # neither process left its trial RUNNING
        assert after[t.number].state == TrialState.FAIL, after[t.number]
        assert after[t.number].user_attrs["reason"].startswith("interrupted (Ctrl-C)")
    assert not (out / "best").exists()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sigterm_takes_ctrl_cs_path_and_leaves_no_trial_running(
    tmp_path: Path, make_space: Callable[..., Path], procs: Procs
) -> None:
    """SIGTERM (timeout, docker stop, a batch scheduler) had ended the search at once: exit 143
    with no word, its trial left RUNNING until the heartbeat ran out. It now fails the trial as
    interrupted, to run again, and says one line; the exit code stays 143."""
    n, out, name = 6, tmp_path / "run", "sigterm"
    url = f"sqlite:///{out / 'study.db'}"
    leader = procs.start(search_args(make_space(SLOW_SPACE), out, name, n), "leader")
    wait_until(lambda: (out / "run.json").is_file(), procs, [leader], 120, "run.json")
    watch = StudyWatch(url, name)

    def mid_trial() -> list[optuna.trial.FrozenTrial] | None:
        running = [t for t in watch.trials() if t.state == TrialState.RUNNING
                   and 1 <= len(t.intermediate_values) < EPOCHS - 1]  # fmt: skip
        return running or None

    try:
        running = wait_until(mid_trial, procs, [leader], 240, "a trial mid-way")
        leader.send_signal(signal.SIGTERM)
        assert procs.wait(leader, 60) == 143, procs.logs()
        after = {t.number: t for t in watch.trials()}
    finally:
        watch.close()
    stderr = procs.err(leader)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    said = [line for line in stderr.splitlines() if line.startswith("terminated (SIGTERM): ")]
    assert said and "run the same command again" in said[0], stderr
    assert not [t for t in after.values() if t.state == TrialState.RUNNING], after
    for t in running:
        assert after[t.number].state == TrialState.FAIL, after[t.number]
        assert after[t.number].user_attrs["reason"].startswith("interrupted (SIGTERM)")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_worker_killed_mid_trial_is_failed_retried_and_the_search_finishes(
    tmp_path: Path, make_space: Callable[..., Path], procs: Procs
) -> None:
    n, out, name = 6, tmp_path / "run", "killed-worker"
    url = f"sqlite:///{out / 'study.db'}"
    leader = procs.start(
        search_args(make_space(SLOW_SPACE), out, name, n, "--heartbeat", "1"), "leader"
    )
    worker_cmd = nas_command("worker", "--storage", url, "--study", name, "--heartbeat", "1")
    wait_until(lambda: (out / "run.json").is_file(), procs, [leader], 120, "run.json")
    watch = StudyWatch(url, name)
    try:
        wait_until(watch.has_settings, procs, [leader], 120, "study settings")
        worker = procs.start(worker_cmd, "worker")
        orphan = wait_until(mid_trial_of(watch, worker.pid), procs, [leader, worker], 240,
                            "trial of the worker in its middle")  # fmt: skip
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
        done_before = {t.number: t for t in watch.trials() if t.state == TrialState.COMPLETE}
        restarted = procs.start(worker_cmd, "restarted")  # the same command, on the same study

        assert procs.wait(leader, 300) == 0, procs.logs()
        assert procs.wait(restarted, 120) == 0, procs.logs()
        trials = watch.trials()
    finally:
        watch.close()

    # the lost trial does not count: n trials of results, plus the one the kill cost
    assert_search_finished(out, trials, n + 1)
    for number, old in done_before.items():  # no completed trial lost or changed
        new = trials[number]
        assert (new.state, new.params, new.values) == (old.state, old.params, old.values)
    dead = trials[orphan.number]
    assert dead.state == TrialState.FAIL  # no heartbeat for 3 s: failed by a live process
    # Optuna's retry callback re-ran the same architecture as a new trial, which finished
    # (RetryFailedTrialCallback.retried_trial_number reads the system attribute failed_trial)
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == orphan.number]
    assert retry.system_attrs["retry_history"] == [orphan.number]
    assert retry.params == dead.params and retry.state == TrialState.COMPLETE
    assert retry.user_attrs["worker"] != f"{HOST}:{worker.pid}"
    assert leaderboard(out)[orphan.number]["reason"] == (
        f"worker died (no heartbeat); retried as trial {retry.number}"
    )
    assert sum(t.state == TrialState.COMPLETE for t in trials) == n
    assert_quiet(procs)


# ---------------------------------------------------------------- Ctrl-C and time limits


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_ctrl_c_fails_the_running_trial_exits_130_and_a_rerun_finishes(
    tmp_path: Path, make_space: Callable[..., Path], procs: Procs
) -> None:
    n, out, name = 3, tmp_path / "run", "ctrl-c"
    cmd = search_args(make_space(SLOW_SPACE), out, name, n)
    leader = procs.start(cmd, "leader")
    url = f"sqlite:///{out / 'study.db'}"
    wait_until(lambda: (out / "run.json").is_file(), procs, [leader], 120, "run.json")
    watch = StudyWatch(url, name)
    try:
        running = wait_until(mid_trial_of(watch), procs, [leader], 240, "trial in its middle")
        os.killpg(leader.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert procs.wait(leader, 60) == 130, procs.logs()
        before = watch.trials()
    finally:
        watch.close()

    stderr = procs.err(leader)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    how = [line for line in stderr.splitlines() if "run the same command again" in line]
    assert len(how) == 1 and how[0].startswith("interrupted: "), stderr  # one line, unwrapped
    stopped = before[running.number]
    assert stopped.state == TrialState.FAIL
    assert stopped.user_attrs["reason"].startswith("interrupted (Ctrl-C)")
    assert leaderboard(out)[running.number]["reason"].startswith("interrupted")
    done = {t.number: t for t in before if t.state == TrialState.COMPLETE}
    assert done and not (out / "best").exists()

    again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=ENV,
                           timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    watch = StudyWatch(url, name)
    try:
        after = watch.trials()
    finally:
        watch.close()
    # the interrupted trial does not count toward the total: the re-run runs it again
    (again_of,) = [t for t in after if t.user_attrs.get("retry_of") == running.number]
    assert again_of.params == stopped.params and again_of.state == TrialState.COMPLETE
    assert after[running.number].state == TrialState.FAIL
    assert_search_finished(out, [t for t in after if t.number != running.number], n, skip=1)
    for number, old in done.items():
        assert (after[number].params, after[number].values) == (old.params, old.values)


class SlowEpochs(Callback):
    """Sleeps after every epoch: a trial that runs far longer than its time limit."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        time.sleep(self.seconds)


@pytest.mark.timeout(120, method="thread")  # the time limit uses SIGALRM, as pytest-timeout does
def test_a_trial_over_its_time_limit_fails_and_the_search_goes_on(
    tiny_space: Path, tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    original_train = search_mod.train_model
    slow_seed = search_mod.trial_seed(0, 0)

    def train(*args: Any, **kwargs: Any) -> Any:  # trial 0 takes 4 x 1.5 s, over its 2 s
        if kwargs["seed"] == slow_seed and "use_val" not in kwargs:
            kwargs["callbacks"] = [*kwargs["callbacks"], SlowEpochs(1.5)]
        return original_train(*args, **kwargs)

    monkeypatch.setattr(search_mod, "train_model", train)
    out = tmp_path / "run"
    result = cli("search", "--dataset", "iris", "--space", tiny_space, "--trials", "3",
                 "--epochs", "4", "--pruner", "none", "--no-warm-start", "--trial-timeout", "2",
                 "--out", out, "--threads", "1", "--no-report", "--no-explain")  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr

    trials = nas.load_run(out).study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    slow = trials[0]
    assert slow.user_attrs["reason"].startswith("time limit: the trial ")
    assert (
        "2 s limit" in slow.user_attrs["reason"] and "--trial-timeout" in slow.user_attrs["reason"]
    )
    assert len(slow.intermediate_values) < 4  # ended at the limit, not after its last epoch
    assert slow.user_attrs["seconds"] >= 2
    assert leaderboard(out)[0]["state"] == "failed"
    assert leaderboard(out)[0]["reason"].startswith("time limit")
    assert nas.show(out)["best"]["trial"] in (1, 2)
