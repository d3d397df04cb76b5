"""The report's GAN section: present (and in the nav) when the report has ``gan``, absent
otherwise, self-contained, escaped, tolerant of GAN metrics in ``best``, and clean in a browser."""

from __future__ import annotations

import base64
import re
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from explain.report import render_html, render_report
from explain.report.gan_section import gan as gan_section
from explain.report.sections import Figures
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")
hc = explain_helper("headless_chromium")
XSS = "<script>alert(1)</script>"
MODALITIES = ("image", "sequence", "tabular")


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a section or figure that fails warns: fail instead
        return {m: render_html(fx.gan_run(m, ["zero", XSS, "two"])) for m in MODALITIES}


@pytest.mark.parametrize("modality", MODALITIES)
def test_gan_section_renders_with_its_cards(pages: dict[str, str], modality: str) -> None:
    html = pages[modality]
    assert '<section id="gan">' in html and '<a href="#gan">GAN</a>' in html
    for title in (
        "Scores of the generator",
        "Training curves",
        "Generated vs real",
        "Latent traversals",
        "Where each latent dimension acts",
        "What the discriminator looks at",
    ):
        assert title in html, title
    for score in ("FCD", "precision (k-NN manifold)", "recall (k-NN manifold)",
                  "conditional accuracy", "classifier accuracy"):  # fmt: skip
        assert f"<td>{score}</td>" in html, score
    assert "floor 1.32 · noise 88.5" in html
    for fid in ("gan-curves", "gan-grid", "gan-traversal", "gan-change", "gan-disc"):
        assert re.search(rf'<div class="plot" id="fig-{fid}-\d+">', html), fid
    # no ROC / confusion for a GAN, and the overview shows its scores
    assert "ROC curves" not in html and "Confusion matrix" not in html
    assert '<div class="v">6.21</div><div class="k">FCD</div>' in html
    # precision and recall are k-NN manifold scores of all samples, not macro averages
    assert '<div class="v">0.58</div><div class="k">recall (k-NN manifold)</div>' in html
    assert "macro recall" not in html and "macro precision" not in html


def test_no_external_links_and_the_class_name_is_escaped(pages: dict[str, str]) -> None:
    for html in pages.values():
        markup, rest = html.split('<script type="application/json" id="report-figures">')
        figures = rest.split("</script>", 1)[0]  # our data; Plotly's bundle follows it
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
        assert "http" not in figures
        assert XSS not in markup and "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup  # shown as text
        assert "<" not in figures and "\\u0026lt;script\\u0026gt;alert(1)" in figures


def test_no_gan_section_without_gan() -> None:
    html = render_html(fx.tabular_classification(n_local=2))
    assert 'id="gan"' not in html and "#gan" not in html


def test_malformed_gan_pieces_become_notes() -> None:
    data = fx.gan_run("image")
    data["gan"] = {
        "scores": {"test": {"fcd": "n/a"}},
        "grid": {"classes": ["a"]},
        "traversals": "oops",
        "curves": [1, 2],
    }
    figs = Figures()
    view = gan_section(data, figs)
    assert view is not None and view["grid"]["figure"] is None
    html = render_html(data)
    assert '<section id="gan">' in html and "No latent traversals were computed." in html


@pytest.mark.parametrize("modality", MODALITIES)
def test_gan_report_loads_cleanly_offline(browser: Any, tmp_path: Path, modality: str) -> None:
    path = render_report(fx.gan_run(modality, ["zero", XSS, "two"]), tmp_path / "gan.html")
    page = hc.Page(browser, path)
    try:
        time.sleep(0.2)  # an injected handler would fire right after load
        assert page.problems() == {}  # no console error, failed request or dialog
        n_plots = page.evaluate("document.querySelectorAll('#gan .plot').length")
        drawn = page.evaluate("document.querySelectorAll('#gan .plot.js-plotly-plot').length")
        assert drawn == n_plots >= 6
        box = page.evaluate(
            "(() => { const r = document.getElementById('gan').getBoundingClientRect();"
            " return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()"
        )
        assert box[2] > 500 and box[3] > 1000  # the section is laid out, not hidden
        assert XSS in page.evaluate("document.getElementById('gan').textContent")
        png = page.screenshot(tmp_path / f"gan-{modality}.png")
        clip = dict(zip(("x", "y", "width", "height"), box), scale=1)
        shot = page.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        section = base64.b64decode(shot["data"])
        assert hc.png_facts(section)[2] > 100  # the section is drawn, not one colour
        shots = Path(__file__).parents[2] / ".pytest_cache" / "screens"  # to look at by eye
        shots.mkdir(parents=True, exist_ok=True)
        (shots / f"gan-{modality}-section.png").write_bytes(section)
    finally:
        page.close()
    width, height, distinct_rows = hc.png_facts(png)
    assert (width, height) == (1280, 900) and distinct_rows > 20
