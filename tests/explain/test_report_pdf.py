"""The report on paper: printed to PDF by headless Chromium (``Page.printToPDF``, the browser's
own "Save as PDF"), read back with zlib alone (headless_chromium.Pdf), and its print layout
looked at through the DOM under ``@media print``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from explain.report import render_report
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")
hc = explain_helper("headless_chromium")
squeeze = hc.squeeze
REPORTS = {**fx.ALL, "gan": fx.gan_run}
PAGE_WIDTH = 720  # CSS px of text on A4 or Letter at the report's 11-12 mm margins (~710-735)
FOOTER = "Self-contained report"  # on screen only
# The page's headings that are shown, each section's h2 and every card's h3, in page order.
HEADINGS = """Array.from(document.querySelectorAll('main > section')).map(s => [s.id,
  Array.from(s.querySelectorAll('h2, h3')).filter(h => h.getClientRects().length)
    .map(h => h.textContent)])"""
CLOSED_DETAILS = """Array.from(document.querySelectorAll('details:not([open])')).map(d =>
  Array.from(d.children).filter(c => c.tagName != 'SUMMARY').map(c => c.textContent).join(' '))"""


@pytest.mark.parametrize("kind", list(REPORTS))
def test_the_report_prints_to_a_whole_pdf(browser: Any, tmp_path: Path, kind: str) -> None:
    page = hc.Page(browser, render_report(REPORTS[kind](), tmp_path / f"{kind}.html"))
    try:
        headings = page.evaluate(HEADINGS)
        hidden = page.evaluate(CLOSED_DETAILS)
        data = page.pdf(tmp_path / f"{kind}.pdf")
        after = page.evaluate(CLOSED_DETAILS)  # afterprint closed them again
        leftovers = page.evaluate("document.querySelectorAll('[viewBox].main-svg').length")
        problems = page.problems()
    finally:
        page.close()
    assert problems == {}
    assert after == hidden and leftovers == 0
    pdf = hc.Pdf(data)
    pages = pdf.page_count()
    assert 3 <= pages <= 40, f"{kind}: {pages} pages"
    texts = pdf.text()
    assert all(squeeze(t) for t in texts), f"{kind}: a blank page"
    text = squeeze("".join(texts)).lower()
    assert len(text) > 3000
    sections = {sid for sid, _ in headings}
    assert {"overview", "search", "winner", "explanations", "reproduce"} <= sections
    for sid, titles in headings:
        assert titles, f"{kind}: section {sid} has no heading"
        for title in titles:
            assert squeeze(title).lower() in text, f"{kind}: {sid}: {title!r} is not printed"
    # What the closed <details> hide on screen is on paper (beforeprint opened them).
    for content in hidden:
        assert squeeze(content).lower()[:60] in text, f"{kind}: {content[:60]!r} not printed"
    assert squeeze(FOOTER).lower() not in text  # the print rules applied: no screen-only parts


def test_print_layout_fits_the_page(browser: Any, tmp_path: Path) -> None:
    """Under print media at a page's width, as the browser lays out the print after
    ``beforeprint``: no nav, every section shown, every details open, nothing wider than the
    page (wide figures scaled down, long code wrapped), headings kept with what follows."""
    page = hc.Page(browser, render_report(fx.tabular_classification(), tmp_path / "t.html"))
    try:
        closed = page.evaluate("document.querySelectorAll('details:not([open])').length")
        wide = page.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot svg.main-svg:first-child'))"
            f".filter(s => Number(s.getAttribute('width')) > {PAGE_WIDTH}).length"
        )
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        # Printing does not resize the window; the viewport change below stands in for the
        # paper and must not make Plotly redraw (it would on screen, responsive: true).
        page.evaluate(
            "document.querySelectorAll('.js-plotly-plot').forEach(g => "
            "window.removeEventListener('resize', g._responsiveChartHandler))"
        )
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": PAGE_WIDTH, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        )
        page.emulate_media("print")
        shown = page.evaluate(
            "Array.from(document.querySelectorAll('main > section'))"
            ".filter(s => s.getBoundingClientRect().height > 0).length"
        )
        sections = page.evaluate("document.querySelectorAll('main > section').length")
        nav = page.evaluate("getComputedStyle(document.querySelector('nav.side')).display")
        still_closed = page.evaluate("document.querySelectorAll('details:not([open])').length")
        overflow = page.evaluate(
            "Array.from(document.querySelectorAll('main *')).filter(e => "
            f"e.getClientRects().length && e.getBoundingClientRect().right > {PAGE_WIDTH} + 1)"
            ".slice(0, 5).map(e => e.tagName + '.' + (e.className.baseVal ?? e.className))"
        )
        scaled = page.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot svg.main-svg:first-child'))"
            f".filter(s => Number(s.getAttribute('width')) > {PAGE_WIDTH})"
            ".map(s => s.getBoundingClientRect().width)"
        )
        pre = page.evaluate(
            "Array.from(document.querySelectorAll('pre')).map(p => [getComputedStyle(p).whiteSpace,"
            " p.scrollWidth <= p.clientWidth + 1, p.scrollHeight <= p.clientHeight + 1])"
        )
        breaks = page.evaluate(
            "[...['main h2', 'main h3'].map(q => getComputedStyle(document.querySelector(q))"
            ".breakAfter), getComputedStyle(document.querySelector('.card')).breakInside]"
        )
        page.emulate_media("")
        page.evaluate("window.dispatchEvent(new Event('afterprint'))")
        restored = page.evaluate("document.querySelectorAll('details:not([open])').length")
        leftovers = page.evaluate(
            "document.querySelectorAll('[viewBox].main-svg, .print-fit, [data-screen-style]')"
            ".length"
        )
        problems = page.problems()
    finally:
        page.close()
    assert problems == {}
    assert closed >= 3 and wide >= 2  # the fixture has both to test
    assert nav == "none" and shown == sections >= 5
    assert still_closed == 0 and restored == closed and leftovers == 0
    assert overflow == []
    assert len(scaled) == wide and all(w <= PAGE_WIDTH for w in scaled)
    assert pre and all(p == ["pre-wrap", True, True] for p in pre), pre
    assert breaks == ["avoid", "avoid", "avoid"]
