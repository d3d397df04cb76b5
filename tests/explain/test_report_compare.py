"""The "Across the front" section (explain/report/compare_section.py) from hand-made
comparison data: the models' table with a verdict badge per method, one global map per model in
its modality's plot type on one scale, the agreement heatmaps, the answer sentence; hidden
without a comparison, only a note when stale, and every user string escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from explain.report import render_html
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")


def comparison(modality: str = "tabular", family: str = "fnn", feature: str = "f0") -> dict:
    """Three models: the winner (90 k params), a conv model, and the smallest (8 k), which
    agrees with the winner at 0.82."""
    shape = {"tabular": [4], "image": [1, 2, 2], "sequence": [4, 3]}[modality]
    unit = {"tabular": "feature", "image": "pixel", "sequence": "step"}[modality]
    models = [
        {"rank": 1, "folder": "top/1", "trial": 6, "family": family, "params": 90818,
         "metric": "accuracy", "test": 0.9651, "checks": {"integrated_gradients": "pass",
         "shap_exact": "fail"}, "global": [0.4, 0.3, 0.2, 0.1]},
        {"rank": 2, "folder": "top/2", "trial": 3, "family": "cnn", "params": 20000,
         "metric": "accuracy", "test": 0.95, "checks": {"integrated_gradients": "warn"},
         "global": [0.1, 0.2, 0.3, 0.4]},
        {"rank": 3, "folder": "top/3", "trial": 5, "family": family, "params": 8322,
         "metric": "accuracy", "test": 0.93, "checks": {"integrated_gradients": "pass",
         "shap_exact": "pass"}, "global": [0.8, 0.1, 0.6, 0.0]},
    ]  # fmt: skip
    return {
        "method": "integrated_gradients", "methods": ["integrated_gradients"], "unit": unit,
        "modality": modality, "input_shape": shape, "feature_names": [feature, "f1", "f2", "f3"],
        "n_examples": 40, "samples": 40, "sample_indices": list(range(40)), "seed": 0,
        "checked": True, "dropped": {}, "models": models,
        "agreement": {"global": [[1.0, -0.4, 0.82], [-0.4, 1.0, None], [0.82, None, 1.0]],
                      "local": [[1.0, 0.1, 0.7], [0.1, 1.0, 0.2], [0.7, 0.2, 1.0]]},
        "families": {"names": [family, "cnn"], "global": [[0.82, -0.4], [-0.4, None]],
                     "local": [[0.7, 0.15], [0.15, None]], "pairs": [[1, 2], [2, 0]]},
    }  # fmt: skip


def page(c: dict | None) -> str:
    data = fx.tabular_classification()
    data["comparison"] = c
    return render_html(data)


def section(html: str) -> str:
    body = html[html.index('<section id="compare">') :]
    return body[: body.index("</section>")]


def figures(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="report-figures">(.*?)</script>', html, re.S)
    assert m, "no figure data in the page"
    return json.loads(m.group(1))


def test_the_section_shows_table_maps_heatmap_and_answer() -> None:
    html = page(comparison())
    assert '<a href="#compare">Across the front</a>' in html
    s = section(html)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", s))
    assert ("The smallest model (#3, fnn, 8.32k params, test accuracy 0.93) agrees with the "
            "winner (#1, 90.8k params, test accuracy 0.9651) at ρ = 0.82 on the global map of "
            "integrated_gradients: it looks at mostly the same evidence.") in text  # fmt: skip
    # the table: one row per model, a badge per method (a method a model lacks: unchecked)
    rows = re.findall(r"<tr><td>#(\d)</td>", s)
    assert rows == ["1", "2", "3"]
    assert s.count('class="mbadge mbadge-pass"') == 3 and s.count("mbadge-fail") == 1
    assert s.count("mbadge-warn") == 1 and s.count("mbadge-unchecked") == 1
    assert "90.8 k" in s and "0.9651" in s and "8.32 k" in s
    # the families: one row per pair with model pairs; the empty pair (cnn, cnn) left out
    assert "fnn vs cnn" in text and "0.15" in text and "cnn vs cnn" not in text
    figs = figures(html)
    maps = re.findall(r'id="(fig-compare-map-\d+)"', s)
    assert len(maps) == 3
    bars = [figs[f]["data"][0] for f in maps]
    assert all(b["type"] == "bar" for b in bars)
    # the same features in the same order for every model, each model scaled to its maximum
    assert [b["y"] for b in bars] == [bars[0]["y"]] * 3
    assert bars[0]["y"] == ["f3", "f1", "f2", "f0"]  # by the mean of the scaled maps, top last
    assert bars[2]["x"] == pytest.approx([0.0, 0.125, 0.75, 1.0])
    assert all(figs[f]["layout"]["xaxis"]["range"] == [0, 1.05] for f in maps)
    (heat,) = re.findall(r'id="(fig-compare-agreement-\d+)"', s)
    g, loc = figs[heat]["data"]
    assert g["type"] == loc["type"] == "heatmap"
    assert g["z"][0] == [1.0, -0.4, 0.82] and g["z"][1][2] is None  # undefined: blank
    assert figs[heat]["layout"]["coloraxis"]["cmin"] == -1
    assert g["x"] == ["#1 fnn, 90.8 k", "#2 cnn, 20 k", "#3 fnn, 8.32 k"]


@pytest.mark.parametrize(("modality", "trace"), [("image", "heatmap"), ("sequence", "scatter")])
def test_each_modality_draws_its_own_plot_type(modality: str, trace: str) -> None:
    html = page(comparison(modality))
    figs = figures(html)
    maps = re.findall(r'id="(fig-compare-map-\d+)"', section(html))
    assert len(maps) == 3 and all(figs[f]["data"][0]["type"] == trace for f in maps)
    if modality == "image":  # the 2 x 2 map of the third model, scaled to its maximum
        assert figs[maps[2]]["data"][0]["z"] == [[1.0, 0.125], [0.75, 0.0]]


def test_a_smaller_model_that_disagrees_says_so() -> None:
    c = comparison()
    c["agreement"]["global"][0][2] = c["agreement"]["global"][2][0] = 0.1
    text = re.sub(r"<[^>]+>", " ", section(page(c)))
    assert "at ρ = 0.10 on the global map" in text and "it relies on different evidence" in text


def test_hidden_without_a_comparison_and_a_note_when_stale() -> None:
    html = page(None)
    assert 'id="compare"' not in html and "Across the front" not in html
    stale = section(page({"note": "The comparison is of models no longer in top/ (top/2)."}))
    assert "no longer in top/ (top/2)" in stale and "fig-compare" not in stale


def test_hostile_strings_are_escaped() -> None:
    html = page(comparison(family=fx.XSS_IMG, feature=fx.XSS_FEATURE))
    for raw in (fx.XSS_IMG, fx.XSS_FEATURE):
        assert raw not in html
    s = section(html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in s
    figs = json.dumps(figures(html))
    assert "<img" not in figs and "<script" not in figs and "&lt;img src=x" in figs


def test_the_section_fits_a_printed_page(tmp_path: Path) -> None:
    """At a page's width under print media, nothing in the section is wider than the page,
    with five models of three methods each (the badges wrap), and the page draws cleanly."""
    from explain.report import render_report

    hc = explain_helper("headless_chromium")
    binary = hc.find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed: run scripts/install-chromium.sh to run this.")
    c = comparison()
    extra = {"integrated_gradients": "pass", "deeplift": "warn", "shap_permutation": "fail"}
    c["models"] = [
        {**c["models"][i % 3], "rank": i + 1, "family": f"family_{i}", "checks": extra}
        for i in range(5)
    ]
    c["agreement"] = {k: [[1.0] * 5 for _ in range(5)] for k in ("global", "local")}
    data = fx.tabular_classification()
    data["comparison"] = c
    (tmp_path / "profile").mkdir()
    chrome = hc.Chromium(binary, tmp_path / "profile")
    try:
        page = hc.Page(chrome, render_report(data, tmp_path / "r.html"))
        try:
            page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
            page.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": 720, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
            )
            page.emulate_media("print")
            overflow = page.evaluate(
                "Array.from(document.querySelectorAll('#compare *')).filter(e => "
                "e.getClientRects().length && e.getBoundingClientRect().right > 721)"
                ".slice(0, 5).map(e => e.tagName + '.' + (e.className.baseVal ?? e.className))"
            )
            shown = page.evaluate(
                "document.querySelector('#compare').getBoundingClientRect().height"
            )
            problems = page.problems()
        finally:
            page.close()
    finally:
        chrome.close()
    assert problems == {} and shown > 0
    assert overflow == []


def test_the_answer_words_a_negative_rho_as_disagreement() -> None:
    """/tmp/oC/p1: "agrees with the winner ... at ρ = -0.35 ...: it relies on different
    evidence", a sentence at odds with itself."""
    from explain.compare import answer

    c = comparison()
    said = {}
    for rho in (0.82, 0.5, 0.1, -0.35, None):
        c["agreement"]["global"][0][2] = c["agreement"]["global"][2][0] = rho
        said[rho] = answer(c)["sentence"]
    assert ") agrees with the winner" in said[0.82]
    assert ") partly agrees with the winner" in said[0.5]
    assert ") barely agrees with the winner" in said[0.1]
    assert ") disagrees with the winner" in said[-0.35] and " agrees with" not in said[-0.35]
    assert "at ρ = -0.35 on the global map" in said[-0.35]
    assert "it relies on different evidence" in said[-0.35]
    assert ") cannot be ranked against the winner" in said[None]


def test_a_run_explained_only_across_the_front_does_not_say_it_has_no_explanations() -> None:
    """/tmp/oC/p1 after `nas explain RUN --top 2`: the Explanations section said "This run has
    no explanations" above a section showing the winner's map."""
    import html as html_lib

    data = fx.tabular_classification()
    data["explanations"] = None
    data["comparison"] = comparison()
    html = render_html(data)
    body = html[html.index('<section id="explanations">') :]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body[: body.index("</section>")]))
    assert "This run has no explanations" not in text
    assert "The winner was explained with the rest of the front" in text
    assert "“Across the front” section" in text
    first = re.search(r'<li id="dec-explanations">(.*?)</li>', html, re.S)
    said = html_lib.unescape(first.group(1)) if first else ""
    assert said and "none for this run" not in said
    assert "the winner's global map and checks are in 'Across the front'" in said
    data["comparison"] = None  # no comparison: it has none
    html = render_html(data)
    assert "This run has no explanations" in html
