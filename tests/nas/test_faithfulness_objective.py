"""Explanation quality as an objective or a constraint (issue 16, part 2): the score's known
answers, its recording on every trial, the constraint deciding the winner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from nas.data.taskdata import Split, TaskData
from nas.errors import NasError
from nas.faithfulness import EXAMPLES, GATE_ROWS, faithfulness_score, scored_rows
from nas.leaderboard import constraint_price, pick_winners
from nas.study import MIN_FAITHFULNESS, make_pruner, parse_objectives

optuna.logging.set_verbosity(optuna.logging.ERROR)


def test_faithfulness_is_a_maximised_objective_after_the_metric() -> None:
    assert parse_objectives("accuracy,faithfulness", "accuracy") == (
        ["accuracy", "faithfulness"], ["maximize", "maximize"])  # fmt: skip
    assert parse_objectives("faithfulness,params", "rmse") == (
        ["rmse", "faithfulness", "params"], ["minimize", "maximize", "minimize"])  # fmt: skip
    with pytest.raises(NasError, match="Unknown objective 'faith'.*faithfulness"):
        parse_objectives("accuracy,faith", "accuracy")


def test_no_pareto_pruning_on_a_score_known_only_after_training() -> None:
    assert isinstance(make_pruner("hyperband", 12, True, ["accuracy", "faithfulness"]),
                      optuna.pruners.NopPruner)  # fmt: skip
    assert isinstance(make_pruner("hyperband", 12, True, ["accuracy", "params", "faithfulness"]),
                      optuna.pruners.NopPruner)  # fmt: skip


def test_the_scored_rows_depend_on_the_seed_alone() -> None:
    a, b = scored_rows(500, 0), scored_rows(500, 0)
    assert np.array_equal(a, b) and len(a) == EXAMPLES and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, scored_rows(500, 1))
    assert np.array_equal(scored_rows(20, 3), np.arange(20))  # fewer rows than EXAMPLES: all


def _linear_data(n: int = 400, d: int = 6, seed: int = 0) -> tuple[TaskData, torch.Tensor]:
    """Standardized inputs; the label is the sign of x . w, with w falling off by feature."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    w = torch.tensor([3.0, -2.0, 1.0, 0.5, 0.0, 0.0])[:d]
    y = (X @ w > 0).long()
    splits = [Split(X[i::3], y[i::3]) for i in range(3)]
    data = TaskData(name="linear", task="classification", modality="tabular",
                    input_shape=(d,), output_size=2, train=splits[0], val=splits[1],
                    test=splits[2], feature_names=[f"x{i}" for i in range(d)],
                    class_names=["no", "yes"])  # fmt: skip
    return data, w


def _logistic(w: torch.Tensor) -> nn.Module:
    """The Bayes classifier of _linear_data: logits (0, 2 x.w)."""
    m = nn.Linear(len(w), 2)
    with torch.no_grad():
        m.weight.copy_(torch.stack([torch.zeros_like(w), 2 * w]))
        m.bias.zero_()
    return m


def test_a_model_that_uses_its_inputs_scores_well_above_random() -> None:
    data, w = _linear_data()
    s = faithfulness_score(_logistic(w), data, seed=0)
    # removing the largest |w x| first drops the predicted class's probability much faster
    # than a random order: both gaps are clearly positive, and the randomisation gate passes
    assert s["faithfulness_deletion"] > 0.1 and s["faithfulness_insertion"] > 0.1
    assert s["faithfulness"] == pytest.approx(
        (s["faithfulness_deletion"] + s["faithfulness_insertion"]) / 2)  # fmt: skip
    assert s["faithfulness_gate"] in ("pass", "warn")
    assert s["faithfulness_seconds"] > 0
    # the same model and seed: the same number
    assert faithfulness_score(_logistic(w), data, seed=0)["faithfulness"] == s["faithfulness"]


def test_a_constant_model_scores_zero() -> None:
    data, w = _linear_data()
    m = _logistic(torch.zeros_like(w))  # ignores its inputs: nothing to delete or insert
    assert faithfulness_score(m, data, seed=0)["faithfulness"] == 0.0


def test_a_model_near_chance_scores_zero_however_its_gaps_look() -> None:
    """The same linear rule at 1/100 of the weights: the predicted probability moves by a few
    hundredths between input and baseline; its deletion order is as right as the full model's
    (the gaps, divided by that tiny change, are as large or larger), but the score is 0."""
    data, w = _linear_data()
    full = faithfulness_score(_logistic(w), data, seed=0)
    weak = faithfulness_score(_logistic(w / 100), data, seed=0)
    assert full["faithfulness_span"] > 0.2 and weak["faithfulness_span"] < 0.05
    assert weak["faithfulness_deletion"] > 0.1  # the order is right ...
    assert weak["faithfulness"] == 0.0 and weak["faithfulness_gate"].startswith("output change")
    assert full["faithfulness"] > 0.1


def test_the_randomisation_gate_zeroes_the_score(monkeypatch: pytest.MonkeyPatch) -> None:
    import explain.randomisation as randomisation
    from explain.types import Check

    data, w = _linear_data()

    seen: list[int] = []

    def failed(model: Any, X: Any, *args: Any, **kwargs: Any) -> Check:
        seen.append(len(X))
        return Check(name="randomisation", method="integrated_gradients", value=0.95,
                     threshold=0.5, status="fail", detail="survives re-initialisation")  # fmt: skip

    monkeypatch.setattr(randomisation, "randomisation_check", failed)
    s = faithfulness_score(_logistic(w), data, seed=0)
    assert seen == [GATE_ROWS]  # the gate re-explains a fixed 16 of the 64 scored rows
    assert s["faithfulness"] == 0.0 and s["faithfulness_deletion"] > 0.1
    assert s["faithfulness_gate"].startswith("failed randomisation")


def _trial(acc: float, constraint: float | None) -> optuna.trial.FrozenTrial:
    attrs = {} if constraint is None else {f"constraints:{MIN_FAITHFULNESS}": constraint}
    return optuna.trial.create_trial(value=acc, system_attrs=attrs)


def test_the_winner_is_the_best_feasible_trial() -> None:
    study = optuna.create_study(direction="maximize")
    for acc, c in [(0.99, 0.1), (0.95, -0.05), (0.97, 0.0), (0.90, -0.3)]:
        study.add_trial(_trial(acc, c))
    assert [t.number for t in pick_winners(study, 1)] == [2]  # 0.99 misses the bound by 0.1


def test_with_no_feasible_trial_every_trial_competes() -> None:
    study = optuna.create_study(direction="maximize")
    for acc in (0.8, 0.9):
        study.add_trial(_trial(acc, 0.2))
    assert [t.number for t in pick_winners(study, 1)] == [1]


def test_the_price_of_a_binding_constraint_names_both_trials() -> None:
    study = optuna.create_study(direction="maximize")
    for acc, c in [(0.99, 0.1), (0.95, -0.05), (0.97, 0.0), (0.90, -0.3)]:
        study.add_trial(_trial(acc, c))
    winner, best = constraint_price(study)
    assert (winner.number, best.number) == (2, 0)  # 0.97 feasible, 0.99 misses by 0.1
    assert best.values[0] - winner.values[0] == pytest.approx(0.02)


def test_no_price_when_the_best_trial_is_feasible_or_none_is() -> None:
    study = optuna.create_study(direction="maximize")
    for acc, c in [(0.99, -0.1), (0.95, 0.05)]:
        study.add_trial(_trial(acc, c))
    assert constraint_price(study) is None
    study = optuna.create_study(direction="maximize")
    for acc in (0.8, 0.9):
        study.add_trial(_trial(acc, 0.2))
    assert constraint_price(study) is None  # none feasible: its own warning
    study = optuna.create_study(direction="minimize")  # rmse: the best is the lowest
    for err, c in [(0.5, 0.1), (0.7, -0.1), (0.6, 0.2)]:
        study.add_trial(_trial(err, c))
    winner, best = constraint_price(study)
    assert (winner.number, best.number) == (1, 0)


def test_the_run_says_what_the_constraint_cost() -> None:
    import dataclasses

    from nas.finalize import constraint_note
    from nas.trial import SearchSettings
    from search_spaces.spaces import Space

    settings = SearchSettings(space=Space("fnn"), metric="accuracy", objectives=("accuracy",),
                              min_faithfulness=0.45)  # fmt: skip
    study = optuna.create_study(direction="maximize")
    for acc, faith in [(0.988, 0.33), (0.485, 0.46), (0.95, 0.40)]:
        study.add_trial(optuna.trial.create_trial(
            value=acc, user_attrs={"faithfulness": faith},
            system_attrs={f"constraints:{MIN_FAITHFULNESS}": 0.45 - faith}))  # fmt: skip
    note = constraint_note(study, settings)
    assert note == (
        "--min-faithfulness 0.45 kept 1 of 3 complete trials; its winner (trial 1: validation "
        "accuracy 0.4850, faithfulness 0.460) is 0.5030 worse than the best trial that misses "
        "the bound (trial 0: 0.9880, faithfulness 0.330). Lower the bound to keep that model; "
        "leaderboard.csv lists every trial's faithfulness."
    )
    unconstrained = dataclasses.replace(settings, min_faithfulness=None)
    assert constraint_note(study, unconstrained) is None


def test_a_pareto_front_of_feasible_trials() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for acc, params, c in [(0.99, 900, 0.1), (0.95, 500, -0.1), (0.90, 100, -0.1)]:
        study.add_trial(optuna.trial.create_trial(
            values=[acc, params], system_attrs={f"constraints:{MIN_FAITHFULNESS}": c}))  # fmt: skip
    assert [t.number for t in pick_winners(study, 3)] == [1, 2]


def test_a_search_records_the_score_on_every_complete_trial(tmp_path: Path) -> None:
    import nas

    res = nas.search("iris", space="fnn", objectives="accuracy,faithfulness", n_trials=4,
                     epochs=6, seed=0, out=tmp_path / "run", finalize=False, threads=1)  # fmt: skip
    done = res.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert done and [d.name for d in res.study.directions] == ["MAXIMIZE", "MAXIMIZE"]
    for t in done:
        assert t.values[1] == t.user_attrs["faithfulness"]
        assert 0 < t.user_attrs["faithfulness_seconds"] < t.user_attrs["seconds"]
    header = (tmp_path / "run" / "leaderboard.csv").read_text().splitlines()[0].split(",")
    assert "objective_faithfulness" in header and "faithfulness" in header


def test_a_constrained_search_sets_optuna_constraints_and_says_when_none_is_met(
    tmp_path: Path,
) -> None:
    import nas

    res = nas.search("iris", space="fnn", n_trials=3, epochs=6, seed=0, min_faithfulness=1.0,
                     out=tmp_path / "run", threads=1)  # fmt: skip
    done = res.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    for t in done:  # a score of 1 is beyond any model here: every trial is infeasible
        assert t.constraints[MIN_FAITHFULNESS] == pytest.approx(1.0 - t.user_attrs["faithfulness"])
        assert t.constraints[MIN_FAITHFULNESS] > 0
    assert any("no trial reached --min-faithfulness 1" in w for w in res.warnings)
    assert (tmp_path / "run" / "best" / "model.pt").is_file()  # still a winner, said so
    rows = (tmp_path / "run" / "leaderboard.csv").read_text().splitlines()
    assert rows[0].split(",")[-1] == "feasible" and rows[1].endswith(",False")
    with pytest.raises(NasError, match="min_faithfulness must be a number in"):
        nas.search("iris", space="fnn", min_faithfulness=3, out=tmp_path / "other")


def test_a_gan_search_refuses_the_constraint(tmp_path: Path) -> None:
    import nas

    with pytest.raises(NasError, match="cannot score its trials' explanations"):
        nas.search("digits", space="gan", n_trials=1, epochs=1, min_faithfulness=0.1,
                   out=tmp_path / "run")  # fmt: skip
