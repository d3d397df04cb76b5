"""The report's own sections, registered in the order their builders run.

Figure element ids (``fig-<name>-<n>``) count figures in build order, so the order here is
part of the page; the GAN section is shown before the explanations but built after them.
"""

from __future__ import annotations

from explain.report import sections
from explain.report.compare_section import compare
from explain.report.explain_section import explanations
from explain.report.gan_section import gan
from explain.report.registry import Section, register_section
from explain.report.search_section import search
from explain.report.winner_section import winner

register_section(Section("overview", sections.overview, "_overview.html.j2", figures=False))
register_section(Section("search", search, "_search.html.j2"))
register_section(Section("winner", winner, "_winner.html.j2", label="The winner"))
register_section(Section("explanations", explanations, "_explanations.html.j2"))
register_section(
    Section("gan", gan, "_gan.html.j2", label="GAN", noun="GAN", optional=True),
    before="explanations",
)
register_section(
    Section("compare", compare, "_compare.html.j2", label="Across the front", optional=True)
)
register_section(Section("reproduce", sections.reproduce, "_reproduce.html.j2", figures=False))
