"""The run directory: the winner reloads and reproduces its recorded test metrics; files are
written atomically and readably; missing pieces are named."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import pytest
import torch

import nas
from nas import run as rundir
from nas.errors import NasError, StorageError
from nas.train import evaluate
from search_spaces import ArchSpec, build_model

pytestmark = pytest.mark.usefixtures("restore_global_state")


def _test_metrics(model: torch.nn.Module, dataset: str, seed: int) -> dict:
    data = nas.load_data(dataset=dataset, seed=seed)
    return evaluate(model, data.test, data.task, data.output_size)


def test_best_model_reloads_and_reproduces_the_test_accuracy(finished_run) -> None:
    best = finished_run.run_dir / "best"
    recorded = json.loads((best / "metrics.json").read_text())["test"]

    spec = ArchSpec.from_json((best / "spec.json").read_text())
    model = build_model(spec)
    state = torch.load(best / "model.pt", weights_only=True)
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state)
    model.eval()

    again = _test_metrics(model, finished_run.dataset, finished_run.seed)
    assert again["accuracy"] == recorded["accuracy"]  # exactly, not approximately
    assert again["confusion_matrix"] == recorded["confusion_matrix"]


def test_load_model_and_load_run_give_the_same_model(finished_run) -> None:
    run_dir = finished_run.run_dir
    recorded = json.loads((run_dir / "best" / "metrics.json").read_text())
    data = nas.load_data(dataset=finished_run.dataset, seed=finished_run.seed)

    loaded = nas.load_model(run_dir)
    assert not loaded.training
    from_best_folder = nas.load_model(run_dir / "best")
    result = nas.load_run(run_dir, load_data_too=True)
    assert result.model is not None and result.spec == loaded.spec
    with torch.no_grad():
        ref = loaded(data.test.X)
        assert torch.equal(from_best_folder(data.test.X), ref)
        assert torch.equal(result.model(data.test.X), ref)

    assert (
        _test_metrics(loaded, finished_run.dataset, finished_run.seed)["accuracy"]
        == (recorded["test"]["accuracy"])
    )
    assert result.test_metrics == recorded["test"]
    assert result.cost is not None and result.cost.params == recorded["cost"]["params"]
    assert result.pareto == [recorded]
    assert len(result.leaderboard) == len(result.study.trials) == 3
    assert sum(result.counts.values()) == 3
    # load_data_too rebuilds the very split the winner was tested on
    assert result.data is not None and torch.equal(result.data.test.X, data.test.X)

    shown = nas.show(run_dir)
    assert shown["run"]["study"] == finished_run.study
    assert shown["best"] == recorded
    assert len(shown["leaderboard"]) == 3


def test_artifacts_are_readable_by_others_like_any_new_file(finished_run) -> None:
    """Atomic writes go through mkstemp (mode 0600); the result must follow the umask."""
    mask = os.umask(0)
    os.umask(mask)
    want = 0o666 & ~mask
    ours = [p for p in finished_run.run_dir.rglob("*") if p.is_file() and p.name != "study.db"]
    assert len(ours) >= 6
    for path in ours:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == want, (path.name, oct(mode), oct(want))


# ---------------------------------------------------------------- the helpers of nas.run


def test_write_json_is_atomic_and_nan_safe(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.json"
    rundir.write_json(path, {"a": math.nan, "b": [math.inf, 1.5], "c": torch.tensor(2.0)})
    assert json.loads(path.read_text()) == {"a": None, "b": [None, 1.5], "c": 2.0}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]  # no temporary file left


def test_write_leaderboard_keeps_the_column_order(tmp_path: Path) -> None:
    path = tmp_path / "leaderboard.csv"
    rows = [{"number": 0, "state": "complete", "reason": None, "objective_params": 10.0}]
    rundir.write_leaderboard(path, rows, ["objective_params"])
    header, line = path.read_text().splitlines()
    assert header.split(",") == [*rundir.LEADERBOARD_COLUMNS, "objective_params"]
    assert line.startswith("0,complete,") and line.endswith(",10.0")


def test_read_json_names_the_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(NasError, match="run directory"):
        rundir.read_json(tmp_path / "run.json")
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(NasError, match="not valid JSON"):
        rundir.read_json(tmp_path / "run.json")


def test_ensure_writable_names_the_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError, match="--out"):
        rundir.ensure_writable(tmp_path / "file" / "run")
    assert rundir.ensure_writable(tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []


def test_load_model_without_weights_says_how_to_finish(tmp_path: Path, finished_run) -> None:
    folder = tmp_path / "best"
    folder.mkdir()
    (folder / "spec.json").write_text((finished_run.run_dir / "best" / "spec.json").read_text())
    with pytest.raises(NasError, match="Run `nas search` again"):
        rundir.load_model(folder)
    with pytest.raises(NasError, match="spec.json"):
        rundir.load_model(tmp_path / "nothing")


def test_save_model_dir_round_trips(tmp_path: Path, finished_run) -> None:
    model = nas.load_model(finished_run.run_dir)
    rundir.save_model_dir(tmp_path / "copy", model.spec, model, {"trial": 0})
    again = rundir.load_model(tmp_path / "copy")
    x = torch.randn(5, *model.spec.input_shape)
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [
        "metrics.json", "model.pt", "sha256.json", "spec.json",
    ]  # fmt: skip
    # the digests are the files' own (computed here with hashlib, independently)
    import hashlib
    import json

    sums = json.loads((tmp_path / "copy" / "sha256.json").read_text())
    for name in ("spec.json", "model.pt"):
        assert sums[name] == hashlib.sha256((tmp_path / "copy" / name).read_bytes()).hexdigest()


def test_study_db_alone_holds_every_trial_when_the_search_ends(tmp_path: Path) -> None:
    """SQLite keeps recent commits in study.db-wal while a connection is open; the search
    merges it into study.db before it returns, so a copy of study.db alone (read here with
    ``immutable``, which ignores the -wal file) has every trial the leaderboard lists."""
    import contextlib
    import sqlite3

    import pandas as pd

    from tests.conftest import LEAN, invoke, write_space

    run = tmp_path / "run"
    with contextlib.chdir(tmp_path):
        result = invoke("search", "--dataset", "iris", "--space", write_space(tmp_path),
                        "--trials", "4", "--epochs", "2", "--out", run, *LEAN)  # fmt: skip
    assert result.exit_code == 0, result.output
    board = pd.read_csv(run / "leaderboard.csv")
    uri = f"file:{run / 'study.db'}?immutable=1"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        states = [s for (s,) in db.execute("SELECT state FROM trials ORDER BY number")]
        attrs = db.execute("SELECT count(*) FROM trial_user_attributes").fetchone()[0]
    assert len(states) == len(board) == 4 and "RUNNING" not in states
    assert states.count("COMPLETE") == int((board["state"] == "complete").sum())
    assert attrs > 4 * 5  # the trials' records too (params, flops, curve, ...)
    wal = run / "study.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    # reading it then opens study.db as immutable: not even SQLite's -shm file is touched
    import shutil

    copy = Path(shutil.copytree(run, tmp_path / "copy"))
    if not (copy / "study.db-wal").exists():  # as a process that exits with it open leaves it
        (copy / "study.db-wal").write_bytes(b"")
    before = {p.name: p.read_bytes() for p in copy.glob("study.db*")}
    with contextlib.chdir(tmp_path):
        assert invoke("report", copy, "-o", tmp_path / "r.html").exit_code == 0
    assert {p.name: p.read_bytes() for p in copy.glob("study.db*")} == before
