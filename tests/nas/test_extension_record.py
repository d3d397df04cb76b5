"""What a run records of the extensions it ran with, and what reading or resuming it says.

An extension's code changed since the search (its SHA-256 in run.json) is refused on resume and
warned of, once, on reading (/tmp/oG5 F4); another extension's space loaded beside the search's
is not needed to read the run (F5); code defined in ``__main__`` is named as such, not as a
damaged run nor as a file to load (F7); ``--extension`` after the command says where it goes
(F11). Every test works on a copy of the session's finished run: no search runs here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FinishedRun, copy_finished_run, invoke

pytestmark = pytest.mark.usefixtures("restore_global_state")


def _edit(run: Path, **changes: object) -> dict:
    record = json.loads((run / "run.json").read_text())
    record.update(changes)
    (run / "run.json").write_text(json.dumps(record))
    return record


@pytest.mark.parametrize("recorded", ["__main__", "/somewhere/<stdin>"])
def test_a_run_of_code_defined_in_main_says_so(
    finished_run: FinishedRun, tmp_path: Path, recorded: str
) -> None:
    run = copy_finished_run(finished_run, tmp_path)
    record = json.loads((run / "run.json").read_text())
    record["space"]["space"] = "nbspace"
    _edit(run, space=record["space"], space_name="nbspace", extensions=[recorded])
    shown = invoke("show", run)
    assert shown.exit_code == 2
    said = shown.stderr.strip()
    assert "\n" not in said
    assert said.startswith(f"error: {run / 'run.json'} names the space 'nbspace', which is not "
                           "registered here: the search defined it in a notebook")  # fmt: skip
    assert "the run is intact" in said
    assert "damaged" not in said and "re-run" not in said and "<stdin>" not in said
