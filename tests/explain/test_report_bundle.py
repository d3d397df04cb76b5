"""The plotly.js the report inlines: the vendored cartesian partial bundle (a third of the full
one), pinned by sha256, shipped with the package, registering every trace type the report draws,
and replaced by plotly.py's full bundle, with a warning, when it is missing or of another
version."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from explain.report import render, render_html
from tests.conftest import explain_helper

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


fx = explain_helper("report_fixtures")
hc = explain_helper("headless_chromium")

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "explain" / "report" / "vendor"
BUNDLE = VENDOR / "plotly-cartesian.min.js"
MB = 1024 * 1024
# A trace module registers itself in a plotly.js bundle with this literal (minified or not).
_REGISTERED = re.compile(r'moduleType:\s*"trace",\s*name:\s*"(\w+)"')
# Where the report's Python (and JS) code names a trace type: a figure dict's "type", a
# keyword type=..., or a plotly.graph_objects class (go.Bar(...)).
_TYPE_IN_SOURCE = re.compile(r"""["']?\btype["']?\s*[:=]\s*["'](\w+)["']|\bgo\.([A-Z]\w*)\(""")


def fixture_reports() -> dict[str, dict[str, Any]]:
    """Every report the fixtures can build: each modality, GANs of each modality, bare, hostile."""
    reports = {name: build() for name, build in fx.ALL.items()}
    reports.update(bare=fx.bare(), hostile=fx.hostile())
    for modality in ("image", "sequence", "tabular"):
        reports[f"gan-{modality}"] = fx.gan_run(modality)
    return reports


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return {name: render_html(data) for name, data in fixture_reports().items()}


def all_trace_types() -> set[str]:
    """Every trace type plotly.js has: the ones plotly.py's full bundle registers."""
    return set(_REGISTERED.findall(get_plotlyjs()))


def registered(js: str) -> set[str]:
    """The trace types a bundle registers, read from its source."""
    return set(_REGISTERED.findall(js))


def figure_trace_types(html: str) -> dict[str, set[str]]:
    """Trace type -> the figure ids that draw it, from a page's figure JSON (no ``type`` is
    Plotly's default, scatter)."""
    m = re.search(r'<script type="application/json" id="report-figures">(.*?)</script>', html, re.S)
    assert m, "no figure data in the page"
    out: dict[str, set[str]] = {}
    for fid, fig in json.loads(m.group(1)).items():
        for trace in fig.get("data", []):
            out.setdefault(trace.get("type", "scatter"), set()).add(fid)
    return out


def source_trace_types() -> dict[str, list[str]]:
    """Trace type -> ``file:line`` where the report's code names it, over explain/ (the figure
    builders) and the page's scripts; names that are not trace types (axis ``type="log"``,
    ``"buttons"``) are left out."""
    known = all_trace_types()
    files = [
        *sorted((ROOT / "explain").rglob("*.py")),
        *sorted(VENDOR.parent.glob("templates/*.js")),
    ]
    out: dict[str, list[str]] = {}
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for literal, go_class in _TYPE_IN_SOURCE.findall(line):
                name = literal or go_class.lower()
                if name in known:
                    out.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{n}")
    return out


def used_trace_types(pages: dict[str, str]) -> dict[str, list[str]]:
    """Every trace type the report uses, with where: the fixture reports' figures and the code."""
    used: dict[str, list[str]] = {}
    for name, html in pages.items():
        for kind, fids in figure_trace_types(html).items():
            used.setdefault(kind, []).append(f"{name} report: {', '.join(sorted(fids)[:3])}")
    for kind, where in source_trace_types().items():
        used.setdefault(kind, []).extend(where)
    return used


def missing_from(bundle_types: set[str], used: dict[str, list[str]]) -> dict[str, list[str]]:
    return {kind: where for kind, where in sorted(used.items()) if kind not in bundle_types}


# --- what is vendored ------------------------------------------------------------------------


def test_the_vendored_bundle_is_the_pinned_npm_file() -> None:
    data = BUNDLE.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    script = (ROOT / "scripts" / "update-plotly-bundle.sh").read_text(encoding="utf-8")
    version = render.bundle_version(data.decode("utf-8"))
    assert version == get_plotlyjs_version(), "run scripts/update-plotly-bundle.sh"
    assert f"`plotly.js-cartesian-dist-min@{version}`" in readme
    assert digest in readme, f"vendor/README.md does not name the file's sha256 {digest}"
    assert f"{version}) echo {digest} ;;" in script, "the update script's known_sha256 disagrees"
    assert f"{len(data):,} bytes" in readme
    assert "MIT License" in (VENDOR / "LICENSE").read_text(encoding="utf-8")
    assert len(data) < len(get_plotlyjs()) / 3  # the point: a third of the full one


def test_the_vendored_files_are_package_data() -> None:
    """pyproject.toml ships vendor/ in the wheel: its patterns, relative to the package
    directory as setuptools reads them, match the bundle and its licence."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["explain.report"]
    package = ROOT / "explain" / "report"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert {BUNDLE, VENDOR / "LICENSE", VENDOR / "README.md"} <= shipped


def test_the_report_inlines_the_cartesian_bundle_without_a_warning(pages: dict[str, str]) -> None:
    render.plotly_js.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a fallback to the full bundle warns
            name, js = render.plotly_bundle()
            html = render_html(fx.regression())
    finally:
        render.plotly_js.cache_clear()
    assert name == f"plotly.js {get_plotlyjs_version()} (cartesian)"
    assert js == BUNDLE.read_text(encoding="utf-8")
    header = f"plotly.js (cartesian - minified) v{get_plotlyjs_version()}"
    full_header = f"* plotly.js v{get_plotlyjs_version()}"
    for page, text in {"regression": html, **pages}.items():
        assert text.count(header) == 1, page
        assert full_header not in text, f"{page}: the full bundle is inlined"
        assert 'window.PlotlyConfig = {MathJaxConfig: "local"}' in text
        assert not re.search(r"""(?:src|href)=["']https?://""", text), page


@pytest.fixture
def vendored_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the renderer at another vendored file for one test; the cache is fresh on both
    sides."""

    def point(path: Path) -> None:
        monkeypatch.setattr(render, "VENDORED_BUNDLE", path)
        render.plotly_js.cache_clear()

    yield point
    monkeypatch.undo()
    render.plotly_js.cache_clear()


@pytest.mark.parametrize("case", ["missing", "other-version", "not-a-bundle"])
def test_falls_back_to_the_full_bundle_with_a_warning(
    vendored_at: Any, tmp_path: Path, case: str
) -> None:
    path = tmp_path / "plotly-cartesian.min.js"
    real = BUNDLE.read_text(encoding="utf-8")
    if case == "other-version":
        path.write_text(real.replace(f"v{get_plotlyjs_version()}\n", "v0.0.1\n", 1), "utf-8")
        reason = "it is plotly.js 0.0.1"
    elif case == "not-a-bundle":
        path.write_text("window.Plotly = {};", encoding="utf-8")
        reason = "of an unknown version"
    else:
        reason = "cannot be read"
    vendored_at(path)
    with pytest.warns(RuntimeWarning, match=f"not used: .*{reason}.*full bundle"):
        html = render_html(fx.regression())
    js = str(render.plotly_js())
    assert len(js) > 4 * MB and js.startswith(f"/**\n* plotly.js v{get_plotlyjs_version()}")
    assert html.count(js[:300]) == 1 and "(cartesian - minified)" not in html
    # The full bundle gets the same treatment: its attribution links escaped, nothing remote.
    assert not re.search(r"""(?:src|href)=["']https?://""", html)
    assert re.search(r"""(?:src|href)=["']https?:\\/\\/""", js)


def test_a_bundle_that_would_end_the_script_is_refused(vendored_at: Any, tmp_path: Path) -> None:
    path = tmp_path / "plotly-cartesian.min.js"
    path.write_text(BUNDLE.read_text(encoding="utf-8") + "\n//</SCRIPT>", encoding="utf-8")
    vendored_at(path)
    with pytest.raises(RuntimeError, match="</script"):
        render.plotly_js()


# --- every trace type the report draws is in it ----------------------------------------------


def test_every_trace_type_the_report_uses_is_in_the_bundle(pages: dict[str, str]) -> None:
    used = used_trace_types(pages)
    # The collection itself works: the fixtures draw at least these, the code names them.
    assert {"scatter", "bar", "heatmap"} <= set(used)
    assert {"scatter", "bar", "heatmap"} <= set(source_trace_types())
    missing = missing_from(registered(BUNDLE.read_text(encoding="utf-8")), used)
    assert missing == {}, (
        f"trace types the report uses but plotly-cartesian.min.js lacks: {missing}; draw them "
        "with scatter, bar, heatmap, box, histogram, contour, image, violin or pie"
    )


def test_the_check_catches_a_trace_type_outside_the_bundle(pages: dict[str, str]) -> None:
    """A negative control: take one used type out of the bundle's list, or add a figure of a
    type the bundle lacks (a waterfall), and the check names it and where it is used."""
    used = used_trace_types(pages)
    bundle_types = registered(BUNDLE.read_text(encoding="utf-8"))
    assert set(missing_from(bundle_types - {"bar"}, used)) == {"bar"}
    assert "waterfall" in all_trace_types() - bundle_types
    used["waterfall"] = ["explain/report/new_plot.py:1"]
    assert missing_from(bundle_types, used) == {"waterfall": ["explain/report/new_plot.py:1"]}
    # ... and so does the source scan, for a trace named only in code.
    line = 'fig = {"data": [{"type": "waterfall", "x": xs}]}; go.Funnel(x=1); ax(type="log")'
    found = [a or b.lower() for a, b in _TYPE_IN_SOURCE.findall(line)]
    assert [t for t in found if t in all_trace_types()] == ["waterfall", "funnel"]


def test_the_browser_registers_every_trace_type_the_report_uses(
    browser: Any, pages: dict[str, str], tmp_path: Path
) -> None:
    """The honest check: load the inlined bundle in Chromium and ask plotly.js itself
    (``Plotly.PlotSchema``) which traces it can draw; then draw one figure of each used type
    and see plotly.js give it its trace module."""
    used = used_trace_types(pages)
    page_file = tmp_path / "bundle.html"

    def trace(kind: str) -> dict[str, Any]:  # a small valid trace of any cartesian kind
        if kind == "image":
            return {"type": kind, "z": [[[255, 0, 0], [0, 0, 255]]]}
        if kind == "pie":
            return {"type": kind, "values": [1, 2], "labels": ["a", "b"]}
        return {"type": kind, "x": [1, 2], "y": [3, 4], "z": [[1, 2], [3, 4]]}

    figures = {k: {"data": [trace(k)]} for k in sorted(used)}
    page_file.write_text(
        "<!DOCTYPE html><html><body><div id='plot'></div>"
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
        f"<script>{render.plotly_js()}</script><script>"
        f"var figures = {json.dumps(figures)}, drawn = {{}}, gd = document.getElementById('plot');"
        "Object.keys(figures).reduce(function (p, k) { return p.then(function () {"
        "  return Plotly.react(gd, figures[k].data, {}).then(function () {"
        "    drawn[k] = gd._fullData.map(function (t) { return t._module ? t.type : null; });"
        "  }); }); }, Promise.resolve()).then(function () {"
        "  document.body.setAttribute('data-plots-ready', '1'); });"
        "</script></body></html>",
        encoding="utf-8",
    )
    page = hc.Page(browser, page_file)
    try:
        assert page.problems() == {}
        version = page.evaluate("Plotly.version")
        in_browser = set(page.evaluate("Object.keys(Plotly.PlotSchema.get().traces)"))
        drawn = page.evaluate("drawn")
    finally:
        page.close()
    assert version == get_plotlyjs_version()
    assert in_browser == registered(BUNDLE.read_text(encoding="utf-8"))  # the static read agrees
    assert missing_from(in_browser, used) == {}
    assert drawn == {k: [k] for k in sorted(used)}, "a used trace type got no trace module"
    assert "waterfall" not in in_browser  # the check can fail: a type the bundle lacks


# --- size ------------------------------------------------------------------------------------


def test_each_fixture_report_is_under_1_8_mb(pages: dict[str, str]) -> None:
    """The committed examples (reports/examples/) are the fixtures' size: ~1.6 MB, was ~5."""
    sizes = {name: len(html.encode("utf-8")) for name, html in pages.items()}
    over = {name: f"{size / MB:.2f} MB" for name, size in sizes.items() if size > 1.8 * MB}
    assert over == {}
    assert min(sizes.values()) > len(BUNDLE.read_bytes())  # the bundle is in every one
