"""Reading whichever spec a run directory's spec.json holds: an ArchSpec or a GanSpec."""

from __future__ import annotations

from collections.abc import Mapping

from search_spaces.gan.spec import GanSpec, _loads
from search_spaces.spec import JSON, ArchSpec


def spec_from_dict(data: Mapping[str, JSON]) -> ArchSpec | GanSpec:
    """An ArchSpec or, for ``"type": "gan"``, a GanSpec (what a run directory's spec.json holds)."""
    is_gan = isinstance(data, Mapping) and data.get("type") == "gan"
    return GanSpec.from_dict(data) if is_gan else ArchSpec.from_dict(data)


def spec_from_json(text: str) -> ArchSpec | GanSpec:
    """:func:`spec_from_dict` of a JSON text."""
    return spec_from_dict(_loads(text))


__all__ = ["spec_from_dict", "spec_from_json"]
