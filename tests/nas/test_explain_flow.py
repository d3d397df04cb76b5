"""``nas explain RUN_DIR`` on a real (tiny) finished run: what it stores, what it prints, and
the one-line errors of a wrong method or a run without a winner."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from explain.explanations import Explanations

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


def nas_cli(*args: str | Path) -> object:
    """``nas ARGS`` in-process (stdout and stderr apart)."""
    from typer.testing import CliRunner

    from nas.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny iris search, neither explained nor reported: ``nas explain`` does that here."""
    root = tmp_path_factory.mktemp("explain-flow")
    space = root / "space.toml"
    space.write_text(TINY_FNN, encoding="utf-8")
    threads, verbosity = torch.get_num_threads(), optuna.logging.get_verbosity()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # nothing lands in the repository's runs/ or reports/
        result = nas_cli(
            "search", "--dataset", "iris", "--space", space, "--trials", "3", "--epochs", "2",
            "--seed", "3", "--out", root / "run", "--threads", "1", "--no-explain",
            "--no-report",
        )  # fmt: skip
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(verbosity)
    assert result.exit_code == 0, result.output + result.stderr
    run = root / "run"
    assert (run / "best" / "model.pt").is_file() and not (run / "explain").exists()
    assert not (root / "reports").exists()
    yield run


@pytest.fixture
def run_copy(finished: Path, tmp_path: Path) -> Path:
    """A private copy of the finished run, for a test that writes into it."""
    return Path(shutil.copytree(finished, tmp_path / "run"))


def test_explain_stores_arrays_and_json_and_prints_the_checks(run_copy: Path) -> None:
    result = nas_cli(
        "explain", run_copy, "--samples", "8", "--methods", "integrated_gradients,shap"
    )
    assert result.exit_code == 0, result.output + result.stderr
    folder = run_copy / "explain"
    assert {p.name for p in folder.iterdir()} == {
        "attributions.npz",
        "explanations.json",
        "source.json",
    }
    assert not list(run_copy.glob(".explain*"))  # the temporary folder was swapped in
    with np.load(folder / "attributions.npz", allow_pickle=False) as z:
        assert z["X"].shape == (8, 4) and z["integrated_gradients/values"].shape == (8, 4)
    meta = json.loads((folder / "explanations.json").read_text(encoding="utf-8"))
    exp = Explanations.load(folder)
    assert list(exp.attributions) == ["integrated_gradients", "shap_exact"] == list(meta["methods"])
    assert exp.feature_names == meta["feature_names"] and len(exp.feature_names) == 4
    assert exp.class_names == meta["class_names"] and len(exp.class_names) == 3
    # the table printed is the stored one: every check, with its verdict
    out = result.stdout
    assert "explanations of 8 test examples" in out
    for check in exp.checks:
        assert check.name in out and check.status in out
    names = {c.name for c in exp.checks}
    assert {"completeness", "infidelity", "deletion", "insertion", "sensitivity"} <= names
    assert {"randomisation", "agreement"} <= names
    assert "not used: layer_gradcam" in out  # and why the others were not used
    assert f"storedin{folder}" in "".join(out.split())  # however Rich wrapped it


def test_explain_says_how_many_examples_each_check_used_and_the_reports_verdict(
    run_copy: Path,
) -> None:
    """The table had said "explanations of 180 test examples" while sensitivity and
    randomisation ran on 32, and gave verdicts on 1 example without a word; nor did it say
    what the report's first screen says of the explanations (/tmp/oW 4, 5, 6)."""
    import re

    from explain.report.decision_view import decision_view
    from nas.reporting import collect, explanation_verdict

    result = nas_cli("explain", run_copy, "--samples", "4", "--methods", "integrated_gradients")
    assert result.exit_code == 0, result.output + result.stderr
    exp = Explanations.load(run_copy / "explain")
    lines = [ln for ln in result.stdout.splitlines() if "\u2502" in ln]
    for check in exp.checks:
        row = next(ln for ln in lines if re.search(rf"\b{check.name}\b", ln))
        n = check.extra.get("n_examples", 4)
        assert f"\u2502 {n} \u2502" in re.sub(r" +", " ", row), row
        assert n <= 4 and f"{check.status}*" in row
    flat = " ".join(result.stdout.split())
    assert "note: n is the examples a check ran on; *: fewer than 8, too few to judge" in flat
    said = explanation_verdict(run_copy)
    assert said == decision_view(collect(run_copy))["explanations"]
    assert ("(on only 4 examples: too few for these verdicts to judge; explain at "
            "least 8)" in said)  # fmt: skip
    assert f"verdict: {said}" in flat


def test_explain_all_methods(run_copy: Path) -> None:
    result = nas_cli("explain", run_copy, "--samples", "4", "--methods", "all")
    assert result.exit_code == 0, result.output + result.stderr
    exp = Explanations.load(run_copy / "explain")
    captum = [c.method for c in exp.choices if c.chosen and not c.method.startswith("shap")]
    # DeepLift where every layer has a rule; a LayerNorm has none, so input x gradient instead
    spec = json.loads((run_copy / "best" / "spec.json").read_text())
    norm = any(b["params"].get("norm", "none") != "none" for b in spec["blocks"])
    third = "input_x_gradient" if norm else "deeplift"
    assert captum == ["integrated_gradients", "saliency", third, "gradient_shap", "occlusion"]
    if norm:
        (why,) = [c.reason for c in exp.choices if c.method == "deeplift"]
        assert "LayerNorm has no DeepLift rule" in why
    assert list(exp.attributions) == [*captum, "shap_exact"]
    assert all(a.values.shape == (4, 4) for a in exp.attributions.values())


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        ("integrated_gradients,nope", "Unknown explanation method 'nope'; choose from"),
        ("layer_gradcam", "Method 'layer_gradcam' is not valid for this model"),
    ],
)
def test_a_wrong_method_is_one_line_and_exit_2(finished: Path, methods: str, message: str) -> None:
    result = nas_cli("explain", finished, "--samples", "4", "--methods", methods)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not (finished / "explain").exists()


def test_a_run_without_a_winner_is_one_line_and_exit_2(finished: Path, tmp_path: Path) -> None:
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    for name in ("run.json", "study.db", "leaderboard.csv"):  # everything but best/
        shutil.copy(finished / name, unfinished / name)
    result = nas_cli("explain", unfinished, "--samples", "4")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "has no winner to explain (no best/ folder)" in result.stderr
    assert "nas search" in result.stderr and not (unfinished / "explain").exists()
    elsewhere = nas_cli("explain", tmp_path / "nothing-here")
    assert elsewhere.exit_code == 2 and elsewhere.stderr.count("\n") == 1
    assert "is this a nas run directory?" in elsewhere.stderr


def test_the_api_explains_in_one_call(run_copy: Path) -> None:
    import nas

    exp = nas.explain(run_copy, samples=4, methods=["integrated_gradients"], checks=False)
    assert list(exp.attributions) == ["integrated_gradients"] and exp.checks == []
    again = Explanations.load(run_copy / "explain")
    np.testing.assert_array_equal(again.attributions["integrated_gradients"].values,
                                  exp.attributions["integrated_gradients"].values)  # fmt: skip
