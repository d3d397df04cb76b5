"""The report's sections are a registry: a new section (a builder, a template in its own folder,
one registration line) shows in the nav and the body, goes away when unregistered, and a builder
that fails becomes a note while the other sections still render."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from explain.report import Section, register_section, render_html, unregister_section
from explain.report import registry as reg
from explain.report.schema import ReportData
from explain.report.sections import Figures, panel
from tests.conftest import explain_helper

fx = explain_helper("report_fixtures")
BUILTIN = ("overview", "search", "winner", "explanations", "reproduce")
TOY_TEMPLATE = """{% from "_macros.html.j2" import card with context %}
<section id="toy">
  <h2>Toy</h2>
  {% if toy.error %}<div class="card"><p class="note">{{ toy.error }}</p></div>{% else %}
  <p class="toy-text">{{ toy.text }}</p>
  {{ card(toy.panel) }}
  {% endif %}
</section>
"""


def toy_view(data: ReportData, figs: Figures) -> dict[str, Any]:
    """A section that reads the study and draws one figure."""
    figure = {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {}}
    return {
        "text": f"toy of {data['run'].get('study')}",
        "panel": panel("Toy figure", "Two bars.", figs.add("toy", lambda: figure)),
    }


def failing_view(data: ReportData, figs: Figures) -> dict[str, Any]:
    raise RuntimeError("toy boom")


@pytest.fixture
def toy_dir(tmp_path: Path) -> Path:
    (tmp_path / "_toy.html.j2").write_text(TOY_TEMPLATE, encoding="utf-8")
    return tmp_path


@pytest.fixture
def registered(toy_dir: Path) -> Iterator[Any]:
    """``add(build, **kw)`` registers the toy section; it is always unregistered afterwards."""
    names: list[str] = []

    def add(build: Any = toy_view, before: str | None = None, **kw: Any) -> Section:
        kw.setdefault("template_dir", toy_dir)
        section = register_section(Section("toy", build, "_toy.html.j2", **kw), before=before)
        names.append(section.name)
        return section

    yield add
    for name in names:
        if name in [s.name for s in reg.sections()]:
            unregister_section(name)


def nav(html: str) -> list[str]:
    block = html.split('<nav class="side"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="#(\w+)">', block)


def section_ids(html: str) -> list[str]:
    main = html.split("<main>", 1)[1].split("</main>", 1)[0]
    return re.findall(r'<section id="(\w+)">', main)


def figures(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="report-figures">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def test_the_report_sections_are_registered_in_build_and_display_order() -> None:
    assert [s.name for s in reg.build_order()] == [
        "overview",
        "search",
        "winner",
        "explanations",
        "gan",
        "compare",
        "reproduce",
    ]
    assert [s.name for s in reg.sections()] == [
        "overview",
        "search",
        "winner",
        "gan",
        "explanations",
        "compare",
        "reproduce",
    ]
    gan = next(s for s in reg.sections() if s.name == "gan")
    assert gan.optional and gan.label == "GAN" and gan.noun == "GAN"


def test_a_registered_section_shows_in_nav_and_body_and_unregistering_removes_it(
    registered: Any,
) -> None:
    data = fx.regression()
    before = render_html(data)
    section = registered(label="Toy things")
    assert section.label == "Toy things" and section in reg.sections()
    html = render_html(data)
    assert nav(html) == [*BUILTIN, "toy"] and section_ids(html) == [*BUILTIN, "toy"]
    assert '<a href="#toy">Toy things</a>' in html
    assert '<p class="toy-text">toy of diabetes-auto</p>' in html
    toy_figs = [f for f in figures(html) if f.startswith("fig-toy-")]
    assert len(toy_figs) == 1 and f'<div class="plot" id="{toy_figs[0]}"></div>' in html
    # built after every built-in section: their figure ids do not move
    assert set(figures(before)) == set(figures(html)) - set(toy_figs)

    assert unregister_section("toy") is section
    assert "toy" not in [s.name for s in reg.sections()]
    assert render_html(data) == before  # byte for byte


def test_before_places_the_section_in_the_page_not_in_the_build(registered: Any) -> None:
    data = fx.bare()
    registered(before="winner")
    html = render_html(data)
    assert nav(html) == ["overview", "search", "toy", "winner", "explanations", "reproduce"]
    assert section_ids(html) == nav(html)
    assert [s.name for s in reg.build_order()][-1] == "toy"


def test_a_failing_builder_becomes_a_note_and_the_rest_renders(registered: Any) -> None:
    registered(failing_view)
    with pytest.warns(RuntimeWarning, match="the toy section failed"):
        html = render_html(fx.tabular_classification(n_local=2))
    assert "The toy section could not be built from the data (toy boom)." in html
    assert section_ids(html) == [*BUILTIN, "toy"] and nav(html) == [*BUILTIN, "toy"]
    assert "Leaderboard" in html and "Quality checks" in html  # the others are whole
    assert len(figures(html)) >= 9


def test_an_optional_section_shows_only_when_it_has_something(registered: Any) -> None:
    seen: list[Any] = []

    def maybe(data: ReportData) -> dict[str, Any] | None:  # figures=False: data only
        seen.append(data)
        if not data.get("verdict"):
            return None
        return {"text": data["verdict"], "panel": panel("Toy figure", "None.")}

    registered(maybe, optional=True, figures=False, noun="toy extra")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        absent = render_html(fx.bare())
        present = render_html(fx.regression())
    assert "#toy" not in absent and 'id="toy"' not in absent
    assert nav(present)[-1] == "toy" and section_ids(present)[-1] == "toy"
    assert "Nothing to show." in present and len(seen) == 2


def test_registration_errors_say_what_to_fix(toy_dir: Path, registered: Any) -> None:
    def make(name: str = "toy", template: str = "_toy.html.j2", **kw: Any) -> Section:
        return Section(name, toy_view, template, template_dir=toy_dir, **kw)

    for bad in ("figures", "my-section", "title", ""):
        with pytest.raises(ValueError, match="identifier"):
            make(bad)
    with pytest.raises(ValueError, match="no template"):
        make(template="_missing.html.j2")
    with pytest.raises(TypeError, match="callable"):
        Section("toy", "not a function", "_toy.html.j2", template_dir=toy_dir)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="before='nowhere'"):
        register_section(make(), before="nowhere")
    registered()
    with pytest.raises(ValueError, match="already registered"):
        register_section(make())
    with pytest.raises(ValueError, match="already belongs"):
        register_section(make("toy2"))
    (toy_dir / "_macros.html.j2").write_text("shadow", encoding="utf-8")
    with pytest.raises(ValueError, match="report's own templates"):
        register_section(make("toy3", "_macros.html.j2"))
    with pytest.raises(KeyError, match="No report section named 'nothing'"):
        unregister_section("nothing")
    assert [s.name for s in reg.build_order()].count("toy") == 1


def test_a_replaced_section_renders_with_its_new_template(
    registered: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    registered()
    assert '<p class="toy-text">toy of iris-auto</p>' in render_html(fx.bare())
    unregister_section("toy")
    other = tmp_path_factory.mktemp("other-toy")
    (other / "_toy.html.j2").write_text('<section id="toy">{{ toy.text | upper }}</section>\n')
    registered(template_dir=other)
    html = render_html(fx.bare())  # the cached template of the first toy is stale now
    assert '<section id="toy">TOY OF IRIS-AUTO</section>' in html and "toy-text" not in html


def test_the_search_card_names_the_pruner_the_search_ran() -> None:
    """nas.study.make_pruner: a study of a metric and costs runs Pareto-rank halving whatever
    pruner was named (the card had said "hyperband"); with faithfulness or one epoch, none."""
    from explain.report.sections import _pruner

    run = {"pruner": "hyperband", "objectives": ["accuracy"], "epochs": 20}
    assert _pruner(run) == "hyperband"
    assert _pruner({**run, "objectives": ["accuracy", "flops"]}).startswith(
        "Pareto-rank halving (asked: hyperband")  # fmt: skip
    assert _pruner({**run, "objectives": ["accuracy", "faithfulness"]}).startswith("none (asked")
    assert _pruner({**run, "epochs": 1}).startswith("none (asked: hyperband; one epoch")
    assert _pruner({**run, "pruner": "none", "objectives": ["accuracy", "params"]}) == "none"
