"""Open rendered reports in headless Chromium with the network off and look for trouble.

Chromium is driven over its DevTools protocol on ``--remote-debugging-pipe`` (see
headless_chromium.py): no websocket library, no driver download. Without a Chromium binary the
tests skip; ``scripts/install-chromium.sh`` installs one (as root, via apt-get).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from explain.report import render_report
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")
hc = explain_helper("headless_chromium")
Chromium, Page = hc.Chromium, hc.Page
SECTIONS = ("overview", "search", "winner", "explanations", "reproduce")


@pytest.mark.parametrize("kind", [*fx.ALL, "bare"])
def test_report_loads_cleanly_offline(browser: Chromium, tmp_path: Path, kind: str) -> None:
    data = fx.bare() if kind == "bare" else fx.ALL[kind]()
    path = render_report(data, tmp_path / f"{kind}.html")
    page = Page(browser, path)
    try:
        assert page.problems() == {}
        missing = page.evaluate(f"{list(SECTIONS)}.filter(id => !document.getElementById(id))")
        assert missing == []
        n_plots = page.evaluate("document.querySelectorAll('.plot').length")
        drawn = page.evaluate("document.querySelectorAll('.plot.js-plotly-plot').length")
        assert drawn == n_plots >= (0 if kind == "bare" else 8)
        notes = page.evaluate("document.querySelectorAll('.note').length")
        assert notes >= (8 if kind == "bare" else 0)  # what is missing is said, not hidden
        png = page.screenshot(tmp_path / f"{kind}.png")
    finally:
        page.close()
    width, height, distinct_rows = hc.png_facts(png)
    assert (width, height) == (1280, 900)
    assert len(png) > 20_000, f"{kind}: the screenshot is nearly empty ({len(png)} bytes)"
    assert distinct_rows > 20, f"{kind}: the screenshot is (nearly) one colour"


def test_hostile_strings_show_as_text_and_never_run(browser: Chromium, tmp_path: Path) -> None:
    path = render_report(fx.hostile(), tmp_path / "hostile.html")
    page = Page(browser, path)
    try:
        time.sleep(0.3)  # an injected onerror handler would fire right after load
        assert page.problems() == {}  # no alert dialog, no error, no request
        text = page.evaluate("document.body.innerText")
        for s in fx.XSS_STRINGS:
            assert s in text, f"{s!r} is not shown as text"
        assert page.evaluate("document.scripts.length") == 4  # ours: data, config, plotly, app
        assert page.evaluate("document.querySelectorAll('img, iframe').length") == 0
        bold = "Array.from(document.querySelectorAll('b')).filter(b => b.textContent == 'bold')"
        assert page.evaluate(f"{bold}.length") == 0  # the class name's <b> stayed text
        svg_text = page.evaluate(
            "Array.from(document.querySelectorAll('.plot')).map(e => e.textContent).join('|')"
        )
        assert fx.XSS_FEATURE in svg_text and fx.XSS_IMG in svg_text  # drawn by Plotly as text
    finally:
        page.close()


def test_leaderboard_sorts_on_click(browser: Chromium, tmp_path: Path) -> None:
    path = render_report(fx.tabular_classification(), tmp_path / "sort.html")
    page = Page(browser, path)
    try:
        col = "Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(r => r.cells[3]"
        page.evaluate("document.querySelectorAll('#leaderboard th')[3].click()")
        up = page.evaluate(f"{col}.getAttribute('data-v'))")
        page.evaluate("document.querySelectorAll('#leaderboard th')[3].click()")
        down = page.evaluate(f"{col}.getAttribute('data-v'))")
    finally:
        page.close()
    values = [float(v) for v in up if v != ""]
    assert values == sorted(values) and len(values) > 10
    assert [float(v) for v in down if v != ""] == sorted(values, reverse=True)
    assert up[-1] == "" and down[-1] == ""  # trials without a metric stay last


def test_the_harness_sees_requests_errors_and_dialogs(browser: Chromium, tmp_path: Path) -> None:
    """A negative control: a page that breaks every rule is caught on every count."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><img src="https://example.com/x.png">'
        "<script>console.error('boom'); alert('xss');"
        "document.body.setAttribute('data-plots-ready', '0'); undefinedFunction();</script>"
        "</body></html>",
        encoding="utf-8",
    )
    page = Page(browser, bad)
    try:
        deadline = time.monotonic() + 10
        while len(page.problems()) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)  # the failed request may be reported after load
        found = page.problems()
    finally:
        page.close()
    assert {"console", "exception", "request", "failed", "dialog"} <= set(found), found
    assert found["request"] == ["https://example.com/x.png"]
    assert found["dialog"] == ["alert: xss"]
