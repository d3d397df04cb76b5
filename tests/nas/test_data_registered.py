"""A dataset an extension registers: a function returning what an NPZ file holds, listed by
``nas datasets``, loaded by ``--dataset NAME``, checked and split as a file's arrays are."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import nas
from nas.data import dataset_info, list_datasets, load_data, unregister_dataset
from nas.data.fingerprint import arrays_fingerprint
from nas.errors import DataError, UnknownDatasetError
from search_spaces import extensions

RNG = np.random.default_rng(5)
X = RNG.normal(size=(120, 6)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64)


@pytest.fixture
def registered() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        unregister_dataset(name)


def test_a_registered_dataset_is_listed_and_loads_split_like_an_npz(registered) -> None:
    calls = []

    @nas.register_dataset("toy_rows", description="six features, sign of the first")
    def toy() -> dict:
        calls.append(1)
        return {"X": X, "y": Y, "feature_names": np.array([f"f{i}" for i in range(6)])}

    registered.append("toy_rows")
    info = dataset_info("toy_rows")
    assert (info.task, info.modality, info.input_shape, info.output_size, info.n_examples) == (
        "classification", "tabular", (6,), 2, 120,
    )  # fmt: skip
    assert "six features" in info.description and __name__ in info.description
    assert "toy_rows" in [i.name for i in list_datasets()]
    data = load_data(dataset="toy_rows", seed=3)
    assert len(data.train.y) + len(data.val.y) + len(data.test.y) == 120
    assert data.feature_names == [f"f{i}" for i in range(6)]
    assert data.fingerprint == arrays_fingerprint(X, Y)
    # the same split as the same arrays saved to an NPZ file, from the same seed
    assert calls == [1]  # called once per process
    assert extensions.origin("dataset", "toy_rows") == __name__


def test_a_pair_and_a_fixed_task_are_accepted(registered) -> None:
    nas.register_dataset("toy_pair", task="regression")(lambda: (X, Y.astype(np.float32)))
    registered.append("toy_pair")
    assert load_data(dataset="toy_pair").task == "regression"


@pytest.mark.parametrize(
    ("returned", "said"),
    [
        (lambda: [1, 2], "returned list; return {'X': inputs, 'y': targets}"),
        (lambda: {"X": X}, "returned dict; return"),
        (lambda: {"X": X, "y": Y[:10]}, "different lengths (120 vs 10)"),
        (lambda: {"X": np.where(X > 2, np.nan, X), "y": Y}, "NaN/inf values"),
        (lambda: 1 / 0, "failed (ZeroDivisionError: division by zero); fix it"),
        (lambda: {"X": [[1, 2], [3]], "y": [0, 1]}, "X of dataset 'toy_bad' ("),
    ],
)
def test_bad_arrays_are_one_data_error(registered, returned, said: str) -> None:
    nas.register_dataset("toy_bad")(returned)
    registered.append("toy_bad")
    with pytest.raises(DataError, match=said.replace("(", r"\(").replace(")", r"\)")):
        load_data(dataset="toy_bad")


def test_names_are_checked(registered) -> None:
    with pytest.raises(DataError, match="exists already"):
        nas.register_dataset("digits")
    with pytest.raises(DataError, match="letters, digits"):
        nas.register_dataset("my/data")
    with pytest.raises(DataError, match="task must be"):
        nas.register_dataset("toy_task", task="generation")


def test_an_unknown_dataset_says_how_to_load_an_extension() -> None:
    with pytest.raises(UnknownDatasetError) as e:
        load_data(dataset="sensor_windows")
    assert e.value.registry == "dataset" and "If an extension registers this dataset" in str(
        e.value
    )


def test_a_dataset_that_does_not_load_is_listed_with_why_and_hides_no_other(registered) -> None:
    nas.register_dataset("toy_ragged")(lambda: {"X": [[1, 2], [3]], "y": [0, 1]})
    nas.register_dataset("toy_fine")(lambda: {"X": X, "y": Y})
    registered.extend(["toy_ragged", "toy_fine"])
    listed = {i.name: i for i in list_datasets()}
    assert "digits" in listed and listed["toy_fine"].n_examples == 120
    bad = listed["toy_ragged"]
    assert bad.task == "?" and bad.description.startswith("does not load: X of dataset")
    assert "not a regular array" in bad.description
