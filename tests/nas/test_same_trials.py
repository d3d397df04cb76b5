"""The refactor into search kinds, a space registry and one SearchConfig changed no search: on
digits with seed 0 the first trials propose exactly the params that nas proposed before it
(``fixtures/digits_seed0_first5_params.json``, written by the earlier version with
``nas search --dataset digits --seed 0 --trials 8 --epochs 2 [--no-warm-start]``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nas

FIXTURE = Path(__file__).parent / "fixtures" / "digits_seed0_first5_params.json"

pytestmark = pytest.mark.usefixtures("restore_global_state")


@pytest.mark.parametrize("warm_start", [True, False], ids=["warm_start", "no_warm_start"])
def test_digits_seed0_first_five_trials_propose_the_same_params(
    tmp_path: Path, warm_start: bool
) -> None:
    expected = json.loads(FIXTURE.read_text())["warm_start" if warm_start else "no_warm_start"]
    result = nas.search(dataset="digits", seed=0, n_trials=5, epochs=1, warm_start=warm_start,
                        finalize=False, out=tmp_path / "run")  # fmt: skip
    trials = sorted(result.study.trials, key=lambda t: t.number)[:5]
    assert len(trials) == 5
    for number, (trial, params) in enumerate(zip(trials, expected)):
        assert trial.params == params, f"trial {number} proposes other params"
