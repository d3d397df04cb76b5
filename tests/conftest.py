"""Fixtures shared by the search-side tests: tiny spaces, a CLI runner, one finished search.

Nothing here is autouse: other test packages keep their own set-up.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import torch
from typer.testing import CliRunner, Result

#: One dense block of 8 or 16 units, no hidden head layer: a search of it trains in a second.
TINY_FNN = """\
space = "fnn"
[fnn]
n_blocks = 1
units = { choices = [8, 16] }
[head]
hidden = 0
[train]
batch_size = 32
"""

#: What every CLI search of the tests adds: one torch thread, so that two cores stay shared.
LEAN = ("--threads", "1")


def write_space(folder: Path, text: str = TINY_FNN, name: str = "space.toml") -> Path:
    """A TOML space declaration in ``folder``."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def invoke(*args: str | os.PathLike[str]) -> Result:
    """``nas ARGS`` in-process; stdout and stderr are kept apart (``result.stderr``)."""
    from nas.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def restore_global_state() -> Iterator[None]:
    """Searches set torch's thread count and Optuna's verbosity for the process; undo that."""
    threads, verbosity = torch.get_num_threads(), optuna.logging.get_verbosity()
    yield
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(verbosity)


@pytest.fixture
def tiny_space(tmp_path: Path) -> Path:
    """The TINY_FNN space as a file."""
    return write_space(tmp_path)


@dataclass(frozen=True)
class FinishedRun:
    """A search run once through the CLI, shared read-only by the tests that inspect it."""

    run_dir: Path
    result: Result
    args: tuple[str, ...]
    dataset: str
    seed: int
    study: str


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """``nas search --dataset iris --space TINY --trials 3 --epochs 2`` through the CLI."""
    threads, verbosity = torch.get_num_threads(), optuna.logging.get_verbosity()
    root = tmp_path_factory.mktemp("finished-run")
    space = write_space(root)
    run_dir = root / "run"
    args = ("search", "--dataset", "iris", "--space", str(space), "--trials", "3",
            "--epochs", "2", "--seed", "3", "--study", "iris-tiny", "--out", str(run_dir),
            *LEAN)  # fmt: skip
    with contextlib.chdir(root):  # the search copies its report into ./reports: not the repo
        result = invoke(*args)
    torch.set_num_threads(threads)  # before any other test runs, not at the session's end
    optuna.logging.set_verbosity(verbosity)
    return FinishedRun(run_dir, result, args, "iris", 3, "iris-tiny")


def explain_helper(name: str) -> Any:
    """tests/explain/<name>.py as a module, loaded once under the bare ``name`` (tests/ is not
    a package; importlib mode): every test module and tests/explain/conftest.py that asks for
    it gets the same module object, so its classes are the same too."""
    import importlib.util
    import sys

    if name not in sys.modules:
        path = Path(__file__).parent / "explain" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def copy_finished_run(finished_run: FinishedRun, folder: Path) -> Path:
    """``folder/run``: a copy of the finished run to change, its study's -wal merged first (the
    search ran in this process, whose connection may still hold it)."""
    import shutil
    import sqlite3

    with contextlib.closing(sqlite3.connect(finished_run.run_dir / "study.db")) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    run = folder / "run"
    shutil.copytree(finished_run.run_dir, run)
    return run


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """``cli("search", "--dataset", ...)``: the ``nas`` command in-process, run from the test's
    tmp_path (a search copies its report into ./reports, which must not be the repo)."""
    monkeypatch.chdir(tmp_path)
    return invoke


@pytest.fixture
def make_space(tmp_path: Path) -> Callable[..., Path]:
    """``make_space(text=TINY_FNN, name="space.toml")``: a TOML space file in tmp_path."""

    def make(text: str = TINY_FNN, name: str = "space.toml") -> Path:
        return write_space(tmp_path, text, name)

    return make


def weighted_rho(a: Any, b: Any) -> float:
    """Spearman's rho with unit i weighted by a_i / sum(a) + b_i / sum(b), written out (what
    explain.compare.rank_agreement computes with numpy.cov); NaN for a constant map."""
    from scipy.stats import rankdata

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    w = a / a.sum() + b / b.sum()
    ra, rb = rankdata(a), rankdata(b)
    ma, mb = (w * ra).sum() / w.sum(), (w * rb).sum() / w.sum()
    cov = (w * (ra - ma) * (rb - mb)).sum()
    return float(cov / np.sqrt((w * (ra - ma) ** 2).sum() * (w * (rb - mb) ** 2).sum()))
