"""Regression numbers a person reads are in the target's own units: a target of known scale
(y = 1000·x + noise of σ = 10) gives a test RMSE near 10, not near 10 / std(y) ≈ 0.01."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nas
from nas.findings import alerts
from tests.conftest import invoke

pytestmark = pytest.mark.usefixtures("restore_global_state")

LINEAR = """\
space = "fnn"
[fnn]
n_blocks = 1
units = 32
norm = "none"
residual = false
[head]
hidden = 0
[train]
batch_size = 32
lr = 0.01
"""


def linear_csv(path: Path, n: int = 600, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    pd.DataFrame({"x": x, "price": 1000 * x + rng.normal(0, 10, n)}).to_csv(path, index=False)
    return path


def test_test_and_val_errors_are_in_the_targets_units(tmp_path: Path) -> None:
    space = tmp_path / "space.toml"
    space.write_text(LINEAR, encoding="utf-8")
    result = nas.search(
        data=linear_csv(tmp_path / "lin.csv"), target="price", space=str(space),
        out=tmp_path / "run", n_trials=1, epochs=40, threads=1, pruner="none", seed=0,
    )  # fmt: skip
    metrics = json.loads((tmp_path / "run" / "best" / "metrics.json").read_text())
    test = metrics["test"]
    assert 5 <= test["rmse"] <= 30  # the noise's σ = 10, not 0.01
    assert test["mse"] == pytest.approx(test["rmse"] ** 2, rel=1e-6)
    assert 3 <= test["mae"] <= 25
    assert test["r2"] > 0.99  # unitless, unchanged
    assert metrics["target_units"] == "price"
    assert 5 <= metrics["val"]["rmse"] <= 30  # compared with test like for like
    assert result is not None
    shown = invoke("show", tmp_path / "run")
    assert shown.exit_code == 0 and "(errors in units of price)" in shown.stdout
    val = f"{metrics['val']['rmse']:.4f}"  # the table: smallest error first, in price
    assert "val rmse" in shown.stdout and val in shown.stdout.split("trials:")[0]


def test_every_validation_error_shown_is_in_the_targets_units(tmp_path: Path) -> None:
    """The study optimizes the standardized RMSE (about 10 / std(y) = 0.017 here); the
    leaderboard, the live view, the report's trial rows and the winner's learning curve show it
    in price, like the test metrics: near the noise's 10, never 0.017 unlabelled."""
    from nas.leaderboard import SCALE_ATTR
    from nas.progress import best_line
    from nas.reporting import _study_data

    space = tmp_path / "space.toml"
    space.write_text(LINEAR, encoding="utf-8")
    run = tmp_path / "run"
    result = nas.search(
        data=linear_csv(tmp_path / "lin.csv"), target="price", space=str(space),
        out=run, n_trials=2, epochs=40, threads=1, pruner="none", seed=0,
    )  # fmt: skip
    y_std = json.loads((run / "run.json").read_text())["data_info"]["preprocessing"]["y_std"]
    y_std = float(np.mean(y_std))
    assert 500 < y_std < 650  # std of 1000 * U(-1, 1): 577
    study = result.study
    assert study.user_attrs[SCALE_ATTR] == pytest.approx(y_std)
    values = {t.number: t.values[0] for t in study.trials}
    assert all(v < 0.1 for v in values.values())  # the study keeps the standardized value
    board = pd.read_csv(run / "leaderboard.csv")
    for number, metric in zip(board["number"], board["metric"]):
        assert metric == pytest.approx(values[number] * y_std, rel=1e-5)
        assert 5 <= metric <= 30
    metrics = json.loads((run / "best" / "metrics.json").read_text())
    win = metrics["trial"]
    assert metrics["val"]["rmse"] == pytest.approx(values[win] * y_std, rel=1e-9)
    line = best_line(study, "rmse")
    assert f"val rmse {values[win] * y_std:.4f} (trial {win}," in line
    rows, _, _ = _study_data(run, result.config, None)
    for r in rows:
        assert r["metric"] == pytest.approx(values[r["number"]] * y_std)
        assert r["values"][0] == r["metric"]
        last = study.trials[r["number"]].intermediate_values
        assert r["last_value"] == pytest.approx(last[max(last)] * y_std)  # its last epoch's
    curve = [r["val_metric"] for r in metrics["search_curve"]]
    assert min(curve) == pytest.approx(metrics["val"]["rmse"], rel=1e-6)  # best epoch's
    assert all(c > 5 for c in curve)


def test_the_overfit_alert_names_the_unit() -> None:
    data = {
        "run": {"metric": "rmse", "directions": ["minimize"]},
        "best": {"val": {"rmse": 10.0}, "test": {"rmse": 20.0}, "target_units": "price"},
    }
    texts = [a["text"] for a in alerts(data)]
    assert any("test 20 (in price)" in t for t in texts), texts


def test_large_test_scores_read_grouped_in_the_terminal() -> None:
    """/tmp/oE4 N7: a price's RMSE read 53623.1257 beside a baselines line of 52,300."""
    from nas.commands.search import test_line

    test = {"rmse": 53623.1257, "mse": 2875439605.4984, "r2": 0.91234}
    assert test_line(test, "price") == (
        "test: rmse 53,623.1, mse 2,875,439,605.5, r2 0.9123 (errors in units of price)"
    )
