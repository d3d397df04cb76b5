"""What nas says of a GAN winner: its precision and recall named as the k-NN manifold scores they
are (not macro averages) wherever its test scores are shown -- `nas search`'s last lines, `nas
show`, the report's tiles -- while a classifier's keep their macro names; and a winner that has
collapsed -- it covers almost none of the real data (test recall ~0) or its samples of a class
barely vary with the noise -- warned of on the report's first screen (an alert above the verdict,
and the verdict), in the last lines of `nas search` and in `nas show`, a healthy one not.

``fixtures/run_gan_collapsed`` is the record of a real run, ``nas search --dataset digits --space
gan --timeout 120 --seed 0``: one trial, whose generator draws each digit as one template (test
recall 0.00, precision 0.75, conditional accuracy 0.96, within-class diversity 0.14 of the real
data's). Its study and weights are rebuilt here (the weights are not what the numbers were
measured on: nothing here samples them)."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

import nas
from nas.commands import search as search_command
from nas.gan.health import COLLAPSE_DIVERSITY, COLLAPSE_RECALL, collapse_alert
from nas.kinds import get_kind
from nas.reporting import collect, judged
from search_spaces.gan import GanSpec, build_gan

FIXTURE = Path(__file__).parent / "fixtures" / "run_gan_collapsed"
COLLAPSED = json.loads((FIXTURE / "best" / "metrics.json").read_text())


def healthy(metrics: dict[str, Any]) -> dict[str, Any]:
    """The same record with the 10-minute benchmark winner's recall (BENCHMARKS.md) and a
    within-class diversity healthy trials reach (0.4-0.7 of the real data's)."""
    out = copy.deepcopy(metrics)
    out["test"].update(precision=0.8519, recall=0.7667)
    for row in out["retrain"]["history"]:
        row["diversity"] = 0.6
    return out


def make_run(folder: Path, metrics: dict[str, Any]) -> Path:
    """A run directory of the fixture's record with ``metrics`` as its winner's: its study
    (one complete trial, as the search left it) and freshly built weights."""
    run = folder / "run"
    shutil.copytree(FIXTURE, run)
    (run / "best" / "metrics.json").write_text(json.dumps(metrics))
    spec = GanSpec.from_dict(json.loads((run / "best" / "spec.json").read_text()))
    torch.save(build_gan(spec).state_dict(), run / "best" / "model.pt")
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(study_name="digits-gan", direction="minimize",
                                    storage=f"sqlite:///{run / 'study.db'}")  # fmt: skip
        study.add_trial(optuna.trial.create_trial(value=metrics["val"]["fcd"]))
    finally:
        optuna.logging.set_verbosity(verbosity)
    return run


def _overview(html: str) -> str:
    return html[html.index('<section id="overview"') : html.index("</section>")]


# --- the names of its scores --------------------------------------------------------------------
def test_the_report_tiles_name_the_k_nn_manifold_scores(tmp_path: Path) -> None:
    from explain.report import render_html

    overview = _overview(render_html(collect(make_run(tmp_path, COLLAPSED))))
    assert '<div class="v">0.7519</div><div class="k">precision (k-NN manifold)</div>' in overview
    assert '<div class="v">0</div><div class="k">recall (k-NN manifold)</div>' in overview
    assert "macro" not in overview


def test_nas_show_names_the_k_nn_manifold_scores(tmp_path: Path, cli: Any) -> None:
    shown = cli("show", make_run(tmp_path, COLLAPSED))
    assert shown.exit_code == 0, shown.output
    test = next(line for line in shown.stdout.splitlines() if line.startswith("test: "))
    assert test.startswith("test: fcd 99.9243, precision (k-NN manifold) 0.7519, recall (k-NN "
                           "manifold) 0.0000, cond_accuracy 0.9593, ")  # fmt: skip
    assert "macro" not in test


def test_the_search_ends_naming_them(tmp_path: Path, capsys: Any) -> None:
    """`nas search`'s last lines (render_result, fed the run as nas.load_run reloads it)."""
    search_command.render_result(nas.load_run(make_run(tmp_path, healthy(COLLAPSED))))
    printed = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "precision (k-NN manifold) 0.8519, recall (k-NN manifold) 0.7667, " in printed
    assert "macro" not in printed


def test_a_classifiers_scores_keep_their_macro_names() -> None:
    test = {"accuracy": 0.9, "precision": 0.8, "recall": 0.7}
    line = search_command.test_line(test, None, get_kind("classifier"))
    assert line == "test: accuracy 0.9000, macro precision 0.8000, macro recall 0.7000"
    assert search_command.test_line(test, None) == line  # no kind: a classifier's names
    gan = search_command.test_line(test, None, get_kind("gan"))
    assert gan == ("test: accuracy 0.9000, precision (k-NN manifold) 0.8000, "
                   "recall (k-NN manifold) 0.7000")  # fmt: skip
    assert get_kind("classifier").alerts({"run": {}, "best": COLLAPSED}) == []


# --- a collapsed winner: the rule ---------------------------------------------------------------
def test_the_fixtures_winner_is_flagged_with_what_it_means_and_what_to_do() -> None:
    alert = collapse_alert(COLLAPSED)
    assert alert is not None and alert["level"] == "warn"
    text = alert["text"]
    assert text.startswith("Mode collapse: the winning generator's samples cover 0% of the real "
                           "test data (recall (k-NN manifold) 0.00")  # fmt: skip
    assert "of one class vary 14% as much as real examples do" in text  # diversity 0.139
    assert "draws each class as nearly one image and ignores its noise input" in text
    assert "whatever its FCD and conditional accuracy say" in text
    assert "search longer (a larger --timeout" in text and "gan.loss" in text


def test_a_healthy_winner_is_not_flagged() -> None:
    assert collapse_alert(healthy(COLLAPSED)) is None
    assert collapse_alert(None) is None and collapse_alert({"test": {}}) is None  # no scores


@pytest.mark.parametrize(
    ("recall", "diversity", "flagged", "noise_ignored"),
    [
        (0.0, 0.6, True, False),  # varied, but far from the real data or on a few modes only
        (COLLAPSE_RECALL - 0.01, 0.6, True, False),
        (COLLAPSE_RECALL, 0.6, False, False),
        (0.5, COLLAPSE_DIVERSITY - 0.01, True, True),  # covers, but each class is one image
        (0.5, COLLAPSE_DIVERSITY, False, False),
    ],
)
def test_either_sign_flags_the_winner(
    recall: float, diversity: float, flagged: bool, noise_ignored: bool
) -> None:
    metrics = healthy(COLLAPSED)
    metrics["test"]["recall"] = recall
    for row in metrics["retrain"]["history"]:
        row["diversity"] = diversity
    alert = collapse_alert(metrics)
    assert (alert is not None) is flagged
    if alert is not None:
        assert alert["text"].startswith("Mode collapse: ") is noise_ignored
        assert ("ignores its noise input" in alert["text"]) is noise_ignored
        assert ("whole modes of the real data are missing" in alert["text"]) is not noise_ignored


def test_the_kept_epochs_diversity_is_judged() -> None:
    metrics = healthy(COLLAPSED)
    best = metrics["retrain"]["best_epoch"]
    metrics["retrain"]["history"][best - 1]["diversity"] = 0.1  # the weights kept
    assert collapse_alert(metrics) is not None
    metrics = healthy(COLLAPSED)
    metrics["retrain"]["history"][0]["diversity"] = 0.1  # an early epoch: not what ships
    assert collapse_alert(metrics) is None


# --- a collapsed winner: where it is said -------------------------------------------------------
def test_the_reports_first_screen_warns_of_a_collapsed_winner(tmp_path: Path) -> None:
    from explain.report import render_html

    data = collect(make_run(tmp_path, COLLAPSED))
    warned = [a for a in data["alerts"] if a["text"].startswith("Mode collapse")]
    assert len(warned) == 1 and warned[0]["level"] == "warn"
    assert "But it has collapsed (see the warning above)" in data["verdict"]
    overview = _overview(render_html(data))
    said = (r'<div class="alert alert-warn">\s*<strong>warn</strong> Mode collapse: the winning '
            r"generator&#39;s samples cover 0% of the real test data")  # fmt: skip
    alert = re.search(said, overview)
    assert alert is not None
    assert alert.start() < overview.index('<div class="card verdict">')  # above the verdict
    assert "ignores its noise input" in overview


def test_the_reports_first_screen_is_quiet_for_a_healthy_winner(tmp_path: Path) -> None:
    from explain.report import render_html

    data = collect(make_run(tmp_path, healthy(COLLAPSED)))
    assert not [a for a in data["alerts"] if "collapse" in a["text"]]
    assert "collapsed" not in data["verdict"]
    overview = _overview(render_html(data))
    assert "collapse" not in overview and "ignores its noise" not in overview


@pytest.mark.parametrize("collapsed", [True, False])
def test_nas_show_says_it(tmp_path: Path, cli: Any, collapsed: bool) -> None:
    shown = cli("show", make_run(tmp_path, COLLAPSED if collapsed else healthy(COLLAPSED)))
    assert shown.exit_code == 0, shown.output
    flat = " ".join(shown.stdout.split())  # the console wraps long lines
    assert ("warning: Mode collapse: the winning generator's samples cover 0% of the real "
            "test data" in flat) is collapsed  # fmt: skip
    assert ("ignores its noise input" in flat) is collapsed


@pytest.mark.parametrize("collapsed", [True, False])
def test_the_search_ends_by_saying_it(tmp_path: Path, capsys: Any, collapsed: bool) -> None:
    result = nas.load_run(make_run(tmp_path, COLLAPSED if collapsed else healthy(COLLAPSED)))
    search_command.render_result(result)
    printed = " ".join(capsys.readouterr().out.split())
    assert ("warning: Mode collapse: the winning generator's" in printed) is collapsed
    lines = judged(result.run_dir, result.config, result.metrics)  # nas show's too
    assert any(line.startswith("warning: Mode collapse") for line in lines) is collapsed


def test_a_damaged_samples_npz_is_an_alert_not_an_abort(tmp_path: Path, cli: Any) -> None:
    """A 0-byte best/samples.npz had escaped the report as an EOFError, which the command line
    turns into "error: aborted." and exit 1 (/tmp/oX 5): the report is written without the
    grid and its first screen says the file is damaged; so does a file cut short."""
    import numpy as np

    run = make_run(tmp_path, healthy(COLLAPSED))
    good = tmp_path / "good.npz"
    np.savez_compressed(good, grid=np.zeros((4, 8, 8), np.float32), labels=np.arange(4))
    for content in (b"", good.read_bytes()[: len(good.read_bytes()) // 2]):
        (run / "best" / "samples.npz").write_bytes(content)
        data = collect(run)
        said = [a for a in data["alerts"] if "samples.npz is damaged" in a["text"]]
        assert said == [{"level": "warn", "text": (
            f"{run / 'best' / 'samples.npz'} is damaged (empty or cut short), so the samples are "
            "not shown; run the same `nas search` command again (same --out) to retrain the "
            "winner and rewrite it.")}]  # fmt: skip
        assert "samples" not in data["gan"]
        result = cli("report", run, "-o", tmp_path / "r.html")
        assert result.exit_code == 0, (result.output, result.exception)
