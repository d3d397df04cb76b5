"""Search kinds: a strategy per kind of search (``classifier``, ``gan``), registered by name.

A new kind is one package with a :class:`SearchKind` subclass and one ``register_kind`` call;
the built-in kinds register on import of this package.
"""

from __future__ import annotations

from nas.gan.kind import GanKind
from nas.kinds._base import FinalModel, SearchKind, TrialFunction
from nas.kinds.classifier import CLASSIFIER, ClassifierKind
from nas.kinds.registry import (
    DEFAULT_KIND,
    get_kind,
    kind_for_space,
    known_kinds,
    register_kind,
    unregister_kind,
)

__all__ = [
    "CLASSIFIER",
    "DEFAULT_KIND",
    "ClassifierKind",
    "FinalModel",
    "GanKind",
    "SearchKind",
    "TrialFunction",
    "get_kind",
    "kind_for_space",
    "known_kinds",
    "register_kind",
    "unregister_kind",
]
