"""``nas explain RUN --data new.csv --rows 0,5``: new rows of a file, prepared as ``nas predict``
prepares them, explained by the run's methods and stored in ``RUN/explain-new/<stem>/``.

The winner is one tanh layer of 8 units and a linear head: smooth, so the stored integrated
gradients must add up to (output at the row - output at the baseline) to quadrature precision.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import nas
from nas.errors import NasError
from nas.explain_rows import FOLDER, RowExplanations, parse_rows
from tests.conftest import LEAN, invoke, write_space

pytestmark = pytest.mark.usefixtures("restore_global_state")

SMOOTH = """\
space = "fnn"
[fnn]
n_blocks = 1
units = 8
activation = "tanh"
norm = "none"
dropout = 0.0
residual = false
[head]
hidden = 0
[train]
batch_size = 32
"""
GAN_RUN = Path(__file__).parent / "fixtures" / "run_v1_gan"


def frame(n: int, seed: int) -> pd.DataFrame:
    """Two numbers and a text column; the label is text."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], n)
    label = np.where(a - b + (color == "red") > 0.3, "yes", "no")
    return pd.DataFrame({"a": a, "color": color, "b": b, "churned": label})


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    threads = torch.get_num_threads()
    root = tmp_path_factory.mktemp("explain-rows")
    frame(300, 0).to_csv(root / "churn.csv", index=False)
    out = root / "run"
    with contextlib.chdir(root):
        result = invoke("search", "--data", root / "churn.csv", "--target", "churned",
                        "--space", write_space(root, SMOOTH), "--trials", "1", "--epochs", "5",
                        "--out", out, *LEAN)  # fmt: skip
    torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def new_csv(tmp_path: Path) -> Path:
    """Six new rows, columns in another order, an extra column, no target."""
    rows = frame(6, 7).drop(columns="churned")[["b", "color", "a"]].assign(note="x")
    rows.to_csv(tmp_path / "new.csv", index=False)
    return tmp_path / "new.csv"


def one_line_error(result, words: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    assert words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_new_rows_are_explained_completely_and_stored_beside_the_test_set(
    run: Path, new_csv: Path, tmp_path: Path
) -> None:
    test_set = (run / "explain" / "explanations.json").read_bytes()
    result = invoke("explain", run, "--data", new_csv, "--rows", "0,5")
    assert result.exit_code == 0, result.output
    assert "quality checks were not run for new rows" in result.output
    flat = " ".join(result.output.split())
    assert f"the test-set explanations in {run / 'explain'} have them" in flat
    assert "'note'" in result.output  # the predictor's note on the extra column
    folder = run / FOLDER / "new"
    assert f"stored in {folder}" in result.output
    assert (run / "explain" / "explanations.json").read_bytes() == test_set  # untouched
    stored = pd.read_csv(folder / "attributions.csv")
    meta = json.loads((folder / "explanations.json").read_text())
    # the same methods as the test set's explanations (SHAP's explainer included)
    tested = json.loads(test_set)["methods"]
    assert list(dict.fromkeys(stored["method"])) == list(tested)
    features = nas.show(run)["config"].data_info["feature_names"]
    assert meta["feature_names"] == features and list(stored.columns[-len(features) :]) == features
    assert meta["rows"] == [0, 5] and [e["row"] for e in meta["explanations"]] == [0, 5]
    # numbering as in the file: the stored outputs are the model's on rows 0 and 5
    predictor = nas.load_predictor(run)
    raw = pd.read_csv(new_csv)
    outputs = predictor.outputs(raw.iloc[[0, 5]])
    zero = predictor.model.eval()(torch.zeros(1, len(features))).detach().numpy()[0]
    ig = stored[stored["method"] == "integrated_gradients"].reset_index(drop=True)
    assert list(ig["row"]) == [0, 5]
    target = [predictor.class_names.index(str(c)) for c in ig["class_explained"]]
    assert np.allclose(ig["output"], outputs[[0, 1], target], atol=1e-5)
    assert np.allclose(ig["baseline_output"], zero[target], atol=1e-5)
    # completeness, known answer: the attributions add up to f(row) - f(baseline)
    total = ig[features].sum(axis=1).to_numpy()
    assert np.allclose(total, outputs[[0, 1], target] - zero[target], atol=1e-4, rtol=1e-3)
    record = meta["explanations"][1]["methods"]["integrated_gradients"]
    assert np.isclose(sum(record["attributions"].values()), total[1], atol=1e-6)
    # the prediction and its probability are nas predict's on the same rows
    predicted = invoke("predict", run, "--data", new_csv, "-o", tmp_path / "p.csv")
    assert predicted.exit_code == 0, predicted.output
    table = pd.read_csv(tmp_path / "p.csv").iloc[[0, 5]].reset_index(drop=True)
    assert list(ig["prediction"].astype(str)) == list(table["prediction"].astype(str))
    assert list(ig["class_explained"].astype(str)) == list(table["prediction"].astype(str))
    proba = [table.loc[i, f"proba_{c}"] for i, c in enumerate(ig["class_explained"])]
    assert np.allclose(ig["probability"], proba, atol=1e-6)


def test_each_methods_answer_is_shown_and_rows_where_they_disagree_are_flagged(
    run: Path, new_csv: Path
) -> None:
    """`nas explain --data` had shown the first method's top features only, and nothing when
    integrated gradients and SHAP ranked a row's inputs differently (/tmp/oT). Each method's
    top features are now a line, with the rows' agreement: the lowest weighted rank
    agreement of two methods' |attributions| (known answer: the weighted rho written out in
    tests/conftest.py), stored per pair in explanations.json."""
    from nas.explain_rows import _disagreement, row_agreement
    from tests.conftest import weighted_rho

    result = invoke("explain", run, "--data", new_csv, "--rows", "0-3")
    assert result.exit_code == 0, result.output
    folder = run / FOLDER / "new"
    stored = pd.read_csv(folder / "attributions.csv")
    meta = json.loads((folder / "explanations.json").read_text())
    methods = list(dict.fromkeys(stored["method"]))
    assert len(methods) >= 2
    shown = [line.split("\u2502") for line in result.output.splitlines() if "\u2502" in line]
    named = [cells[3].strip() for cells in shown if len(cells) > 4 and cells[3].strip()]
    assert named == methods * 4  # every method's line, for each of the 4 rows
    features = meta["feature_names"]
    exp = nas.explain(run, data=new_csv, rows="0-3")
    for i, rec in enumerate(meta["explanations"]):
        maps = {m: np.abs(stored[(stored["method"] == m) & (stored["row"] == rec["row"])]
                          [features].to_numpy()[0]) for m in methods}  # fmt: skip
        pairs = {f"{a} vs {b}": weighted_rho(maps[a], maps[b])
                 for j, a in enumerate(methods) for b in methods[j + 1 :]}  # fmt: skip
        assert rec["agreement"].keys() == pairs.keys()
        for pair, rho in pairs.items():
            assert rec["agreement"][pair] == pytest.approx(rho, abs=1e-4)
        assert exp.agreement[i] == pytest.approx(min(pairs.values()), abs=1e-9)
    # a row two methods rank in opposite orders is flagged; one of agreeing methods is not
    record = {"methods": {"a": {"values": np.array([3.0, 2.0, 1.0, 0.5])},
                          "b": {"values": np.array([0.5, 1.0, 2.0, -3.0])},
                          "c": {"values": np.array([-3.1, 2.2, 0.9, 0.4])}}}  # fmt: skip
    lowest = row_agreement(record, (4,))
    assert lowest == pytest.approx(weighted_rho([3, 2, 1, 0.5], [0.5, 1, 2, 3]))
    assert lowest < -0.9 and record["agreement"]["a vs c"] == pytest.approx(1.0)
    assert _disagreement([7], 4).startswith(
        "the methods disagree on 1 of 4 row(s) (7): their rankings of the inputs agree below 0.2"
    )
    assert row_agreement({"methods": {"a": {"values": np.ones(4)}}}, (4,)) is None


def test_the_python_path_and_the_default_rows(run: Path, new_csv: Path) -> None:
    exp = nas.explain(run, data=new_csv, methods=["integrated_gradients"])
    assert isinstance(exp, RowExplanations)
    assert exp.rows == list(range(6)) and exp.methods == ["integrated_gradients"]
    assert exp.folder == run / FOLDER / "new"
    again = nas.explain(run, data=str(new_csv), rows=[4, 1], methods=["integrated_gradients"])
    assert list(again.table["row"]) == [4, 1]
    stored = pd.read_csv(again.folder / "attributions.csv")  # replaced, not appended to
    assert list(stored["row"]) == [4, 1]
    assert np.allclose(stored["output"], again.table["output"])
    with pytest.raises(NasError, match="--data"):
        nas.explain(run, rows=[0])
    # a comma-separated string of methods, as the CLI takes them (had been iterated by letter)
    by_text = nas.explain(run, data=new_csv, rows=[0], methods="integrated_gradients")
    assert by_text.methods == ["integrated_gradients"]
    for bad, words in (({"data": pd.read_csv(new_csv)}, "write a DataFrame's rows to a file"),
                       ({"data": new_csv, "rows": True}, "rows are row numbers")):  # fmt: skip
        with pytest.raises(NasError, match=words):
            nas.explain(run, **bad)
    for path in (None, 5, b"run"):  # had been pathlib's TypeErrors
        for call in (nas.load_run, nas.load_predictor, nas.load_model, nas.show):
            with pytest.raises(NasError, match="a run directory is a path"):
                call(path)  # type: ignore[arg-type]
    with pytest.raises(NasError, match=r"is a path .*give a file to predict_file"):
        nas.load_predictor(run).predict(str(new_csv))  # had said "the data has shape ()"


def test_cells_the_file_left_empty_are_named_per_row(run: Path, tmp_path: Path) -> None:
    """Known answer: the cells emptied by hand are the ones named, row by row; the values
    explained there are the training median / most frequent category that filled them."""
    rows = frame(5, 3).drop(columns="churned")
    rows.loc[1, "a"] = np.nan
    rows.loc[3, ["a", "color"]] = [np.nan, None]
    rows.to_csv(tmp_path / "gaps.csv", index=False)
    exp = nas.explain(run, data=tmp_path / "gaps.csv", methods=["integrated_gradients"])
    filled = exp.table.set_index("row")["filled_in"].fillna("").to_dict()
    assert filled == {0: "", 1: "a", 2: "", 3: "a; color", 4: ""}
    meta = json.loads((exp.folder / "explanations.json").read_text())
    assert [e["filled_in"] for e in meta["explanations"]] == ["", "a", "", "a; color", ""]
    stored = pd.read_csv(exp.folder / "attributions.csv")
    assert stored["filled_in"].fillna("").tolist() == ["", "a", "", "a; color", ""]
    assert any("were filled in as in training" in n for n in exp.notes)


def test_rows_syntax() -> None:
    assert parse_rows("0,5") == [0, 5] and parse_rows(" 2-4 ,0,2") == [2, 3, 4, 0]
    assert parse_rows([3, 3, 1]) == [3, 1] and parse_rows(None) is None
    for bad in ("x", "1,,2", "-1", "3-1", "", [-1], [1.5]):
        with pytest.raises(NasError, match="--rows"):
            parse_rows(bad)  # type: ignore[arg-type]


def test_each_bad_input_is_one_line(run: Path, new_csv: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(new_csv).iloc[:5]
    raw.drop(columns="b").to_csv(tmp_path / "missing.csv", index=False)
    bad = raw.astype({"a": object})
    bad.loc[2, "a"] = "oops"
    bad.to_csv(tmp_path / "typo.csv", index=False)
    raw.to_csv(tmp_path / "five.csv", index=False)
    pd.concat([raw] * 5).to_csv(tmp_path / "many.csv", index=False)
    gan = tmp_path / "gan"
    shutil.copytree(GAN_RUN, gan)
    cases = [
        (("--data", tmp_path / "missing.csv"), "lacks feature column(s) 'b'"),
        (("--data", tmp_path / "typo.csv"), "'oops'"),
        (("--data", tmp_path / "five.csv", "--rows", "7"), "five.csv: it has 5 rows"),
        (("--data", tmp_path / "five.csv", "--rows", "0;2"), "--rows takes row numbers"),
        (("--rows", "0"), "give the file with --data"),
        (("--data", tmp_path / "many.csv"), "many.csv has 25 rows; choose the rows"),
    ]
    for args, words in cases:
        one_line_error(invoke("explain", run, *args), words)
    one_line_error(invoke("explain", gan, "--data", tmp_path / "five.csv"),
                   "new-row explanations are for classifiers and regressors")  # fmt: skip
    assert not (gan / FOLDER).exists() and not (run / FOLDER / "missing").exists()


def test_a_regression_runs_rows_are_explained_in_the_targets_units(tmp_path: Path) -> None:
    """The attributions, output, baseline_output and sum had been the model's standardized
    values, unlabelled, beside a prediction in the target's units (/tmp/oW 2: "x0 +1.58" where
    x0 adds 5.93 to y). Known answers in price's units, from `nas predict` alone: the output is
    its prediction of the row, the baseline output its prediction at the training means (the
    zero baseline of standardized inputs), and integrated gradients add up to their gap."""
    rng = np.random.default_rng(1)
    x, z = rng.uniform(-1, 1, 200), rng.uniform(-1, 1, 200)
    data = pd.DataFrame({"x": x, "z": z, "price": 1000 * x - 300 * z + rng.normal(0, 10, 200)})
    data.to_csv(tmp_path / "lin.csv", index=False)
    with contextlib.chdir(tmp_path):
        result = invoke("search", "--data", "lin.csv", "--target", "price", "--space",
                        write_space(tmp_path, SMOOTH), "--trials", "1", "--epochs", "15",
                        "--out", "run", "--no-explain", *LEAN)  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    data.iloc[:3, :2].to_csv(tmp_path / "few.csv", index=False)
    exp = nas.explain(run, data=tmp_path / "few.csv", methods=["integrated_gradients"])
    predictor = nas.load_predictor(run)
    predicted = predictor.predict(data.iloc[:3, :2])
    assert np.allclose(exp.table["prediction"], predicted, rtol=1e-5)
    assert list(exp.table["output_explained"]) == [0, 0, 0]
    prep = json.loads((run / "run.json").read_text())["data_info"]["preprocessing"]
    std = prep["y_std"][0]
    assert std > 100  # standardized values would be hundreds of times smaller
    means = {c: prep["transform"]["numeric"][c]["mean"] for c in ("x", "z")}
    at_baseline = predictor.predict(pd.DataFrame([means]))[0]
    assert np.allclose(exp.table["output"], predicted, rtol=1e-5, atol=1e-4 * std)
    assert np.allclose(exp.table["baseline_output"], at_baseline, rtol=1e-5, atol=1e-4 * std)
    # completeness in price's units: the contributions add up to prediction - baseline's
    total = exp.table[["x", "z"]].sum(axis=1).to_numpy()
    assert np.allclose(total, predicted - at_baseline, rtol=1e-3, atol=1e-4 * std)
    assert np.allclose(exp.table["sum"], total, rtol=1e-6)
    assert list(exp.table["units"]) == ["price"] * 3
    # the model is near-linear there: x's share is what moving x alone to its training mean
    # takes off the prediction, and near the truth 1000 * (x - mean); standardized, it had
    # been 1/std (1/600) of that
    alone = predictor.predict(data.iloc[:3, :2].assign(x=means["x"]))
    assert np.allclose(exp.table["x"], predicted - alone, rtol=0.05, atol=0.01 * std)
    assert np.allclose(exp.table["x"], 1000 * (x[:3] - means["x"]), rtol=0.25, atol=0.02 * std)
    # stored and said: the CSV, the JSON's units and the CLI's line; the prediction is nas
    # predict's on the same rows
    result = invoke("explain", run, "--data", tmp_path / "few.csv", "--methods",
                    "integrated_gradients")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "in price's own units" in " ".join(result.output.split())
    stored = pd.read_csv(exp.folder / "attributions.csv")
    assert np.allclose(stored[["output", "baseline_output", "sum", "x", "z"]],
                       exp.table[["output", "baseline_output", "sum", "x", "z"]])  # fmt: skip
    meta = json.loads((exp.folder / "explanations.json").read_text())
    assert meta["units"]["of"] == "price" and meta["units"]["y_std"] == [std]
    assert "price's own units" in meta["units"]["said"]
    record = meta["explanations"][0]
    assert record["units"] == "price"
    assert record["methods"]["integrated_gradients"]["attributions"]["x"] == pytest.approx(
        float(stored.loc[0, "x"]), rel=1e-6
    )
    predicted_cli = invoke("predict", run, "--data", tmp_path / "few.csv", "-o", tmp_path / "p.csv")
    assert predicted_cli.exit_code == 0, predicted_cli.output
    table = pd.read_csv(tmp_path / "p.csv")
    assert np.allclose(stored["prediction"], table["prediction"], rtol=1e-6)
    assert np.allclose(stored["output"], table["prediction"], rtol=1e-5, atol=1e-4 * std)
    assert not (run / "explain").exists()  # nothing written for the test set


def test_a_regression_of_several_outputs_explains_each_in_its_own_units(tmp_path: Path) -> None:
    """Outputs of scales 100, 0.01 and 1000 (/tmp/oW 2): a row's values are in the units of
    the output it explains (output_explained, 0), with that output's y_std and y_mean."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(240, 3)).astype(np.float32)
    y = np.stack([100 * X[:, 0], 0.01 * X[:, 1], 1000 * X[:, 2]], axis=1)
    np.savez(tmp_path / "mo.npz", X=X, y=y + rng.normal(scale=[5, 0.001, 20], size=(240, 3)))
    run = tmp_path / "run"
    result = invoke("search", "--data", tmp_path / "mo.npz", "--space",
                    write_space(tmp_path, SMOOTH), "--trials", "1", "--epochs", "2", "--out",
                    run, "--no-explain", *LEAN)  # fmt: skip
    assert result.exit_code == 0, result.output
    np.savez(tmp_path / "new.npz", X=X[:2])
    exp = nas.explain(run, data=tmp_path / "new.npz", methods=["integrated_gradients"])
    predicted = nas.load_predictor(run).predict(X[:2])
    assert list(exp.table["output_explained"]) == [0, 0]
    assert np.allclose(exp.table["output"], predicted[:, 0], rtol=1e-5, atol=1e-2)
    assert np.allclose(exp.table["prediction_0"], predicted[:, 0], rtol=1e-5)
    gap = exp.table["output"] - exp.table["baseline_output"]
    assert np.allclose(exp.table["sum"], gap, rtol=1e-3, atol=1e-2)  # output 0's std is ~100
    meta = json.loads((exp.folder / "explanations.json").read_text())
    prep = json.loads((run / "run.json").read_text())["data_info"]["preprocessing"]
    assert meta["units"]["y_std"] == prep["y_std"] and len(meta["units"]["of"]) == 3
    assert [r["units"] for r in meta["explanations"]] == [meta["units"]["of"][0]] * 2
    zero = nas.load_predictor(run).model.eval()(torch.zeros(1, 3)).detach().numpy()[0, 0]
    base = zero * prep["y_std"][0] + prep["y_mean"][0]
    assert np.allclose(exp.table["baseline_output"], base, rtol=1e-5, atol=1e-3)


def test_the_cli_says_which_top_feature_was_filled_in(run: Path, tmp_path: Path) -> None:
    from nas.commands.explain import top_features

    rows = frame(2, 3).drop(columns="churned")
    rows.loc[1, ["a", "b", "color"]] = [np.nan, np.nan, None]
    rows.to_csv(tmp_path / "gaps.csv", index=False)
    exp = nas.explain(run, data=tmp_path / "gaps.csv", methods=["integrated_gradients"])
    names = nas.show(run)["config"].data_info["feature_names"]
    first, second = (top_features(line, names, k=len(names)) for _, line in exp.table.iterrows())
    assert "filled in" not in first
    assert second.count("(empty, filled in)") == len(names)  # a, b and every color=... feature
    assert "color=red (empty, filled in) " in second and "a (empty, filled in) " in second
    result = invoke("explain", run, "--data", tmp_path / "gaps.csv", "--methods",
                    "integrated_gradients")  # fmt: skip
    assert result.exit_code == 0 and "(empty," in result.output, result.output  # the table


def test_a_run_without_test_set_explanations_is_not_said_to_have_them(tmp_path: Path) -> None:
    """A run searched with --no-explain has no RUN/explain/: the note had pointed there
    (/tmp/oK item 7)."""
    from nas.explain_rows import no_checks

    said = no_checks(tmp_path)
    assert "have them" not in said and f"`nas explain {tmp_path}` makes them" in said
    (tmp_path / "explain").mkdir()
    assert no_checks(tmp_path).endswith(
        f"the test-set explanations in {tmp_path / 'explain'} have them"
    )


def test_a_run_directory_that_cannot_store_them_is_one_line_before_the_work(
    run: Path, new_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only run directory had been a traceback (OSError: Read-only file system) after
    the explaining was done (/tmp/oH item 3): refused first, in one line, with exit 2."""
    import os

    import explain.explanations
    import nas.explain_rows as rows_module

    def explained(*args: object, **kwargs: object) -> None:
        raise AssertionError("explained before the run directory was checked")

    real = os.access
    monkeypatch.setattr(explain.explanations, "explain_model", explained)
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK and Path(p)
                        in (run, run / FOLDER) else real(p, mode, **kw))  # fmt: skip
    result = invoke("explain", run, "--data", new_csv, "--rows", "0")
    one_line_error(result, f"Cannot store the explanations in {run / FOLDER}")
    assert "cp -r RUN COPY" in " ".join(result.stderr.split())
    monkeypatch.undo()

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(rows_module.rundir, "replace_dir", read_only)  # became so meanwhile
    result = invoke("explain", run, "--data", new_csv, "--rows", "0")
    one_line_error(result, f"Cannot store the explanations in {run / FOLDER} (Read-only file "
                   "system); make the run directory writable")  # fmt: skip


GRU = """\
space = "rnn"
[rnn]
cell = "gru"
hidden = 8
layers = 1
bidirectional = false
reduce = "last"
[head]
hidden = 0
[train]
batch_size = 32
"""


def test_shap_split_equally_over_a_window_is_said_and_shown_per_window(tmp_path: Path) -> None:
    """A recurrent winner's SHAP scores windows of steps (both channels of a step here) and
    splits each window's value equally over its elements: an irrelevant channel x[10,1] had
    shown x[10,0]'s value in attributions.csv and in the top features, as if found (/tmp/oW
    3). The values are kept, but said to be so (notes, the CLI, explanations.json), each
    window's total is stored, and the CLI's line of that method names windows, not elements.
    """
    from nas.explain_rows import _window_name

    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 12, 2)).astype(np.float32)
    np.savez(tmp_path / "seq.npz", X=X, y=(X[:, :, 0].sum(1) > 0).astype(np.int64))
    run = tmp_path / "run"
    space = write_space(tmp_path, GRU)
    result = invoke("search", "--data", tmp_path / "seq.npz", "--space", space, "--trials", "1",
                    "--epochs", "2", "--out", run, "--no-explain", *LEAN)  # fmt: skip
    assert result.exit_code == 0, result.output
    np.savez(tmp_path / "new.npz", X=X[:2])
    result = invoke("explain", run, "--data", tmp_path / "new.npz")
    assert result.exit_code == 0, result.output
    folder = run / FOLDER / "new"
    meta = json.loads((folder / "explanations.json").read_text())
    split = [m for m, v in meta["methods"].items() if (v.get("params") or {}).get("spread")]
    assert split == ["shap_permutation"], meta["methods"].keys()  # the auto choice for a GRU
    stored = pd.read_csv(folder / "attributions.csv")
    shap = stored[stored["method"] == "shap_permutation"]
    steps = [[f"x[{t},0]", f"x[{t},1]"] for t in range(12)]
    # by construction: both channels of a step hold half of the step's value
    for a, b in steps:
        assert np.array_equal(shap[a], shap[b])
    note = next(n for n in meta["notes"] if n.startswith("shap_permutation scores windows"))
    assert "windows of 2 elements" in note and "equal values by construction" in note
    assert "x[0,0] and x[0,1], both in x[0,:]" in note
    flat = " ".join(result.output.split())
    assert f"note: {note}" in flat  # printed as stored
    # explanations.json: each window's total, the sum of its elements (the window's value)
    for i, record in enumerate(meta["explanations"]):
        said = record["methods"]["shap_permutation"]
        row = shap.iloc[i]
        assert list(said["windows"]) == [f"x[{t},:]" for t in range(12)]
        for t, (a, b) in enumerate(steps):
            assert said["windows"][f"x[{t},:]"] == pytest.approx(row[a] + row[b], abs=1e-7)
        assert sum(said["windows"].values()) == pytest.approx(said["sum"], abs=1e-6)
        assert "windows" not in record["methods"]["integrated_gradients"]
    # the CLI: that method's line ranks windows; integrated gradients' ranks elements
    lines = [ln.split("\u2502") for ln in result.output.splitlines() if "\u2502" in ln]
    by_method: dict[str, str] = {}
    method = ""
    for cells in lines:
        method = cells[3].strip() or method
        by_method[method] = by_method.get(method, "") + cells[4].strip()
    assert set(by_method) == {"integrated_gradients", "shap_permutation (per window)"}
    assert by_method["shap_permutation (per window)"].count(",:]") == 3 * 2  # 3 windows, 2 rows
    assert ",0]" not in by_method["shap_permutation (per window)"]
    assert by_method["integrated_gradients"].count(",:]") == 0
    # window names: an index of the input where the window is a box
    names = [f"x[{i},{j}]" for i in range(12) for j in range(2)]
    assert _window_name(np.array([20, 21]), (12, 2), names) == "x[10,:]"
    assert _window_name(np.array([16, 17, 18, 19]), (12, 2), names) == "x[8:10,:]"
    assert _window_name(np.array([20]), (12, 2), names) == "x[10,0]"
    assert _window_name(np.array([0, 3]), (12, 2), names) == "x[0,0]+x[1,1]"
    patch = np.ravel_multi_index(np.mgrid[0:1, 0:4, 4:8].reshape(3, -1), (1, 8, 8))
    image = [f"x[0,{i},{j}]" for i in range(8) for j in range(8)]
    assert _window_name(np.sort(patch), (1, 8, 8), image) == "x[:,0:4,4:8]"
