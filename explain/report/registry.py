"""The report's sections, registered by name: what each one builds and which template draws it.

A section is three things: a builder (report data in, the dict its template reads out), a
Jinja2 template, and one registration line::

    register_section(Section("costs", costs_view, "_costs.html.j2", label="Costs",
                             template_dir=Path(__file__).parent / "templates"))

The renderer calls every builder in registration order (figure element ids count in that
order) and the page shows the sections in display order (``before=`` places one before
another). A section's template reads its view as the variable named after the section, and
the page links to it as ``#<name>``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The package's own templates (the page, the shared macros, the built-in sections).
TEMPLATES = Path(__file__).parent / "templates"
#: Names the page itself uses: a section of one of these names would hide it from templates.
RESERVED = frozenset(
    {"title", "generated", "study", "sections", "figures", "failed", "figures_json", "plotly_js"}
    | {"card", "kv", "badge", "missing", "loop", "self", "caller", "varargs", "kwargs"}
)


@dataclass(frozen=True)
class Section:
    """One section of the report.

    ``build(data, figs)`` (or ``build(data)`` with ``figures=False``) returns the view its
    template reads as ``{{ <name> }}``; an exception there becomes a note on the page, not a
    failed report.
    """

    name: str  # the anchor (#name), the template's variable and the registry key
    build: Callable[..., Any]  # (ReportData, Figures) -> view; (ReportData) -> view if not figures
    template: str  # the template's file name, in templates/ or in template_dir
    label: str = ""  # the nav link's text; default: the name, capitalised
    figures: bool = True  # whether build takes the Figures registry as its second argument
    optional: bool = False  # shown (and linked) only when build returns something truthy
    noun: str = ""  # how notes and warnings name the section; default: the name
    template_dir: str | os.PathLike[str] | None = None  # where ``template`` is, if not ours

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name in RESERVED:
            raise ValueError(
                f"A report section's name must be a Python identifier that the page does not "
                f"use itself (not one of {sorted(RESERVED)}), got {self.name!r}."
            )
        if not callable(self.build):
            raise TypeError(f"Section {self.name!r}: build must be callable, got {self.build!r}.")
        if not self.template:
            raise ValueError(f"Section {self.name!r} needs a template file name.")
        if self.template_dir is not None and not Path(self.template_dir, self.template).is_file():
            raise ValueError(
                f"Section {self.name!r}: no template {self.template!r} in {self.template_dir}."
            )
        # frozen: fill the defaults that depend on the name once, here
        object.__setattr__(self, "label", self.label or self.name.replace("_", " ").capitalize())
        object.__setattr__(self, "noun", self.noun or self.name)


_BUILD: list[Section] = []  # registration order: the order builders run in
_DISPLAY: list[str] = []  # names in the order the page shows them


def register_section(section: Section, *, before: str | None = None) -> Section:
    """Add ``section`` to the report: built after every section registered so far, shown
    last or just before the section named ``before``. Returns the section."""
    known = [s.name for s in _BUILD]
    if section.name in known:
        raise ValueError(
            f"A report section named {section.name!r} is already registered; "
            f"unregister_section({section.name!r}) first to replace it."
        )
    if before is not None and before not in known:
        raise ValueError(f"before={before!r} names no registered section; known: {known}.")
    if section.template in {s.template for s in _BUILD}:
        raise ValueError(
            f"Section {section.name!r}: the template {section.template!r} already belongs to "
            "another section; give the template a name of its own."
        )
    if section.template_dir is not None and (TEMPLATES / section.template).exists():
        raise ValueError(
            f"Section {section.name!r}: {section.template!r} is the name of one of the report's "
            "own templates; rename yours."
        )
    _BUILD.append(section)
    _DISPLAY.insert(_DISPLAY.index(before) if before else len(_DISPLAY), section.name)
    return section


def unregister_section(name: str) -> Section:
    """Remove the section called ``name`` from the report; returns it."""
    for i, s in enumerate(_BUILD):
        if s.name == name:
            del _BUILD[i]
            _DISPLAY.remove(name)
            return s
    raise KeyError(f"No report section named {name!r}; known: {[s.name for s in _BUILD]}.")


def sections() -> tuple[Section, ...]:
    """The registered sections in the order the page shows them."""
    by_name = {s.name: s for s in _BUILD}
    return tuple(by_name[n] for n in _DISPLAY)


def build_order() -> tuple[Section, ...]:
    """The registered sections in the order their builders run (registration order)."""
    return tuple(_BUILD)


def template_section(template: str) -> Section | None:
    """The section that brought ``template`` in its own ``template_dir``, if any."""
    return next((s for s in _BUILD if s.template == template and s.template_dir), None)
