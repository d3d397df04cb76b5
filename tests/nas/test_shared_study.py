"""A study in a shared storage (``--storage``, another ``--out``) takes trials only from
searches with its own settings: another dataset, split, budget or epochs would put trials scored
on other terms into one study, and its winner would be picked from both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

import nas
from nas.cost import Budget
from nas.errors import NasError

pytestmark = pytest.mark.usefixtures("restore_global_state")


def search(out: Path, space: Path, url: str, **kwargs: Any) -> nas.SearchResult:
    settings: dict[str, Any] = {"dataset": "iris", "n_trials": 2, "epochs": 2, "threads": 1,
                                "pruner": "none", "finalize": False, "study": "shared"}  # fmt: skip
    settings.update(kwargs)
    return nas.search(space=str(space), out=out, storage=url, **settings)


def trial_count(url: str, study: str) -> int:
    storage = optuna.storages.RDBStorage(url)
    try:
        return len(optuna.load_study(study_name=study, storage=storage).trials)
    finally:
        storage.engine.dispose()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"dataset": "wine"}, "dataset='iris', not 'wine'"),
        ({"seed": 1}, "seed=0, not 1"),
        ({"epochs": 3}, "epochs=2, not 3"),
        ({"budget": Budget(max_params=2000)}, "budget="),
    ],
)
def test_a_search_with_other_settings_is_refused_by_a_shared_study(
    tmp_path: Path, tiny_space: Path, change: dict[str, Any], named: str
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url)
    assert trial_count(url, "shared") == 2
    with pytest.raises(NasError, match="study 'shared' in sqlite:///") as err:
        search(tmp_path / "b", tiny_space, url, n_trials=4, **change)
    assert named in str(err.value) and "nas worker" in str(err.value)
    assert trial_count(url, "shared") == 2  # nothing was added to the study
    assert not (tmp_path / "b" / "run.json").exists()  # nor recorded as a search


def test_the_same_search_from_another_folder_joins_the_shared_study(
    tmp_path: Path, tiny_space: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(tmp_path / "a", tiny_space, url)
    joined = search(tmp_path / "b", tiny_space, url, n_trials=3)  # the scale-out recipe
    assert len(joined.study.trials) == trial_count(url, "shared") == 3


def test_a_study_nas_did_not_start_is_refused_once_it_holds_trials(
    tmp_path: Path, tiny_space: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'theirs.db'}"
    storage = optuna.storages.RDBStorage(url)
    try:
        theirs = optuna.create_study(study_name="shared", storage=storage)
        theirs.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    finally:
        storage.engine.dispose()
    with pytest.raises(NasError, match="holds trials that nas did not start"):
        search(tmp_path / "b", tiny_space, url)
    assert trial_count(url, "shared") == 1
