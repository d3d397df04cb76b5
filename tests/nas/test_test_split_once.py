"""The test split is read once, after the search: no trial, pruner, sampler or leaderboard
touches it, so nothing is selected on it (issue 11, "Keep")."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest

import nas
import nas.session
from nas.config import SearchConfig
from nas.data import load_data
from nas.data.taskdata import Split

pytestmark = pytest.mark.usefixtures("restore_global_state")


class GuardedSplit:
    """A split whose values record who read them, and when (before or after finalize)."""

    def __init__(self, split: Split, log: dict[str, Any]) -> None:
        self._split, self._log = split, log

    def _read(self) -> None:
        when = "after" if self._log["finalizing"] else "before"
        self._log[when].append("".join(traceback.format_stack(limit=6)))

    @property
    def X(self) -> Any:  # noqa: N802 - the Split's name
        self._read()
        return self._split.X

    @property
    def y(self) -> Any:
        self._read()
        return self._split.y

    @property
    def y_units(self) -> Any:  # a regression's targets as read: a read of the test split too
        self._read()
        return self._split.y_units

    def __len__(self) -> int:  # the size is no peek at the values
        return len(self._split)


def test_the_test_split_is_read_only_after_the_search(tmp_path: Path, monkeypatch) -> None:
    log: dict[str, Any] = {"finalizing": False, "before": [], "after": []}
    data = load_data(dataset="digits", seed=0)
    data.test = GuardedSplit(data.test, log)  # type: ignore[assignment]
    monkeypatch.setattr(SearchConfig, "load_data", lambda self: data)
    real_finalize = nas.session.finalize_run

    def finalize(*args: Any, **kwargs: Any) -> None:
        log["finalizing"] = True
        real_finalize(*args, **kwargs)

    monkeypatch.setattr(nas.session, "finalize_run", finalize)
    result = nas.search(dataset="digits", seed=0, n_trials=4, epochs=2, out=tmp_path / "run",
                        explain=False, report=False, timeout=300)  # fmt: skip
    assert result.counts.get("complete", 0) >= 1
    assert log["before"] == [], "the test split was read during the search:\n" + log["before"][0]
    assert log["after"], "the winner was never tested"
    assert 0.5 < result.metrics["test"]["accuracy"] <= 1.0
