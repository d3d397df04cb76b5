"""``nas.NASClassifier`` / ``nas.NASRegressor``: scikit-learn's own estimator checks, and real
searches through Pipeline, cross_val_score, GridSearchCV, clone and pickle."""

from __future__ import annotations

import pickle
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import nas
from nas import NASClassifier, NASRegressor
from nas.errors import NasError
from tests.conftest import TINY_FNN, write_space

pytestmark = pytest.mark.usefixtures("restore_global_state")

# Skipped by scikit-learn itself, not by us: it checks array-API inputs only when the
# SCIPY_ARRAY_API environment variable was set before scipy was imported.
SKIPPED_BY_SKLEARN = {"check_array_api_input"}


# The tests' tiny FNN (one dense block of 8 or 16 units) with fixed training settings: a
# sampled learning rate can be too small for a few epochs on 150 rows.
SPACE = TINY_FNN + 'optimizer = "adamw"\nlr = 0.01\n'


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SPACE as a TOML file."""
    return str(write_space(tmp_path_factory.mktemp("space"), SPACE))


def iris_frame() -> tuple[pd.DataFrame, np.ndarray]:
    data = load_iris(as_frame=True)
    X = data.frame.drop(columns="target")
    X.columns = ["sepal_len", "sepal_wid", "petal_len", "petal_wid"]
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[data.target]
    return X, names


@pytest.fixture(scope="module")
def fitted(space: str) -> NASClassifier:
    """A classifier searched on iris as a DataFrame, with text labels."""
    threads = torch.get_num_threads()
    X, y = iris_frame()
    model = NASClassifier(space=space, n_trials=2, epochs=15).fit(X, y)
    torch.set_num_threads(threads)
    return model


@pytest.mark.parametrize("cls", [NASClassifier, NASRegressor], ids=lambda c: c.__name__)
def test_passes_check_estimator(cls: type, space: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(cls(space=space, n_trials=2, epochs=5), on_fail=None,
                                  on_skip=None)  # fmt: skip
    failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
    assert failed == {}
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= SKIPPED_BY_SKLEARN
    assert not any(r["expected_to_fail"] for r in results)
    assert len(results) > 45  # the whole suite ran, not one check


def test_pipeline_cross_val_score_beats_chance(space: str) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:300], y[:300]
    chance = max(y.mean(), 1 - y.mean())  # 0.51 on these rows
    pipe = make_pipeline(StandardScaler(), NASClassifier(space=space, n_trials=2, epochs=10))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert chance < 0.55
    assert scores.mean() == pytest.approx(0.93, abs=0.05)  # measured 0.93


def test_grid_search_over_epochs(space: str) -> None:
    X, y = load_iris(return_X_y=True)
    grid = GridSearchCV(NASClassifier(space=space, n_trials=1), {"epochs": [1, 15]}, cv=3)
    grid.fit(X, y)
    low, high = grid.cv_results_["mean_test_score"]
    assert grid.best_params_ == {"epochs": 15}
    assert high > low + 0.3  # measured 0.81 vs 0.33
    assert grid.best_estimator_.epochs == 15
    assert grid.predict(X[:5]).shape == (5,)


def test_clone_is_unfitted_and_refits_to_the_same_model(fitted: NASClassifier) -> None:
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        copy.predict(iris_frame()[0])
    X, y = iris_frame()
    copy.fit(X, y)
    np.testing.assert_array_equal(copy.predict_proba(X), fitted.predict_proba(X))


def test_a_refit_that_fails_leaves_the_fitted_estimator_as_it_was(fitted: NASClassifier) -> None:
    """A refused refit on other data had set n_features_in_ to 30 beside a model of 4 inputs
    and iris's classes_, so the estimator predicted nothing (/tmp/oM item 3); scikit-learn's own
    LogisticRegression(C=-1) keeps its fit too."""
    from sklearn.datasets import load_breast_cancer

    X, _ = iris_frame()
    expected = fitted.predict_proba(X)
    before = {k: v for k, v in vars(fitted).items() if k.endswith("_")}
    copy = pickle.loads(pickle.dumps(fitted))  # the module's fixture stays untouched
    cancer = load_breast_cancer()
    copy.set_params(n_trials=0)
    with pytest.raises(ValueError, match="n_trials"):
        copy.fit(cancer.data[:100], cancer.target[:100])
    assert copy.n_features_in_ == 4 and list(copy.feature_names_in_) == list(X.columns)
    assert list(copy.classes_) == list(before["classes_"])
    np.testing.assert_array_equal(copy.predict_proba(X), expected)
    unfitted = NASClassifier(n_trials=0)
    with pytest.raises(ValueError, match="n_trials"):
        unfitted.fit(cancer.data[:100], cancer.target[:100])
    assert not hasattr(unfitted, "n_features_in_")  # a first fit that failed: still unfitted


def test_pickle_round_trip_needs_no_run_directory(fitted: NASClassifier) -> None:
    X, _ = iris_frame()
    assert not Path(fitted.predictor_.config.data).exists()  # the temporary run is gone
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    assert again.spec_ == fitted.spec_ and again.run_dir_ is None
    assert isinstance(fitted.__getstate__()["predictor_"]["state_dict"], dict)  # tensors only
    assert hasattr(fitted, "model_")  # pickling left the fitted estimator as it was


def test_text_labels_come_back_as_given(fitted: NASClassifier) -> None:
    X, y = iris_frame()
    assert list(fitted.classes_) == ["setosa", "versicolor", "virginica"]
    predicted = fitted.predict(X)
    assert set(predicted) <= set(y) and isinstance(predicted[0], str)
    assert fitted.score(X, y) > 0.8
    proba = fitted.predict_proba(X)
    assert proba.shape == (150, 3)
    # in float64 to the last digits: numpy's choice(p=row) checks the sum (float32 rows were
    # off by up to 1e-7, and it refused them)
    assert proba.dtype == np.float64 and np.abs(proba.sum(axis=1) - 1).max() < 1e-12
    np.random.default_rng(0).choice(3, p=proba[int(np.argmax(np.abs(proba.sum(1) - 1)))])
    assert fitted.predictor_.class_names == list(fitted.classes_)  # the run records them too


def test_integer_labels_come_back_as_integers(space: str) -> None:
    X, y = load_iris(return_X_y=True)
    labels = np.array([-5, 10, 20])[y]
    model = NASClassifier(space=space, n_trials=1, epochs=15).fit(X, labels)
    assert model.classes_.tolist() == [-5, 10, 20]
    predicted = model.predict(X)
    assert predicted.dtype.kind == "i" and set(predicted.tolist()) <= {-5, 10, 20}


def test_what_fit_accepts_predict_accepts(space: str) -> None:
    """A column in units of 1e39 fits (standardized in float64 it is ordinary), so predicting
    the same rows works and gives what the search tested; only a value beyond float32 once
    scaled as in training is refused."""
    X, y = load_iris(return_X_y=True)
    big = X.copy()
    big[:, 0] *= 1e39
    model = NASClassifier(space=space, n_trials=1, epochs=15).fit(big, y)
    plain = NASClassifier(space=space, n_trials=1, epochs=15).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(big), plain.predict_proba(X), atol=1e-5)
    beyond = big[:2].copy()
    beyond[0, 0] = 1e39 * 1e39  # 1e78: far beyond float32 (3.4e38) once scaled
    with pytest.raises(ValueError, match=r"holds 1e\+78 \(example 0, at \[0\]\), beyond"):
        model.predict(beyond)


def test_magnitudes_near_float64s_ends_are_standardized_not_scaled_by_1(space: str) -> None:
    """Squares of 1e300 overflow and of 1e-300 underflow: numpy's std is inf or 0 there, and
    scikit-learn's scaler uses 1 for both, as for a constant. One cell of 1e300 had ended the
    search with a NaN error from roc_auc_score; targets in units of 1e-300 had been fitted as
    a constant (r2 0.0, no word). Standardized from the values over their largest magnitude,
    both search as at ordinary scales."""
    from nas.data.transform import mean_std

    for scale in (1e300, 1e-300):
        values = np.array([1.0, 2.0, 3.0, 4.0]) * scale
        mean, std = mean_std(values)
        assert np.isclose(mean / scale, 2.5) and np.isclose(std / scale, np.sqrt(1.25))
    assert mean_std(np.full(5, 7.0))[1] == 1.0  # a constant still scales by 1
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(400, 2))
    y = 3 * X[:, 0] - 2 * X[:, 1] + rng.normal(scale=0.05, size=400)
    for scale in (1.0, 1e-300):
        model = NASRegressor(space=space, n_trials=1, epochs=30).fit(X[:300], y[:300] * scale)
        assert model.score(X[300:], y[300:] * scale) > 0.95, scale
    tall = X.copy()
    tall[0, 0] = 1e300  # not a training row: far beyond float32 once scaled by those rows
    labels = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match=r"holds 1e\+300 \(example 0, at \[0\]\), beyond"):
        NASClassifier(space=space, n_trials=1, epochs=5).fit(tall, labels)


def test_regression_predicts_in_the_targets_units(space: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(600, 1))
    y = 1000 * x[:, 0] + rng.normal(scale=50, size=600)  # noise 50; y's own spread ~580
    model = NASRegressor(space=space, n_trials=2, epochs=30).fit(x[:400], y[:400])
    predicted = model.predict(x[400:])
    rmse = float(np.sqrt(np.mean((predicted - y[400:]) ** 2)))
    assert 40 < rmse < 70  # measured 49: near the noise, far below the spread
    assert predicted.shape == (200,) and predicted.dtype == np.float64
    assert model.score(x[400:], y[400:]) > 0.98


def test_feature_names_from_a_dataframe(fitted: NASClassifier) -> None:
    X, _ = iris_frame()
    assert fitted.feature_names_in_.tolist() == list(X.columns)
    assert fitted.n_features_in_ == 4
    assert fitted.predictor_.feature_names == list(X.columns)  # recorded in the run
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        fitted.predict(X.to_numpy())
    with pytest.raises(ValueError, match="feature names should match"):
        fitted.predict(X[X.columns[::-1]])


@pytest.mark.parametrize("cls", [NASClassifier, NASRegressor], ids=lambda c: c.__name__)
def test_predict_before_fit_raises_not_fitted(cls: type) -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        cls().predict(np.zeros((2, 3)))
    if cls is NASClassifier:
        with pytest.raises(NotFittedError):
            cls().predict_proba(np.zeros((2, 3)))


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_wrong_number_of_features_at_predict(fitted: NASClassifier) -> None:
    with pytest.raises(ValueError, match="X has 3 features, but NASClassifier is expecting 4"):
        fitted.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="X has 5 features"):
        fitted.predict_proba(np.zeros((2, 5)))


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        ([[0.0, np.nan]] * 9, [0, 1, 2] * 3, "Input X contains NaN"),
        ([[0.0, np.inf]] * 9, [0, 1, 2] * 3, "Input X contains infinity"),
        ([[0.0, 1.0]] * 9, [1] * 9, r"needs at least two classes in y; it holds one \(1\)\."),
        ([[0.0, 1.0]] * 9, [0.0] * 9, r"it holds one \(0\.0\)\."),  # not np.float64(0.0)
        ([[0.0, 1.0]] * 9, [0.5, 1.5, 2.25] * 3, "Unknown label type"),
        ([[0.0, 1.0]], [1], "1 sample"),
    ],
)
def test_bad_input_is_a_one_line_value_error(X: list, y: list, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        NASClassifier().fit(np.array(X), np.array(y))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "match"), [({"objectives": 5}, "objectives are names"),
                                               ({"n_trials": -1}, "n_trials must be")])  # fmt: skip
def test_a_bad_setting_is_a_value_error_at_fit(kwargs: dict, match: str) -> None:
    """scikit-learn's convention; n_trials=-1 had been a NasError that no `except ValueError`
    caught, objectives=5 a TypeError."""
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=match):
        NASClassifier(**kwargs).fit(X, y)


def test_a_data_error_names_the_data_given_not_nas_s_own_file_of_it() -> None:
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="^y in the data given has one value in all 50") as e:
        NASRegressor(space="fnn", n_trials=1, epochs=1).fit(X, np.ones(50))
    assert "npz" not in str(e.value)  # had said "y in data.npz", a file the user never made
    X = np.random.default_rng(0).normal(size=(200, 3))
    with pytest.raises(ValueError, match="stratified splitting") as e:
        NASClassifier(space="fnn", n_trials=1, epochs=1).fit(X, np.repeat(np.arange(40), 5))
    assert "val_fraction" not in str(e.value)  # a setting fit does not take


def test_nan_at_predict_is_a_value_error(fitted: NASClassifier) -> None:
    X, _ = iris_frame()
    X = X.copy()
    X.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict(X)


def test_fit_cleans_up_and_restores_threads(
    space: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    torch.set_num_threads(2)
    X, y = load_iris(return_X_y=True)
    model = NASClassifier(space=space, n_trials=1, epochs=2, threads=1).fit(X, y)
    assert torch.get_num_threads() == 2
    assert list(tmp_path.iterdir()) == []  # the temporary run directory is gone
    assert model.run_dir_ is None and model.metrics_["test"]["accuracy"] >= 0


def test_run_dir_keeps_a_complete_run(space: str, tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    run = tmp_path / "run"
    model = NASClassifier(space=space, n_trials=1, epochs=5, run_dir=run).fit(X, y)
    assert model.run_dir_ == run
    reloaded = nas.load_run(run, load_data_too=True)  # its study, and its data from inside it
    assert reloaded.config.data == str((run / "data.npz").resolve())
    assert len(reloaded.data.train) + len(reloaded.data.val) + len(reloaded.data.test) == 150
    np.testing.assert_allclose(nas.load_predictor(run).predict_proba(X.astype(np.float32)),
                               model.predict_proba(X), rtol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="not a new or empty folder"):
        clone(model).fit(X, y)
    # moved whole, it keeps its data: run.json's path to data.npz was the old folder's
    moved = tmp_path / "elsewhere" / "kept"
    shutil.move(run, moved)
    again = nas.load_run(moved, load_data_too=True)
    assert again.config.data == str((moved / "data.npz").resolve())
    assert len(again.data.test) == len(reloaded.data.test)
    assert torch.equal(again.data.test.X, reloaded.data.test.X)
    # other rows under that name are said to be other data, not used
    np.savez(moved / "data.npz", X=X[::-1].copy(), y=y[::-1].copy())
    with pytest.raises(NasError, match="changed since its search"):
        nas.load_run(moved, load_data_too=True)
