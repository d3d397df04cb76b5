"""Render the report dict (SCHEMA.md) to one self-contained HTML file."""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from explain.report import (
    builtin,  # noqa: F401  (importing it registers the report's sections)
    registry,
    sections,
)
from explain.report._format import script_json
from explain.report.registry import TEMPLATES
from explain.report.schema import ReportData

_LINK_IN_JS = re.compile(r"""((?:src|href)=["'])(https?)://""")
# plotly.js's cartesian partial bundle (npm plotly.js-cartesian-dist-min; vendor/README.md): the
# trace types the report draws (scatter, bar, heatmap, box, histogram, contour, image, violin,
# pie, ...) in 1.5 MB instead of the full bundle's 4.8 MB.
VENDORED_BUNDLE = Path(__file__).with_name("vendor") / "plotly-cartesian.min.js"
_BUNDLE_VERSION = re.compile(r"\A/\*\*\s*\*\s*plotly\.js \(cartesian - minified\) v(\S+)\s")


def bundle_version(js: str) -> str | None:
    """The plotly.js version a vendored cartesian bundle names in its header comment."""
    m = _BUNDLE_VERSION.match(js)
    return m.group(1) if m else None


def plotly_bundle() -> tuple[str, str]:
    """(name, source) of the plotly.js the report inlines: the vendored cartesian bundle when
    it is there and the same plotly.js version as plotly.py's, else plotly.py's full bundle
    (with a warning: the report is then about 3 MB larger, never broken)."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    wanted = get_plotlyjs_version()
    try:
        js = VENDORED_BUNDLE.read_text(encoding="utf-8")
    except OSError as exc:
        problem = f"it cannot be read ({exc})"
    else:
        found = bundle_version(js)
        if found == wanted:
            return f"plotly.js {found} (cartesian)", js
        problem = f"it is plotly.js {found or 'of an unknown version'}, plotly.py ships {wanted}"
    warnings.warn(
        f"report: the vendored Plotly bundle {VENDORED_BUNDLE} is not used: {problem}; "
        f"inlining plotly.py's full bundle instead (about 3 MB more per report). "
        f"Run scripts/update-plotly-bundle.sh to vendor plotly.js {wanted}.",
        RuntimeWarning,
        stacklevel=2,
    )
    return f"plotly.js {wanted} (full)", get_plotlyjs()


@functools.lru_cache(maxsize=1)
def plotly_js() -> Markup:
    """The plotly.js bundle (plotly_bundle()), once per process, ready to inline in a
    ``<script>``."""
    _, js = plotly_bundle()
    # Plotly's bundle holds a few attribution links as JS string literals (its logo, map tile
    # credits) that no report ever loads. Written with an escaped slash (`https:\/\/`, the same
    # string in JS) they no longer read as `href="https://..."` to tools that scan the HTML.
    js = _LINK_IN_JS.sub(r"\1\2:\\/\\/", js)
    if "</script" in js.lower():  # would end our <script> early; never the case in a release
        raise RuntimeError("plotly.js contains '</script'; it cannot be inlined safely.")
    return Markup(js)


class _SectionTemplates(jinja2.BaseLoader):
    """Templates that sections registered from outside the package bring in their own folder
    (``Section.template_dir``); found while their section is registered."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        section = registry.template_section(template)
        if section is None or section.template_dir is None:
            raise jinja2.TemplateNotFound(template)
        folder = jinja2.FileSystemLoader(os.fspath(section.template_dir))
        source, filename, fresh = folder.get_source(environment, template)

        def uptodate() -> bool:  # stale once the section is unregistered or its file changes
            return registry.template_section(template) is section and (fresh is None or fresh())

        return source, filename, uptodate


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment: templates shipped with the package, then those registered
    sections bring in their own folder; autoescape always on."""
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(TEMPLATES)), _SectionTemplates()]),
        autoescape=True,  # every value from the data is escaped unless marked safe here
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def build_context(data: ReportData) -> dict[str, Any]:
    """Everything the template reads, figures included (as JSON-able dicts under element ids):
    each registered section's view under its name, and the sections to show, in page order."""
    if not isinstance(data, Mapping):
        raise TypeError(
            f"render_report needs the report dict of explain/report/SCHEMA.md, got "
            f"{type(data).__name__}; build it with nas.reporting.collect(run_dir)."
        )
    run = data.get("run")
    if not isinstance(run, Mapping):
        raise ValueError(
            "The report dict has no 'run' mapping (run.json): it is the one required key of "
            "explain/report/SCHEMA.md; build the dict with nas.reporting.collect(run_dir)."
        )
    figs = sections.Figures()
    study = str(run.get("study") or "")
    views: dict[str, Any] = {}
    for s in registry.build_order():  # figure ids count figures in the order they are added
        views[s.name] = _section(s.noun, s.build, *((data, figs) if s.figures else (data,)))
    return {
        "title": str(data.get("title") or f"nas report: {study or 'run'}"),
        "generated": str(data.get("generated") or ""),
        "study": study or "–",
        **views,
        "sections": [s for s in registry.sections() if views[s.name] or not s.optional],
        "figures": figs.figures,
        "failed": figs.failed,
    }


def _section(name: str, build: Callable[..., Any], *args: Any) -> Any:
    """One section's view model; data the section cannot read becomes a note, not a crash."""
    try:
        return build(*args)
    except Exception as exc:  # one odd field must not cost the reader the other sections
        warnings.warn(f"report: the {name} section failed: {exc!r}", RuntimeWarning, stacklevel=2)
        return {"error": f"The {name} section could not be built from the data ({exc})."}


def render_html(data: ReportData) -> str:
    """The report as an HTML string."""
    context = build_context(data)
    template = environment().get_template("report.html.j2")
    return template.render(
        **context,
        figures_json=script_json(context["figures"]),
        plotly_js=plotly_js(),
    )


def render_report(data: ReportData, path: str | os.PathLike[str]) -> Path:
    """Write the report for ``data`` (a dict per explain/report/SCHEMA.md) to ``path`` as one
    self-contained ``.html`` file (Plotly inlined once, nothing fetched); returns the path.

    A directory ``path`` gets ``report.html`` inside it. Missing pieces of ``data`` (no
    explanations, no ROC curves, ...) are shown as short notes, not errors.
    """
    out = Path(path)
    if out.is_dir():
        out = out / "report.html"
    html = render_html(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)  # a reader (or a browser reload) never sees half a report
    return out
