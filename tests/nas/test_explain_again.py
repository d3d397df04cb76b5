"""`nas explain RUN` made again from the run directory gives the same numbers: the checks that
re-run an explainer use as many examples as the stored explanation's did (a count fitted to a
time limit on the machine that made it), not as many as the clock allows now (/tmp/oV F1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import nas
from explain import explanations
from tests.conftest import FinishedRun, copy_finished_run

RERUN = ("sensitivity", "randomisation")


def _reruns(run: Path) -> dict[tuple[str, str], tuple[int, Any]]:
    checks = json.loads((run / "explain" / "explanations.json").read_text())["checks"]
    return {(c["method"], c["name"]): (c["extra"]["n_examples"], c.get("value"))
            for c in checks if c["name"] in RERUN}  # fmt: skip


def test_explaining_again_uses_the_stored_rerun_counts(
    finished_run: FinishedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = copy_finished_run(finished_run, tmp_path)
    methods = ["integrated_gradients", "saliency"]
    original = explanations.run_checks

    def hurried(*args: Any, **kw: Any) -> Any:  # a machine too slow for more than the fewest
        return original(*args, **{**kw, "time_budget": 1e-9})

    for name in ("explanations.json", "attributions.npz"):  # the search's own: made afresh
        (run / "explain" / name).unlink(missing_ok=True)
    monkeypatch.setattr(explanations, "run_checks", hurried)
    nas.explain(run, methods=methods)
    first = _reruns(run)
    assert {n for n, _ in first.values()} == {8}  # RERUN_MIN of iris's 23 test examples
    monkeypatch.setattr(explanations, "run_checks", original)
    nas.explain(run, methods=methods)  # a quiet machine: all 23 would fit now
    assert _reruns(run) == first
    (run / "explain" / "explanations.json").unlink()
    (run / "explain" / "attributions.npz").unlink()
    nas.explain(run, methods=methods)  # nothing stored to follow: the time limit decides
    assert {n for n, _ in _reruns(run).values()} == {23}


def test_a_lost_stop_ends_the_explanations_at_the_next_forward_pass(
    finished_run: FinishedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGTERM whose KeyboardInterrupt Python dropped (raised in a finalizer) sets
    ``stop_pending``; training raised it again, but explanations ran on to the end. Now the
    winner's next forward pass raises it, and the stored explanation is left as it was."""
    import nas.train.loop as loop
    from nas.explaining import explain_run

    run = copy_finished_run(finished_run, tmp_path)
    before = (run / "explain" / "explanations.json").read_bytes()
    monkeypatch.setattr(loop, "stop_pending", True)
    with pytest.raises(KeyboardInterrupt):
        explain_run(run, samples=8, methods=["saliency"], checks=False)
    assert (run / "explain" / "explanations.json").read_bytes() == before
    monkeypatch.setattr(loop, "stop_pending", False)
    assert explain_run(run, samples=8, methods=["saliency"], checks=False).attributions
