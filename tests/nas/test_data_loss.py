"""Nothing lost, nothing mixed, nothing outside the run dir (issue #14): nas writes only into a
run directory or a new / empty folder, a study name is a name, a resume on other data is
refused, a repeated column never leaks into the features; and the data notes, quoted headers,
the storage URL of spawned workers, and a failed report copy."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import optuna
import pytest

import nas
from nas import run as rundir
from nas import worker
from nas.config import SearchConfig
from nas.data import load_data
from nas.errors import DataError, NasError, StorageError
from nas.explaining import _store
from nas.finalize import copy_report

pytestmark = pytest.mark.usefixtures("restore_global_state")
V1_DIGITS = Path(__file__).parent / "fixtures" / "run_v1_digits"
LEAN = ("--threads", "1")
QUICK = {"n_trials": 1, "epochs": 1, "space": "fnn", "threads": 1, "warm_start": False,
         "pruner": "none"}  # fmt: skip


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with the sha256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def someones_folder(folder: Path) -> Path:
    """A source checkout: a package called explain/, a top/ folder, a run.json of its own."""
    (folder / "explain").mkdir(parents=True)
    (folder / "explain" / "__init__.py").write_text("VALUE = 1\n")
    (folder / "top" / "1").mkdir(parents=True)
    (folder / "top" / "1" / "notes.txt").write_text("mine\n")
    (folder / "run.json").write_text(json.dumps({"name": "my app", "port": 8080}))
    return folder


def one_error_line(result: Any) -> str:
    """The CLI's stderr, checked to be one line with no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def small_csv(path: Path, rows: int = 60, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    body = [f"{rng.normal():.3f},{rng.normal():.3f},{i % 2}" for i in range(rows)]
    path.write_text("a,b,label\n" + "\n".join(body) + "\n")
    return path


# --- 1. --out on a folder that is not a run directory ------------------------------------


def test_search_into_a_folder_that_is_not_a_run_dir_changes_nothing(
    tmp_path: Path, cli: Any
) -> None:
    folder = someones_folder(tmp_path / "checkout")
    before = tree(folder)
    line = one_error_line(cli("search", "--dataset", "iris", "--out", folder, *LEAN))
    assert "checkout" in line and "not a nas run directory" in line and "--out" in line
    with pytest.raises(StorageError, match="new or empty folder"):
        nas.search("iris", out=folder, **QUICK)
    assert tree(folder) == before


@pytest.mark.parametrize(
    ("entries", "ok"),
    [
        ({}, True),  # empty
        ({"study.db": b""}, True),  # a first attempt stopped before run.json
        ({"notes.txt": b"x"}, False),
        ({".hidden": b"x"}, False),
        ({"run.json": b"not json"}, False),
        ({"run.json": b"[1, 2]"}, False),
        ({"run.json": b'{"study": "x"}'}, False),
        ({"run.json": b'{"schema_version": 2, "kind": "classifier"}'}, True),
    ],
)
def test_check_run_dir_allows_new_empty_and_run_folders_only(
    tmp_path: Path, entries: dict[str, bytes], ok: bool
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    for name, data in entries.items():
        (folder / name).write_bytes(data)
    assert rundir.is_run_dir(folder) == ("run.json" in entries and ok)
    if ok:
        assert rundir.check_run_dir(folder) == folder
    else:
        with pytest.raises(StorageError, match=r"'.*f' is not empty and is not a nas run"):
            rundir.check_run_dir(folder)
    assert rundir.check_run_dir(tmp_path / "new") == tmp_path / "new"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_an_out_through_dot_dot_is_checked_as_the_folder_it_reaches(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """`--out missing/../theirs` passed the check (no folder there until `missing` exists),
    then the search overwrote theirs/leaderboard.csv and deleted theirs/explain/ and top/
    (/tmp/oX 1, high). It is refused as `--out theirs` is, and nothing is created."""
    theirs = someones_folder(tmp_path / "theirs")
    before = tree(theirs)
    sneaky = tmp_path / "missing" / ".." / "theirs"
    with pytest.raises(StorageError, match=r"'.*theirs' is not empty and is not a nas run"):
        rundir.check_run_dir(sneaky)
    result = cli("search", "--dataset", "iris", "--trials", "1", "--epochs", "1", "--no-explain",
                 "--no-report", "--out", str(sneaky))  # fmt: skip
    assert result.exit_code == 2 and "is not empty and is not a nas run directory" in (
        result.stderr)  # fmt: skip
    assert tree(theirs) == before and not (tmp_path / "missing").exists()
    # a new folder reached through .. is that folder, resolved
    fresh = rundir.check_run_dir(tmp_path / "missing" / ".." / "new")
    assert fresh == (tmp_path / "new").resolve() and not fresh.exists()


def test_a_version_1_run_dir_is_a_run_dir(tmp_path: Path) -> None:
    shutil.copytree(V1_DIGITS, tmp_path / "old")
    assert rundir.is_run_dir(tmp_path / "old")
    rundir.check_run_dir(tmp_path / "old")


def test_explain_never_replaces_the_explain_folder_of_another_folder(tmp_path: Path) -> None:
    folder = someones_folder(tmp_path / "checkout")
    before = tree(folder)
    with pytest.raises(NasError):
        nas.explain(folder)
    with pytest.raises(NasError, match="not a nas run directory"):
        _store(None, folder, "fingerprint")  # type: ignore[arg-type]  # the step that replaces
    assert tree(folder) == before


# --- 2. a study name is a name -----------------------------------------------------------


@pytest.mark.parametrize("study", ["../../x", "/abs/dir", "a/b", ".hidden", "..", "a b", ""])
def test_a_study_name_that_is_a_path_is_refused(tmp_path: Path, cli: Any, study: str) -> None:
    with pytest.raises(NasError, match=r"letters, digits, '-', '_' and '\.'.*--out"):
        SearchConfig.create("iris", study=study)
    line = one_error_line(cli("search", "--dataset", "iris", "--study", study, *LEAN))
    assert "is not a name" in line
    assert list(tmp_path.iterdir()) == []  # nothing written, here or above
    assert not (tmp_path.parent / "x").exists()


def test_study_names_and_a_hand_built_config(tmp_path: Path, monkeypatch: Any) -> None:
    for name in ("iris-tiny", "a.b_c-1", "Run2"):
        assert SearchConfig.create("iris", study=name).study == name
    assert SearchConfig.create(data=tmp_path / ".hidden.csv").study == "hidden-auto"
    monkeypatch.chdir(tmp_path)
    config = SearchConfig.create("iris", space="fnn", n_trials=1)
    with pytest.raises(NasError, match="is not a name"):
        nas.search(replace(config, study="../escape"))
    assert list(tmp_path.iterdir()) == []


# --- 3. a changed data file never resumes ------------------------------------------------


def test_a_resume_on_a_changed_data_file_is_refused(tmp_path: Path) -> None:
    data = small_csv(tmp_path / "d.csv")
    out = tmp_path / "run"
    first = nas.search(data=data, target="label", out=out, finalize=False, **QUICK)
    recorded = first.config.data_fingerprint
    assert recorded and recorded.startswith("sha256:")
    assert SearchConfig.read(out).data_fingerprint == recorded
    before = tree(out)
    with data.open("a") as f:
        f.write("0.5,0.5,1\n")  # one more row
    with pytest.raises(NasError) as info:
        nas.search(data=data, target="label", out=out, finalize=False, **QUICK)
    message = str(info.value)
    new = load_data(data=data, target="label").fingerprint
    assert recorded[7:19] in message and new is not None and new[7:19] in message
    assert "--out" in message
    assert tree(out) == before  # run.json keeps the old data's record


def test_a_record_without_a_fingerprint_resumes_and_records_one(tmp_path: Path) -> None:
    data = small_csv(tmp_path / "d.csv")
    out = tmp_path / "run"
    nas.search(data=data, target="label", out=out, finalize=False, **QUICK)
    record = json.loads((out / "run.json").read_text())
    del record["data_fingerprint"]  # as written before nas recorded one
    (out / "run.json").write_text(json.dumps(record))
    again = nas.search(data=data, target="label", out=out, finalize=False, **QUICK)
    assert any("fingerprint" in w for w in again.warnings)
    assert SearchConfig.read(out).data_fingerprint == again.config.data_fingerprint is not None


def test_fingerprints_follow_the_content(tmp_path: Path) -> None:
    a = small_csv(tmp_path / "a.csv")
    b = tmp_path / "b.csv"
    shutil.copy(a, b)
    assert load_data(data=a, target="label").fingerprint == (
        load_data(data=b, target="label").fingerprint  # same bytes, another path
    )
    small_csv(b, seed=1)
    assert load_data(data=a, target="label").fingerprint != (
        load_data(data=b, target="label").fingerprint
    )
    builtin = {name: load_data(name).fingerprint for name in ("iris", "wine", "sine_forecast")}
    assert len(set(builtin.values())) == 3 and load_data("iris").fingerprint == builtin["iris"]
    config = SearchConfig.create("iris").resolve(load_data("iris"))
    other = replace(config, data_fingerprint="sha256:" + "ab" * 32)
    assert config.resume_conflict(other) == (
        f"other data: iris had fingerprint {builtin['iris'][7:19]} then, abababababab now"
    )
    old = replace(config, data_fingerprint=None)
    assert old.resume_conflict(other) is None  # a record older than fingerprints


def test_explain_refuses_data_that_changed_since_the_search(tmp_path: Path) -> None:
    data = small_csv(tmp_path / "d.csv")
    out = tmp_path / "run"
    nas.search(data=data, target="label", out=out, **QUICK)
    small_csv(data, seed=1)  # same shape, other values: only the fingerprint tells
    before = tree(out)
    with pytest.raises(NasError, match=r"changed since its search \(.*d.csv: fingerprint \w{12}"):
        nas.explain(out, samples=5)
    assert tree(out) == before and not (out / "explain").exists()


def test_a_worker_refuses_data_that_changed_since_the_study_started(tmp_path: Path) -> None:
    data = small_csv(tmp_path / "d.csv")
    config = SearchConfig.create(data=data, target="label", space="fnn", n_trials=1)
    config = config.resolve(load_data(data=data, target="label"))
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=url, study_name="s", directions=list(config.directions))
    study.set_user_attr(worker.RUN_ATTR, config.to_dict())
    small_csv(data, seed=1)
    with pytest.raises(NasError, match=r"data of study 's' changed.*fingerprint"):
        worker.work(url, "s", heartbeat=None)
    assert study.trials == []


# --- 4. a repeated column ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("a,label,b,label", r"2 columns named 'label' \(columns 2 and 4 of the header\)"),
        ("a, a,label,b", r"2 columns named 'a' \(columns 1 and 2 of the header, written 'a' and"),
        ("label,a,'label',b", r"2 columns named 'label'"),
        ('a;b;label;"label"', r"2 columns named 'label'"),
    ],
)
def test_a_repeated_column_is_refused(tmp_path: Path, header: str, match: str) -> None:
    sep = ";" if ";" in header else ","
    rows = [sep.join(str((i + j) % 2) for j in range(4)) for i in range(30)]
    path = tmp_path / "t.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=match):
        load_data(data=path, target="label")


# --- 5. user text is never read as Rich markup -------------------------------------------


def test_brackets_in_a_file_name_or_a_target_are_printed_as_written(
    tmp_path: Path, cli: Any
) -> None:
    line = one_error_line(cli("search", "--data", "sales[final].csv", "--target", "y", *LEAN))
    assert "sales[final].csv" in line
    data = small_csv(tmp_path / "heart.csv")
    line = one_error_line(cli("search", "--data", data, "--target", "heart_rate[/min]", *LEAN))
    assert "'heart_rate[/min]' is not in heart.csv" in line


# --- data notes, quoted headers ----------------------------------------------------------


def test_rows_left_out_and_the_inferred_task_are_noted(tmp_path: Path) -> None:
    rows = [f"{i},{i * 2},{i % 3}" if i % 7 else f"{i},{i * 2}" for i in range(150)]
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    data = load_data(data=path, target="label")
    assert data.notes[0] == (
        "22 of 150 rows of ragged.csv have no value for target 'label' (an empty cell, or a row "
        "shorter than the header) and were left out."
    )
    assert data.notes[1].startswith("task: classification, inferred from target 'label'")
    assert "--task regression" in data.notes[1]
    assert data.describe()["notes"] == data.notes
    given = load_data(data=path, target="label", task="classification").notes
    assert given == [data.notes[0], *data.notes[2:]]  # no task note when the task is given
    assert [n.split()[1] for n in data.notes[2:]] == ["'a'", "'b'"]  # row numbers, see below
    assert load_data("iris").notes == []


def test_missing_feature_values_are_noted(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    rows = [f"{'' if i % 5 == 0 else i},{i % 2}" for i in range(40)]
    path.write_text("a,label\n" + "\n".join(rows) + "\n")
    notes = load_data(data=path, target="label", task="classification").notes
    assert notes == [
        "8 missing feature value(s) of gaps.csv were filled in with the median or most "
        "frequent value of the training rows: 'a' (8)."
    ]


@pytest.mark.parametrize("rows", [1, 2])
def test_too_few_rows_say_so_not_single_class(tmp_path: Path, rows: int) -> None:
    path = tmp_path / "few.csv"
    path.write_text("a,label\n" + "".join(f"{i},x{i}\n" for i in range(rows)))
    with pytest.raises(DataError, match=rf"few.csv has {rows} data row\(s\); .*at least 3"):
        load_data(data=path, target="label")
    npz = tmp_path / "few.npz"
    np.savez(npz, X=np.ones((rows, 2)), y=np.arange(rows))
    with pytest.raises(DataError, match=rf"few.npz holds {rows} example\(s\); .*at least 3"):
        load_data(data=npz)


def test_rows_without_a_target_count_in_the_too_few_message(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    path.write_text("a,label\n1,x\n2,\n3,\n")
    with pytest.raises(DataError, match=r"1 data row\(s\) with a value for target 'label' \(2"):
        load_data(data=path, target="label")


def test_quoted_header_names_match_without_their_quotes(tmp_path: Path) -> None:
    path = tmp_path / "votes.tsv"
    rows = [f"{i}\t{i % 4}\t{'yes' if i % 2 else 'no'}" for i in range(40)]
    path.write_text("'age'\t\"income\"\t'vote'\n" + "\n".join(rows) + "\n")
    for target in ("vote", "'vote'"):
        data = load_data(data=path, target=target)
        assert data.target_name == "vote" and data.feature_names == ["age", "income"]
    assert load_data(data=path, target="vote", drop=["'age'"]).feature_names == ["income"]


# --- the storage URL of spawned workers --------------------------------------------------


def test_spawned_workers_get_the_storage_url_by_environment(monkeypatch: Any) -> None:
    started: list[tuple[list[str], dict[str, str]]] = []

    def popen(cmd: list[str], env: dict[str, str], **kwargs: Any) -> Any:
        started.append((cmd, env))
        return SimpleNamespace()

    monkeypatch.setattr(subprocess, "Popen", popen)
    url = "postgresql://nas:s3cret@db.example/nas"
    worker.spawn_workers(url, "s", 2, n_trials=4, timeout=None, heartbeat=10)
    assert len(started) == 2
    for cmd, env in started:
        assert not any("s3cret" in part for part in cmd), cmd
        assert env[worker.STORAGE_ENV] == url


def test_nas_worker_reads_the_storage_url_from_the_environment(
    tmp_path: Path, cli: Any, monkeypatch: Any
) -> None:
    monkeypatch.delenv(worker.STORAGE_ENV, raising=False)
    line = one_error_line(cli("worker", "--storage", "", "--study", "s"))
    assert "No storage URL" in line and worker.STORAGE_ENV in line
    monkeypatch.setenv(worker.STORAGE_ENV, f"sqlite:///{tmp_path / 'w.db'}")
    line = one_error_line(cli("worker", "--storage", "", "--study", "s"))
    assert "w.db (from --storage) does not exist" in line  # the storage the variable names
    assert not (tmp_path / "w.db").exists()  # a worker creates no empty study file


# --- a failed copy of the report ---------------------------------------------------------


def test_a_failed_report_copy_is_a_warning_after_a_finished_search(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the reports folder would go")
    result = nas.search("iris", out=tmp_path / "run", report=True, reports_dir=blocker / "x",
                        **QUICK)  # fmt: skip
    assert result.report_path == tmp_path / "run" / "report.html"
    assert result.report_path.is_file()
    assert len(result.warnings) == 1 and "copying it into" in result.warnings[0]
    assert blocker.read_text().startswith("a file")


def test_copy_report_copies_under_the_run_name(tmp_path: Path) -> None:
    report = tmp_path / "run" / "report.html"
    report.parent.mkdir()
    report.write_text("<html></html>")
    result = SimpleNamespace(run_dir=tmp_path / "run", warnings=[])
    copy_report(result, report, tmp_path / "reports")  # type: ignore[arg-type]
    assert (tmp_path / "reports" / "run.html").read_text() == "<html></html>"
    assert result.warnings == []


def test_a_second_search_in_a_folder_a_search_is_running_in_is_refused(tmp_path: Path) -> None:
    """Two searches started together on one new folder both passed the resume check and merged
    into one study, each retraining and reporting; the run directory's lock refuses the
    second. A folder a search died in before its record (only the lock file left) resumes."""
    import fcntl

    import nas
    from nas.errors import NasError

    run = tmp_path / "run"
    run.mkdir()
    with open(run / ".nas.lock", "a") as other:  # another search holds it
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(NasError) as refused:
            nas.search(dataset="iris", space="fnn", n_trials=1, epochs=1, out=run, threads=1,
                       finalize=False)  # fmt: skip
        assert str(refused.value) == (
            f"Another nas search is running in {run} now; wait for it to end (or stop it), or "
            "give this search another --out."
        )
        assert sorted(p.name for p in run.iterdir()) == [".nas.lock"]  # nothing written
    done = nas.search(dataset="iris", space="fnn", n_trials=1, epochs=1, out=run, threads=1,
                      finalize=False)  # fmt: skip
    assert len(done.study.trials) >= 1
    again = nas.search(
        dataset="iris", space="fnn", n_trials=2, epochs=1, out=run, threads=1, finalize=False
    )  # the lock was released: the same search resumes
    assert len([t for t in again.study.trials if t.state.name == "COMPLETE"]) == 2


def test_a_run_copied_without_its_study_db_is_not_searched_afresh(tmp_path: Path) -> None:
    """A run copied without study.db, re-run with the same command, had started a fresh study
    beside the old winner and leaderboard, losing the record that those trials ran."""
    import shutil

    import nas
    from nas.errors import StorageError

    nas.search(dataset="iris", space="fnn", n_trials=1, epochs=1, out=tmp_path / "run",
               threads=1)  # fmt: skip
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "run", copy, ignore=shutil.ignore_patterns("study.db*"))
    before = sorted(p.name for p in copy.rglob("*"))
    with pytest.raises(StorageError) as refused:
        nas.search(dataset="iris", space="fnn", n_trials=2, epochs=1, out=copy, threads=1)
    assert str(refused.value).startswith(
        f"{copy / 'study.db'} does not exist, but {copy / 'run.json'} records a search whose "
        "trials ran (its best/ holds a winner); searching there would start afresh"
    )
    assert "(run.json names sqlite:///" in str(refused.value)  # the original's study.db
    assert sorted(p.name for p in copy.rglob("*")) == before  # nothing written
