"""``nas explain RUN --top K`` on a real (small) multi-objective search: every model of the
Pareto front explained alike, stored in RUN/explain-top/, compared in comparison.json (checked
here against ranks recomputed from the stored attributions), shown in the report; and the
one-line errors of a wrong K or a run without top/."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from explain.explanations import Explanations
from tests.conftest import weighted_rho

IG = "integrated_gradients"


def nas_cli(*args: str | Path) -> object:
    """``nas ARGS`` in-process (stdout and stderr apart)."""
    from typer.testing import CliRunner

    from nas.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the sha256 of its content, but SQLite's own -wal and
    -shm beside study.db: they last as long as a connection does (the search's is closed
    whenever its objects are collected, which deletes them) and hold nothing once the search
    has merged its log into study.db, whose own content is compared."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A breast_cancer search for accuracy and size, three Pareto-optimal models kept, the
    winner explained on 24 examples with integrated gradients."""
    import nas

    root = tmp_path_factory.mktemp("explain-top")
    threads, verbosity = torch.get_num_threads(), optuna.logging.get_verbosity()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # nothing lands in the repository's runs/ or reports/
        nas.search("breast_cancer", space="fnn", objectives="accuracy,params", top=3,
                   n_trials=8, epochs=5, pruner="none", seed=0, out=root / "run", threads=1,
                   reports_dir=None)  # fmt: skip
        nas.explain(root / "run", samples=24, methods=[IG], checks=False)
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(verbosity)
    run = root / "run"
    assert sorted(p.name for p in (run / "top").iterdir()) == ["1", "2", "3"]
    yield run


@pytest.fixture(scope="module")
def explained(front: Path) -> tuple[Path, object, dict[str, str]]:
    """``nas.explain(run, top=5)`` (capped at the three models there), with the run's files
    before it."""
    import nas

    before = tree(front)
    result = nas.explain(front, top=5)
    return front, result, before


def test_every_model_is_explained_alike(explained: tuple[Path, object, dict[str, str]]) -> None:
    from nas.config import SearchConfig

    run, result, before = explained
    folder = run / "explain-top"
    assert result.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == ["1", "2", "3", "comparison.json"]
    assert not list(run.glob(".explain-top*"))  # the temporary folder was swapped in
    # nothing that was there is lost or changed: explain-top/ is all that is new
    after = tree(run)
    assert {k: v for k, v in after.items() if not k.startswith("explain-top/")} == before
    comparison = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))
    # the winner's settings: its 24 examples, its one method
    assert comparison["samples"] == 24 and comparison["sample_indices"] == list(range(24))
    assert comparison["methods"] == [IG] and comparison["method"] == IG
    test_X = SearchConfig.read(run).load_data().test.X[:24].numpy()
    exps = [Explanations.load(folder / str(k)) for k in (1, 2, 3)]
    for k, exp in enumerate(exps, start=1):
        assert {p.name for p in (folder / str(k)).iterdir()} == {
            "attributions.npz", "explanations.json", "source.json"}  # fmt: skip
        np.testing.assert_array_equal(exp.X, test_X)  # the same examples, in the same order
        assert list(exp.attributions) == [IG] and exp.attributions[IG].values.shape == (24, 30)
        assert {c.name for c in exp.checks} >= {"completeness", "infidelity", "deletion"}
    # each model's record is its metrics.json
    for k, model in enumerate(comparison["models"], start=1):
        metrics = json.loads((run / "top" / str(k) / "metrics.json").read_text(encoding="utf-8"))
        assert model["rank"] == k and model["folder"] == f"top/{k}"
        assert model["trial"] == metrics["trial"] and model["family"] == metrics["family"]
        assert model["params"] == metrics["cost"]["params"]
        assert model["test"] == pytest.approx(metrics["test"]["accuracy"])
        assert set(model["checks"]) == {IG} and model["checks"][IG] in {"pass", "warn", "fail"}


def test_the_agreement_is_weighted_spearman_of_the_stored_maps(
    explained: tuple[Path, object, dict[str, str]],
) -> None:
    run, _, _ = explained
    folder = run / "explain-top"
    comparison = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))
    values = [np.abs(Explanations.load(folder / str(k)).attributions[IG].values) for k in (1, 2, 3)]
    g = np.array(comparison["agreement"]["global"], dtype=float)
    loc = np.array(comparison["agreement"]["local"], dtype=float)
    np.testing.assert_array_equal(g, g.T)
    np.testing.assert_array_equal(loc, loc.T)
    np.testing.assert_array_equal(np.diag(g), 1.0)
    np.testing.assert_array_equal(np.diag(loc), 1.0)
    for i in range(3):
        np.testing.assert_allclose(comparison["models"][i]["global"], values[i].mean(0), atol=2e-6)
        for j in range(i + 1, 3):
            want = weighted_rho(values[i].mean(0), values[j].mean(0))
            assert g[i, j] == pytest.approx(want, abs=1e-5)
            rows = [weighted_rho(a, b) for a, b in zip(values[i], values[j], strict=True)]
            assert loc[i, j] == pytest.approx(np.nanmean(rows), abs=1e-5)
    # one family: its mean over the three pairs
    fam = comparison["families"]
    assert fam["names"] == ["fnn"] and fam["pairs"] == [[3]]
    assert fam["global"][0][0] == pytest.approx((g[0, 1] + g[0, 2] + g[1, 2]) / 3, abs=1e-5)


def test_two_identical_models_agree_exactly(front: Path, tmp_path: Path) -> None:
    import nas

    run = Path(shutil.copytree(front, tmp_path / "run"))
    shutil.rmtree(run / "top" / "2")
    shutil.copytree(run / "top" / "1", run / "top" / "2")
    result = nas.explain(run, top=2, samples=10, methods=[IG], checks=False)
    assert result.comparison["agreement"]["global"] == [[1.0, 1.0], [1.0, 1.0]]
    assert result.comparison["agreement"]["local"][0][1] == pytest.approx(1.0, abs=1e-9)
    assert result.comparison["samples"] == 10


def test_the_cli_prints_the_comparison_and_the_report_shows_it(
    explained: tuple[Path, object, dict[str, str]], tmp_path: Path
) -> None:
    from nas.reporting import _comparison, write_report

    run, _, _ = explained
    result = nas_cli("explain", run, "--top", "2", "--samples", "6", "--methods", IG)
    assert result.exit_code == 0, result.output + result.stderr
    out = "".join(result.stdout.split())
    assert "2modelsexplainedalikeon6testexamples" in out
    assert "Thesmallestmodel" in out and f"storedin{run / 'explain-top'}" in out
    comparison = json.loads((run / "explain-top" / "comparison.json").read_text())
    assert [m["rank"] for m in comparison["models"]] == [1, 2] and comparison["samples"] == 6
    html = write_report(run, tmp_path / "report.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="compare">') :]
    section = section[: section.index("</section>")]
    assert "Across the front" in section and "The smallest model (#2" in section
    assert section.count('id="fig-compare-map-') == 2
    assert 'id="fig-compare-agreement-' in section
    # a later search that changes a model of the front makes the comparison stale
    shutil.copy(run / "top" / "3" / "model.pt", run / "top" / "2" / "model.pt")
    assert "no longer in top/ (top/2)" in _comparison(run)["note"]


@pytest.mark.parametrize(
    ("top", "remove_top", "message"),
    [
        ("0", False, "--top must be at least 1, got 0"),
        ("2", True, "has no top/ folder of Pareto-optimal models"),
    ],
)
def test_a_wrong_top_is_one_line_and_exit_2(
    front: Path, tmp_path: Path, top: str, remove_top: bool, message: str
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("run.json", "study.db", "leaderboard.csv"):
        shutil.copy(front / name, run / name)
    shutil.copytree(front / "best", run / "best")
    if not remove_top:
        shutil.copytree(front / "top", run / "top")
    result = nas_cli("explain", run, "--top", top)
    assert result.exit_code == 2, result.output + result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr and "Traceback" not in result.output + result.stderr
    assert not (run / "explain-top").exists()


def test_explain_top_on_a_front_of_one_says_the_front_held_one(front: Path, tmp_path: Path) -> None:
    """The README's Pareto commands on a short search: --top 3 kept one model (the search
    warned "the Pareto front holds 1 trial, all kept; best/ holds it"), and `nas explain RUN
    --top 3` told the user to search with --top 3, which they had (/tmp/oK item 1)."""
    run = tmp_path / "run"
    run.mkdir()
    for name in ("run.json", "study.db", "leaderboard.csv"):
        shutil.copy(front / name, run / name)
    shutil.copytree(front / "best", run / "best")
    summary = json.loads((front / "summary.json").read_text())
    summary["warnings"] = ["--top 3: the Pareto front holds 1 trial, all kept; best/ holds it."]
    (run / "summary.json").write_text(json.dumps(summary))
    result = nas_cli("explain", run, "--top", "3")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    top = json.loads((run / "run.json").read_text())["top"]
    assert (f"was searched with --top {top}, but its Pareto front held one trial, kept in best/ "
            f"alone, so there is nothing to compare; explain it with `nas explain {run}`"
            ) in result.stderr  # fmt: skip
