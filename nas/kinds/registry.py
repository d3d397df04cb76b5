"""The search kinds, registered by name; the one place that maps a space to its kind."""

from __future__ import annotations

from nas.errors import NasError, UnknownNameError
from nas.kinds._base import SearchKind
from search_spaces import extensions

DEFAULT_KIND = "classifier"  # supervised search (classification and regression)
_KINDS: dict[str, SearchKind] = {}


def register_kind(kind: SearchKind) -> SearchKind:
    """Add ``kind`` under ``kind.name`` (a new name, or the same object again)."""
    old = _KINDS.get(kind.name)
    if old is not None and old is not kind:
        raise NasError(f"A search kind named {kind.name!r} is registered already.")
    _KINDS[kind.name] = kind
    extensions.note("kind", kind.name, kind)
    return kind


def unregister_kind(name: str) -> None:
    """Remove a registered kind (tests add toy kinds and take them away)."""
    _KINDS.pop(name, None)
    extensions.forget("kind", name)


def known_kinds() -> list[str]:
    """The registered kinds' names."""
    return list(_KINDS)


def get_kind(name: str) -> SearchKind:
    """The registered kind ``name``, or NasError listing the known ones."""
    return extensions.look_up(_KINDS, name, "kind", UnknownNameError)


def kind_for_space(space_name: str) -> SearchKind:
    """The kind a space implies: the one that claims it, else the default kind."""
    for kind in _KINDS.values():
        if space_name in kind.spaces:
            return kind
    return get_kind(DEFAULT_KIND)


__all__ = [
    "DEFAULT_KIND",
    "get_kind",
    "kind_for_space",
    "known_kinds",
    "register_kind",
    "unregister_kind",
]
