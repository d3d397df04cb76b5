"""The HTML report: one self-contained file from the plain report dict (see SCHEMA.md).

``render_report(data, path)`` is the entry point; the figure functions in :mod:`plots`,
:mod:`winner_plots`, :mod:`explain_plots` and :mod:`local_plots` are pure (data in, Plotly
figure dict out) so they can be tested and reused without a browser.
"""

from __future__ import annotations

from explain.report.render import render_html, render_report

__all__ = ["render_html", "render_report"]
