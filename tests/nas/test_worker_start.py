"""How `nas search --jobs N` starts its workers: forked from the leader on Linux while it runs one
thread, else as new `nas worker` processes; a forked worker ends as the command would (0, 2 with
one line for a NasError, 130 after Ctrl-C, no traceback). The searches themselves are in
tests/nas/test_scale.py."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from nas import worker


@pytest.fixture(autouse=True)
def _no_death_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    """_forked_worker called in this process must not tie pytest's life to its parent's (the
    real fork is tested in a child process below)."""
    monkeypatch.setattr(worker, "_die_with", lambda leader: None)


def test_no_workers_for_one_job() -> None:
    assert worker.start_workers("sqlite:///x.db", "s", 0, data=None, n_trials=None,  # type: ignore[arg-type]
                                timeout=None, heartbeat=None) == []  # fmt: skip


def test_fork_only_while_one_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert worker.can_fork() is (threading.active_count() == 1)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert worker.can_fork() is False  # a lock another thread holds would stay held
    finally:
        stop.set()
        other.join()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert worker.can_fork() is False


def test_without_fork_the_workers_are_nas_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []

    def popen(cmd: list[str], env: dict[str, str], **kwargs: Any) -> Any:
        started.append(cmd)
        return SimpleNamespace()

    monkeypatch.setattr(worker, "can_fork", lambda: False)
    monkeypatch.setattr(subprocess, "Popen", popen)
    procs = worker.start_workers("sqlite:///x.db", "s", 2, data=None, n_trials=4,  # type: ignore[arg-type]
                                 timeout=30.0, heartbeat=10)  # fmt: skip
    assert len(procs) == 2 and len(started) == 2
    for i, cmd in enumerate(started, start=1):
        assert cmd[1:4] == ["-c", worker.WORKER_MAIN, "worker"]
        assert cmd[cmd.index("--index") + 1] == str(i)


def test_workers_started_as_new_processes_load_the_leaders_extensions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    envs: list[dict[str, str]] = []

    def popen(cmd: list[str], env: dict[str, str], **kwargs: Any) -> Any:
        envs.append(env)
        return SimpleNamespace()

    from search_spaces import extensions

    monkeypatch.setattr(worker, "can_fork", lambda: False)
    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setenv(extensions.ENV, "given_ext")
    monkeypatch.setattr(extensions, "extension_modules", lambda: ("/x/my_ext.py", "given_ext"))
    worker.start_workers("sqlite:///x.db", "s", 1, data=None, n_trials=4,  # type: ignore[arg-type]
                         timeout=30.0, heartbeat=10)  # fmt: skip
    assert envs[0][extensions.ENV] == "given_ext,/x/my_ext.py"
    assert envs[0]["PYTHONPATH"].split(os.pathsep) == [p for p in sys.path if p]


def test_a_forked_worker_says_a_nas_error_in_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.db").touch()  # a database with no study (a missing file is named)
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(SystemExit) as stop:
        worker._forked_worker(url, "nope", 1, None, 3, None, None, 0)  # type: ignore[arg-type]
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("worker 1: error: Study 'nope' does not exist")


def test_a_forked_worker_ends_130_on_ctrl_c_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(worker, "work", interrupted)
    with pytest.raises(SystemExit) as stop:
        worker._forked_worker("sqlite:///x.db", "s", 1, None, 3, None, None, 0)  # type: ignore[arg-type]
    assert stop.value.code == 130
    assert capsys.readouterr().err == ""


def test_a_forked_worker_reports_its_trials_and_passes_the_leaders_data(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}

    def work(storage: str, study: str, **kwargs: Any) -> int:
        seen.update(kwargs, storage=storage, study=study)
        return 5

    data = object()
    monkeypatch.setattr(worker, "work", work)
    with pytest.raises(SystemExit) as stop:
        worker._forked_worker("sqlite:///x.db", "s", 2, data, 9, 0.2, 10, 0)  # type: ignore[arg-type]
    assert stop.value.code == 0
    assert seen["data"] is data and seen["index"] == 2 and seen["threads"] == 1
    assert seen["timeout"] == 1.0 and seen["n_trials"] == 9  # at least a second, as spawned
    assert capsys.readouterr().err == "worker 2: ran 5 trial(s) of study 's'.\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
def test_a_forked_worker_process_reports_its_exit_code_through_stop_workers(
    tmp_path: Path,
) -> None:
    """A real fork: the child meets a study that does not exist, ends with 2, and
    stop_workers hands that code back, as it does a spawned worker's."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    procs = worker.start_workers(url, "nope", 1, data=None, n_trials=3,  # type: ignore[arg-type]
                                 timeout=None, heartbeat=None)  # fmt: skip
    assert all(isinstance(p, worker.ForkedWorker) for p in procs) == worker.can_fork()
    assert worker.stop_workers(procs, interrupt=False) == [2]


def test_within_interrupt_once_a_second_ctrl_c_is_ignored() -> None:
    """A worker gets Ctrl-C from the terminal and again from its leader; the second one, while
    Optuna recorded the interrupted trial, left it RUNNING with a traceback (1 run in ~10)."""
    code = """
import os, signal, time
from nas.worker import interrupt_once
before = signal.getsignal(signal.SIGINT)
with interrupt_once():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        print("first raised")
        os.kill(os.getpid(), signal.SIGINT)  # the leader's, while the failure is recorded
        time.sleep(0.2)
        print("second ignored")
print("restored", signal.getsignal(signal.SIGINT) is before)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["first raised", "second ignored", "restored True"]


def _dead(pid: int) -> bool:
    """Whether process ``pid`` is gone (or a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
def test_a_forked_worker_dies_with_its_leader_killed_with_sigkill(tmp_path: Path) -> None:
    """A worker that outlived a `kill -9` of its leader went on adding trials the re-run then
    counted as a dead worker's and ran again; now the kernel kills it with its leader."""
    import os
    import signal
    import time

    leader = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time\n"
            "from nas import worker\n"
            "worker.work = lambda *a, **k: time.sleep(120)\n"
            f"procs = worker.start_workers('sqlite:///{tmp_path / 'x.db'}', 's', 1, data=None, "
            "n_trials=3, timeout=None, heartbeat=None)\n"
            "print(procs[0].pid, flush=True)\n"
            "time.sleep(120)\n")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        child = int(leader.stdout.readline())  # type: ignore[union-attr]
        time.sleep(0.5)
        assert not _dead(child)  # the worker runs while its leader does
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not _dead(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _dead(child), "the forked worker outlived its killed leader"
    finally:
        leader.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_the_leaders_connections_are_closed_before_workers_are_forked(tmp_path: Path) -> None:
    """A SQLite connection must not cross fork: the leader's pool is emptied first."""
    import optuna

    from nas.study import open_storage, release_connections

    store = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    optuna.create_study(storage=store, study_name="s").ask()
    assert store.engine.pool.checkedin() >= 1  # type: ignore[attr-defined]
    release_connections(store)
    assert store.engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    assert len(optuna.load_study(study_name="s", storage=store).trials) == 1  # reopens on use


def test_an_interrupted_trial_is_queued_again_once_and_not_counted() -> None:
    import optuna

    st = optuna.create_study()
    first = st.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    first.set_user_attr("warm_start", True)
    first.set_user_attr("reason", "interrupted (Ctrl-C); a re-run runs it again")
    st.tell(first, state=optuna.trial.TrialState.FAIL)
    other = st.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    other.set_user_attr("reason", "diverged: loss became nan")
    st.tell(other, state=optuna.trial.TrialState.FAIL)
    assert worker.counted_trials(st) == 1  # the diverged one counts, the interrupted one not
    assert worker.requeue_interrupted(st) == [0]
    assert worker.requeue_interrupted(st) == []  # once
    (queued,) = st.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert queued.system_attrs["fixed_params"] == st.trials[0].params  # what it will run
    assert queued.user_attrs == {"warm_start": True, "retry_of": 0, "seed_of": 0}  # a starting
    # design stays one, and the re-run trains with the first attempt's seed (/tmp/oC4 F4)
    from nas.leaderboard import leaderboard_rows

    again = st.ask()  # the queued one runs
    st.tell(again, 0.5)
    rows = {r["number"]: r["reason"] for r in leaderboard_rows(st, ["accuracy"])}
    assert rows[0] == f"interrupted (Ctrl-C); run again as trial {again.number}"
    assert rows[1] == "diverged: loss became nan"


def test_a_dead_workers_retry_left_queued_is_said_not_claimed_as_run() -> None:
    """A re-run that reached its --trials before a dead worker's retry ran had written
    "retried as trial 8" of a retry that never ran, and said nothing of it."""
    import optuna

    from nas.leaderboard import leaderboard_rows, queued_retries

    st = optuna.create_study()
    lost = st.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    st.tell(lost, state=optuna.trial.TrialState.FAIL)  # failed by the heartbeat, no reason
    retry = optuna.trial.create_trial(  # what Optuna's retry callback queues
        state=optuna.trial.TrialState.WAITING, params=lost.params,
        distributions=lost.distributions, system_attrs={"retry_history": [0]},
    )  # fmt: skip
    st.add_trial(retry)
    states = [t.state for t in st.trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING], states
    rows = {r["number"]: r["reason"] for r in leaderboard_rows(st, ["accuracy"])}
    assert rows[0] == ("worker died (no heartbeat); its retry, trial 1, is queued and has not "
                       "run (the search's trial total was reached first)")  # fmt: skip
    (line,) = queued_retries(st)
    assert line.startswith("trial 1, the retry of trial 0 (its worker died), is still queued")
    assert "larger --trials" in line
    again = st.ask()  # the retry runs: then it is said to have been retried
    st.tell(again, 0.5)
    rows = {r["number"]: r["reason"] for r in leaderboard_rows(st, ["accuracy"])}
    assert rows[0] == "worker died (no heartbeat); retried as trial 1"
    assert queued_retries(st) == []


def test_a_database_lost_mid_search_is_one_line_and_keeps_the_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL server stopped mid-search gave 812 lines of chained tracebacks (Optuna's
    own UnboundLocalError while recovering, then "invalid data in the commit")."""
    from sqlalchemy import exc

    import nas
    import nas.session as session
    from nas.errors import StorageError

    real = session._optimize
    calls = []

    def optimize(st: Any, *args: Any) -> None:
        if calls:  # the first call runs a trial; the second meets a stopped server
            try:
                raise exc.OperationalError(
                    "UPDATE trials",
                    {},
                    Exception(
                        "server closed the connection unexpectedly\n\tThis probably means ..."
                    ),
                )
            except exc.OperationalError:
                raise UnboundLocalError("cannot access local variable 'frozen_trial'") from None
        calls.append(1)
        real(st, *args)

    monkeypatch.setattr(session, "_optimize", optimize)
    monkeypatch.setattr(session, "counted_trials", lambda st: 0)  # so the search goes on
    with pytest.raises(StorageError) as lost:
        nas.search(dataset="iris", space="fnn", n_trials=2, epochs=1, out=tmp_path / "run",
                   threads=1, finalize=False)  # fmt: skip
    assert str(lost.value) == (
        f"The study's storage 'sqlite:///{tmp_path / 'run' / 'study.db'}' stopped answering "
        "(server closed the connection unexpectedly); the trials it recorded are kept in it: "
        "run the same command again once it is reachable."
    )
    kept = nas.load_run(tmp_path / "run").study.trials
    assert [t.state.name for t in kept] == ["COMPLETE", "COMPLETE"]  # both trials before, kept
    other = ValueError("a bug of nas's own")
    monkeypatch.setattr(session, "_optimize", lambda *a: (_ for _ in ()).throw(other))
    with pytest.raises(ValueError, match="a bug of nas's own"):  # not said to be the database
        nas.search(dataset="iris", space="fnn", n_trials=2, epochs=1, out=tmp_path / "run2",
                   threads=1, finalize=False)  # fmt: skip


def test_a_worker_that_loses_the_database_says_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --jobs 2 and PostgreSQL stopped, the forked worker printed ~200 lines of traceback
    (Optuna's UnboundLocalError while recovering) before its leader's one line."""
    import optuna
    from sqlalchemy import exc

    import nas

    nas.search(dataset="iris", space="fnn", n_trials=1, epochs=1, out=tmp_path / "run",
               threads=1, finalize=False)  # fmt: skip
    url = f"sqlite:///{tmp_path / 'run' / 'study.db'}"

    def lost(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            raise exc.OperationalError("SELECT", {}, Exception("terminating connection"))
        except exc.OperationalError:
            raise UnboundLocalError("cannot access local variable 'updated_state'") from None

    monkeypatch.setattr(optuna.Study, "optimize", lost)
    study = optuna.get_all_study_names(url)[0]
    with pytest.raises(SystemExit) as stop:
        worker._forked_worker(url, study, 1, None, 3, None, None, 0)  # type: ignore[arg-type]
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"worker 1: error: The study's storage '{url}' stopped answering (terminating connection)"
    )


@pytest.mark.parametrize(("stopped_by", "sent"), [("Ctrl-C", "SIGINT"), ("SIGTERM", "SIGTERM")])
def test_workers_are_stopped_with_the_signal_that_stopped_the_leader(
    monkeypatch: pytest.MonkeyPatch, stopped_by: str, sent: str
) -> None:
    """A SIGTERM'd leader had passed Ctrl-C on to its workers, whose trials then read
    "interrupted (Ctrl-C)" beside its own "interrupted (SIGTERM)"."""
    import signal

    import nas.trial

    got: list[int] = []
    proc = SimpleNamespace(poll=lambda: None, send_signal=got.append, wait=lambda: 143)
    monkeypatch.setattr(nas.trial, "STOPPED_BY", stopped_by)
    assert worker.stop_workers([proc], interrupt=True) == [143]
    assert got == [getattr(signal, sent)]
    got.clear()
    worker.stop_workers([proc], interrupt=False)  # a search that ended: only waited for
    assert got == []


def test_a_rerun_trains_with_its_first_attempts_seed() -> None:
    """/tmp/oC4 F4: trial 5, interrupted, ran again as trial 6 with trial 6's seed (0.389 after
    an epoch where the uninterrupted trial 5 scored 0.411). A re-run, of a re-run too, and a
    lost worker's retry (Optuna copies the trial's user attrs) train with the first seed."""
    import optuna

    from nas.trial import SEED_OF, seed_number, trial_seed

    st = optuna.create_study()
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for _ in range(3):
        st.tell(st.ask(dist), 0.5)
    first = st.ask(dist)  # trial 3
    assert seed_number(first) == 3
    first.set_user_attr(SEED_OF, seed_number(first))  # as nas.trial records it at its start
    first.set_user_attr("reason", "interrupted (Ctrl-C); a re-run runs it again")
    st.tell(first, state=optuna.trial.TrialState.FAIL)
    worker.requeue_interrupted(st)
    again = st.ask()  # trial 4, the re-run
    assert again.number == 4 and seed_number(again) == 3
    again.set_user_attr("reason", "interrupted (Ctrl-C); a re-run runs it again")
    st.tell(again, state=optuna.trial.TrialState.FAIL)
    worker.requeue_interrupted(st)
    third = st.ask()  # the re-run of the re-run
    assert third.number == 5 and seed_number(third) == 3
    st.tell(third, state=optuna.trial.TrialState.FAIL)
    optuna.storages.RetryFailedTrialCallback()(st, st.trials[5])  # a lost worker's retry
    lost = st.ask()
    assert lost.number == 6 and seed_number(lost) == 3
    assert trial_seed(0, seed_number(lost)) == trial_seed(0, 3) != trial_seed(0, 6)


def _ask_once(url: str, go: Any, taken: Any) -> None:
    import optuna

    st = optuna.load_study(study_name="s", storage=_open(url))
    go.wait()
    taken.put(st.ask().number)


def _open(url: str) -> Any:
    from nas.study import open_storage

    return open_storage(url)


def test_processes_asking_together_never_take_the_same_queued_trial(tmp_path: Path) -> None:
    """/tmp/oD4 F7: Optuna takes a queued trial with SELECT ... FOR UPDATE, which SQLite
    ignores: 8 processes asking at once had taken the 3 queued trials as [0, 0, 0, 0, 1, 1, 1,
    2]; with --jobs the second to finish one said "ValueError: Cannot tell a COMPLETE trial" in
    a traceback, and the study ran past its --trials."""
    import multiprocessing

    import optuna

    url = f"sqlite:///{tmp_path / 'q.db'}"
    st = optuna.create_study(storage=_open(url), study_name="s")
    for x in range(3):
        st.enqueue_trial({"x": float(x)})
    context = multiprocessing.get_context("fork")
    go, taken = context.Event(), context.Queue()
    procs = [context.Process(target=_ask_once, args=(url, go, taken)) for _ in range(8)]
    for p in procs:
        p.start()
    import time

    time.sleep(1.5)  # every process has opened the study and waits at the line
    go.set()
    for p in procs:
        p.join(60)
    numbers = sorted(taken.get(timeout=10) for _ in procs)
    assert numbers == list(range(8))  # each queued trial once, then new ones
    running = st.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert len(running) == 8 and all(t.datetime_start is not None for t in running)
    assert len(st.get_trials(states=(optuna.trial.TrialState.WAITING,))) == 0


def test_a_worker_whose_trial_another_process_finished_first_says_one_line_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """/tmp/oD4 F7: the worker's optimize ended in Optuna's "ValueError: Cannot tell a COMPLETE
    trial" (a traceback of the forked process); now one plain line, and the worker runs on."""
    import optuna

    import nas

    nas.search(dataset="iris", space="fnn", n_trials=1, epochs=1, out=tmp_path / "run",
               threads=1, finalize=False)  # fmt: skip
    url = f"sqlite:///{tmp_path / 'run' / 'study.db'}"
    calls = []

    def optimize(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(kwargs.get("timeout"))
        if len(calls) == 1:
            raise ValueError("Cannot tell a COMPLETE trial.")

    monkeypatch.setattr(optuna.Study, "optimize", optimize)
    study = optuna.get_all_study_names(url)[0]
    with pytest.raises(SystemExit) as stop:
        worker._forked_worker(url, study, 2, None, 3, None, None, 0)  # type: ignore[arg-type]
    assert stop.value.code == 0 and len(calls) == 2  # it went on after the refused result
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines() == [
        "worker 2: another process ran the same trial and finished it first (Cannot tell a "
        "COMPLETE trial); this worker's result of it is dropped, and it goes on.",
        "worker 2: ran 0 trial(s) of study 'iris-fnn'.",
    ]
    monkeypatch.setattr(optuna.Study, "optimize",
                        lambda *a, **k: (_ for _ in ()).throw(ValueError("other")))  # fmt: skip
    with pytest.raises(ValueError, match="other"):  # any other ValueError is not hidden
        worker.work(url, study, n_trials=3, threads=1, index=2, heartbeat=None)


def test_no_more_workers_start_than_the_trials_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp/oD4 F7: every process that starts runs a trial before any counts the others', so
    --jobs 8 --trials 3 had ended with 6 trials; the workers are as many as the trials left
    beside the leader's."""
    import optuna

    started: list[list[str]] = []
    monkeypatch.setattr(worker, "can_fork", lambda: False)
    monkeypatch.setattr(subprocess, "Popen", lambda cmd, **kw: started.append(cmd))
    url = f"sqlite:///{tmp_path / 'q.db'}"
    store = _open(url)
    st = optuna.create_study(storage=store, study_name="s")
    st.tell(st.ask(), 1.0)  # one trial done of the total
    st.enqueue_trial({})  # a queued starting design is not done
    start = worker.start_workers
    assert len(start(url, "s", 7, data=None, n_trials=3, timeout=None, heartbeat=None,  # type: ignore[arg-type]
                     store=store)) == 1  # fmt: skip
    assert len(start(url, "s", 7, data=None, n_trials=2, timeout=None, heartbeat=None,  # type: ignore[arg-type]
                     store=store)) == 0  # fmt: skip
    assert len(start(url, "s", 3, data=None, n_trials=None, timeout=9.0, heartbeat=None,  # type: ignore[arg-type]
                     store=store)) == 3  # fmt: skip
    assert len(start(url, "new", 7, data=None, n_trials=3, timeout=None, heartbeat=None,  # type: ignore[arg-type]
                     store=store)) == 2  # fmt: skip


def test_workers_that_could_not_load_the_searchs_code_are_not_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp/oH5 F3: from a notebook (threads alive: no fork), jobs=2 started a worker that
    could not load a dataset registered in the notebook, or (a script without a __main__
    guard) one whose import of the script ran a second whole search. The search now runs
    alone and says why; a guarded script's workers start."""
    import sys

    import nas.worker
    from search_spaces import extensions

    monkeypatch.setattr(nas.worker, "can_fork", lambda: False)
    monkeypatch.setattr(extensions, "extension_modules", lambda: ("__main__",))
    said = nas.worker.workers_cannot_start(2)
    assert said is not None and "cannot load code defined in __main__" in said
    assert "runs in this process alone" in said and "nas.load_extensions" in said
    assert nas.worker.workers_cannot_start(1) is None  # no workers asked for
    script = tmp_path / "search.py"
    script.write_text("import nas\nnas.register_dataset('mine')(lambda: None)\nnas.search()\n")
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(script), raising=False)
    monkeypatch.setattr(extensions, "extension_modules", lambda: (str(script.resolve()),))
    said = nas.worker.workers_cannot_start(3)
    assert said is not None and "would run again in each of them" in said
    script.write_text("import nas\nif __name__ == '__main__':\n    nas.search()\n")
    assert nas.worker.workers_cannot_start(3) is None
    monkeypatch.setattr(nas.worker, "can_fork", lambda: True)  # forked: they share the code
    monkeypatch.setattr(extensions, "extension_modules", lambda: ("__main__",))
    assert nas.worker.workers_cannot_start(2) is None


def test_a_spawned_worker_stopped_while_it_imports_says_nothing() -> None:
    """/tmp/oH5 F4: Ctrl-C during a jobs=2 search from Python reached a worker still importing
    torch, whose KeyboardInterrupt traceback went to the user's terminal."""
    import signal
    import time

    def as_a_terminal_starts_it() -> None:  # under nohup, SIGINT comes ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen([sys.executable, "-c", worker.WORKER_MAIN, "worker", "--help"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_a_terminal_starts_it)  # fmt: skip
    time.sleep(0.3)  # importing torch takes seconds
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err == "" and out == ""
