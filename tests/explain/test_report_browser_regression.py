"""A regression report in headless Chromium (network off), at the tests' 1280-px window: the
waterfalls' numbers do not overprint the feature labels, the beeswarm's long axis title is not
cut at the card's edge, and the residual plot's hover reads a float32-stored 52 as 52."""

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


def _diabetes_like() -> dict[str, Any]:
    """The regression fixture as the tester's runs: a target named "disease progression" on
    a scale of 1e6 (waterfall steps of -1.25e6 next to one of -6.6e3), and a first test row of
    52 stored standardized in float32."""
    data = copy.deepcopy(fx.regression())
    info = data["run"]["data_info"]
    info["target_name"] = "disease progression"
    info["preprocessing"].update({"y_mean": [0.0], "y_std": [1e6]})
    exp = data["explanations"]
    for item in exp["local"]:  # lin.csv's example 89 (x 1e6): a sliver at the plot's left edge
        a = np.zeros(10)
        a[:3] = [-1.25, -0.82, -0.00663]
        item["attributions"] = {m: a.tolist() for m in item["attributions"]}
        item["base_values"] = {m: 0.103 for m in item["attributions"]}
        item["output_value"] = 0.103 + float(a.sum())
    rng = np.random.default_rng(0)
    exp["shap"] = {"method": "shap_exact", "values": rng.normal(0, 0.3, (40, 10)).tolist(),
                   "inputs": rng.normal(0, 1, (40, 10)).tolist(), "base_value": 0.0}  # fmt: skip
    m, s = 153.32142857142858, 77.52880413508358  # diabetes' y: its example 8 is 52
    data["residuals"]["y_true"][0] = float(np.float32((52.0 - m) / s)) * s + m  # 51.999992
    return data


OVERLAPS = """(() => {
  const boxes = (root, sel) => Array.from(root.querySelectorAll(sel))
    .map(e => e.getBoundingClientRect()).filter(r => r.width > 0);
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1
    && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const out = [];
  document.querySelectorAll('.plot[id^=fig-local-waterfall]').forEach(el => {
    const labels = boxes(el, '.ytick text');
    const numbers = boxes(el, '.bars .point text');
    out.push({labels: labels.length, numbers: numbers.length,
              hits: numbers.filter(n => labels.some(l => hit(n, l))).length});
  });
  return out;
})()"""

TITLE = """(() => {
  const el = document.querySelector('.plot[id^=fig-beeswarm]');
  const card = el.closest('.card').getBoundingClientRect();
  const t = el.querySelector('.g-xtitle text').getBoundingClientRect();
  return {left: t.left - card.left, right: card.right - t.right};
})()"""

HOVER = """(() => {
  const el = document.querySelector('.plot[id^=fig-residuals]');
  Plotly.Fx.hover(el, [{curveNumber: 0, pointNumber: 0}]);
  const t = el.querySelector('.hoverlayer .hovertext');
  return t ? t.textContent : null;
})()"""


def test_the_numbers_labels_and_titles_have_room(browser: Chromium, tmp_path: Path) -> None:
    data = _diabetes_like()
    path = render_report(data, tmp_path / "regression.html")
    page = Page(browser, path)
    try:
        waterfalls = page.evaluate(OVERLAPS)
        title = page.evaluate(TITLE)
        hover = page.evaluate(HOVER)
        assert page.problems() == {}
    finally:
        page.close()
    assert waterfalls and all(w["labels"] >= 4 and w["numbers"] >= 4 for w in waterfalls)
    assert [w["hits"] for w in waterfalls] == [0] * len(waterfalls)  # "x3 = -0.087-0.00663"
    assert title["left"] >= 0 and title["right"] >= 0  # "HAP value: ..." had left < 0
    assert hover is not None and "true 52" in hover and "51.99" not in hover
