"""``explain_model`` end to end on small trained models of every family and modality: the
attributions, their metadata, the quality table and the method choices; ``Explanations`` saved
and loaded back exactly; ``report_view`` as the report's JSON (explain/report/SCHEMA.md)."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from explain.attribution import METHODS
from explain.errors import ExplainError
from explain.explanations import (
    DEFAULT_METHODS,
    Explanations,
    explain_model,
    report_view,
    resolve_methods,
)
from explain.types import Attribution
from search_spaces import ArchSpec, BlockSpec, build_model

N = 10  # test examples explained per model
CASES = [
    ("fnn", "tabular"),
    ("cnn", "image"),
    ("cnn", "sequence"),
    ("rnn", "sequence"),  # an LSTM
    ("transformer", "sequence"),
]
CHECKS = {"completeness", "infidelity", "deletion", "insertion", "sensitivity", "randomisation"}
STATUSES = {"pass", "warn", "fail", "skipped"}
SCHEMA = Path(__file__).parents[2] / "explain" / "report" / "SCHEMA.md"


@dataclass(frozen=True)
class Split:
    X: torch.Tensor
    y: torch.Tensor


@dataclass(frozen=True)
class Data:
    """What explain needs of a dataset (the ExplainData protocol), without nas."""

    task: str
    modality: str
    input_shape: tuple[int, ...]
    output_size: int
    feature_names: list[str]
    class_names: list[str]
    train: Split
    test: Split


def planted_task(planted: Any, modality: str, test: Split) -> Data:
    shape = planted.shapes[modality]
    names = [] if modality == "image" else [f"x{i}" for i in range(shape[-1])]
    train = Split(*planted.data(modality, 64, 1))
    return Data("classification", modality, shape, 2, names, ["no", "yes"], train, test)


@pytest.fixture(scope="module")
def explained(trained: Any, planted: Any) -> Any:
    """``explained(family, modality) -> (Explanations, Data)``, computed once per module."""
    cache: dict[tuple[str, str], tuple[Explanations, Data]] = {}

    def get(family: str, modality: str) -> tuple[Explanations, Data]:
        if (family, modality) not in cache:
            t = trained(family, modality)
            data = planted_task(planted, modality, Split(t.X, t.y))
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                exp = explain_model(t.model, data, samples=N)
            finally:
                torch.set_num_threads(threads)
            cache[family, modality] = (exp, data)
        return cache[family, modality]

    return get


@pytest.mark.parametrize(("family", "modality"), CASES)
def test_default_methods_and_shap_attribute_every_input_element(
    explained: Any, family: str, modality: str
) -> None:
    exp, data = explained(family, modality)
    shape = (N, *data.input_shape)
    chosen = [c.method for c in exp.choices if c.chosen]
    defaults = [m for m in DEFAULT_METHODS if m in chosen]
    assert defaults[0] == "integrated_gradients"
    *captum, shap = list(exp.attributions)
    assert captum == defaults and shap.startswith("shap_")
    predicted = exp.predicted
    assert predicted.shape == (N,) and ((exp.probability > 0) & (exp.probability <= 1)).all()
    for method, a in exp.attributions.items():
        assert isinstance(a, Attribution) and a.method == method
        assert a.values.shape == shape, method
        assert np.isfinite(a.values).all() and np.abs(a.values).sum() > 0, method
        np.testing.assert_array_equal(a.targets, predicted)  # the predicted class is explained
        assert a.baseline and a.seconds >= 0.0
        json.dumps(a.meta(), allow_nan=False)  # metadata is plain JSON
    for method in ("integrated_gradients", shap):  # methods with a completeness claim
        a = exp.attributions[method]
        assert a.delta is not None and np.shape(a.delta) == (N,), method
        assert np.isfinite(a.delta).all()
    assert np.shape(exp.attributions[shap].base_values) == (N,)
    assert exp.seconds > 0 and exp.X.shape == shape and exp.y.shape == (N,)


@pytest.mark.parametrize(("family", "modality"), CASES)
def test_the_quality_table_checks_every_method(explained: Any, family: str, modality: str) -> None:
    exp, _ = explained(family, modality)
    rows = exp.table()
    assert rows == [c.to_dict() for c in exp.checks] and rows
    for row in rows:
        assert set(row) == {"name", "method", "value", "threshold", "status", "detail", "extra"}
        assert row["status"] in STATUSES
        if row["status"] != "skipped":
            assert isinstance(row["value"], float) and np.isfinite(row["value"]), row
            assert isinstance(row["threshold"], float), row
        assert row["detail"], row  # one line on how to read it
    for method in exp.attributions:
        assert {r["name"] for r in rows if r["method"] == method} == CHECKS, method
    # completeness is measured (not skipped) for the methods that claim it
    done = {r["method"] for r in rows if r["name"] == "completeness" and r["status"] != "skipped"}
    assert "integrated_gradients" in done and any(m.startswith("shap_") for m in done)
    pairs = {r["method"] for r in rows if r["name"] == "agreement"}
    k = len(exp.attributions)
    assert len(pairs) == k * (k - 1) // 2 and all(" vs " in p for p in pairs)


@pytest.mark.parametrize(("family", "modality"), CASES)
def test_every_method_choice_has_a_reason(explained: Any, family: str, modality: str) -> None:
    exp, _ = explained(family, modality)
    by_method = {c.method: c for c in exp.choices}
    assert set(METHODS) <= set(by_method)
    assert all(c.reason for c in exp.choices)
    shap = next(m for m in exp.attributions if m.startswith("shap_"))
    assert by_method[shap].chosen  # the SHAP explainer used is listed, with why
    expected = {  # what the architecture allows, read off its modules
        ("fnn", "tabular"): {"deeplift"},
        # flatten heads: Grad-CAM cannot localise there (#12 item 7), so it is not chosen
        ("cnn", "image"): {"deeplift"},
        ("cnn", "sequence"): {"deeplift"},
        ("rnn", "sequence"): set(),
        ("transformer", "sequence"): {"attention"},
    }[family, modality]
    optional = {"deeplift", "layer_gradcam", "attention"}
    assert {m for m in optional if by_method[m].chosen} == expected


@pytest.mark.parametrize(
    ("family", "blocker"), [("rnn", "LSTM"), ("transformer", "TransformerEncoderLayer")]
)
def test_lstm_and_transformer_never_use_deeplift_and_say_why(
    explained: Any, trained: Any, planted: Any, family: str, blocker: str
) -> None:
    exp, data = explained(family, "sequence")
    choice = {c.method: c for c in exp.choices}
    assert not choice["deeplift"].chosen
    assert blocker in choice["deeplift"].reason and "no DeepLift rule" in choice["deeplift"].reason
    assert "deeplift" not in exp.attributions
    assert "shap_deep" not in exp.attributions  # DeepExplainer has no rule either
    shap = exp.attributions["shap_permutation"]
    assert blocker in choice["shap_permutation"].reason and "DeepExplainer" in shap.note
    # Asking for DeepLift by name is refused with the reason, not run with gradients.
    model = trained(family, "sequence").model
    with pytest.raises(ExplainError, match=f"'deeplift' is not valid.*{blocker}"):
        explain_model(model, data, samples=2, methods=["deeplift"], checks=False)


@pytest.mark.parametrize(("family", "modality"), CASES)
def test_save_then_load_round_trips_exactly(
    explained: Any, tmp_path: Path, family: str, modality: str
) -> None:
    exp, _ = explained(family, modality)
    folder = exp.save(tmp_path / "a")
    assert sorted(p.name for p in folder.iterdir()) == ["attributions.npz", "explanations.json"]
    with np.load(folder / "attributions.npz", allow_pickle=False) as z:  # arrays only
        assert all(z[k].dtype != object for k in z.files)
    back = Explanations.load(folder)
    for f in dataclasses.fields(Explanations):
        mine, theirs = getattr(exp, f.name), getattr(back, f.name)
        if f.name == "attributions":
            assert list(mine) == list(theirs)
            for m in mine:
                assert_same_attribution(mine[m], theirs[m])
        elif isinstance(mine, np.ndarray):
            assert_same_array(mine, theirs)
        else:
            assert mine == theirs and type(mine) is type(theirs), f.name
    back.save(tmp_path / "b")  # a second save writes the same bytes of metadata
    assert (tmp_path / "b" / "explanations.json").read_bytes() == (
        folder / "explanations.json"
    ).read_bytes()


def assert_same_array(a: Any, b: Any) -> None:
    a = np.asarray(a)
    assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


def assert_same_attribution(a: Attribution, b: Attribution) -> None:
    for f in dataclasses.fields(Attribution):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "arrays":
            assert list(x) == list(y)
            for k in x:
                assert_same_array(x[k], y[k])
        elif f.name in ("values", "targets", "delta", "base_values"):
            assert (x is None) == (y is None), f.name
            if x is not None:
                assert_same_array(x, y)
        else:
            assert x == y and type(x) is type(y), f"{a.method}.{f.name}: {x!r} != {y!r}"


def schema_keys() -> set[str]:
    """The keys of the ``explanations`` part of SCHEMA.md (its two-space indented lines)."""
    text = SCHEMA.read_text(encoding="utf-8")
    part = text[text.index("explanations     null, or:") :].splitlines()[1:]
    keys: set[str] = set()
    for line in part:
        if line and not line[0].isspace():  # the next top-level key: the part has ended
            break
        if m := re.match(r"^  ([a-z_]+(?:, [a-z_]+)*)(?:\s{2,}|$)", line):
            keys.update(m.group(1).split(", "))
    return keys


@pytest.mark.parametrize(("family", "modality"), CASES)
def test_report_view_is_json_shaped_as_the_schema(
    explained: Any, family: str, modality: str
) -> None:
    exp, data = explained(family, modality)
    view = json.loads(json.dumps(report_view(exp), allow_nan=False))  # strict JSON
    keys = schema_keys()
    assert {"modality", "methods", "global", "local", "checks", "agreement", "timing"} <= keys
    assert keys <= set(view)
    shape = list(data.input_shape)
    assert view["modality"] == modality and view["input_shape"] == shape
    assert view["class_names"] == ["no", "yes"]
    assert all(set(m) == {"method", "chosen", "reason"} for m in view["methods"])
    assert set(view["global"]) == set(exp.attributions) == set(view["timing"])
    for g in view["global"].values():
        assert list(np.shape(g["overall"])) == shape
        assert g["per_class"] and set(g["per_class"]) <= {"no", "yes"}
        assert all(list(np.shape(v)) == shape for v in g["per_class"].values())
    categories = {"correct", "misclassified", "confident", "uncertain"}
    assert view["local"]
    for item in view["local"]:
        assert item["category"] in categories and item["label"] in ("no", "yes")
        assert item["predicted"] in ("no", "yes") and 0 < item["probability"] <= 1
        assert item["probability"] == float(exp.probability[item["index"]])  # not rounded
        assert list(np.shape(item["input"])) == shape
        assert set(item["attributions"]) == set(exp.attributions)
        assert all(list(np.shape(v)) == shape for v in item["attributions"].values())
    if family == "transformer":
        layers = np.asarray(view["attention"]["layers"])
        tokens = len(view["attention"]["tokens"])
        assert layers.ndim == 4 and layers.shape[2:] == (tokens, tokens)
    else:
        assert view["attention"] is None
    if modality == "tabular":
        shap = view["shap"]
        assert shap["method"].startswith("shap_") and isinstance(shap["base_value"], float)
        assert np.shape(shap["values"]) == np.shape(shap["inputs"]) == (N, *data.input_shape)
    else:
        assert view["shap"] is None
    assert view["checks"] and all(c["name"] != "agreement" for c in view["checks"])
    assert all(c["name"] == "agreement" for c in view["agreement"])
    assert view["checks"] + view["agreement"] == json.loads(json.dumps(exp.table()))
    assert view["n_explained"] == N


def test_regression_explanations_round_trip_and_have_no_classes(
    planted: Any, tmp_path: Path
) -> None:
    """A regression model: no classes (so no per-class views), NaN probabilities that survive
    the round trip, and errors instead of right / wrong as the local categories."""
    torch.manual_seed(0)
    spec = planted.spec("fnn", "tabular")
    spec = ArchSpec(
        "fnn", "regression", "tabular", spec.input_shape, 1, spec.blocks,
        BlockSpec("regress.v1", {"outputs": 1}),
    )  # fmt: skip
    model = build_model(spec).eval()
    X, _ = planted.data("tabular", 64, 1)
    Xt, _ = planted.data("tabular", 32, 2)
    y, yt = X[:, :1] + X[:, 3:4], Xt[:, :1] + Xt[:, 3:4]
    names = [f"x{i}" for i in range(X.shape[1])]
    data = Data("regression", "tabular", (6,), 1, names, [], Split(X, y), Split(Xt, yt))
    exp = explain_model(model, data, samples=N, checks=False)
    assert np.isnan(exp.probability).all() and exp.predicted.shape == (N,)
    assert set(exp.samples) == {"low_error", "high_error"}
    back = Explanations.load(exp.save(tmp_path / "r"))
    assert_same_array(exp.probability, back.probability)
    assert_same_array(exp.predicted, back.predicted)
    view = json.loads(json.dumps(report_view(back), allow_nan=False))
    assert all(g["per_class"] == {} for g in view["global"].values())
    assert {i["category"] for i in view["local"]} <= {"low_error", "high_error"}
    assert all(i["probability"] is None for i in view["local"])
    npz = tmp_path / "r" / "attributions.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])  # a copy cut short
    with pytest.raises(ValueError, match="attributions.npz is damaged"):
        Explanations.load(tmp_path / "r")  # the report's alert, not a BadZipFile traceback


def test_method_names_are_checked(trained: Any) -> None:
    model = trained("fnn", "tabular").model
    with pytest.raises(ExplainError, match=r"Unknown explanation method 'nope'; choose from"):
        resolve_methods(model, "tabular", ["integrated_gradients", "nope"])
    with pytest.raises(ExplainError, match="'layer_gradcam' is not valid.*no conv block"):
        resolve_methods(model, "tabular", ["layer_gradcam"])
    names, choices = resolve_methods(model, "tabular", ["all"])
    assert names == [c.method for c in choices if c.chosen] + ["shap"]
    with pytest.raises(ExplainError, match="samples must be >= 1"):
        explain_model(model, None, samples=0)  # type: ignore[arg-type]
