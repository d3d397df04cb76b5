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


def test_the_overfit_alert_names_the_unit() -> None:
    data = {
        "run": {"metric": "rmse", "directions": ["minimize"]},
        "best": {"val": {"rmse": 10.0}, "test": {"rmse": 20.0}, "target_units": "price"},
    }
    texts = [a["text"] for a in alerts(data)]
    assert any("test 20 (in price)" in t for t in texts), texts
