"""The trial rows of the report (nas/reporting.py ``_study_data``) carry what the Search
section draws for every trial: the last reported intermediate value and its step (where a
pruned trial stood when it was stopped), the searched hyperparameters and the depth."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from nas.config import SearchConfig
from nas.reporting import _study_data

# (reports as (step, value), how the trial ends); the ends are known answers below
PLAN: list[tuple[list[tuple[int, float]], str]] = [
    ([(1, 0.50), (2, 0.61), (3, 0.64)], "complete"),
    ([(1, 0.30), (2, 0.28)], "pruned"),
    ([], "over_budget"),
    ([(1, 0.40), (3, 0.52), (2, 0.47)], "pruned"),  # steps out of order: the last is step 3
    ([(1, 0.45)], "fail"),
]


def _objective(trial: optuna.Trial) -> float:
    reports, end = PLAN[trial.number]
    x = trial.suggest_float("train.lr", 1e-4, 1e-1, log=True)
    trial.suggest_int("fnn.n_blocks", 1, 4)
    trial.suggest_categorical("fnn.act", ["relu", "gelu"])
    blocks = [{"kind": "dense.v1", "params": {}}] * (trial.number + 1)
    spec: dict[str, Any] = {"blocks": blocks}
    if trial.number == 4:  # a GAN's spec: its depth is its generator's
        spec = {"type": "gan", "generator": {"blocks": blocks[:2]}, "discriminator": {}}
    trial.set_user_attr("spec", spec)
    trial.set_user_attr("family", "fnn")
    for step, value in reports:
        trial.report(value, step)
    if end == "over_budget":
        trial.set_user_attr("status", "over_budget")
        trial.set_user_attr("reason", "over budget: params 9 > max_params 5")
        raise optuna.TrialPruned()
    if end == "pruned":
        trial.set_user_attr("status", "pruned")
        raise optuna.TrialPruned()
    if end == "fail":
        raise RuntimeError("boom")
    return 0.6 + x * 0


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("study")
    url = f"sqlite:///{tmp / 'study.db'}"
    study = optuna.create_study(study_name="trials", storage=url, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=1))  # fmt: skip
    study.optimize(_objective, n_trials=len(PLAN), catch=(RuntimeError,))
    rows, _, _ = _study_data(tmp, SearchConfig.create("iris", study="trials"), url)
    rows_by_number = sorted(rows, key=lambda r: r["number"])
    # the params the sampler chose, read back independently of _study_data
    for r, t in zip(rows_by_number, optuna.load_study(study_name="trials", storage=url).trials):
        r["_params"] = dict(t.params)
    return rows_by_number


def test_last_value_is_the_last_reported_intermediate_value(rows: list[dict[str, Any]]) -> None:
    assert [r["state"] for r in rows] == ["complete", "pruned", "over_budget", "pruned", "failed"]
    assert [(r["last_step"], r["last_value"]) for r in rows] == [
        (3, 0.64), (2, 0.28), (None, None), (3, 0.52), (1, 0.45)
    ]  # fmt: skip
    assert rows[0]["metric"] == 0.6  # a complete trial's value is its own, not its last report
    # Optuna stores a pruned trial's last intermediate value as its value; over budget has none
    assert rows[1]["metric"] == 0.28 and rows[2]["metric"] is None


def test_hparams_are_the_searched_parameters(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        assert r["hparams"] == r["_params"]
        assert set(r["hparams"]) == {"train.lr", "fnn.n_blocks", "fnn.act"}
        assert r["hparams"]["fnn.act"] in ("relu", "gelu")
        assert isinstance(r["hparams"]["fnn.n_blocks"], int)
        assert 1e-4 <= r["hparams"]["train.lr"] <= 1e-1


def test_depth_counts_the_blocks_of_the_recorded_spec(rows: list[dict[str, Any]]) -> None:
    assert [r["depth"] for r in rows] == [1, 2, 3, 4, 2]


def test_a_pareto_trial_s_last_value_comes_from_its_intermediate_attribute(tmp_path: Any) -> None:
    """Optuna refuses Trial.report in multi-objective studies; nas.pareto_pruner keeps the
    metric per epoch in the ``intermediate`` user attribute, and the report reads it there."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="front", storage=url,
                                directions=["maximize", "minimize"])  # fmt: skip
    attrs = {"intermediate": {"1": 0.41, "2": 0.57, "10": 0.66}, "status": "pruned"}
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED,
                                              user_attrs=attrs))  # fmt: skip
    rows, _, _ = _study_data(tmp_path, SearchConfig.create("iris", study="front"), url)
    assert (rows[0]["last_step"], rows[0]["last_value"]) == (10, 0.66)  # 10 > 2, not "2" > "10"
