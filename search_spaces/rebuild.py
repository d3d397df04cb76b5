"""Rebuild any stored spec: an ArchSpec or a GanSpec, told apart by its JSON ``type``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from search_spaces.build import build_model
from search_spaces.errors import SpecError
from search_spaces.gan import GanSpec, build_gan, spec_from_dict, spec_from_json
from search_spaces.spec import ArchSpec

# The builder of each spec type; a new spec type adds one entry.
BUILDERS: dict[type, Callable[[Any], Any]] = {ArchSpec: build_model, GanSpec: build_gan}


def build_spec(spec: Any) -> Any:
    """The untrained module of ``spec`` (``build_model`` or ``build_gan``)."""
    builder = BUILDERS.get(type(spec))
    if builder is None:
        raise SpecError(
            f"Cannot build a {type(spec).__name__}; known spec types: "
            f"{', '.join(t.__name__ for t in BUILDERS)}."
        )
    return builder(spec)


__all__ = ["BUILDERS", "build_spec", "spec_from_dict", "spec_from_json"]
