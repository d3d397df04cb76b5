"""The HTML report: one self-contained file from the plain report dict (see SCHEMA.md, typed in
:mod:`schema`).

``render_report(data, path)`` is the entry point. The page is a list of registered sections
(:mod:`registry`; the report's own are in :mod:`builtin`): a new one is a builder, a template
and one ``register_section(Section(...))`` line. The figure functions in :mod:`plots`,
:mod:`winner_plots`, :mod:`explain_plots`, :mod:`local_plots` and :mod:`gan_plots` are pure
(data in, Plotly figure dict out) so they can be tested and reused without a browser.
"""

from __future__ import annotations

from explain.report.registry import Section, register_section, unregister_section
from explain.report.render import render_html, render_report
from explain.report.schema import ReportData

__all__ = [
    "ReportData",
    "Section",
    "register_section",
    "render_html",
    "render_report",
    "unregister_section",
]
