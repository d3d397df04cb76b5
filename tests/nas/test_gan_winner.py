"""What nas says of a GAN winner: its precision and recall named as the k-NN manifold scores they
are (not macro averages) wherever its test scores are shown -- `nas search`'s last lines, `nas
show`, the report's tiles -- while a classifier's keep their macro names.

``fixtures/run_gan_collapsed`` is the record of a real run, ``nas search --dataset digits --space
gan --timeout 120 --seed 0``: one trial, whose generator draws each digit as one template (test
recall 0.00, precision 0.75, conditional accuracy 0.96, within-class diversity 0.14 of the real
data's). Its study and weights are rebuilt here (the weights are not what the numbers were
measured on: nothing here samples them)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import optuna
import torch

import nas
from nas.commands import search as search_command
from nas.kinds import get_kind
from nas.reporting import collect
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
