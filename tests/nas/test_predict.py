"""``nas predict`` / ``nas.load_predictor``: new rows through the run's recorded preprocessing
(one implementation with the loader) give the model's own outputs on the same rows."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import Result

import nas
from nas.data.csvfile import read_table
from nas.data.prepare import encode_labels
from nas.data.split import split_indices
from nas.errors import DataError
from tests.conftest import LEAN, FinishedRun, copy_finished_run, invoke, write_space

pytestmark = pytest.mark.usefixtures("restore_global_state")


def churn(path: Path, n: int = 300, seed: int = 0) -> Path:
    """Two numbers, a text column and a few gaps; the label is text."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    label = np.where(a + b + (color == "red") > 0.5, "yes", "no")
    frame = pd.DataFrame({"a": a, "color": color, "b": b, "churned": label})
    frame.loc[3, "a"], frame.loc[5, "color"] = np.nan, None
    frame.to_csv(path, index=False)
    return path


def search_csv(root: Path, data: Path, target: str) -> Path:
    run = root / f"run-{data.stem}"
    with contextlib.chdir(root):
        result = invoke("search", "--data", data, "--target", target, "--space", write_space(root),
                        "--trials", "1", "--epochs", "3", "--out", run, *LEAN)  # fmt: skip
    assert result.exit_code == 0, result.output
    return run


def test_rows(path: Path, target: str, classify: bool) -> pd.DataFrame:
    """The run's test rows, split again as the loader split them (seed 0, 15 % / 15 %)."""
    frame, _ = read_table(path)
    y, names = encode_labels(frame[target].to_numpy(), target) if classify else (None, [])
    indices = split_indices(len(frame), y, seed=0, val_fraction=0.15, test_fraction=0.15,
                            class_names=names)  # fmt: skip
    return frame.iloc[indices[2]].reset_index(drop=True)


test_rows.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    threads = torch.get_num_threads()
    root = tmp_path_factory.mktemp("predict")
    data = churn(root / "churn.csv")
    run = search_csv(root, data, "churned")
    torch.set_num_threads(threads)
    return run, data


def test_predictor_gives_the_runs_own_test_outputs(classify_run: tuple[Path, Path]) -> None:
    run, data = classify_run
    rows = test_rows(data, "churned", classify=True)
    shuffled = rows[["churned", "b", "color", "a"]].assign(extra=1.0)  # any order, extra column
    saved = np.load(run / "best" / "predictions.npz")
    predictor = nas.load_predictor(run)
    assert np.allclose(predictor.outputs(shuffled), saved["outputs"], atol=1e-5)
    expected = np.array(["no", "yes"], dtype=object)[saved["outputs"].argmax(1)]
    with pytest.warns(UserWarning, match="'extra'"):
        assert list(predictor.predict(shuffled)) == list(expected)
    assert list(np.array(["no", "yes"])[saved["y_true"]]) == list(rows["churned"])
    proba = predictor.predict_proba(shuffled.drop(columns="extra"))
    assert proba.shape == (len(rows), 2) and np.allclose(proba.sum(1), 1)
    assert list(predictor.classes_) == ["no", "yes"]


def test_cli_writes_the_predictions_and_scores_a_present_target(
    classify_run: tuple[Path, Path], tmp_path: Path
) -> None:
    run, data = classify_run
    rows = test_rows(data, "churned", classify=True)
    rows[["color", "a", "churned", "b"]].to_csv(tmp_path / "new.csv", index=False)
    result = invoke("predict", run, "--data", tmp_path / "new.csv", "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "p.csv")
    saved = np.load(run / "best" / "predictions.npz")
    assert list(written["prediction"]) == list(np.array(["no", "yes"])[saved["outputs"].argmax(1)])
    assert list(written.columns[-2:]) == ["proba_no", "proba_yes"]
    accuracy = json.loads((run / "best" / "metrics.json").read_text())["test"]["accuracy"]
    assert f"accuracy {accuracy:.4g}" in result.output
    assert "overstate" not in result.output  # rows of the file, but not the file searched
    scored = next(line for line in result.output.splitlines() if line.startswith("against"))
    assert ", macro f1 " in scored and ", f1 " not in scored  # averages of the classes' scores


def test_rows_ending_in_a_delimiter_predict_as_without_it(
    classify_run: tuple[Path, Path], tmp_path: Path
) -> None:
    """Some exports end every row with a delimiter: pandas made the first column the index
    and shifted the others one place left, so predictions were silently wrong, with only a
    note that the last column was filled in (/tmp/oH item 1: RMSE 8.70 became 153.1). A
    value after the last column is refused, naming the line."""
    run, data = classify_run
    rows = test_rows(data, "churned", classify=True)
    rows[["a", "b", "color"]].to_csv(tmp_path / "plain.csv", index=False)
    lines = (tmp_path / "plain.csv").read_text().splitlines()
    trailing = [lines[0], *(line + "," for line in lines[1:])]
    (tmp_path / "trailing.csv").write_text("\n".join(trailing) + "\n")
    predictor = nas.load_predictor(run)
    plain, _ = read_table(tmp_path / "plain.csv")
    again, _ = read_table(tmp_path / "trailing.csv")
    pd.testing.assert_frame_equal(again, plain)
    result = invoke("predict", run, "--data", tmp_path / "trailing.csv", "-o", tmp_path / "t.csv")
    assert result.exit_code == 0 and "filled" not in result.output, result.output
    saved = np.load(run / "best" / "predictions.npz")
    expected = np.array(["no", "yes"])[saved["outputs"].argmax(1)]
    assert list(pd.read_csv(tmp_path / "t.csv")["prediction"]) == list(expected)
    assert list(predictor.predict(again)) == list(expected)
    trailing[2] += "7"  # a value after the last column: whose column is it?
    (tmp_path / "extra.csv").write_text("\n".join(trailing) + "\n")
    failed = invoke("predict", run, "--data", tmp_path / "extra.csv", "-o", tmp_path / "x.csv")
    assert failed.exit_code == 2 and len(failed.stderr.strip().splitlines()) == 1
    assert "extra.csv line 3 has 4 fields where the header names 3 (a value after its last " \
        "column, 'color'); name that column in the header, or remove the extra field." in \
        " ".join(failed.stderr.split())  # fmt: skip


def test_metrics_on_the_searched_file_itself_say_they_are_no_test_score(
    classify_run: tuple[Path, Path], tmp_path: Path
) -> None:
    """The training file scored again mixes the rows that trained the model with the test
    rows: the metrics come with a note naming the run's real test score."""
    run, data = classify_run
    result = invoke("predict", run, "--data", data, "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    accuracy = json.loads((run / "best" / "metrics.json").read_text())["test"]["accuracy"]
    lines = result.output.splitlines()
    scored = next(i for i, line in enumerate(lines) if line.startswith("against 'churned'"))
    note = " ".join(lines[scored + 1 :])
    assert "churn.csv is the file this run searched on" in note and "overstate" in note
    assert f"test accuracy, on rows held out from all of that, is {accuracy:.4g}" in note
    caveat = nas.load_predictor(run).predict_file(data).caveat
    assert caveat is not None and caveat in " ".join(result.output.split())
    unlabelled = pd.read_csv(data).drop(columns="churned")  # no metrics, so nothing to caveat
    unlabelled.to_csv(tmp_path / "rows.csv", index=False)
    assert nas.load_predictor(run).predict_file(tmp_path / "rows.csv").caveat is None


def test_new_categories_and_gaps_are_noted_and_bad_input_is_one_line(
    classify_run: tuple[Path, Path], tmp_path: Path
) -> None:
    run, data = classify_run
    rows = test_rows(data, "churned", classify=True).drop(columns="churned")
    rows.loc[0, "color"], rows.loc[1, "a"] = "purple", np.nan
    rows.to_csv(tmp_path / "odd.csv", index=False)
    result = invoke("predict", run, "--data", tmp_path / "odd.csv", "-o", tmp_path / "o.csv")
    assert result.exit_code == 0, result.output
    assert "'purple'" in result.output and "'a' (1)" in result.output
    assert "against" not in result.output  # no target column: no metrics
    rows.drop(columns="b").to_csv(tmp_path / "missing.csv", index=False)
    bad = rows.astype({"a": object})
    bad.loc[2, "a"] = "oops"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    rows.rename(columns={"a": "A"}).to_csv(tmp_path / "case.csv", index=False)
    rows.assign(a=rows["a"] > 0).to_csv(tmp_path / "flags.csv", index=False)  # was 1/0, silently
    huge = rows.copy()
    huge.loc[4, "a"] = 1e39  # finite as read, inf in float32: NaN outputs, empty probabilities
    huge.to_csv(tmp_path / "huge.csv", index=False)
    huge.assign(churned="no").to_csv(tmp_path / "huge_y.csv", index=False)  # was a traceback
    for name, words in [("missing.csv", "lacks feature column(s) 'b'"), ("bad.csv", "'oops'"),
                        ("case.csv", "'A' for 'a' in the data"),
                        ("flags.csv", "'a' of flags.csv holds True/False"),
                        ("huge.csv", "'a' of huge.csv holds 1e+39 (row 4), beyond"),
                        ("huge_y.csv", "of huge_y.csv holds 1e+39 (row 4), beyond")]:  # fmt: skip
        failed: Result = invoke("predict", run, "--data", tmp_path / name)
        assert failed.exit_code == 2
        assert words in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    with pytest.raises(DataError, match="lacks feature"):
        nas.load_predictor(run).predict(rows.drop(columns="a"))


def test_true_false_is_read_as_1_0_only_where_training_had_only_0_and_1() -> None:
    import pandas as pd

    from nas.data.transform import TabularTransform

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"flag": rng.random(100) > 0.3, "zero_one": rng.integers(0, 2, 100),
                          "ones": np.ones(100, int), "x": rng.normal(size=100),
                          "counts": rng.integers(0, 3, 100)})  # fmt: skip
    fitted = TabularTransform.fit(frame, np.arange(80))
    binary = {c: fitted.numeric[c].binary for c in frame.columns}
    assert binary == {"flag": True, "zero_one": True, "ones": True, "x": False, "counts": False}
    new = frame.assign(zero_one=frame["zero_one"] == 1)  # the same values as True/False
    assert np.array_equal(fitted.apply(new).X, fitted.apply(frame).X)
    with pytest.raises(DataError, match=r"'counts' of the data holds True/False"):
        fitted.apply(frame.assign(counts=frame["counts"] > 0))


def test_unwritable_output_unknown_labels_and_the_input_as_output(
    classify_run: tuple[Path, Path], tmp_path: Path
) -> None:
    run, data = classify_run
    rows = test_rows(data, "churned", classify=True)
    rows.to_csv(tmp_path / "new.csv", index=False)
    before = (tmp_path / "new.csv").read_bytes()
    record = (run / "run.json").read_bytes()
    cases = [
        (("-o", tmp_path / "new.csv"), "is the input file"),  # would overwrite the user's rows
        (("-o", tmp_path / "new.csv" / "p.csv"), "Cannot write"),  # a file as its folder
        (("-o", "/proc/nas-p.csv"), "Cannot write"),
        (("-o", run / "run.json"), "is a file of the run"),  # the run would no longer load
        (("-o", tmp_path / "p.npz"), "names a .npz file"),  # had been CSV text named .npz
        (("-o", tmp_path / "p.parquet.gz"), "give -o a .csv or .tsv name"),
    ]
    for args, words in cases:
        failed: Result = invoke("predict", run, "--data", tmp_path / "new.csv", *args)
        assert failed.exit_code == 2, failed.output
        assert words in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
        assert "Traceback" not in failed.stderr
    assert (tmp_path / "new.csv").read_bytes() == before
    assert (run / "run.json").read_bytes() == record
    for _ in range(2):  # its own predictions/ folder is nas's to write, again and again
        assert invoke("predict", run, "--data", tmp_path / "new.csv").exit_code == 0
    # a table predicted before, predicted again: its columns are replaced, and said so
    again = invoke("predict", run, "--data", run / "predictions" / "new.csv", "-o",
                   tmp_path / "again.csv")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "'prediction', 'proba_no', 'proba_yes' of new.csv were replaced" in again.output
    assert "ignored" not in again.output
    assert list(pd.read_csv(tmp_path / "again.csv").columns).count("prediction") == 1
    assert not (tmp_path / "p.npz").exists()
    # a .tsv is tab-separated, a .csv.gz compressed: the same table either way
    for name, read in (("p.tsv", {"sep": "\t"}), ("p.csv.gz", {})):
        assert invoke("predict", run, "--data", tmp_path / "new.csv", "-o",
                      tmp_path / name).exit_code == 0  # fmt: skip
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / name, **read),
                                      pd.read_csv(run / "predictions" / "new.csv"))  # fmt: skip
    rows.assign(churned="maybe").to_csv(tmp_path / "maybe.csv", index=False)
    result = invoke("predict", run, "--data", tmp_path / "maybe.csv", "-o", tmp_path / "m.csv")
    assert result.exit_code == 0, result.output
    assert "none of the" in result.output and "'maybe'" in result.output  # said, not silent
    assert "against" not in result.output


def test_a_csv_run_refuses_an_npz_of_as_many_columns(
    classify_run: tuple[Path, Path], tmp_path: Path
) -> None:
    """The churn run's three feature columns, as one NPZ of three unnamed numeric columns (any
    regression set): predicted, it had been written with exit 0 and a note of unseen colors."""
    run, _ = classify_run
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "other.npz", X=rng.normal(size=(40, 3)), y=rng.normal(size=40))
    for command in (("predict", run, "--data", tmp_path / "other.npz", "-o", tmp_path / "o.csv"),
                    ("explain", run, "--data", tmp_path / "other.npz", "--rows", "0")):  # fmt: skip
        failed = invoke(*command)
        assert failed.exit_code == 2, failed.output
        assert (
            "was searched on a CSV file" in failed.stderr and "'a', 'color', 'b'" in failed.stderr
        )
        assert len(failed.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.csv").exists() and not (run / "explain-new" / "other").exists()


def test_regression_predictions_are_in_the_targets_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 300)
    pd.DataFrame({"x": x, "price": 1000 * x + rng.normal(0, 10, 300)}).to_csv(
        tmp_path / "lin.csv", index=False
    )
    run = search_csv(tmp_path, tmp_path / "lin.csv", "price")
    rows = test_rows(tmp_path / "lin.csv", "price", classify=False)
    saved = np.load(run / "best" / "predictions.npz")
    info = json.loads((run / "run.json").read_text())["data_info"]["preprocessing"]
    expected = saved["outputs"][:, 0] * info["y_std"][0] + info["y_mean"][0]
    predicted = nas.load_predictor(run).predict(rows[["x"]])
    assert np.allclose(predicted, expected, rtol=1e-5, atol=1e-3)
    assert np.std(predicted) > 100  # hundreds of units, not standardized values
    rows["price"] = rows["price"].astype(object)
    rows.loc[[0, 1], "price"], rows.loc[2, "price"] = np.nan, "n/a"  # empty, and not a number
    table = nas.load_predictor(run).predict_table(rows)
    assert table.notes == [
        "2 row(s) have no target value (empty target cell) and are left out of the metrics.",
        "1 row(s) have a target that is not a number; the metrics leave them out.",
    ]
    rmse = float(np.sqrt(np.mean((expected[3:] - rows["price"][3:].astype(float)) ** 2)))
    assert table.metrics is not None and table.metrics["rmse"] == pytest.approx(rmse, rel=1e-4)
    record = json.loads((run / "run.json").read_text())  # a target scale of 0: damaged
    record["data_info"]["preprocessing"]["y_std"] = [0.0]
    (run / "run.json").write_text(json.dumps(record))
    scale = r"data_info\.preprocessing\.y_std should be positive numbers \(the target's scale\)"
    with pytest.raises(nas.NasError, match=rf"run\.json: its {scale}, not \[0\.0\]; the run's"):
        nas.load_predictor(run)
    record["data_info"]["preprocessing"]["y_std"] = [1.0, 2.0]  # two scales, one output
    (run / "run.json").write_text(json.dumps(record))
    scale = r"data_info\.preprocessing\.y_std should be 1 positive number\(s\) \(scales\)"
    with pytest.raises(nas.NasError, match=rf"run\.json: its {scale}, one per output, not \["):
        nas.load_predictor(run)


def test_npz_and_builtin_runs(tmp_path: Path, cli: Callable[..., Result]) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 4)).astype(np.float32) * 50 + 7
    np.savez(tmp_path / "arr.npz", X=X, y=(X[:, 0] > 7).astype(np.int64))  # fmt: skip
    run = tmp_path / "run-npz"
    args = ("--trials", "1", "--epochs", "2", "--space", write_space(tmp_path), *LEAN)
    assert cli("search", "--data", tmp_path / "arr.npz", "--out", run, *args).exit_code == 0
    predictor = nas.load_predictor(run)
    data = nas.SearchConfig.read(run).load_data()
    y = (X[:, 0] > 7).astype(np.int64)
    test = split_indices(200, y, seed=0, val_fraction=0.15, test_fraction=0.15,
                         class_names=["0", "1"])[2]  # fmt: skip
    assert torch.equal(predictor.inputs(X[test]), data.test.X)  # the loader's own transform
    np.savez(tmp_path / "short_y.npz", X=X[:10], y=np.array([0, 1, 1]))
    failed = cli("predict", run, "--data", tmp_path / "short_y.npz", "-o", tmp_path / "s.csv")
    assert failed.exit_code == 2 and "10 rows of inputs but 3 targets" in failed.stderr
    np.savez(tmp_path / "new.npz", X=X[:10])
    result = cli("predict", run, "--data", tmp_path / "new.npz", "-o", tmp_path / "n.csv")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "n.csv")) == 10
    np.savez(tmp_path / "one.npz", X=X[3])  # one example's shape: read as one, and said
    result = cli("predict", run, "--data", tmp_path / "one.npz", "-o", tmp_path / "1.csv")
    assert result.exit_code == 0 and "has the shape of one example, (4,)" in result.output
    np.savez(tmp_path / "none.npz", X=X[:0])  # had said "the split is empty"
    failed = cli("predict", run, "--data", tmp_path / "none.npz", "-o", tmp_path / "0.csv")
    assert failed.exit_code == 2 and "none.npz holds no rows to predict" in failed.stderr
    np.save(tmp_path / "rows.npy", X[:3])  # an .npy was read as a CSV: "not a CSV"
    (tmp_path / "text.npz").write_text("a,b\n1,2\n")  # was "contains pickled data"
    for name, words in (("rows.npy", "Unsupported data file type '.npy'"),
                        ("text.npz", "text.npz is not an NPZ archive")):  # fmt: skip
        failed = cli("predict", run, "--data", tmp_path / name, "-o", tmp_path / "z.csv")
        assert failed.exit_code == 2 and words in failed.stderr, failed.output
    # hostile arrays are one line each (/tmp/oH items 2, 7, 8): a 0-d X or y had been a
    # traceback, text X was called a shape problem, a y of two labels per row an internal one
    for name, arrays, words in (
        ("scalar.npz", {"X": np.float32(3)}, "inputs are a single value (3.0); the model takes "
         "examples of shape (4,): give an array of them, one per row."),
        ("scalar_y.npz", {"X": X[:5], "y": np.int64(1)}, "targets are a single value (1); give "
         "one per row, or leave them out to only predict."),
        ("text.npz", {"X": np.array(["a", "b"])}, "holds text where the model takes numbers"),
        ("wide_y.npz", {"X": X[:5], "y": np.zeros((5, 2))}, "targets have shape (5, 2); give "
         "one label per row (shape (5,)), or leave them out to only predict."),
    ):  # fmt: skip
        np.savez(tmp_path / name, **arrays)
        failed = cli("predict", run, "--data", tmp_path / name, "-o", tmp_path / "z.csv")
        assert failed.exit_code == 2 and failed.stderr.count("\n") == 1, failed.output
        assert words in " ".join(failed.stderr.split()), failed.stderr
    np.savez(tmp_path / "huge.npz", X=np.full((2, 4), 1e41))  # inf once scaled (std ~50)
    failed = cli("predict", run, "--data", tmp_path / "huge.npz", "-o", tmp_path / "h.csv")
    assert failed.exit_code == 2 and "float32 inputs hold once scaled" in failed.stderr
    iris = tmp_path / "run-iris"
    assert cli("search", "--dataset", "iris", "--out", iris, *args).exit_code == 0
    result = cli("predict", iris, "-o", tmp_path / "iris.csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "iris.csv")
    accuracy = json.loads((iris / "best" / "metrics.json").read_text())["test"]["accuracy"]
    predictor = nas.load_predictor(iris)
    assert (table["prediction"] == table[predictor.target_name]).mean() == pytest.approx(accuracy)
    # the built-in's rows as a CSV of its feature columns (was an AttributeError)
    from sklearn.datasets import load_iris

    rows = load_iris(as_frame=True).frame[predictor.feature_names]
    rows.to_csv(tmp_path / "iris_rows.csv", index=False)
    again = cli("predict", iris, "--data", tmp_path / "iris_rows.csv", "-o", tmp_path / "i2.csv")
    assert again.exit_code == 0, again.output
    expected = predictor.predict(rows.to_numpy(dtype=np.float32)).tolist()
    assert pd.read_csv(tmp_path / "i2.csv")["prediction"].tolist() == expected
    # the test split's predictions name each example's row in the dataset as scikit-learn
    # orders it (they had no column to match a prediction to its flower: /tmp/oK item 3)
    assert table.columns[0] == "row" and len(set(table["row"])) == len(table) == 23
    assert table["prediction"].tolist() == [expected[r] for r in table["row"]]
    species = load_iris().target_names[load_iris().target]
    assert table[predictor.target_name].tolist() == [species[r] for r in table["row"]]
    first = predictor.feature_names[0]  # a DataFrame from Python: named, as a CSV's columns
    with pytest.raises(DataError, match=f"lacks feature column.s. '{re.escape(first)}'"):
        predictor.predict(rows.drop(columns=first))  # was pandas' KeyError
    texty = rows.astype({first: object})
    texty.loc[3, first] = "a"
    with pytest.raises(DataError, match=r"holds text \('a' in row 3\)"):
        predictor.predict(texty)  # was pandas' "Unable to parse string"


def test_image_arrays_without_the_channel_axis_are_named(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 1, 4, 4)).astype(np.float32)
    np.savez(tmp_path / "img.npz", X=X, y=(X[:, 0, 0, 0] > 0).astype(np.int64))
    run = tmp_path / "run-img"
    args = ("--trials", "1", "--epochs", "2", "--space", write_space(tmp_path), *LEAN)
    assert cli("search", "--data", tmp_path / "img.npz", "--out", run, *args).exit_code == 0
    np.savez(tmp_path / "flat.npz", X=X[:30, 0])  # (30, 4, 4): was read as one (30, 4, 4) example
    failed = cli("predict", run, "--data", tmp_path / "flat.npz", "-o", tmp_path / "f.csv")
    assert failed.exit_code == 2, failed.output
    assert "30 example(s) of shape (4, 4)" in failed.stderr and "X[:, None]" in failed.stderr
    predictor = nas.load_predictor(run)
    one, batch = predictor.outputs(X[0]), predictor.outputs(X[:1])  # one example, as it is
    assert one.shape == batch.shape == (1, 2) and np.array_equal(one, batch)


def test_a_builtin_regressions_targets_come_back_as_read(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """diabetes's targets are whole numbers: ``nas predict`` prints them as they are (75, not
    75.0000042 back from float32 standardized values), and the test RMSE is against them."""
    from sklearn.datasets import load_diabetes

    run = tmp_path / "run-diabetes"
    args = ("--trials", "1", "--epochs", "2", "--space", write_space(tmp_path), *LEAN)
    assert cli("search", "--dataset", "diabetes", "--out", run, *args).exit_code == 0
    result = cli("predict", run, "-o", tmp_path / "d.csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "d.csv")
    target = nas.load_predictor(run).target_name
    truth = load_diabetes().target  # independent of nas
    test = split_indices(len(truth), None, seed=0, val_fraction=0.15, test_fraction=0.15)[2]
    assert table[target].tolist() == truth[test].tolist()  # exactly
    rmse = float(np.sqrt(np.mean((table["prediction"] - truth[test]) ** 2)))
    metrics = json.loads((run / "best" / "metrics.json").read_text())["test"]
    assert metrics["rmse"] == pytest.approx(rmse, rel=1e-5)


def test_a_hundred_thousand_rows_take_time_in_proportion(classify_run: tuple[Path, Path]) -> None:
    """Linear in the rows (no per-row Python work that grows faster): 100,000 rows take at
    most 25x the time of 10,000, measured in one run (the machine's load cancels out; a
    quadratic step would take 100x)."""
    run, _ = classify_run
    rng = np.random.default_rng(3)
    n = 100_000
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                          "color": rng.choice(["red", "green", "blue"], n)})  # fmt: skip
    predictor = nas.load_predictor(run)
    predictor.predict(frame.iloc[:1000])  # warm

    def timed(rows: pd.DataFrame) -> tuple[float, int]:
        start = time.perf_counter()
        labels = predictor.predict(rows)
        return time.perf_counter() - start, len(labels)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on two busy cores stall each batch's parallel ops
    try:  # (4-5 s where 0.1 s is usual): the scaling is measured, not the machine's load
        tenth = min(timed(frame.iloc[: n // 10])[0] for _ in range(3))
        seconds, count = min(timed(frame) for _ in range(2))
    finally:
        torch.set_num_threads(threads)
    assert count == n and seconds <= 25 * tenth, (seconds, tenth)


def test_codes_written_with_leading_zeros_stay_text_in_new_rows(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """Training read '01' / '02' / 'x' as text (one cell is not a number); a new file with
    digit codes only was read by pandas as 1 / 2: unseen categories, predicted as none."""
    rng = np.random.default_rng(4)
    code = rng.choice(["01", "02", "x"], 300)
    frame = pd.DataFrame({"v": rng.normal(size=300), "code": code,
                          "label": np.where(code == "01", "A", "B")})  # fmt: skip
    frame.to_csv(tmp_path / "train.csv", index=False)
    run = search_csv(tmp_path, tmp_path / "train.csv", "label")
    digits = frame[frame["code"] != "x"].head(40)
    digits.to_csv(tmp_path / "digits.csv", index=False)
    assert pd.read_csv(tmp_path / "digits.csv")["code"].dtype.kind == "i"  # pandas reads 1, 2
    result = cli("predict", run, "--data", tmp_path / "digits.csv", "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    assert "never seen" not in result.output
    written = pd.read_csv(tmp_path / "p.csv", dtype={"code": str})
    assert written["code"].tolist() == digits["code"].tolist()  # '01', not 1
    predictor = nas.load_predictor(run)
    expected = predictor.predict(digits.drop(columns="label"))  # the codes as text
    assert written["prediction"].tolist() == expected.tolist()
    # the same rows in a semicolon file: its decimal-comma reading had made '01' the number 1.0
    digits.to_csv(tmp_path / "digits_semi.csv", index=False, sep=";")
    semi = cli("predict", run, "--data", tmp_path / "digits_semi.csv", "-o", tmp_path / "q.csv")
    assert semi.exit_code == 0 and "never seen" not in semi.output, semi.output
    assert pd.read_csv(tmp_path / "q.csv")["prediction"].tolist() == expected.tolist()


@pytest.mark.parametrize(
    ("names", "labels"),
    [
        (["0", "1", "2"], [0, 1, 2]),
        (["-1", "1"], [-1, 1]),
        (["0.5", "1.5"], [0.5, 1.5]),
        (["0_1", "1_2", "2_3"], ["0_1", "1_2", "2_3"]),  # int("1_2") is 12
        (["01", "02"], ["01", "02"]),  # codes: int("01") is 1
        (["a", "b"], ["a", "b"]),
        (["False", "True"], [False, True]),  # bool labels (pandas reads a CSV's so too)
        (["True"], [True]),
        (["false", "true"], ["false", "true"]),  # text, as pandas leaves it
    ],
)
def test_class_labels_come_back_as_written(names: list[str], labels: list[Any]) -> None:
    from nas.predict import _labels

    got = _labels(names)
    assert got.tolist() == labels and [type(v) for v in got.tolist()] == [type(v) for v in labels]


def test_npz_and_estimator_inputs_are_standardized_before_float32(tmp_path: Path) -> None:
    """Timestamps 1.7e9 + u (u = 0 ... 255) are 3 distinct values in float32, but 256 after
    standardizing in float64: the label u >= 128 is learnable only from the latter."""
    from nas.data.files import load_npz
    from nas.estimators import NASClassifier

    u = np.arange(600) % 256
    X = (1.7e9 + u).astype(np.float64)[:, None]
    assert len(np.unique(X.astype(np.float32))) <= 3
    np.savez(tmp_path / "ts.npz", X=X, y=(u >= 128).astype(np.int64))
    data = load_npz(tmp_path / "ts.npz", task=None, seed=0, val_fraction=0.15, test_fraction=0.15)
    train = data.train.X.numpy()[:, 0]
    assert train.dtype == np.float32 and len(np.unique(train)) > 200
    mean, std = data.preprocessing["inputs"]["mean"][0], data.preprocessing["inputs"]["std"][0]
    rows = split_indices(600, (u >= 128).astype(np.int64), seed=0, val_fraction=0.15,
                         test_fraction=0.15, class_names=["0", "1"])[0]  # fmt: skip
    assert std == pytest.approx(np.std(X[rows]), rel=1e-9)  # the train rows' own
    np.testing.assert_allclose(train, (X[rows, 0] - mean) / std, atol=1e-5)
    checked = NASClassifier()._validate(X)  # what fit() saves for the search
    assert checked.dtype == np.float64 and np.array_equal(checked, X)


def test_a_row_the_model_gives_no_finite_output_for_is_refused(
    classify_run: tuple[Path, Path],
) -> None:
    """1e30 in a column trained on values near 0 fits float32 once scaled, but the network
    overflowed to NaN: the row was written as a label (the argmax of NaN) with empty
    probabilities, exit 0."""
    run, data = classify_run
    rows = test_rows(data, "churned", classify=True).drop(columns="churned").head(6)
    predictor = nas.load_predictor(run)
    real = predictor.model

    class Overflows(torch.nn.Module):  # what a far input does to this network, row 2
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = real(x)
            return torch.where((x.abs() > 1e20).any(dim=1, keepdim=True), torch.nan, out)

    predictor.model = Overflows()
    far = rows.copy()
    far.loc[2, "a"] = 1e30
    with pytest.raises(
        DataError, match=r"no finite output for 1 row\(s\), first row 2, .*'a', 1e\+30"
    ):
        predictor.predict(far)
    assert len(predictor.predict(rows)) == 6  # the same rows without it


def test_a_rows_output_does_not_depend_on_the_other_rows(classify_run: tuple[Path, Path]) -> None:
    """float32 kernels round differently by batch size (a row's logits moved by ~6e-8 between
    batches of 1, 5 and 20): every pass now has BATCH rows, so subsets give the same bits."""
    run, data = classify_run
    rows = test_rows(data, "churned", classify=True).drop(columns="churned")
    predictor = nas.load_predictor(run)
    full = predictor.outputs(rows)
    rng = np.random.default_rng(0)
    for _ in range(30):
        mask = rng.random(len(rows)) < rng.random()
        if mask.any():
            assert np.array_equal(predictor.outputs(rows[mask]), full[mask])


def test_rows_without_a_label_are_not_called_unseen_labels(
    classify_run: tuple[Path, Path], tmp_path: Path
) -> None:
    """A file whose target column has empty cells was told "107 row(s) have a label the run
    never saw": those rows have no label at all. Both kinds are said, each by its name, and the
    metrics are those of the other rows."""
    run, data = classify_run
    rows = test_rows(data, "churned", classify=True)
    rows["churned"] = rows["churned"].astype(object)
    rows.loc[[0, 1, 2], "churned"] = np.nan
    rows.loc[[3, 4], "churned"] = "maybe"
    predicted = nas.load_predictor(run).predict_table(rows)
    assert predicted.notes == [
        "3 row(s) have no label (empty target cell) and are left out of the metrics.",
        "2 row(s) have a label the run never saw; the metrics leave them out.",
    ]
    kept = predicted.table.iloc[5:]
    expected = float((kept["prediction"] == kept["churned"]).mean())
    assert predicted.metrics is not None
    assert predicted.metrics["accuracy"] == pytest.approx(expected)
    rows.to_csv(tmp_path / "gaps.csv", index=False)  # the CLI: an empty cell, as in a file
    shown = invoke("predict", run, "--data", tmp_path / "gaps.csv", "-o", tmp_path / "p.csv")
    assert shown.exit_code == 0, shown.output
    assert "note: 3 row(s) have no label (empty target cell) and are left out" in shown.stdout
    assert "note: 2 row(s) have a label the run never saw" in shown.stdout
    rows.loc[3:, "churned"] = np.nan  # no row has a label: no metrics, and no unseen label
    predicted = nas.load_predictor(run).predict_table(rows)
    assert predicted.metrics is None and len(predicted.notes) == 1
    assert predicted.notes[0].startswith(f"{len(rows)} row(s) have no label (empty target cell)")


def test_inputs_with_their_axes_in_another_order_are_told_to_transpose() -> None:
    """A reshape of (N, 2, 40) into (N, 40, 2) scrambles the steps silently; the message had
    said "Reshape the inputs" (/tmp/oH item 7)."""
    from nas.predict import _reshape_hint

    assert "transpose them (X.transpose(0, 2, 1)), do not reshape" in _reshape_hint(
        (2, 40), (40, 2)
    )
    assert "X.transpose(0, 3, 1, 2)" in _reshape_hint((8, 8, 3), (3, 8, 8))
    assert "(X[:, None])" in _reshape_hint((8, 8), (1, 8, 8))
    assert _reshape_hint((5,), (4,)) == "give inputs of that shape."
    assert (
        _reshape_hint((4, 4), (4, 4)) == "give inputs of that shape."
    )  # (only called on a mismatch)


def test_a_multi_output_regression_prints_each_outputs_own_scores(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """Outputs of scales 100, 0.01 and 1000: the averaged line alone hid each one's error
    (/tmp/oH item 9); each is printed in its own units, as scikit-learn scores it from the
    written predictions. A y of the wrong width names the shape to give (item 8)."""
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    rng = np.random.default_rng(4)
    X = rng.normal(size=(240, 3)).astype(np.float32)
    y = np.stack([100 * X[:, 0], 0.01 * X[:, 1], 1000 * X[:, 2]], axis=1) + rng.normal(
        scale=[5, 0.001, 20], size=(240, 3)
    )
    np.savez(tmp_path / "mo.npz", X=X, y=y)
    run = tmp_path / "run-mo"
    args = ("--trials", "1", "--epochs", "2", "--space", write_space(tmp_path), *LEAN)
    searched = cli("search", "--data", tmp_path / "mo.npz", "--out", run, *args)
    assert searched.exit_code == 0
    # the search, nas show and the report give each output's test scores too (/tmp/oY 1):
    # known answers from the written test predictions, in the target's units
    stored = np.load(run / "best" / "predictions.npz")
    prep = json.loads((run / "run.json").read_text())["data_info"]["preprocessing"]
    scale, shift = np.asarray(prep["y_std"]), np.asarray(prep["y_mean"])
    truth, said = stored["y_true"] * scale + shift, stored["outputs"] * scale + shift
    rmses = [root_mean_squared_error(truth[:, j], said[:, j]) for j in range(3)]
    shown = cli("show", run)
    for output in (searched.output, shown.output):
        lines = [line.strip() for line in output.splitlines()]
        head = next(ln for ln in lines if ln.startswith("test: "))
        assert head.endswith("(the mean over 3 outputs, each in its own units)"), head
        for j, rmse in enumerate(rmses):
            line = next(ln for ln in lines if ln.startswith(f"output {j}: "))
            assert f"rmse {rmse:.4g}" in line, (line, rmse)
    page = nas.report(run, tmp_path / "r.html").read_text()
    table = page[page.index('<table class="per-output"') :].split("</table>")[0]
    for j, rmse in enumerate(rmses):
        row = table.split(f"<td>output {j}</td>")[1].split("</tr>")[0]
        assert f"<td>{rmse:.4g}</td>" in row or f"<td>{rmse:.4f}</td>" in row, (row, rmse)
    assert "test rmse (the mean over 3 outputs, each in its own units)" in page
    assert "(in y)" not in page and "units of y" not in searched.output + shown.output
    np.savez(tmp_path / "new.npz", X=X[:60], y=y[:60])
    result = cli("predict", run, "--data", tmp_path / "new.npz", "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "p.csv")
    lines = [line.strip() for line in result.output.splitlines()]
    for j in range(3):
        predicted = written[f"prediction_{j}"].to_numpy()
        mae = mean_absolute_error(y[:60, j], predicted)
        rmse = root_mean_squared_error(y[:60, j], predicted)
        line = next(ln for ln in lines if ln.startswith(f"output {j}: "))
        assert f"mae {mae:.4g}," in line and f"rmse {rmse:.4g}," in line, (line, mae, rmse)
    np.savez(tmp_path / "y2.npz", X=X[:60], y=y[:60, :2])
    failed = cli("predict", run, "--data", tmp_path / "y2.npz", "-o", tmp_path / "q.csv")
    assert failed.exit_code == 2 and failed.stderr.count("\n") == 1
    assert "targets have 2 value(s) per row; the model predicts 3: give them as shape (60, 3)" \
        in " ".join(failed.stderr.split())  # fmt: skip


def test_one_class_for_every_row_is_noted(classify_run: tuple[Path, Path]) -> None:
    """An outsider's churn model said "no" for all 3,000 new rows; nas predict printed the
    metrics and nothing else."""
    run, data = classify_run
    rows = test_rows(data, "churned", classify=True).drop(columns="churned")
    predictor = nas.load_predictor(run)
    said = predictor.predict(rows)
    assert len(set(said)) == 2  # this model tells the classes apart on its test rows
    mixed = predictor.predict_table(rows)
    assert not [n for n in mixed.notes if "for every one of" in n]
    label = pd.Series(said).value_counts().index[0]
    same = pd.concat([rows[said == label]] * 10, ignore_index=True).iloc[:12]
    table = predictor.predict_table(same)
    assert set(table.table["prediction"]) == {label}
    (note,) = [n for n in table.notes if "for every one of" in n]
    assert note.startswith(f"the model predicts {label!r} for every one of the 12 rows")
    few = predictor.predict_table(same.iloc[:9])  # a handful of rows: no news
    assert not [n for n in few.notes if "for every one of" in n]


def _transform(change: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """A change of run.json's recorded CSV transform (data_info.preprocessing.transform)."""
    return lambda record: change(record["data_info"]["preprocessing"]["transform"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_transform(lambda t: t.update(columns=42)),
         "its data_info.preprocessing.transform.columns should be a list of strings, not 42"),
        (_transform(lambda t: t["categorical"]["color"].update(categories=list(range(100_000)))),
         "transform.categorical['color'].categories should be a list of strings, not [0, 1,"),
        (_transform(lambda t: t["categorical"]["color"].update(
            categories=[str(i) for i in range(100_000)])),
         "does not fit the model ({run}/best): its recorded preprocessing (data_info."
         "preprocessing.transform) gives 100002 inputs per row where the model takes 5"),
        (_transform(lambda t: t["numeric"]["a"].update(std=0)),  # not "new.csv holds ... beyond"
         "transform.numeric['a'].std should be a positive number (a scale), not 0"),
        (_transform(lambda t: t["numeric"]["b"].pop("median")),
         "transform.numeric['b'] should be an object of median, mean and std"),
        (_transform(lambda t: t.update(columns=["a", "colour", "b"])),
         "transform.columns names 'colour', which neither transform.numeric nor"),
        (_transform(lambda t: t["categorical"]["color"].update(unseen_to_other="yes")),
         "transform.categorical['color'].unseen_to_other should be true or false"),
        (lambda r: r["data_info"].update(class_names=["only"]),
         "does not fit the model ({run}/best): its data_info.class_names name 1 class(es) "
         "where the model gives 2 outputs"),
    ],
    ids=["columns 42", "int categories", "100000 categories", "std 0", "no median",
         "unknown column", "unseen_to_other text", "one class name"],
)  # fmt: skip
def test_a_damaged_record_of_a_csv_run_is_one_line_naming_run_json(
    classify_run: tuple[Path, Path],
    tmp_path: Path,
    change: Callable[[dict[str, Any]], Any],
    words: str,
) -> None:
    """/tmp/oX 4: run.json's recorded transform is checked as the predictor is built, and
    against the model: a TypeError, a matrix product of the wrong shapes, or an error blaming
    the user's CSV had come instead of one line naming run.json and the fix."""
    import shutil

    source, data = classify_run
    run = tmp_path / "run"
    shutil.copytree(source, run)
    record = json.loads((run / "run.json").read_text())
    change(record)
    (run / "run.json").write_text(json.dumps(record))
    head = "".join(data.read_text().splitlines(keepends=True)[:6])
    (tmp_path / "new.csv").write_text(head)
    expected = f"{run / 'run.json'}" + ("" if words.startswith("does") else ": ")
    for command in (("predict", run, "--data", tmp_path / "new.csv", "-o", tmp_path / "p.csv"),
                    ("explain", run, "--data", tmp_path / "new.csv")):  # fmt: skip
        result = invoke(*command)
        assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"error: {expected}"), line
        assert words.format(run=run) in line, line
        assert line.endswith("the run's record is damaged; re-run the search into a new --out "
                             "folder."), line  # fmt: skip
    assert not (tmp_path / "p.csv").exists() and not (run / "explain-new").exists()
    with pytest.raises(nas.NasError, match=re.escape(words.format(run=run))):
        nas.load_predictor(run)


def test_the_test_split_of_changed_data_is_refused(
    finished_run: FinishedRun, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """/tmp/oG5 F6: `nas predict RUN` of a registered dataset whose rows changed since the
    search had printed metrics "on the test split" of other rows, exit 0; `nas explain` and a
    resumed search refuse such data, and now predict does too, naming both fingerprints."""
    run = copy_finished_run(finished_run, tmp_path)
    record = json.loads((run / "run.json").read_text())
    record["data_fingerprint"] = "sha256:" + "0" * 64  # as if the search had read other rows
    (run / "run.json").write_text(json.dumps(record))
    result = cli("predict", run)
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert "\n" not in line and "changed since its search (iris: fingerprint 000000000000" in line
    assert "--data FILE" in line and not (run / "predictions").exists()
