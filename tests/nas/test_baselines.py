"""The baselines beside the winner: known answers on hand-made splits, written once by a search
into ``best/baselines.json``, and only read (never fitted) by ``nas report``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import nas
from nas import baselines
from nas.data.taskdata import Split, TaskData
from nas.finalize import save_baselines
from nas.kinds import get_kind
from nas.reporting import collect, write_report

TINY_FNN = """\
space = "fnn"
[fnn]
n_blocks = 1
units = 8
[head]
hidden = 0
[train]
batch_size = 32
"""


def _split(x: list[float], y: list, regression: bool = False) -> Split:
    X = torch.tensor(x, dtype=torch.float32).reshape(-1, 1)
    yt = torch.tensor(y, dtype=torch.float32).reshape(-1, 1) if regression else torch.tensor(y)
    return Split(X, yt)


def _classification() -> TaskData:
    # train + val: class 0 six times, class 1 four times (majority 0, 60%); the feature's sign
    # is the class, so a linear model separates them; test: one 0 and three 1s
    return TaskData(
        "toy", "classification", "tabular", (1,), 2,
        _split([-2, -1.5, -1, -1.2, 1, 2], [0, 0, 0, 0, 1, 1]),
        _split([-1, -2, 1.5, 2], [0, 0, 1, 1]),
        _split([-1.8, 1.1, 1.7, 2.2], [0, 1, 1, 1]),
        class_names=["no", "yes"],
    )  # fmt: skip


def test_the_majority_class_and_logistic_regression_are_scored_on_test() -> None:
    out = baselines.measure_baselines(_classification())
    trivial, classical, trees = out["baselines"]
    assert trivial["name"] == "majority class" and "no, 60.0%" in trivial["detail"]
    assert trivial["metrics"]["accuracy"] == pytest.approx(0.25)  # 1 of 4 test labels is 0
    assert trivial["metrics"]["roc_auc"] == pytest.approx(0.5)  # the same score for every row
    assert classical["name"] == "logistic regression"
    assert classical["metrics"]["accuracy"] == pytest.approx(1.0)
    assert classical["params"] == 2  # one input's weight and the intercept
    assert "train + validation (10 rows)" in classical["detail"]
    assert out["n_test"] == 4 and out["fitted_on"] == "train+val"
    # tabular data: gradient-boosted trees too (on 10 rows, below their 20 a leaf: a constant)
    assert trees["kind"] == "trees" and trees["name"] == "gradient boosting"
    assert trees["detail"] == (
        "scikit-learn HistGradientBoostingClassifier(random_state=0) on the 1 preprocessed "
        "inputs, fitted on train + validation (10 rows), on one core"
    )
    assert "params" not in trees and trees["seconds"] > 0


def test_a_large_training_set_is_subsampled_for_the_classical_baseline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(baselines, "MAX_ROWS", 6)
    monkeypatch.setattr(baselines, "MIN_ROWS", 1)
    trivial, classical, trees = baselines.measure_baselines(_classification(), seed=1)["baselines"]
    assert "(6 rows, a random 6 of 10)" in classical["detail"]
    assert "(6 rows, a random 6 of 10)" in trees["detail"]  # the same rows
    assert trivial["metrics"]["accuracy"] == pytest.approx(0.25)  # the majority of all 10


def test_regression_baselines_are_in_the_targets_units() -> None:
    # standardized targets (mean 100, std 10): the model's y = 0.5 x, test y exactly linear
    std, mean = 10.0, 100.0
    x_train, x_test = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]
    data = TaskData(
        "lin", "regression", "tabular", (1,), 1,
        _split(x_train[:4], [0.5 * v for v in x_train[:4]], True),
        _split(x_train[4:], [0.5 * v for v in x_train[4:]], True),
        _split(x_test, [0.5 * v for v in x_test], True),
        preprocessing={"y_mean": [mean], "y_std": [std]},
    )  # fmt: skip
    trivial, ridge, _ = baselines.measure_baselines(data)["baselines"]
    y_fit = np.array([0.5 * v for v in x_train]) * std + mean  # the mean predictor: 102.5
    y_test = np.array([0.5 * v for v in x_test]) * std + mean
    rmse = float(np.sqrt(np.mean((y_test - y_fit.mean()) ** 2)))
    assert trivial["name"] == "mean predictor"
    assert trivial["metrics"]["rmse"] == pytest.approx(rmse, rel=1e-5)  # ≈ 14.79, not 1.479
    assert ridge["name"] == "ridge regression"
    assert ridge["metrics"]["rmse"] < 0.25 * rmse  # alpha = 1 shrinks a little, no more


def test_the_baselines_are_fitted_for_the_metric_as_the_models_are() -> None:
    """balanced_accuracy: a class-balanced logistic regression (the models train on the
    class-balanced loss); mae: the median, the constant of least absolute error."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.1).astype(int)  # one in ten, overlapping the other class
    x = (rng.normal(size=2000) + 1.2 * y).tolist()
    train, val, test = ((x[a:b], y[a:b].tolist()) for a, b in ((0, 1200), (1200, 1500),
                                                                (1500, 2000)))  # fmt: skip
    data = TaskData("rare", "classification", "tabular", (1,), 2, _split(*train), _split(*val),
                    _split(*test), class_names=["a", "b"])  # fmt: skip
    _, plain, _ = baselines.measure_baselines(data)["baselines"]
    _, fair, _ = baselines.measure_baselines(data, metric="balanced_accuracy")["baselines"]
    assert plain["name"] == "logistic regression"
    assert fair["name"] == "logistic regression (class-balanced)"
    assert 'class_weight="balanced"' in fair["detail"]
    by_hand = LogisticRegression(max_iter=200, class_weight="balanced")
    by_hand.fit(np.array(x[:1500]).reshape(-1, 1), y[:1500])
    predicted = by_hand.predict(np.array(x[1500:]).reshape(-1, 1))
    recalls = [np.mean(predicted[y[1500:] == c] == c) for c in (0, 1)]
    assert fair["metrics"]["balanced_accuracy"] == pytest.approx(np.mean(recalls), abs=1e-9)
    assert fair["metrics"]["balanced_accuracy"] > plain["metrics"]["balanced_accuracy"] + 0.1

    fit = [0.0, 0.0, 1.0, 1.0, 9.0, 50.0]  # median 1, mean 10.17
    test = [0.0, 2.0, 3.0]
    reg = TaskData("skew", "regression", "tabular", (1,), 1, _split(fit[:4], fit[:4], True),
                   _split(fit[4:], fit[4:], True), _split(test, test, True),
                   preprocessing={"y_mean": [0.0], "y_std": [1.0]})  # fmt: skip
    (median, *_), (mean, *_) = (
        baselines.measure_baselines(reg, metric=m)["baselines"] for m in ("mae", "rmse")
    )
    assert median["name"] == "median predictor" and mean["name"] == "mean predictor"
    assert median["metrics"]["mae"] == pytest.approx((1 + 1 + 2) / 3)
    assert mean["metrics"]["mae"] == pytest.approx(np.mean(np.abs(np.array(test) - 61 / 6)))


def _table(x: np.ndarray, y: np.ndarray, task: str = "classification", k: int = 2) -> TaskData:
    """Rows 60 % train, 20 % validation, 20 % test, in order."""
    a, b = int(0.6 * len(x)), int(0.8 * len(x))
    X = torch.as_tensor(x, dtype=torch.float32)
    Y = torch.as_tensor(y) if task == "classification" else torch.as_tensor(y, dtype=torch.float32)
    splits = [Split(X[s], Y[s]) for s in (slice(0, a), slice(a, b), slice(b, None))]
    names = [str(c) for c in range(k)] if task == "classification" else []
    return TaskData("table", task, "tabular", (x.shape[1],), k, *splits, class_names=names,
                    preprocessing={"y_mean": [0.0] * k, "y_std": [1.0] * k})  # fmt: skip


def _xor(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The class is whether two inputs share a sign: no line separates it, trees split it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, (x[:, 0] * x[:, 1] > 0).astype(int)


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy"])
def test_the_trees_are_a_histgradientboostingclassifier_fitted_by_hand(metric: str) -> None:
    """Known answer: the trees baseline scores exactly what HistGradientBoostingClassifier with
    the same arguments, fitted on the same train + validation rows, scores on test."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from nas.metrics import compute_metrics

    x, y = _xor(1000)
    y[:150] = (x[:150, 2] > 1.0).astype(int)  # some imbalance where class_weight matters
    trees = baselines.measure_baselines(_table(x, y), seed=3, metric=metric)["baselines"][2]
    balanced = metric == "balanced_accuracy"
    by_hand = HistGradientBoostingClassifier(
        class_weight="balanced" if balanced else None, random_state=3
    ).fit(x[:800].astype(np.float32), y[:800])
    proba = by_hand.predict_proba(x[800:].astype(np.float32))
    expected = compute_metrics("classification", y[800:], proba, 2, from_logits=False)
    expected.pop("confusion_matrix")
    assert set(trees["metrics"]) == set(expected)
    for name, value in expected.items():
        assert trees["metrics"][name] == pytest.approx(value, abs=1e-9), name
    weight = 'class_weight="balanced", ' if balanced else ""
    assert trees["name"] == "gradient boosting" + (" (class-balanced)" if balanced else "")
    assert trees["detail"] == (
        f"scikit-learn HistGradientBoostingClassifier({weight}random_state=3) on the 3 "
        "preprocessed inputs, fitted on train + validation (800 rows), on one core"
    )


def test_trees_beat_a_linear_model_where_the_class_is_an_interaction() -> None:
    """y = [x0 x1 > 0]: logistic regression is near chance, the trees near perfect; a winner no
    better than the linear model reads that gradient boosting beats it, on the first screen and
    on the command line."""
    from explain.report.decision_view import decision_view
    from nas.findings import baseline_lines

    x, y = _xor(1000)
    measured = baselines.measure_baselines(_table(x, y))
    trivial, linear, trees = measured["baselines"]
    assert linear["metrics"]["accuracy"] < 0.65
    assert trees["metrics"]["accuracy"] > 0.9
    assert trees["metrics"]["accuracy"] > linear["metrics"]["accuracy"] + 0.25
    data = {
        "run": {"metric": "accuracy", "directions": ["maximize"],
                "data_info": {"sizes": {"train": 600, "val": 200, "test": 200}}},
        "best": {"test": {"accuracy": linear["metrics"]["accuracy"]}, "val": {"accuracy": 0.6}},
        "baselines": {**measured, "metric": "accuracy"},
    }  # fmt: skip
    view = decision_view(data)
    assert view is not None and view["verdict"]["cls"] == "bad"
    text = view["verdict"]["text"]
    assert text.startswith(f"Gradient boosting beats the winner on this test split (accuracy "
                           f"{trees['metrics']['accuracy']:.4g} against")  # fmt: skip
    assert "ship it instead" in text and "linear" not in text
    assert [m["cls"] for m in view["strip"]["marks"]][-1] == "trees"
    lines = baseline_lines(data)
    assert "gradient boosting" in lines[0] and "better than the winner, beyond" in lines[0]
    assert lines[1] == f"verdict: {text}"


def test_the_trees_are_fitted_for_the_metric_as_the_models_are() -> None:
    """mae: trees of least absolute error (loss="absolute_error"), scored as fitted by hand;
    rmse: the default squared error."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 2))
    y = (np.abs(x[:, :1]) + rng.standard_t(2, size=(600, 1))).astype(np.float32)  # heavy tails
    data = _table(x, y, "regression", 1)
    l1 = baselines.measure_baselines(data, metric="mae")["baselines"][2]
    l2 = baselines.measure_baselines(data, metric="rmse")["baselines"][2]
    assert l1["kind"] == l2["kind"] == "trees"
    assert 'HistGradientBoostingRegressor(loss="absolute_error", random_state=0)' in l1["detail"]
    assert "HistGradientBoostingRegressor(random_state=0)" in l2["detail"]
    by_hand = HistGradientBoostingRegressor(loss="absolute_error", random_state=0)
    by_hand.fit(x[:480].astype(np.float32), y[:480, 0])
    mae = float(np.mean(np.abs(by_hand.predict(x[480:].astype(np.float32)) - y[480:, 0])))
    assert l1["metrics"]["mae"] == pytest.approx(mae, abs=1e-6)  # float32 targets
    assert l1["metrics"]["mae"] < l2["metrics"]["mae"]  # what it was fitted for


def test_several_targets_get_one_model_each() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 2))
    y = np.stack([np.abs(x[:, 0]), x[:, 0] * x[:, 1]], 1).astype(np.float32)
    trees = baselines.measure_baselines(_table(x, y, "regression", 2))["baselines"][2]
    assert trees["detail"].startswith(
        "scikit-learn MultiOutputRegressor(HistGradientBoostingRegressor(random_state=0)) (one "
        "for each of the 2 targets) on the 2 preprocessed inputs"
    )
    X = x.astype(np.float32)
    by_hand = [HistGradientBoostingRegressor(random_state=0).fit(X[:400], y[:400, j])
               for j in (0, 1)]  # fmt: skip
    pred = np.stack([m.predict(X[400:]) for m in by_hand], 1)
    rmse = float(np.mean(np.sqrt(np.mean((pred - y[400:]) ** 2, 0))))  # each target's, averaged
    assert trees["metrics"]["rmse"] == pytest.approx(rmse, rel=1e-5)


def test_the_trees_are_capped_on_wide_tables_and_many_classes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Their fit stays within seconds: fewer rows for a wide table, fewer iterations when an
    iteration grows a tree per class; both said in the detail."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    y = np.digitize(x[:, 0] * x[:, 1], [-0.5, 0.0, 0.5])  # 4 classes
    monkeypatch.setattr(baselines, "TREE_MAX_VALUES", 400)  # 100 rows of 4 inputs
    monkeypatch.setattr(baselines, "MIN_ROWS", 50)
    monkeypatch.setattr(baselines, "TREE_MAX_TREES", 120)  # 30 iterations of 4 trees
    _, linear, trees = baselines.measure_baselines(_table(x, y, k=4))["baselines"]
    assert "(400 rows)" in linear["detail"]
    assert trees["detail"] == (
        "scikit-learn HistGradientBoostingClassifier(max_iter=30, random_state=0) on the 4 "
        "preprocessed inputs, fitted on train + validation (100 rows, a random 100 of 400; the "
        "trees' cap: 400 values, at least 50 rows), on one core; max_iter capped from 100 to "
        "keep it to 120 trees (4 an iteration)"
    )


@pytest.mark.parametrize(("modality", "shape"), [("image", (1, 2, 2)), ("sequence", (4, 1))])
def test_images_and_sequences_have_no_trees(modality: str, shape: tuple[int, ...]) -> None:
    x, y = _xor(200)
    x = np.concatenate([x, x[:, :1]], 1).reshape(200, *shape)
    data = _table(x.reshape(200, -1), y)
    data = TaskData("t", "classification", modality, shape, 2,
                    *(Split(s.X.reshape(-1, *shape), s.y) for s in (data.train, data.val,
                                                                     data.test)),
                    class_names=["a", "b"])  # fmt: skip
    fitted = baselines.fit_baselines(data)
    assert fitted.trees is None
    kinds = [b["kind"] for b in baselines.score_baselines(fitted, data)["baselines"]]
    assert kinds == ["trivial", "classical"]


def test_save_baselines_writes_the_file_and_a_failure_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "best").mkdir()
    result = SimpleNamespace(run_dir=tmp_path, warnings=[])
    settings = SimpleNamespace(metric="accuracy", seed=0)
    save_baselines(result, get_kind("classifier"), _classification(), settings, None)  # type: ignore[arg-type]
    stored = json.loads((tmp_path / "best" / "baselines.json").read_text())
    assert stored["metric"] == "accuracy" and len(stored["baselines"]) == 3
    assert baselines.read_baselines(tmp_path / "best") == stored
    assert baselines.read_baselines(tmp_path / "nowhere") is None  # not measured
    (tmp_path / "best" / "baselines.json").write_text("{not json")
    damaged = baselines.read_baselines(tmp_path / "best")
    assert set(damaged) == {"note"} and "baselines.json is damaged" in damaged["note"]
    broken = SimpleNamespace(baselines=lambda td, s, state: 1 / 0)
    save_baselines(result, broken, _classification(), settings, None)  # type: ignore[arg-type]
    assert result.warnings and "could not be measured" in result.warnings[0]


def test_the_baselines_are_fitted_as_the_search_starts_and_scored_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their fit (seconds on MNIST-1D) is part of --timeout's time: it ran after the final
    retrain, past the deadline (45 s asked, 58-61 s waited)."""
    kind, data = get_kind("classifier"), _classification()
    settings = SimpleNamespace(metric="accuracy", seed=0)
    state = kind.prepare(data, settings, {}, leader=True)  # type: ignore[arg-type]
    assert isinstance(state, baselines.Fitted)
    assert kind.prepare(data, settings, {}, leader=False) is None  # type: ignore[arg-type]
    monkeypatch.setattr(baselines, "fit_baselines", lambda *a, **k: 1 / 0)  # no second fit
    (tmp_path / "best").mkdir()
    result = SimpleNamespace(run_dir=tmp_path, warnings=[])
    save_baselines(result, kind, data, settings, state)  # type: ignore[arg-type]
    stored = json.loads((tmp_path / "best" / "baselines.json").read_text())
    assert not result.warnings and stored["metric"] == "accuracy"
    monkeypatch.undo()
    assert [b["metrics"] for b in stored["baselines"]] == [
        b["metrics"] for b in baselines.measure_baselines(data, seed=0)["baselines"]
    ]
    # a fit that failed at the start is the same warning, after the winner is saved
    failed = kind.prepare(SimpleNamespace(), settings, {}, leader=True)  # type: ignore[arg-type]
    assert isinstance(failed, Exception)
    later = SimpleNamespace(run_dir=tmp_path, warnings=[])
    save_baselines(later, kind, data, settings, failed)  # type: ignore[arg-type]
    assert later.warnings and "could not be measured" in later.warnings[0]


def test_a_gan_search_kind_has_no_baselines() -> None:
    pytest.importorskip("nas.gan")
    assert get_kind("gan").baselines(_classification(), None, None) is None  # type: ignore[arg-type]


def test_the_bootstrap_interval_covers_a_known_rmse(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, (400, 1))
    out = y + rng.normal(0, 0.5, (400, 1))  # residual sd 0.5 standardized = 5 in units
    np.savez(tmp_path / "predictions.npz", y_true=y, outputs=out)
    info = {"preprocessing": {"y_mean": [3.0], "y_std": [10.0]}}
    ci = baselines.bootstrap_interval(tmp_path, "regression", "rmse", info)
    rmse = float(np.sqrt(np.mean((out - y) ** 2))) * 10
    assert ci["lo"] < rmse < ci["hi"] and ci["n"] == 400
    # the sd of an RMSE on n normal residuals is about RMSE / sqrt(2n): the 95% half-width
    assert (ci["hi"] - ci["lo"]) / 2 == pytest.approx(1.96 * rmse / np.sqrt(800), rel=0.25)
    assert baselines.bootstrap_interval(tmp_path, "classification", "accuracy", {}) == {}


@pytest.mark.usefixtures("restore_global_state")
def test_a_search_measures_them_and_the_report_only_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = tmp_path / "space.toml"
    space.write_text(TINY_FNN, encoding="utf-8")
    nas.search(dataset="iris", space=str(space), out=tmp_path / "run", n_trials=1, epochs=2,
               threads=1, pruner="none", seed=0, reports_dir=None)  # fmt: skip
    stored = json.loads((tmp_path / "run" / "best" / "baselines.json").read_text())
    trivial, classical, trees = stored["baselines"]
    n_test = stored["n_test"]
    # iris is balanced (50 per class): the majority class is right on about a third of test
    assert 0.15 <= trivial["metrics"]["accuracy"] <= 0.5 and n_test >= 15
    assert classical["metrics"]["accuracy"] >= 0.8  # logistic regression on iris
    assert trees["kind"] == "trees" and trees["metrics"]["accuracy"] >= 0.8

    def no_fitting(*a: object, **k: object) -> None:
        raise AssertionError("nas report fitted a baseline")

    monkeypatch.setattr(baselines, "measure_baselines", no_fitting)
    before = sorted(p.name for p in (tmp_path / "run").rglob("*"))
    data = collect(tmp_path / "run")
    assert all(len(b["outputs"]) == n_test for b in stored["baselines"])  # per test row
    read = [{k: v for k, v in b.items() if k != "paired"} for b in data["baselines"]["baselines"]]
    assert read == [{k: v for k, v in b.items() if k != "outputs"} for b in stored["baselines"]]
    html = write_report(tmp_path / "run").read_text(encoding="utf-8")
    assert "logistic regression" in html and "majority class" in html
    assert "gradient boosting" in html and "mk mk-trees" in html
    after = sorted(p.name for p in (tmp_path / "run").rglob("*"))
    assert set(after) - set(before) <= {"report.html"}


def _paired_run(
    tmp_path: Path, wrong_winner: int, wrong_base: int, n: int = 225
) -> tuple[Path, np.ndarray]:
    """A best/ folder of a 2-class winner wrong on its first ``wrong_winner`` test rows and
    a baseline wrong on the first ``wrong_base`` (so each error of one is also the other's)."""
    best = tmp_path / "best"
    best.mkdir(parents=True)
    y = np.arange(n) % 2
    logits = np.stack([1 - y, y], 1).astype(float) * 4 - 2  # right everywhere, then flipped
    logits[:wrong_winner] *= -1
    np.savez(best / "predictions.npz", y_true=y, outputs=logits)
    probs = np.stack([1 - y, y], 1).astype(float) * 0.8 + 0.1
    probs[:wrong_base] = probs[:wrong_base, ::-1]
    return best, probs


def test_a_baseline_is_judged_by_its_difference_with_the_winner_on_the_same_rows(
    tmp_path: Path,
) -> None:
    """One more right answer of 225 (accuracy 1 against 0.9956) lay beyond the winner's Wilson
    interval and had been said to beat it; on the same rows the difference is within noise."""
    best, probs = _paired_run(tmp_path / "one", wrong_winner=1, wrong_base=0)
    one = baselines.paired_difference(best, "classification", "accuracy", {}, probs.tolist())
    assert one["lo"] <= 0 < one["hi"] and one["n"] == 225  # 0 or 1 discordant row: noise
    best, probs = _paired_run(tmp_path / "many", wrong_winner=30, wrong_base=2)
    many = baselines.paired_difference(best, "classification", "accuracy", {}, probs.tolist())
    assert 0 < many["lo"] < 28 / 225 < many["hi"]  # 28 more right of 225: beyond noise
    assert baselines.paired_difference(best, "classification", "accuracy", {}, [[0.5, 0.5]]) == {}

    from explain.report.decision_view import decision_view

    def verdict(paired: dict, value: float, test: float) -> str:
        data = {"run": {"metric": "accuracy", "task": "classification",
                        "data_info": {"sizes": {"test": 225, "val": 100}}},
                "best": {"test": {"accuracy": test}, "val": {"accuracy": test}},
                "baselines": {"n_test": 225, "baselines": [
                    {"name": "gradient boosting", "kind": "trees", "paired": paired,
                     "metrics": {"accuracy": value}}]}}  # fmt: skip
        return decision_view(data)["verdict"]["text"]

    said = verdict(one, 1.0, 224 / 225)
    assert said.startswith("Gradient boosting scores 1, better than the winner's 0.9956 though "
                           "the difference on the same test rows is within noise")  # fmt: skip
    said = verdict(many, 223 / 225, 195 / 225)
    assert said.startswith("Gradient boosting beats the winner on this test split")
    assert "the 95% interval of the difference on the same rows excludes 0" in said


@pytest.mark.parametrize(
    ("task", "metric"),
    [("classification", m) for m in ("accuracy", "balanced_accuracy", "precision", "recall",
                                      "f1", "log_loss", "roc_auc")]
    + [("regression", m) for m in ("mae", "mse", "rmse", "r2")],
)  # fmt: skip
def test_resampled_metrics_are_the_scorers_own_on_each_resample(task: str, metric: str) -> None:
    """The counts-weighted metrics of the paired bootstrap equal scikit-learn's (through
    nas.metrics.metric_value) on every resample, for 4 classes (one rare) and 2 outputs."""
    from nas.metrics import metric_value

    rng = np.random.default_rng(1)
    n = 40
    if task == "classification":
        y = rng.choice(4, n, p=[0.4, 0.3, 0.25, 0.05])
        out = rng.normal(size=(n, 4)) + 2.0 * np.eye(4)[y]  # logits, mostly right
    else:
        y = rng.normal(size=(n, 2)) * [1.0, 30.0]
        out = y + rng.normal(size=(n, 2)) * [0.5, 20.0]
    rows = rng.integers(0, n, (25, n))
    fast = baselines.resampled(metric, task, y, out, rows, from_logits=True)
    k = 4 if task == "classification" else None
    slow = [metric_value(metric, task, y[i], out[i], k) for i in rows]
    slow = np.array([np.nan if v is None else v for v in slow])
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.isfinite(fast).sum() >= 20


@pytest.mark.parametrize("k", [2, 3])
def test_resampled_roc_auc_with_tied_scores_is_scikit_learns(k: int) -> None:
    """Tied scores (rounded logits) count one half in the weighted Mann-Whitney statistic, as
    in scikit-learn's trapezoidal AUC; a resample without one class is undefined (NaN)."""
    from nas.metrics import metric_value

    rng = np.random.default_rng(2)
    n = 30
    y = rng.choice(k, n, p=[0.8, 0.2] if k == 2 else [0.6, 0.3, 0.1])
    out = np.round(rng.normal(size=(n, k)) + np.eye(k)[y], 0)  # few distinct values: ties
    rows = rng.integers(0, n, (60, n))
    fast = baselines.resampled("roc_auc", "classification", y, out, rows, from_logits=True)
    slow = [metric_value("roc_auc", "classification", y[i], out[i], k) for i in rows]
    slow = np.array([np.nan if v is None else v for v in slow])
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.isfinite(fast).sum() >= 10 and (k == 2 or np.isnan(fast).any())
    one_class = np.zeros((1, n), dtype=np.int64) + int(np.flatnonzero(y == 0)[0])
    assert np.isnan(baselines.resampled("roc_auc", "classification", y, out, one_class, True))


def test_not_shown_to_beat_the_trivial_baseline_is_judged_on_the_same_rows() -> None:
    """The winner's MAE 1.714e5 against the median's 1.894e5 lay within the winner's own
    interval and was called 'not shown to beat' in red, though on the same rows the median was
    worse on every resample (difference +14,249 to +21,839)."""
    from explain.report.decision_view import decision_view

    def view(paired: dict | None) -> dict:
        trivial = {"name": "median predictor", "kind": "trivial", "metrics": {"mae": 189_400.0}}
        if paired is not None:
            trivial["paired"] = paired
        data = {"run": {"metric": "mae", "task": "regression",
                        "data_info": {"sizes": {"test": 225, "val": 225}}},
                "best": {"test": {"mae": 171_400.0}, "val": {"mae": 171_000.0}},
                "test_interval": {"metric": "mae", "lo": 150_000.0, "hi": 195_000.0, "n": 225},
                "baselines": {"n_test": 225, "baselines": [trivial]}}  # fmt: skip
        return decision_view(data)

    unpaired = view(None)  # a run from before the outputs were stored: as before
    assert unpaired["verdict"]["text"].startswith("The winner is not shown to beat the median")
    paired = view({"lo": 14_249.0, "hi": 21_839.0})
    assert paired["verdict"] is None  # it does beat it, beyond noise
    assert paired["baselines"][0]["relation"] == (
        "worse than the winner (baseline − winner 14,249 to 21,839, 95%, on the same rows)"
    )
    noisy = view({"lo": -2_000.0, "hi": 21_839.0})
    assert noisy["verdict"]["text"].endswith("a difference within noise on the same rows).")


def test_a_baseline_that_scores_what_the_winner_scores_is_not_called_better() -> None:
    """An outsider's winner predicted the majority class on every row: the majority class
    scored what it scored (0.5556, the paired difference 0 to 0) and was called 'better by a
    difference within noise'."""
    from explain.report.decision_view import decision_view

    def relation(value: float, paired: dict) -> str:
        trivial = {"name": "majority class", "kind": "trivial", "paired": paired,
                   "metrics": {"accuracy": value}}  # fmt: skip
        data = {"run": {"metric": "accuracy", "task": "classification",
                        "data_info": {"sizes": {"test": 45, "val": 45}}},
                "best": {"test": {"accuracy": 25 / 45}, "val": {"accuracy": 0.5}},
                "test_interval": {"metric": "accuracy", "lo": 0.41, "hi": 0.69, "n": 45},
                "baselines": {"n_test": 45, "baselines": [trivial]}}  # fmt: skip
        return decision_view(data)["baselines"][0]["relation"]

    assert relation(25 / 45, {"lo": 0.0, "hi": 0.0}) == (
        "the same as the winner on every resample of the same rows (difference 0)"
    )
    assert relation(25 / 45, {"lo": -0.1, "hi": 0.1}).startswith(
        "the same score, a difference within noise (baseline − winner -0.1 to 0.1"
    )
    assert relation(26 / 45, {"lo": -0.05, "hi": 0.1}).startswith("better by a difference")
    assert relation(24 / 45, {"lo": -0.1, "hi": 0.05}).startswith("worse by a difference")


def _relation(paired: dict, value: float, test: float, n: int, metric: str = "accuracy") -> dict:
    from explain.report.decision_view import decision_view

    data = {"run": {"metric": metric, "task": "classification",
                    "data_info": {"sizes": {"test": n, "val": n}}},
            "best": {"test": {metric: test}, "val": {metric: test}},
            "baselines": {"n_test": n, "baselines": [
                {"name": "majority class", "kind": "trivial", "paired": paired,
                 "metrics": {metric: value}}]}}  # fmt: skip
    return decision_view(data)  # type: ignore[return-value]


def test_six_test_rows_claim_no_difference_the_exact_test_does_not_confirm(
    tmp_path: Path,
) -> None:
    """A 40-row CSV leaves 6 test rows: the winner right on all 6, the majority class on 3.
    The paired bootstrap's interval, -0.833 to -0.167, excluded 0 (an all-tie resample has
    probability 1/64) and the report said "worse than the winner"; McNemar's exact test on the
    3 rows where they disagree, all for the winner, gives p = 2 / 2^3 = 0.25."""
    best, probs = _paired_run(tmp_path, wrong_winner=0, wrong_base=3, n=6)
    paired = baselines.paired_difference(best, "classification", "accuracy", {}, probs.tolist())
    assert (paired["lo"], paired["hi"]) == (pytest.approx(-5 / 6), pytest.approx(-1 / 6))
    assert paired["discordant"] == [0, 3] and paired["p"] == pytest.approx(0.25)
    assert paired["test"].startswith("McNemar's exact test")
    view = _relation(paired, 0.5, 1.0, 6)
    row = view["baselines"][0]
    assert not row["beats"] and row["within"]
    assert row["relation"].startswith("worse by a difference within noise: the bootstrap")
    assert "McNemar's exact test on the 3 rows where they disagree (0 for the baseline, 3 for " \
           "the winner): p = 0.25" in row["relation"]  # fmt: skip
    assert "worse than the winner" not in row["relation"]
    assert view["verdict"]["text"].startswith("The winner is not shown to beat the majority class")


def test_forty_discordant_rows_35_to_5_keep_the_claim(tmp_path: Path) -> None:
    """225 rows, the winner wrong on 5 where the baseline is right and the baseline wrong on
    35 where the winner is right: the bootstrap and McNemar's test (p = 2 P(X <= 5), X ~
    Bin(40, 1/2), 1.1e-6) agree."""
    from math import comb

    best = tmp_path / "best"
    best.mkdir()
    y = np.arange(225) % 2
    logits = np.stack([1 - y, y], 1).astype(float) * 4 - 2
    logits[:5] *= -1  # the winner wrong on rows 0-4
    np.savez(best / "predictions.npz", y_true=y, outputs=logits)
    probs = np.stack([1 - y, y], 1).astype(float) * 0.8 + 0.1
    probs[5:40] = probs[5:40, ::-1]  # the baseline wrong on rows 5-39
    paired = baselines.paired_difference(best, "classification", "accuracy", {}, probs.tolist())
    by_hand = 2 * sum(comb(40, i) for i in range(6)) / 2**40
    assert paired["discordant"] == [5, 35] and paired["p"] == pytest.approx(by_hand, rel=1e-9)
    assert paired["hi"] < 0
    row = _relation(paired, 190 / 225, 220 / 225, 225)["baselines"][0]
    assert row["relation"].startswith("worse than the winner (baseline − winner")
    assert "(5 for the baseline, 35 for the winner): p < 0.001)" in row["relation"]
    # a baseline better by as much is said to be better, beyond noise
    flipped = {**paired, "lo": -paired["hi"], "hi": -paired["lo"], "discordant": [35, 5]}
    row = _relation(flipped, 220 / 225, 190 / 225, 225)["baselines"][0]
    assert row["beats"] and row["relation"].startswith("better than the winner (")


def test_other_metrics_on_a_small_test_split_claim_nothing_from_the_bootstrap() -> None:
    """No exact test for balanced accuracy or an error: below 30 test rows the bootstrap's
    interval alone does not tell two models apart; from 30 rows it does, as before."""
    claim = {"lo": -0.8, "hi": -0.2, "n": 6}
    row = _relation(claim, 0.5, 1.0, 6, "balanced_accuracy")["baselines"][0]
    assert row["within"] and not row["beats"]
    assert row["relation"] == (
        "worse by a difference within noise: 6 test rows are too few to tell them apart "
        "(baseline − winner -0.8 to -0.2, 95%, on the same rows)"
    )
    row = _relation({**claim, "n": 30}, 0.5, 1.0, 30, "balanced_accuracy")["baselines"][0]
    assert row["relation"].startswith("worse than the winner (baseline − winner -0.8 to -0.2")
    # a run's paired record from before the exact test (no p) on a few rows: the same caution
    row = _relation({"lo": -0.8, "hi": -0.2}, 0.5, 1.0, 6)["baselines"][0]
    assert "6 test rows are too few to tell them apart" in row["relation"]


def test_a_test_split_under_30_rows_is_an_alert() -> None:
    from nas.findings import alerts

    def texts(n: int) -> list[str]:
        data = {"run": {"metric": "accuracy", "data_info": {"sizes": {"test": n, "val": n}}},
                "best": {"test": {"accuracy": 1.0}, "val": {"accuracy": 1.0}}}  # fmt: skip
        return [a["text"] for a in alerts(data) if a["level"] == "warn"]

    small = [t for t in texts(6) if t.startswith("The test split holds only 6 rows: its scores")]
    assert small and "a rough guide" in small[0] and "Add rows to the data" in small[0]
    assert "`nas search` has no option for a larger share" in small[0]
    assert not any("test split holds only" in t for t in texts(30))


def test_the_models_are_scored_on_the_test_rows_that_repeat_no_training_row(
    tmp_path: Path,
) -> None:
    """An outsider's file with a third of its rows twice: trees that memorised the copies
    scored 39 of 39 on them and were said to beat the winner, within a row of it on the 29
    others. Known answers by hand: 6 test rows, the first two repeat training rows."""
    from explain.report.decision_view import decision_view

    y = np.array([0, 1, 0, 1, 1, 0])
    winner = np.array([[2, 0], [0, 2], [2, 0], [2, 0], [0, 2], [2, 0]], dtype=float)  # 5 of 6
    trees = [[1, 0], [0, 1], [0, 1], [1, 0], [1, 0], [1, 0]]  # right on rows 0, 1 and 5 only
    best = tmp_path / "best"
    best.mkdir()
    np.savez(best / "predictions.npz", y_true=y, outputs=winner)
    got = baselines.unseen_scores(best, "classification", "accuracy", {}, [("trees", trees)],
                                  [0, 1])  # fmt: skip
    assert got == {"n": 4, "of": 6, "winner": 3 / 4,
                   "baselines": [{"name": "trees", "value": 1 / 4}]}  # fmt: skip
    assert baselines.unseen_scores(best, "classification", "accuracy", {}, [], []) is None
    # a regression's baselines are stored standardized: scored in the target's units
    np.savez(best / "predictions.npz", y_true=np.arange(6.0), outputs=np.arange(6.0) + 0.5)
    info = {"preprocessing": {"y_mean": 10.0, "y_std": 2.0}}  # targets 10, 12, ..., 20
    std = [[(v - 10.0) / 2.0] for v in (10, 12, 14, 16, 18, 20.0)]  # exactly right
    got = baselines.unseen_scores(best, "regression", "mae", info,
                                  [("mean", np.array(std).reshape(-1).tolist())], [5])  # fmt: skip
    assert got["winner"] == pytest.approx(1.0) and got["baselines"][0]["value"] == pytest.approx(0)
    data = {"run": {"metric": "accuracy", "data_info": {"sizes": {"test": 6}, "preprocessing": {
        "leaks": ["2 of the 6 test rows repeat a training or validation row's features"]}}},
        "best": {"trial": 0, "test": {"accuracy": 5 / 6}, "val": {"accuracy": 1.0}},
        "unseen": {"n": 4, "of": 6, "winner": 0.75,
                   "baselines": [{"name": "trees", "value": 0.25}]}}  # fmt: skip
    said = decision_view(data)["verdict"]["text"]
    assert ("On the 4 of 6 test rows that repeat no training row, accuracy: the winner 0.75; "
            "trees 0.25.") in said  # fmt: skip
