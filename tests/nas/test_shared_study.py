"""A study in a shared storage (``--storage``, another ``--out``) takes trials only from
searches with its own settings: another dataset, split, budget or epochs would put trials scored
on other terms into one study, and its winner would be picked from both."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest

import nas
from nas.cost import Budget
from nas.errors import NasError
from nas.worker import RUN_ATTR

pytestmark = pytest.mark.usefixtures("restore_global_state")


def search(out: Path, space: Path, url: str, **kwargs: Any) -> nas.SearchResult:
    settings: dict[str, Any] = {"dataset": "iris", "n_trials": 2, "epochs": 2, "threads": 1,
                                "pruner": "none", "finalize": False, "study": "shared"}  # fmt: skip
    settings.update(kwargs)
    return nas.search(space=str(space), out=out, storage=url, **settings)


def trial_count(url: str, study: str) -> int:
    storage = optuna.storages.RDBStorage(url)
    try:
        return len(optuna.load_study(study_name=study, storage=storage).trials)
    finally:
        storage.engine.dispose()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"dataset": "wine"}, "dataset='iris', not 'wine'"),
        ({"seed": 1}, "seed=0, not 1"),
        ({"epochs": 3}, "epochs=2, not 3"),
        ({"budget": Budget(max_params=2000)}, "budget none, not params <= 2,000"),
    ],
)
def test_a_search_with_other_settings_is_refused_by_a_shared_study(
    tmp_path: Path, tiny_space: Path, change: dict[str, Any], named: str
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url)
    assert trial_count(url, "shared") == 2
    with pytest.raises(NasError, match="study 'shared' in sqlite:///") as err:
        search(tmp_path / "b", tiny_space, url, n_trials=4, **change)
    assert named in str(err.value) and "nas worker" in str(err.value)
    assert trial_count(url, "shared") == 2  # nothing was added to the study
    assert not (tmp_path / "b").exists()  # nor a folder made for it


def test_the_same_search_from_another_folder_joins_the_shared_study(
    tmp_path: Path, tiny_space: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url)
    joined = search(tmp_path / "b", tiny_space, url, n_trials=3)  # the scale-out recipe
    assert len(joined.study.trials) == trial_count(url, "shared") == 3
    # a `nas worker` started without --trials reads the total of the latest session (was 2)
    assert joined.study.user_attrs[RUN_ATTR]["n_trials"] == 3


def test_a_study_nas_did_not_start_is_refused_once_it_holds_trials(
    tmp_path: Path, tiny_space: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'theirs.db'}"
    storage = optuna.storages.RDBStorage(url)
    try:
        theirs = optuna.create_study(study_name="shared", storage=storage)
        theirs.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    finally:
        storage.engine.dispose()
    with pytest.raises(NasError, match="holds trials that nas did not start"):
        search(tmp_path / "b", tiny_space, url)
    assert trial_count(url, "shared") == 1


def test_the_artifacts_line_names_the_storage_the_trials_are_in(
    tmp_path: Path, tiny_space: Path
) -> None:
    from tests.conftest import LEAN, invoke

    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    out = tmp_path / "run"
    result = invoke("search", "--dataset", "iris", "--space", tiny_space, "--trials", "1",
                    "--epochs", "2", "--storage", url, "--out", out, "--no-explain",
                    "--no-report", *LEAN)  # fmt: skip
    assert result.exit_code == 0, result.output
    text = "".join(result.stdout.split())  # the terminal's width folds the line
    artifacts = text[text.index("artifacts:") :]
    assert url in artifacts and not (out / "study.db").exists()
    assert f"{out}/study.db" not in artifacts  # named before, though it does not exist


def test_a_storage_that_does_not_open_leaves_nothing_behind(
    tmp_path: Path, tiny_space: Path
) -> None:
    from tests.conftest import LEAN, invoke

    out = tmp_path / "never"
    bad = "postgresql+psycopg2://nobody@127.0.0.1:1/nas"  # no server listens on port 1
    result = invoke("search", "--dataset", "iris", "--space", tiny_space, "--trials", "1",
                    "--storage", bad, "--out", out, *LEAN)  # fmt: skip
    assert result.exit_code == 2 and "Cannot open storage" in result.stderr
    assert not out.exists()  # was left as an empty folder
    journal = tmp_path / "missing.log"
    joined = invoke("worker", "--storage", journal, "--study", "shared", "--trials", "1")
    assert joined.exit_code == 2 and "missing.log (from --storage) does not exist" in joined.stderr
    assert not journal.exists()  # was created, empty


def test_a_damaged_study_file_is_named_as_damaged_not_as_a_server_to_check(
    tmp_path: Path, tiny_space: Path
) -> None:
    """nas search on a run whose study.db is garbage had said "Check the URL, that the server
    runs and the database exists" of a file that exists, with no server (nas report said it
    right): both now say the file is not a readable study and how to mend it."""
    from tests.conftest import LEAN, invoke

    folder = tmp_path / "folder.db"
    folder.mkdir()
    result = invoke("search", "--dataset", "iris", "--space", tiny_space, "--trials", "1",
                    "--storage", f"sqlite:///{folder}", "--out", tmp_path / "f", *LEAN)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"{folder} is not a readable Optuna study (it is a folder)" in result.stderr
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(range(256)) * 20)
    result = invoke("search", "--dataset", "iris", "--space", tiny_space, "--trials", "1",
                    "--storage", f"sqlite:///{bad}", "--out", tmp_path / "r", *LEAN)  # fmt: skip
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line == (
        f"error: {bad} is not a readable Optuna study (file is not a database); restore it "
        "from a copy, or re-run the search into a new --out folder."
    )


def test_a_killed_trial_failed_during_the_rerun_is_made_up_within_the_total(
    tmp_path: Path, tiny_space: Path
) -> None:
    """A search killed mid-trial and re-run at once: its trial counts as running; when its
    heartbeat goes stale while the re-run's trials run (their count fixed as they started),
    it is failed and its retry takes a slot, and the re-run had ended one short of --trials."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url, n_trials=3, heartbeat=1)
    with warnings.catch_warnings():  # heartbeats are experimental, and meant for optimize()
        warnings.simplefilter("ignore")
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=3)
        try:
            study = optuna.load_study(study_name="shared", storage=storage)
            killed = study.ask()  # what a killed process leaves: RUNNING, its heartbeat stopped
            storage.record_heartbeat(killed._trial_id)
        finally:
            storage.engine.dispose()
    time.sleep(3.5)  # stale by the time the re-run starts its first trial
    again = search(tmp_path / "a", tiny_space, url, n_trials=6, heartbeat=1)
    trials = again.study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    assert retried == {killed.number}
    assert trials[killed.number].state == optuna.trial.TrialState.FAIL
    counted = [t for t in trials if t.number not in retried and t.state.is_finished()]
    assert len(counted) == 6  # was 5
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]


def test_starting_designs_queued_before_a_rerun_count_when_they_run(
    tmp_path: Path, tiny_space: Path
) -> None:
    """Trials queued by an interrupted session (starting designs) run in the next one with
    their old, lower numbers; the session had counted only trials numbered from its start, so
    a second process started one trial too many."""
    from nas.worker import SESSION_ATTR, counted_trials, session_running

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url, n_trials=1)
    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.load_study(study_name="shared", storage=storage)
        study.enqueue_trial({})  # left WAITING, numbered 1
        running = study.ask()  # this session's first trial picks it up, as number 1
        assert running.number == 1
        study.set_user_attr(SESSION_ATTR, [])  # what a session with nothing RUNNING records
        assert [t.number for t in session_running(study)] == [1]
        assert counted_trials(study) == 2  # the finished one and the running one
    finally:
        storage.engine.dispose()


def test_the_same_data_at_another_path_joins(tmp_path: Path, tiny_space: Path) -> None:
    """Machines mount the data at different paths: the same bytes (fingerprint) join the
    study, other bytes under the same name do not."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    for where in ("m1", "m2", "m3"):
        (tmp_path / where).mkdir()
    frame.to_csv(tmp_path / "m1" / "iris.csv", index=False)
    frame.to_csv(tmp_path / "m2" / "iris.csv", index=False)
    frame.assign(target=frame["target"][::-1].to_numpy()).to_csv(tmp_path / "m3" / "iris.csv",
                                                                 index=False)  # fmt: skip
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    common = {"dataset": None, "target": "target", "task": "classification"}
    search(tmp_path / "a", tiny_space, url, data=str(tmp_path / "m1" / "iris.csv"), **common)
    joined = search(tmp_path / "b", tiny_space, url, data=str(tmp_path / "m2" / "iris.csv"),
                    n_trials=3, **common)  # fmt: skip
    assert len(joined.study.trials) == 3
    with pytest.raises(NasError, match="other data"):
        search(tmp_path / "c", tiny_space, url, data=str(tmp_path / "m3" / "iris.csv"),
               n_trials=4, **common)  # fmt: skip


def test_a_trial_killed_before_its_first_heartbeat_is_failed_and_retried_too(
    tmp_path: Path, tiny_space: Path
) -> None:
    """Killed between its creation and its first heartbeat, a trial has none, and Optuna
    never finds such a trial stale: the re-run waited for it until its limit, then ended one
    short of --trials with it RUNNING (1 run in 2 of the killed-search test)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url, n_trials=2, heartbeat=1)
    storage = optuna.storages.RDBStorage(url)
    try:
        killed = optuna.load_study(study_name="shared", storage=storage).ask()  # no heartbeat
    finally:
        storage.engine.dispose()
    start = time.monotonic()
    again = search(tmp_path / "a", tiny_space, url, n_trials=4, heartbeat=1)
    assert time.monotonic() - start < 40  # not the wait's limit (60 s and more)
    trials = again.study.get_trials(deepcopy=False)
    assert trials[killed.number].state == optuna.trial.TrialState.FAIL
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    assert retried == {killed.number}
    counted = [t for t in trials if t.number not in retried and t.state.is_finished()]
    assert len(counted) == 4


@pytest.mark.parametrize("other_epochs", [3, 2])
def test_two_searches_that_find_a_study_new_at_once_are_judged_as_a_join(
    tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch, other_epochs: int
) -> None:
    """/tmp/oF5 F1: two searches started together on a new study name both found it new, both
    joined it, and each picked its winner from both's trials. The second to create it now
    waits for the first's settings and is judged as any join: refused with other settings
    (epochs 3 against 2), joining with the same."""
    import nas.session

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    real = nas.session.configure_threads

    def the_other_search_starts_now(*args: Any, **kwargs: Any) -> Any:
        # between this search's check (the study was new) and its creating the study
        other = {**nas.SearchConfig.read(tmp_path / "b").to_dict(), "epochs": other_epochs}
        st = optuna.create_study(storage=url, study_name="shared")
        st.set_user_attr(RUN_ATTR, other)
        monkeypatch.setattr(nas.session, "configure_threads", real)
        return real(*args, **kwargs)

    monkeypatch.setattr(nas.session, "configure_threads", the_other_search_starts_now)
    if other_epochs != 2:
        with pytest.raises(NasError, match="holds a search with epochs=3, not 2"):
            search(tmp_path / "b", tiny_space, url)
        assert trial_count(url, "shared") == 0  # none of this search's trials joined
    else:
        search(tmp_path / "b", tiny_space, url)
        assert trial_count(url, "shared") == 2


def test_a_study_name_longer_than_the_database_takes_is_one_line(tiny_space: Path) -> None:
    """/tmp/oF5 F6: a 600-character --study in PostgreSQL had ended in a 137-line traceback
    after run.json was written; SQLite, which does not enforce the column, still takes it."""
    from nas.session import MAX_STUDY_NAME, _check_joined_study

    config = nas.SearchConfig.create("iris", space=str(tiny_space), study="x" * 600)
    with pytest.raises(NasError, match=f"600 characters long; .* at most {MAX_STUDY_NAME}"):
        _check_joined_study(None, config, "postgresql://nas:pw@db/nas", resuming=False)  # type: ignore[arg-type]


def test_a_worker_without_limits_of_its_own_keeps_the_searchs_timeout(
    tmp_path: Path, tiny_space: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """/tmp/oF5 F2: `nas worker --storage URL --study NAME` read the search's trial count but
    not its --timeout, and ran 29 trials after the search had picked its winner. The search
    records when its session ends; such a worker starts no trial after it."""
    from nas.worker import DEADLINE_ATTR, work

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url, n_trials=1, timeout=600)
    storage = optuna.storages.RDBStorage(url)
    try:
        st = optuna.load_study(study_name="shared", storage=storage)
        end = st.user_attrs[DEADLINE_ATTR]
        assert time.time() < end < time.time() + 600  # the session's end, retrain included
        st.set_user_attr(RUN_ATTR, {**st.user_attrs[RUN_ATTR], "n_trials": 3})  # room left
        st.set_user_attr(DEADLINE_ATTR, time.time() - 1)  # ... but the search's time is up
    finally:
        storage.engine.dispose()
    assert work(url, "shared", index=2) == 0
    assert "ended its trials at its --timeout" in capsys.readouterr().err
    assert trial_count(url, "shared") == 1
    assert work(url, "shared", index=2, n_trials=2) == 1  # limits of its own: it adds trials
    assert trial_count(url, "shared") == 2


def test_a_database_lost_while_a_worker_starts_is_one_line(
    tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp/oF5 F4: PostgreSQL stopped while `nas worker` counted the study's trials: a
    100-line traceback, exit 1; during a trial the same loss had been one line."""
    import sqlalchemy.exc

    import nas.worker
    from nas.errors import StorageError

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url, n_trials=1)

    def lost(*args: Any) -> int:
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("server closed the "
                                              "connection unexpectedly"))  # fmt: skip

    monkeypatch.setattr(nas.worker, "counted_trials", lost)
    with pytest.raises(StorageError, match="stopped answering .*server closed the connection"):
        nas.worker.work(url, "shared", index=2)


def test_nas_worker_takes_its_storage_from_the_environment_and_can_be_quiet(
    tmp_path: Path, tiny_space: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp/oF5 F7: `nas worker --help` said --storage was required, and without it the
    command refused, though $NAS_STORAGE_URL keeps the password off the command line.
    /tmp/oH5 F5: the workers of a quiet nas.search(progress=False) said "worker N: ran K
    trial(s)" on stderr."""
    from nas.worker import QUIET_ENV

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url, n_trials=1)
    monkeypatch.setenv("NAS_STORAGE_URL", url)
    said = cli("worker", "--study", "shared", "--index", "2")
    assert said.exit_code == 0, said.output
    assert said.stderr.strip() == "worker 2: ran 0 trial(s) of study 'shared'."
    monkeypatch.setenv(QUIET_ENV, "1")
    quiet = cli("worker", "--study", "shared", "--index", "2")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_a_worker_that_cannot_find_the_searchs_file_says_where_it_must_be(
    tmp_path: Path, tiny_space: Path
) -> None:
    """/tmp/oF5 F5: on a machine without the file, `nas worker` said "Data file ... does not
    exist; check the path", and it has no --data: the path is the search's record."""
    from sklearn.datasets import load_iris

    from nas.worker import work

    frame = load_iris(as_frame=True).frame
    csv = tmp_path / "iris.csv"
    frame.to_csv(csv, index=False)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    nas.search(data=str(csv), target="target", space=str(tiny_space), out=tmp_path / "a",
               storage=url, n_trials=1, epochs=1, threads=1, finalize=False,
               study="shared")  # fmt: skip
    csv.unlink()  # another machine, where the file is not at that path
    with pytest.raises(
        NasError,
        match=r"read its data from '.*iris\.csv', which does not exist "
        r"on this machine; a worker reads the file at the path the search",
    ):
        work(url, "shared", index=2, n_trials=2)


def test_the_search_waits_for_a_live_workers_trial_past_the_orphan_cut_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp/oF5 (read in the code): the wait for other machines' trials was cut off after
    grace + max(60 s, 2 x the longest trial) for every running trial, a live worker's (its
    heartbeat fresh) too, whose result the winner's choice then missed. The cut-off is for
    trials that never sent a heartbeat."""
    import threading

    import nas.session

    monkeypatch.setattr(nas.session, "ORPHAN_WAIT", 0.0)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=3)
    try:
        st = optuna.create_study(storage=storage, study_name="shared")
        live, orphan = st.ask(), st.ask()  # another machine's trial, and one with no heartbeat
        storage.record_heartbeat(live._trial_id)
        stop = threading.Event()

        def worker() -> None:  # beats every 0.3 s, then ends its trial 5 s in
            t0 = time.monotonic()
            while time.monotonic() - t0 < 5:
                storage.record_heartbeat(live._trial_id)
                time.sleep(0.3)
            if not stop.is_set():
                st.tell(live, 1.0)

        thread = threading.Thread(target=worker)
        thread.start()
        nas.session._wait_for_other_machines(st, grace=3, to_total=False)
        stop.set()
        thread.join()
        states = {t.number: t.state for t in st.get_trials(deepcopy=False)}
        assert states[live.number] == optuna.trial.TrialState.COMPLETE  # waited for: it ended
        assert states[orphan.number] == optuna.trial.TrialState.RUNNING  # not waited for
    finally:
        storage.engine.dispose()
