"""The first screen of the report, in headless Chromium at 1400 × 900: the test score's
interval, the baselines, the validation → test gap and the explanations' verdict are all
visible without scrolling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from explain.report import render_report
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")
hc = explain_helper("headless_chromium")
decision = explain_helper("test_report_decision")
WIDTH, HEIGHT = 1400, 900
FIRST_SCREEN = ("dec-interval", "dec-baselines", "dec-gap", "dec-explanations", "dec-why")


def _boxes(page: Any) -> dict[str, Any]:
    page.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    page.evaluate("window.scrollTo(0, 0)")
    return page.evaluate(
        "Object.fromEntries(" + repr(list(FIRST_SCREEN)) + ".map(id => { const e = "
        "document.getElementById(id); if (!e) return [id, null]; const r = "
        "e.getBoundingClientRect(); return [id, {top: r.top, bottom: r.bottom, left: r.left, "
        "right: r.right, text: e.innerText}]; }))"
    )


@pytest.mark.parametrize(
    "kind", ["breast_cancer", "breast_cancer_trees", "breast_cancer_unmeasured", "regression"]
)
def test_the_decision_is_on_the_first_screen(browser: Any, tmp_path: Path, kind: str) -> None:
    data = {
        "breast_cancer": lambda: decision.breast_cancer(),
        # a tabular run's three baselines: the trees' row and mark fit the first screen too
        "breast_cancer_trees": lambda: decision._with_trees(80 / 86),
        "breast_cancer_unmeasured": lambda: decision.breast_cancer(baselines=False),
        "regression": fx.regression,
    }[kind]()
    path = render_report(data, tmp_path / f"{kind}.html")
    page = hc.Page(browser, path)
    try:
        assert page.problems() == {}
        boxes = _boxes(page)
        assert page.evaluate("window.innerWidth") == WIDTH
        page.screenshot(tmp_path / f"{kind}.png")
    finally:
        page.close()
    for name, box in boxes.items():
        assert box is not None, f"{kind}: #{name} is not on the page"
        assert 0 <= box["top"] < box["bottom"] <= HEIGHT, f"{kind}: #{name} is at {box}"
        assert box["left"] >= 190 and box["right"] <= WIDTH, f"{kind}: #{name} is at {box}"
    if kind == "breast_cancer":
        assert "0.886–0.982" in boxes["dec-interval"]["text"]
        assert "logistic regression" in boxes["dec-baselines"]["text"]
        assert "within the noise" in boxes["dec-gap"]["text"]
        assert "passed every check" in boxes["dec-explanations"]["text"]
    elif kind == "breast_cancer_trees":
        assert "gradient boosting" in boxes["dec-baselines"]["text"]
    elif kind == "breast_cancer_unmeasured":
        assert "not measured for this run" in boxes["dec-baselines"]["text"]
