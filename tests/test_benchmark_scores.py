"""The scores benchmark scripts print, against answers worked out by hand (/tmp/oA4 F1, F2)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import pareto_pruning  # noqa: E402
import search_accuracy  # noqa: E402


def test_a_kept_model_at_chance_adds_no_hypervolume() -> None:
    """digits seed 0 at 420 s: a 227-parameter model at 33 of 270 (0.122, ten classes, the
    majority's share 0.1) had lifted the front's hypervolume from 3.133 to 3.309. The exact
    binomial test gives p = 0.13 for 33 of 270 at 0.1, so it is left out; 40 of 270 (p = 0.006)
    is kept."""
    front = [{"accuracy": 0.97778, "params": 51594}, {"accuracy": 0.97037, "params": 21386},
             {"accuracy": 0.97778, "params": 6243}]  # fmt: skip
    chance = {"accuracy": 33 / 270, "params": 227}
    # by hand: the two non-dominated models, swept by error: (0.02222, log10 6243) then none
    by_hand = (1 - 0.02222) * (7 - math.log10(6243))
    assert pareto_pruning.above_chance(front, 270, 0.1) == pytest.approx(by_hand, abs=1e-4)
    assert pareto_pruning.above_chance([*front, chance], 270, 0.1) == pytest.approx(
        by_hand, abs=1e-4
    )
    with_it = pareto_pruning.hypervolume_2d(
        [(1 - f["accuracy"], math.log10(f["params"])) for f in [*front, chance]], (1.0, 7.0)
    )
    assert with_it == pytest.approx(3.309, abs=1e-3) and by_hand == pytest.approx(3.133, abs=1e-3)
    better = {"accuracy": 40 / 270, "params": 227}
    assert pareto_pruning.above_chance([*front, better], 270, 0.1) > by_hand + 0.1


def test_the_winner_is_labelled_by_its_own_origin() -> None:
    """With --min-faithfulness the winner is the best feasible trial (#68), neither the best
    sampled (#33) nor the best warm start (#0): it had been labelled "warm start"."""
    run = {"seed": 0, "test_accuracy": 0.5, "winner_trial": 68, "params": 414154,
           "counts": {"complete": 15}, "wall_seconds": 589, "peak_rss_mb": 979,
           "best_warm_start": {"trial": 0, "val": 0.988, "family": "cnn"},
           "best_sampled": {"trial": 33, "val": 0.984, "family": "cnn"}}  # fmt: skip
    cell = lambda r: search_accuracy.row(r).split(" | ")[4]  # noqa: E731
    assert cell({**run, "warm_start_numbers": [0, 1, 2]}) == "sampled"
    assert cell({**run, "warm_start_numbers": [0, 68]}) == "warm start"
    assert cell(run) == "not the best of either (#68)"  # recorded before the numbers were
    assert cell({**run, "winner_trial": 0}) == "warm start"
