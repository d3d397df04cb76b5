"""The explanations section obeys its checks and reads for a non-expert: known answers for
the method chosen from check results, dropped methods, applicable vs computed, one card per
example, the per-class beeswarm (clipped colours, both signs), the waterfall and feature units.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from explain.record import Explanations
from explain.report import explain_section as es
from explain.report import local_plots as lp
from explain.report import method_trust as mt
from explain.report import render_html
from explain.report.beeswarm import beeswarm_figure, beeswarm_outputs
from explain.report.sections import Figures
from explain.types import Attribution, Check, MethodChoice
from nas.explaining import add_outputs
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")


def _check(name: str, method: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "method": method, "value": 0.1, "threshold": 0.2, "status": status,
            "detail": "", "extra": extra}  # fmt: skip


def _exp(checks: list[dict[str, Any]], methods: list[str], flagged: str = "") -> dict[str, Any]:
    return {
        "modality": "tabular",
        "methods": [{"method": m, "chosen": m == flagged, "reason": ""} for m in methods],
        "global": {m: {"overall": [1.0, 2.0], "per_class": {"a": [1.0, 2.0]}} for m in methods},
        "checks": checks,
    }


# --- 1. the method is chosen from the check results ------------------------------------------


def test_the_views_prefer_a_method_that_passed_every_check() -> None:
    checks = [
        _check("randomisation", "a", "fail"),
        _check("completeness", "a", "pass"),
        _check("completeness", "b", "pass"),
        _check("infidelity", "b", "warn"),
        _check("completeness", "c", "pass"),
        _check("sensitivity", "c", "skipped"),
    ]
    exp = _exp(checks, ["a", "b", "c"], flagged="a")  # the explainer's own flag: a
    assert mt.method_statuses(exp) == {"a": "fail", "b": "warn", "c": "pass"}
    assert mt.chosen_method(exp, ["a", "b", "c"]) == "c"
    assert mt.chosen_method(exp, ["a", "b"]) == "b"  # only warned: second best
    assert mt.chosen_method(exp, ["a"]) is None  # failed: never drawn
    # unchecked methods come after warned ones; ties go to the explainer's flag
    assert mt.chosen_method(exp, ["d", "b"]) == "b"
    both = _exp([_check("completeness", "x", "pass"), _check("completeness", "y", "pass")],
                ["x", "y"], flagged="y")  # fmt: skip
    assert mt.chosen_method(both, ["x", "y"]) == "y"


def test_the_trust_table_names_each_failure_in_plain_words() -> None:
    checks = [
        _check("randomisation", "gc", "fail"),
        _check("completeness", "gc", "fail"),
        _check("infidelity", "ig", "fail", scale=-0.7),
        _check("sensitivity", "sg", "fail"),
        _check("completeness", "ig", "pass"),
    ]
    exp = {**_exp(checks, ["ig", "gc", "sg"]), "modality": "image"}
    trust = mt.trust_table(exp, mt.method_statuses(exp))
    assert trust["columns"] == ["completeness", "infidelity", "sensitivity", "randomisation"]
    rows = {r["method"]: r for r in trust["rows"]}
    assert rows["gc"]["cells"] == ["fail", "", "", "fail"] and not rows["gc"]["shown"]
    assert rows["gc"]["meaning"] == [
        "completeness failed: the attributions do not add up to the prediction",
        "randomisation failed: this map may show where the ink is rather than what the model uses",
    ]
    assert rows["ig"]["meaning"] == ["infidelity failed: the map points the wrong way"]
    assert rows["sg"]["meaning"] == ["sensitivity failed: small input changes change the map a lot"]


# --- 2. failed methods are dropped ------------------------------------------------------------


def _local_and_global_traces(figs: Figures) -> str:
    """Every name and title in the local and global figures (not the checks' own plots)."""
    text = []
    for fid, fig in figs.figures.items():
        if fid.startswith(("fig-local", "fig-global")):
            text += [str(t.get("name", "")) for t in fig["data"]]
            text += [str(a.get("text", "")) for a in fig["layout"].get("annotations", [])]
    return " ".join(text)


def test_a_method_that_failed_a_check_gets_no_cards_and_no_global_figure() -> None:
    data = copy.deepcopy(fx.image_classification())  # saliency failed randomisation
    figs = Figures()
    view = es.explanations(data, figs)
    drawn = _local_and_global_traces(figs)
    assert "saliency" not in drawn and "occlusion" in drawn and "integrated" in drawn
    why = "randomisation failed: this map may show where the ink is rather than what the model uses"
    assert view["dropped"] == [{"method": "saliency", "why": why}]
    html = render_html(data)
    assert "Not drawn: <code>saliency</code>, because randomisation failed" in html
    # every method failed: no local figure at all, each card says so
    for c in data["explanations"]["checks"]:
        c["status"] = "fail"
    figs = Figures()
    view = es.explanations(data, figs)
    assert view["local"] and all(i["figure"] is None and i["waterfall"] is None
                                 for i in view["local"])  # fmt: skip
    assert not [f for f in figs.figures if f.startswith(("fig-local", "fig-global"))]


def test_panels_carry_their_methods_check_badges() -> None:
    data = copy.deepcopy(fx.tabular_classification())
    view = es.explanations(data, Figures())
    first = view["global"][0]
    assert first["badges"] == [{"method": "integrated_gradients", "status": "warn"},
                               {"method": "deeplift", "status": "warn"}]  # fmt: skip
    html = render_html(data)
    assert '<span class="mbadge mbadge-warn" title="deeplift: quality checks warn">' in html


# --- 3. applicable vs computed ----------------------------------------------------------------


def test_methods_say_applicable_and_computed_not_chosen() -> None:
    names = [f"m{i}" for i in range(8)]
    exp = {
        "modality": "tabular",
        "methods": [{"method": m, "chosen": i < 6, "reason": "r"} for i, m in enumerate(names)],
        "global": {m: {"overall": [1.0]} for m in ("m0", "m2", "m4")},
        "checks": [],
    }
    got = mt.method_rows(exp, {})
    assert (got["n_applicable"], got["n_computed"]) == (6, 3)
    assert [r["method"] for r in got["rows"] if r["computed"]] == ["m0", "m2", "m4"]
    html = render_html({**fx.tabular_classification(), "explanations": exp})
    assert "6 attribution methods apply to this tabular model; 3 were computed" in html


# --- 4. each example once -----------------------------------------------------------------


def test_an_example_picked_by_two_categories_is_shown_once() -> None:
    data = copy.deepcopy(fx.image_classification(n_local=6))
    local = data["explanations"]["local"]
    twin = copy.deepcopy(local[1])  # misclassified, and also among the most uncertain
    twin["category"] = "uncertain"
    local.append(twin)
    view = es.explanations(data, Figures())
    indices = [i["index"] for i in view["local"]]
    assert len(indices) == len(set(indices)) == 6
    card = next(i for i in view["local"] if i["index"] == local[1]["index"])
    assert card["categories"] == ["misclassified", "uncertain"]
    assert view["local_hidden"] == 0
    # picked as uncertain only, and wrong: tagged misclassified too (it had shown "uncertain")
    for item in local:
        item["category"] = "uncertain"
    view = es.explanations(data, Figures())
    for card in view["local"]:
        wrong = card["label"] != card["predicted"]
        assert ("misclassified" in card["categories"]) is wrong, card
    assert any(c["label"] != c["predicted"] for c in view["local"])


# --- 5. the beeswarm, one output at a time ----------------------------------------------------


def test_beeswarm_colours_are_clipped_at_the_5th_and_95th_percentile() -> None:
    rng = np.random.default_rng(3)
    inputs = rng.normal(size=(200, 3))
    inputs[:4, 0] = [40.0, -30.0, 25.0, 60.0]  # outliers: min-max would grey out the rest
    values = inputs * np.array([2.0, 1.0, 0.5])
    fig = beeswarm_figure({"values": values.tolist(), "inputs": inputs.tolist()}, ["a", "b", "c"])
    trace = next(t for t in fig["data"] if t["name"] == "a")
    col = inputs[:, 0]
    lo, hi = np.percentile(col, 5), np.percentile(col, 95)
    expected = (np.clip(col, lo, hi) - lo) / (hi - lo)
    np.testing.assert_allclose(trace["marker"]["color"], expected, atol=1e-12)
    assert trace["marker"]["color"][3] == 1.0 and trace["marker"]["color"][1] == 0.0
    assert 0.3 < float(np.median(expected)) < 0.7  # the bulk spreads over the scale
    assert trace["marker"]["colorbar"]["title"]["text"] == "feature value"


def _per_output_shap(rng: np.random.Generator, n: int = 60) -> dict[str, Any]:
    inputs = rng.normal(size=(n, 4))
    w = np.array([[1.0, -0.5, 0.2, 0.0], [-1.0, 0.5, -0.2, 0.1], [0.3, 0.3, -0.6, 0.0]])
    per = np.stack([inputs * w[k] for k in range(3)])  # output k: value x weight, both signs
    targets = np.argmax(inputs @ w.T, axis=1)
    own = per[targets, np.arange(n)]
    return {"method": "shap_permutation", "values": own.tolist(), "inputs": inputs.tolist(),
            "targets": targets.tolist(), "output_names": ["A", "B", "C"],
            "per_output": {"values": per.tolist(), "base_values": np.zeros((3, n)).tolist(),
                           "inputs": inputs.tolist()}}  # fmt: skip


def test_beeswarm_explains_one_fixed_output_per_view_with_both_signs() -> None:
    shap = _per_output_shap(np.random.default_rng(0))
    per = np.asarray(shap["per_output"]["values"])
    fig = beeswarm_figure(shap, ["f0", "f1", "f2", "f3"])
    assert sorted({t["meta"] for t in fig["data"]}) == [0, 1, 2]
    assert [t["meta"] for t in fig["data"] if t["visible"]] == [0] * 4  # one output shown
    for t in fig["data"]:
        j = int(t["name"][1])
        np.testing.assert_allclose(t["x"], per[t["meta"], :, j])  # the SAME output per dot
    f0 = next(t for t in fig["data"] if t["meta"] == 1 and t["name"] == "f0")
    assert min(f0["x"]) < 0 < max(f0["x"])  # both directions on one output
    # for output B, a high f0 lowers it: colour (value) against direction reads negative
    assert np.corrcoef(f0["marker"]["color"], f0["x"])[0, 1] < -0.9
    # without per-output values: the classes that have values, each on its own rows
    del shap["per_output"]
    outs = beeswarm_outputs(shap)
    targets = np.asarray(shap["targets"])
    assert [o["label"] for o in outs] == [["A", "B", "C"][k] for k in np.unique(targets)]
    assert all(not o["all_rows"] for o in outs)
    assert sum(len(o["values"]) for o in outs) == len(targets)


def test_the_page_has_a_class_selector_for_the_beeswarm() -> None:
    data = copy.deepcopy(fx.tabular_classification())
    exp = data["explanations"]
    for c in exp["checks"]:
        if c["method"] == "shap_permutation" and c["status"] == "fail":
            c["status"] = "pass"
    shap = _per_output_shap(np.random.default_rng(1))
    exp["shap"] = shap
    exp["feature_names"] = ["f0", "f1", "f2", "f3"]
    html = render_html(data)
    assert '<select class="beeswarm-output" data-plot="fig-beeswarm-' in html
    assert '<option value="2">C</option>' in html


# --- 6. local cards: the output explained and the waterfall -----------------------------------


def test_waterfall_steps_run_from_the_base_value_to_the_prediction() -> None:
    steps, end = lp.waterfall_steps([3.0, -1.0, 0.5, 0.2], ["a", "b", "c", "d"], 1.0, k=2)
    assert steps == [("a", 1.0, 3.0), ("b", 4.0, -1.0), ("2 other features", 3.0, 0.7)]
    assert end == pytest.approx(3.7, abs=1e-12)
    # a method that does not add up: the gap is its own step, not hidden
    steps, end = lp.waterfall_steps([3.0, -1.0], ["a", "b"], 1.0, prediction=3.5)
    assert steps[-1][0] == "not explained (the method's error)"
    assert steps[-1][2] == pytest.approx(0.5) and end == 3.5
    # a gap under 1% of the contributions is rounding: no bar, the steps end at base + sum
    steps, end = lp.waterfall_steps([3.0, -1.0], ["a", "b"], 1.0, prediction=3.001)
    assert [s[0] for s in steps] == ["a", "b"] and end == pytest.approx(3.0, abs=1e-12)


def _tabular_with_bases() -> tuple[dict[str, Any], dict[str, float]]:
    data = copy.deepcopy(fx.tabular_classification(n_local=4))
    exp = data["explanations"]
    bases = {}
    for item in exp["local"]:
        a = np.asarray(item["attributions"]["integrated_gradients"], dtype=float)
        base = 0.25 + 0.01 * item["index"]
        item["base_values"] = {"integrated_gradients": base}
        item["output_value"] = base + float(a.sum())
        item["output"] = {"kind": "logit", "target": 1, "label": "benign"}
        bases[item["index"]] = base
    return data, bases


def test_each_local_card_is_a_waterfall_that_adds_up() -> None:
    data, bases = _tabular_with_bases()
    figs = Figures()
    view = es.explanations(data, figs)
    for card in view["local"]:
        assert card["waterfall_method"] == "integrated_gradients"
        assert card["explains"].startswith("the logit (score before softmax) of class benign")
        fig = figs.figures[card["waterfall"]]
        assert {t["type"] for t in fig["data"]} == {"bar"}  # the cartesian bundle has bars
        ends = fig["data"][0]
        base, pred = ends["x"]
        assert base == pytest.approx(bases[card["index"]], abs=1e-12)
        steps = sorted(
            ((fig["layout"]["yaxis"]["categoryarray"].index(y), b, x)
             for t in fig["data"][1:] for y, b, x in zip(t["y"], t["base"], t["x"], strict=True)),
        )  # fmt: skip
        at = base
        for _, start, change in steps:
            assert start == pytest.approx(at, abs=1e-9)
            at += change
        assert at == pytest.approx(pred, abs=1e-6)
        item = next(i for i in data["explanations"]["local"] if i["index"] == card["index"])
        assert pred == pytest.approx(item["output_value"], abs=1e-6)
    assert "Explains the logit (score before softmax) of class benign" in render_html(data)


def test_a_regressions_cards_waterfalls_and_beeswarm_are_in_the_targets_units() -> None:
    """Known answer: y_mean 100, y_std 20. A standardized label 0.5 reads 110, a waterfall from
    base 0.1 with contributions a ends at (0.1 + sum a) * 20 + 100, SHAP values read x 20; the
    cards had shown standardized values beside metrics in the target's units, and the beeswarm
    a class's output."""
    data = copy.deepcopy(fx.regression())
    data["run"]["data_info"]["preprocessing"].update({"y_mean": [100.0], "y_std": [20.0]})
    exp = data["explanations"]
    for item in exp["local"]:
        item["label"], item["predicted"] = "0.5", "-0.25"
        a = np.asarray(item["attributions"]["integrated_gradients"], dtype=float)
        item["base_values"] = {"integrated_gradients": 0.1}
        item["output_value"] = 0.1 + float(a.sum())
    rng = np.random.default_rng(0)
    values = rng.normal(0, 0.3, (12, 10))
    exp["shap"] = {"method": "shap_exact", "values": values.tolist(),
                   "inputs": rng.normal(0, 1, (12, 10)).tolist(), "base_value": 0.0}  # fmt: skip
    figs = Figures()
    view = es.explanations(data, figs)
    assert view["local"]
    for card in view["local"]:
        assert (card["label"], card["predicted"]) == ("110", "95")
        fig = figs.figures[card["waterfall"]]
        base, end = fig["data"][0]["x"]
        item = next(i for i in exp["local"] if i["index"] == card["index"])
        assert base == pytest.approx(102.0)  # 0.1 * 20 + 100
        assert end == pytest.approx(item["output_value"] * 20 + 100, abs=1e-6)
        assert fig["layout"]["xaxis"]["title"]["text"] == "predicted progression"
    swarm = next(f for k, f in figs.figures.items() if k.startswith("fig-beeswarm"))
    assert swarm["layout"]["xaxis"]["title"]["text"].replace("<br>", " ").startswith(
        "SHAP value: effect on the predicted progression")  # fmt: skip
    table = next(p for p in view["global"] if p.get("features"))
    assert table["features_unit"] == "mean |attribution|, in progression's units"
    overall = np.abs(np.asarray(exp["global"][table["features"][0]["methods"][0]]["overall"]))
    assert float(table["features"][0]["values"][0]) == pytest.approx(20 * overall.max(), rel=1e-2)
    shown = np.sort(np.abs(np.concatenate([t["x"] for t in swarm["data"]])))
    assert shown[-1] == pytest.approx(20 * np.abs(values).max(), rel=1e-3)


@pytest.mark.parametrize("steps", [5, 1])
def test_a_multichannel_sequence_shows_which_channel_matters(steps: int) -> None:
    """(steps, channels) maps whose channel b carries most of the evidence: the per-channel
    bars rank b first with its summed value (the report had only per-step curves, which sum
    the channels away). One step draws no curve over time (it had drawn an empty chart)."""
    data = copy.deepcopy(fx.sequence_classification())
    exp = data["explanations"]
    per_step = np.array([[0.1, 0.9, 0.2]] * steps) * np.arange(1, steps + 1)[:, None]
    exp["feature_names"], exp["input_shape"] = ["a", "b", "c"], [steps, 3]
    even = np.repeat(per_step.sum(axis=1, keepdims=True) / 3, 3, axis=1)  # a window's value split
    exp["global"] = {
        "integrated_gradients": {"overall": per_step.tolist(), "per_class": {}, "unit": "step"},
        "shap_permutation": {"overall": even.tolist(), "per_class": {}, "unit": "step"},
    }
    figs = Figures()
    panels = es.explanations(data, figs)["global"]
    titles = [p["title"] for p in panels]
    assert titles[0] == "Global importance per channel"
    # SHAP over windows of steps across channels has equal channels by construction: left out
    assert panels[0]["features"][0]["methods"] == ["integrated_gradients"]
    assert "Left out: shap_permutation" in panels[0]["help"]
    assert ("Global importance over time steps" in titles) is (steps > 1)
    table = panels[0]["features"]
    assert [row["name"] for row in table] == ["b", "c", "a"]
    total = steps * (steps + 1) / 2  # the sum over steps of 1..steps
    assert float(table[0]["values"][0]) == pytest.approx(0.9 * total, rel=1e-2)


# --- 7. feature values in the user's units ----------------------------------------------------


def test_standardized_features_are_shown_in_the_users_units() -> None:
    std = lp.FeatureUnits(
        {"inputs": {"method": "standardize", "per": "feature", "mean": [14.2, 0.0],
                    "std": [3.5, 1.0]}}, ["radius error", "b"])  # fmt: skip
    assert std.known
    assert std.label(0, -0.613) == "radius error = 12.05"  # 14.2 + 3.5 * -0.613 = 12.0545
    assert std.value(0, 1.0) == pytest.approx(17.7)
    csv = lp.FeatureUnits(
        {"transform": {"kind": "tabular", "columns": ["age", "sex"],
                       "numeric": {"age": {"median": 40, "mean": 41.0, "std": 12.0}},
                       "categorical": {"sex": {"fill": "f", "categories": ["f", "m"]}}}},
        ["age", "sex=f", "sex=m"],
    )  # fmt: skip
    assert csv.label(0, 0.5) == "age = 47"
    assert csv.label(1, 1.0) == "sex = f" and csv.label(2, 0.0) == "sex ≠ m"
    bare = lp.FeatureUnits({"inputs": {"method": "standardize", "fitted_on": "train"}}, ["a"])
    assert not bare.known and bare.label(0, -0.613) == "a = -0.613 (standardized)"


def test_local_cards_label_features_in_the_users_units() -> None:
    data, _ = _tabular_with_bases()
    n = len(data["explanations"]["feature_names"])
    mean, std = np.linspace(10, 20, n), np.linspace(1, 3, n)
    data["run"]["data_info"]["preprocessing"]["inputs"].update(
        per="feature", mean=mean.tolist(), std=std.tolist()
    )
    figs = Figures()
    view = es.explanations(data, figs)
    card = view["local"][0]
    item = next(i for i in data["explanations"]["local"] if i["index"] == card["index"])
    x = np.asarray(item["input"], dtype=float)
    labels = figs.figures[card["waterfall"]]["layout"]["yaxis"]["categoryarray"]
    names = data["explanations"]["feature_names"]
    j = next(j for j, name in enumerate(names) if any(s.startswith(f"{name} = ") for s in labels))
    assert f"{names[j]} = {x[j] * std[j] + mean[j]:.4g}" in labels
    assert view["units_known"]


def test_a_filled_cell_is_marked_on_its_card_and_in_the_beeswarm() -> None:
    data, _ = _tabular_with_bases()
    names = data["explanations"]["feature_names"]
    n = len(names)
    prep = data["run"]["data_info"]["preprocessing"]
    prep["inputs"].update(per="feature", mean=[0.0] * n, std=[1.0] * n)
    first = es.explanations(data, Figures())["local"][0]
    prep["imputation"] = [{"column": name, "missing": 1, "test_rows": [first["index"]]}
                          for name in names]  # fmt: skip
    figs = Figures()
    view = es.explanations(data, figs)
    for card in view["local"]:
        labels = figs.figures[card["waterfall"]]["layout"]["yaxis"]["categoryarray"]
        shown = [s for s in labels if " = " in s]
        marked = [s for s in shown if s.endswith(" (missing, filled in)")]
        assert shown and marked == (shown if card["index"] == first["index"] else [])
    # the beeswarm, per class: row 2's "a" is marked in the view of the class row 2 explains
    rng = np.random.default_rng(0)
    values, inputs = rng.normal(size=(3, 12, 2)), rng.normal(size=(12, 2))
    shap = {"values": values[0].tolist(), "inputs": inputs.tolist(),
            "targets": [0, 1] * 6}  # fmt: skip
    scaled = {"method": "standardize", "per": "feature", "mean": [0.0, 0.0], "std": [1.0, 1.0]}
    filled = [{"column": "a", "test_rows": [2]}]
    units = lp.FeatureUnits({"inputs": scaled, "imputation": filled}, ["a", "b"])
    fig = beeswarm_figure(shap, ["a", "b"], ["c0", "c1"], units)
    marked = [(t["hovertemplate"].split("<extra>")[1], n) for t in fig["data"]
              for n, text in enumerate(t["customdata"]) if "filled in" in text]  # fmt: skip
    assert marked == [("c0: a</extra>", 1)]  # row 2 is the second row explaining c0


# --- the data behind the views (nas.explaining.report_view) -----------------------------------


def test_report_view_adds_the_output_base_values_and_per_output_shap() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3)).astype(np.float32)
    ig = rng.normal(size=(5, 3)).astype(np.float32)
    ig_base, ig_delta = rng.normal(size=5), rng.normal(size=5) * 0.01
    per = rng.normal(size=(2, 5, 3)).astype(np.float32)
    targets = np.array([0, 1, 1, 0, 1])
    attrs = {
        "integrated_gradients": Attribution("integrated_gradients", ig, targets, "zeros",
                                            delta=ig_delta, base_values=ig_base),
        "shap_exact": Attribution("shap_exact", per[targets, np.arange(5)], targets, "bg",
                                  base_values=np.full(5, 0.2),
                                  params={"additive_by_construction": True},
                                  arrays={"per_output_values": per,
                                          "per_output_base": np.full((2, 5), 0.2)}),
    }  # fmt: skip
    exp = Explanations(
        task="classification", modality="tabular", input_shape=(3,), feature_names=["a", "b", "c"],
        class_names=["no", "yes"], X=X, y=targets, predicted=targets,
        probability=np.full(5, 0.9), attributions=attrs,
        choices=[MethodChoice("integrated_gradients", True, "")],
        checks=[Check("completeness", "integrated_gradients", 0.0, 0.1, "pass", "")],
        samples={"correct": [0, 1], "confident": [1, 2]},
    )  # fmt: skip
    from explain.report_view import report_view

    view = report_view(exp)
    add_outputs(view, exp)
    item = next(i for i in view["local"] if i["index"] == 1)
    assert item["output"] == {"kind": "logit", "target": 1, "label": "yes"}
    # f(x) = base + sum - delta (delta = sum - (f(x) - base))
    assert item["output_value"] == pytest.approx(ig_base[1] + ig[1].sum() - ig_delta[1], abs=1e-5)
    assert item["base_values"]["shap_exact"] == pytest.approx(0.2)
    assert view["shap"]["targets"] == targets.tolist()
    assert view["shap"]["output_names"] == ["no", "yes"]
    np.testing.assert_allclose(view["shap"]["per_output"]["values"], per, atol=1e-4)
    # the same example in two categories reaches the page once
    figs = Figures()
    page = es.explanations({"run": {}, "explanations": view}, figs)
    assert [i["index"] for i in page["local"]].count(1) == 1
