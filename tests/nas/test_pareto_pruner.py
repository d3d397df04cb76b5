"""The Pareto halving pruner (issue 16, part 1): known answers on hand-made intermediate values.

Each case is worked out by hand in its comment: which trials are non-dominated at the rung,
how many a rung keeps (n // 3), and, within a front, which have the larger crowding distance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
import pytest

from nas.pareto_pruner import (
    INTERMEDIATE,
    ParetoHalvingPruner,
    ParetoPruningCallback,
    crowding_distances,
    intermediate_of,
    nondominated_ranks,
)
from nas.study import make_pruner

optuna.logging.set_verbosity(optuna.logging.ERROR)


def test_nondominated_ranks_of_five_points() -> None:
    # minimised: (1,1) dominates (2,2), which dominates (3,3); (0,3), (1,1), (3,0) are mutually
    # non-dominated
    pts = np.array([[0, 3], [1, 1], [3, 0], [2, 2], [3, 3]])
    assert nondominated_ranks(pts).tolist() == [0, 0, 0, 1, 2]


def test_equal_points_share_a_front() -> None:
    assert nondominated_ranks(np.array([[1, 1], [1, 1], [2, 2]])).tolist() == [0, 0, 1]


def test_crowding_distance_by_hand() -> None:
    # front sorted by accuracy: C(.80, 200) D(.85, 500) B(.90, 1000) A(.95, 5000), minimised
    # as (-accuracy, params). Ends infinite; D: .10/.15 + 800/4800 = 0.8333;
    # B: .10/.15 + 4500/4800 = 1.6042
    pts = np.array([[-0.95, 5000], [-0.90, 1000], [-0.80, 200], [-0.85, 500]])
    d = crowding_distances(pts)
    assert math.isinf(d[0]) and math.isinf(d[2])
    assert d[3] == pytest.approx(0.1 / 0.15 + 800 / 4800, abs=1e-9)
    assert d[1] == pytest.approx(0.1 / 0.15 + 4500 / 4800, abs=1e-9)


def _study(points: list[tuple[float, int]], rung: int = 2) -> optuna.Study:
    """A two-objective study (accuracy up, params down) whose trials reached ``rung`` with the
    given (accuracy at the rung, params)."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for acc, params in points:
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.PRUNED,
                user_attrs={INTERMEDIATE: {"1": acc - 0.1, str(rung): acc}, "params": params},
            )
        )
    return study


NINE = [(0.90, 1000), (0.95, 5000), (0.80, 200), (0.85, 5000), (0.70, 6000),
        (0.93, 5000), (0.60, 300), (0.89, 1200), (0.94, 8000)]  # fmt: skip


@pytest.mark.parametrize("number", range(9))
def test_a_rung_of_nine_keeps_exactly_the_three_nondominated(number: int) -> None:
    # non-dominated: T0 (.90, 1000), T1 (.95, 5000), T2 (.80, 200). T8 (.94, 8000) is the
    # second most accurate but T1 beats it on both; T6 (.60, 300) is beaten by T2; T7 by T0.
    # 9 trials keep 9 // 3 = 3: the first front exactly.
    study = _study(NINE)
    pruner = ParetoHalvingPruner(min_resource=2, reduction_factor=3, cost_attrs=["params"])
    trial = study.get_trials()[number]
    assert pruner.prune(study, trial) is (number not in (0, 1, 2))


def test_the_front_always_goes_on() -> None:
    # front 0 = A(.95, 5000) B(.90, 1000) C(.80, 200) D(.85, 500): six trials keep 6 // 3 = 2,
    # but no non-dominated trial is pruned; E(.5, 9000) and F(.7, 6000) are dominated
    study = _study([(0.95, 5000), (0.90, 1000), (0.80, 200), (0.85, 500), (0.5, 9000),
                    (0.7, 6000)])  # fmt: skip
    pruner = ParetoHalvingPruner(min_resource=2, reduction_factor=3, cost_attrs=["params"])
    kept = [t.number for t in study.get_trials() if not pruner.prune(study, t)]
    assert kept == [0, 1, 2, 3]
    assert pruner.prune(study, study.get_trials()[5])
    # F (.7, 6000) is beaten on both by A, B, C and D (not by E)
    assert pruner.why == "dominated by 4 of the 6 trials at that rung, outside the best 2 it keeps"


def test_within_the_second_front_the_ends_are_kept_first() -> None:
    # T0 (.99, 100) dominates every other trial: the front is T0 alone. The second front is
    # T1(.95, 5000) T2(.90, 1000) T3(.80, 200) T4(.85, 500); crowding there: ends T1 and T3
    # infinite, T2 .10/.15 + 4500/4800 = 1.60, T4 0.83. T5-T8 are dominated by T1. Nine trials
    # keep 3: T0, then the two ends T1 and T3; T2 and T4 are pruned.
    study = _study([(0.99, 100), (0.95, 5000), (0.90, 1000), (0.80, 200), (0.85, 500),
                    (0.5, 9000), (0.7, 6000), (0.6, 7000), (0.75, 5500)])  # fmt: skip
    pruner = ParetoHalvingPruner(min_resource=2, reduction_factor=3, cost_attrs=["params"])
    kept = [t.number for t in study.get_trials() if not pruner.prune(study, t)]
    assert kept == [0, 1, 3]


def test_every_trial_goes_on_until_min_trials_reached_the_rung() -> None:
    study = _study([(0.9, 100), (0.1, 9000)])  # the second is dominated, but only 2 < 3
    pruner = ParetoHalvingPruner(min_resource=2, reduction_factor=3, cost_attrs=["params"])
    assert not any(pruner.prune(study, t) for t in study.get_trials())


def test_only_rungs_decide() -> None:
    pruner = ParetoHalvingPruner(min_resource=2, reduction_factor=3, cost_attrs=["params"])
    assert [s for s in range(1, 60) if pruner.is_rung(s)] == [2, 6, 18, 54]
    assert pruner.rungs(20) == [2, 6, 18]
    capped = ParetoHalvingPruner(min_resource=2, cost_attrs=["params"], max_resource=18)
    assert [s for s in range(1, 60) if capped.is_rung(s)] == [2, 6]
    # the dominated T4 reported epoch 3 last: not a rung, it goes on
    study = _study(NINE, rung=3)
    assert not pruner.prune(study, study.get_trials()[4])


def test_a_minimised_metric_and_two_costs() -> None:
    # rmse (down), params (down), latency (down): T2 is worse than T0 everywhere; 3 trials keep 1
    study = optuna.create_study(directions=["minimize", "minimize", "minimize"])
    for rmse, params, lat in [(1.0, 100, 0.1), (0.5, 900, 0.9), (2.0, 200, 0.2)]:
        attrs = {INTERMEDIATE: {"2": rmse}, "params": params, "latency_ms": lat}
        study.add_trial(
            optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, user_attrs=attrs)
        )
    pruner = make_pruner("hyperband", 12, True, ["rmse", "params", "latency"])
    assert isinstance(pruner, ParetoHalvingPruner) and pruner.min_resource == 2
    decisions = [pruner.prune(study, t) for t in study.get_trials()]
    # T0 and T1 are both non-dominated: both go on; T2 is dominated by T0 and the rung keeps
    # 3 // 3 = 1 (T0, the older of the two infinite-crowding ends)
    assert decisions == [False, False, True]


def test_make_pruner_for_pareto_searches() -> None:
    assert isinstance(make_pruner("none", 20, True, ["accuracy", "params"]),
                      optuna.pruners.NopPruner)  # fmt: skip
    p = make_pruner("median", 20, True, ["accuracy", "params", "flops"])
    assert isinstance(p, ParetoHalvingPruner) and p.cost_attrs == ["params", "flops"]
    assert isinstance(make_pruner("hyperband", 20, False), optuna.pruners.HyperbandPruner)


def test_the_pruner_refuses_a_study_of_other_objectives() -> None:
    study = _study(NINE)
    pruner = ParetoHalvingPruner(min_resource=2, cost_attrs=["params", "flops"])
    with pytest.raises(ValueError, match="2 cost objective"):
        pruner.prune(study, study.get_trials()[0])


def test_intermediate_values_from_either_place() -> None:
    attrs = {INTERMEDIATE: {"1": 0.5, "3": 0.7, "x": 1}}
    t = optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, user_attrs=attrs)
    assert intermediate_of(t) == {1: 0.5, 3: 0.7}
    t = optuna.trial.create_trial(value=0.9, intermediate_values={2: 0.8})
    assert intermediate_of(t) == {2: 0.8}


def test_the_callback_records_every_epoch_and_prunes_a_dominated_trial_at_a_rung() -> None:
    """Inside a real multi-objective study: trials 0-2 run their 6 epochs (fewer than 4 trials
    at the epoch-2 rung: all go on; epoch 6 is the end, not a rung); trial 3, big and bad, is the
    4th at the rung, which keeps 4 // 3 = 1, and it is dominated by trial 0."""
    pruner = ParetoHalvingPruner(min_resource=2, reduction_factor=3, min_trials=4,
                                 cost_attrs=["params"], max_resource=6)  # fmt: skip
    study = optuna.create_study(directions=["maximize", "minimize"], pruner=pruner)
    curves = {0: (0.9, 100), 1: (0.95, 1000), 2: (0.5, 50), 3: (0.4, 5000)}
    seen: dict[int, Any] = {}

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        acc, params = curves[trial.number]
        trial.set_user_attr("params", params)
        cb = ParetoPruningCallback(trial)
        for epoch in range(1, 7):
            cb.on_epoch_end(epoch, {"val_metric": acc * epoch / 6})
            seen[trial.number] = epoch
        return acc, params

    study.optimize(objective, n_trials=4)
    states = [t.state for t in study.get_trials()]
    P, C = optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE
    assert states == [C, C, C, P]
    assert seen == {0: 6, 1: 6, 2: 6, 3: 1}  # pruned inside epoch 2, after recording it
    last = study.get_trials()[3]
    assert last.user_attrs[INTERMEDIATE] == {
        "1": pytest.approx(0.4 / 6),
        "2": pytest.approx(0.8 / 6),
    }
    assert "dominated" in last.user_attrs["reason"] and last.user_attrs["epochs"] == 2
    assert study.get_trials()[0].user_attrs[INTERMEDIATE]["6"] == pytest.approx(0.9)


def test_a_real_pareto_search_prunes_dominated_trials_at_the_rungs(tmp_path: Any) -> None:
    """``nas.search(objectives="accuracy,params")`` on digits with an FNN space: trials run
    through the Pareto pruner; each pruned one stopped at a rung (epoch 2 or 6 of 12) with its
    metric per epoch recorded, and the Pareto front is made of complete trials."""
    import nas

    res = nas.search("digits", space="fnn", objectives="accuracy,params", n_trials=14,
                     epochs=12, sampler="random", seed=0, out=tmp_path / "run",
                     finalize=False, threads=1)  # fmt: skip
    trials = res.study.get_trials()
    assert len(res.study.directions) == 2
    pruned = [t for t in trials if t.user_attrs.get("status") == "pruned"]
    assert pruned, [(t.number, t.user_attrs.get("status")) for t in trials]
    for t in pruned:
        assert "dominated" in t.user_attrs["reason"]
        steps = sorted(intermediate_of(t))
        assert steps == list(range(1, steps[-1] + 1)) and steps[-1] in (2, 6)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert all(sorted(intermediate_of(t))[-1] >= 1 for t in complete)
    assert {t.number for t in res.study.best_trials} <= {t.number for t in complete}
