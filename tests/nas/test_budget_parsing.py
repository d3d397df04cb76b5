"""Budget values echo what the user typed, store sanely, and an empty objective is an error."""

from __future__ import annotations

import json

import pytest

from nas.config import SearchConfig
from nas.cost import Budget
from nas.errors import BudgetError, NasError


def test_negative_whole_limit_echoes_as_typed() -> None:
    with pytest.raises(BudgetError, match=r"got -1\.$"):
        Budget(max_params=-1.0)  # the CLI's float of "-1"


def test_huge_limit_stored_as_a_float() -> None:
    budget = Budget(max_params=1e30, max_flops=1e6)
    assert budget.max_flops == 1_000_000 and isinstance(budget.max_flops, int)
    assert isinstance(budget.max_params, float)
    text = json.dumps(budget.to_dict())
    assert '"max_params": 1e+30' in text and "19884624838656" not in text
    assert Budget.from_dict(json.loads(text)) == budget


@pytest.mark.parametrize("objectives", [",params", "accuracy,,params", ["accuracy", " "]])
def test_empty_objective_is_an_error(objectives: object) -> None:
    with pytest.raises(NasError, match="empty name"):
        SearchConfig.create(dataset="iris", space="fnn", objectives=objectives)
