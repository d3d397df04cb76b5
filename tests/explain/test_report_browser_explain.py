"""The explanations section in headless Chromium (network off): the beeswarm's class selector
switches which output's dots are shown, with no error on the page."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from explain.report import render_report
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")
hc = explain_helper("headless_chromium")
Chromium, Page = hc.Chromium, hc.Page


def _report_with_per_class_shap() -> tuple[dict[str, Any], np.ndarray]:
    """The tabular fixture with SHAP that passed its checks and values for three outputs."""
    data = copy.deepcopy(fx.tabular_classification())
    exp = data["explanations"]
    for c in exp["checks"]:
        if c["method"] == "shap_permutation" and c["status"] == "fail":
            c["status"] = "pass"
    rng = np.random.default_rng(5)
    inputs = rng.normal(size=(80, 4))
    w = np.array([[2.0, 0.5, 0.1, 0.0], [-2.0, -0.5, -0.1, 0.0], [0.0, 1.0, -1.0, 0.3]])
    per = np.stack([inputs * w[k] for k in range(3)])
    exp["feature_names"] = ["f0", "f1", "f2", "f3"]
    exp["shap"] = {
        "method": "shap_permutation",
        "values": per[0].tolist(),
        "inputs": inputs.tolist(),
        "output_names": ["A", "B", "C"],
        "output_kind": "logit",
        "per_output": {"values": per.tolist(), "inputs": inputs.tolist()},
    }
    return data, per


SHOWN = (
    "(() => { const el = document.querySelector('.plot[id^=fig-beeswarm]');"
    " return el.data.filter(t => t.visible === true)"
    ".map(t => ({meta: t.meta, name: t.name, x: Array.from(t.x)})); })()"
)


def test_the_class_selector_switches_the_beeswarm(browser: Chromium, tmp_path: Path) -> None:
    data, per = _report_with_per_class_shap()
    path = render_report(data, tmp_path / "beeswarm.html")
    page = Page(browser, path)
    try:
        options = page.evaluate(
            "Array.from(document.querySelectorAll('select.beeswarm-output option'))"
            ".map(o => o.textContent)"
        )
        assert options == ["A", "B", "C"]
        before = page.evaluate(SHOWN)
        page.evaluate(
            "(() => { const s = document.querySelector('select.beeswarm-output');"
            " s.value = '1'; s.dispatchEvent(new Event('change')); })()"
        )
        after = page.evaluate(SHOWN)
        drawn = page.evaluate(
            "document.querySelector('.plot[id^=fig-beeswarm]')"
            ".querySelectorAll('.scatterlayer .trace').length"
        )
        assert page.problems() == {}
    finally:
        page.close()
    assert {t["meta"] for t in before} == {0} and len(before) == 4
    assert {t["meta"] for t in after} == {1} and len(after) == 4
    for t in after:  # the dots shown now are output B's values of that feature
        j = int(t["name"][1])
        np.testing.assert_allclose(t["x"], per[1, :, j], atol=1e-3)
    f0_before = next(t["x"] for t in before if t["name"] == "f0")
    f0_after = next(t["x"] for t in after if t["name"] == "f0")
    np.testing.assert_allclose(f0_after, -np.asarray(f0_before), atol=1e-3)  # B = -A on f0
    assert drawn == 4  # Plotly draws only the visible output's traces
