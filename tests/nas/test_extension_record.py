"""What a run records of the extensions it ran with, and what reading or resuming it says.

An extension's code changed since the search (its SHA-256 in run.json) is refused on resume and
warned of, once, on reading (/tmp/oG5 F4); another extension's space loaded beside the search's
is not needed to read the run (F5); code defined in ``__main__`` is named as such, not as a
damaged run nor as a file to load (F7); ``--extension`` after the command says where it goes
(F11). Every test works on a copy of the session's finished run: no search runs here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from search_spaces import extensions
from search_spaces.blocks._base import _REGISTRY
from tests.conftest import FinishedRun, copy_finished_run, invoke

pytestmark = pytest.mark.usefixtures("restore_global_state")

BLOCK = """
from search_spaces.blocks import Shape, register
from torch import nn

@register("recordblock.v1", family="fnn", accepts=("vec",), params={})
def build(shape, p):
    return nn.Identity(), shape
"""


@pytest.fixture
def loaded_ext(tmp_path: Path) -> Iterator[Path]:
    """An extension file loaded in this process; unloaded afterwards."""
    path = tmp_path / "record_ext_for_test.py"
    path.write_text(BLOCK)
    extensions.load_extensions(str(path))
    extensions._WARNED.clear()
    yield path.resolve()
    _REGISTRY.pop("recordblock.v1", None)
    extensions.forget("block", "recordblock.v1")
    extensions._FROM_FILE.pop(path.stem, None)
    sys.modules.pop(path.stem, None)
    extensions._WARNED.clear()


def _edit(run: Path, **changes: object) -> dict:
    record = json.loads((run / "run.json").read_text())
    record.update(changes)
    (run / "run.json").write_text(json.dumps(record))
    return record


WARNING = "is not the code the search ran"


def test_a_run_read_with_other_extension_code_warns_once(
    finished_run: FinishedRun, loaded_ext: Path, tmp_path: Path
) -> None:
    run = copy_finished_run(finished_run, tmp_path)
    digest = extensions.digest(str(loaded_ext))
    assert digest is not None and digest.startswith("sha256:")
    # an earlier version's run (no digests) and the same code: no warning
    _edit(run, extensions=[str(loaded_ext)])
    assert invoke("show", run).exit_code == 0
    _edit(run, extension_digests={str(loaded_ext): digest})
    same = invoke("show", run)
    assert same.exit_code == 0 and WARNING not in same.stderr
    # other code: one line naming the file, not an error
    _edit(run, extension_digests={str(loaded_ext): "sha256:" + "ab" * 32})
    shown = invoke("show", run)
    assert shown.exit_code == 0, shown.stderr
    lines = [line for line in shown.stderr.splitlines() if WARNING in line]
    assert len(lines) == 1, shown.stderr
    assert lines[0].startswith(f"warning: the extension '{loaded_ext}' is not the code the search")
    assert (
        "sha256 abababababab" in lines[0]
        and "predictions and explanations may differ" in (lines[0])
    )


def test_a_resume_with_other_extension_code_is_refused(
    finished_run: FinishedRun, loaded_ext: Path, tmp_path: Path
) -> None:
    run = copy_finished_run(finished_run, tmp_path)
    _edit(run, extensions=[str(loaded_ext)],
          extension_digests={str(loaded_ext): "sha256:" + "ab" * 32})  # fmt: skip
    before = (run / "run.json").read_text()
    args = list(finished_run.args)
    args[args.index("--out") + 1] = str(run)
    again = invoke(*args)
    assert again.exit_code == 2, again.output
    said = again.stderr.strip()
    assert "\n" not in said and said.startswith(f"error: {run} was searched with other code of "
                                                f"the extension '{loaded_ext}'")  # fmt: skip
    assert "Restore that file to resume, or pass --out a new folder" in said
    assert (run / "run.json").read_text() == before  # nothing written


def test_another_extension_space_beside_the_search_is_not_needed(
    finished_run: FinishedRun, tmp_path: Path
) -> None:
    """run.json records every registered space's dimensions; one of an extension the search
    loaded but never sampled had made `nas show` fail ("upgrade nas on this machine")."""
    run = copy_finished_run(finished_run, tmp_path)
    record = json.loads((run / "run.json").read_text())
    record["space"]["dims"]["liarnet.units"] = {"choices": [4, 8]}
    _edit(run, space=record["space"], extensions=["/nowhere/wrongshape.py"])
    shown = invoke("show", run)
    assert shown.exit_code == 0, shown.stderr
    assert "winner" in shown.stdout


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


def test_a_nas_option_after_the_command_says_where_it_goes(
    finished_run: FinishedRun, tmp_path: Path
) -> None:
    shown = invoke("show", finished_run.run_dir, "--extension", "x.py")
    assert shown.exit_code == 2
    assert "No such option: --extension" in shown.stderr
    assert "--extension is an option of nas itself: it goes before the command" in shown.stderr
