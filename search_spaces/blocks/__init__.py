"""The block registry. Importing this package registers every block family."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search_spaces.blocks import (  # noqa: F401 (registers)
    adapters,
    attention,
    conv,
    dense,
    generative,
    recurrent,
)
from search_spaces.blocks._base import (
    ACTIVATIONS,
    LAYOUTS,
    BlockKind,
    Param,
    Shape,
    get_block,
    known_kinds,
    register,
)
from search_spaces.blocks.adapters import adapter_path, head_kind
from search_spaces.blocks.capabilities import Capabilities, capabilities_of


def describe_block(block: Any) -> str:
    """A short human label for a BlockSpec, e.g. ``conv2d(32,k3,maxpool)``."""
    kind = get_block(block.kind)
    params: Mapping[str, Any] = block.params
    try:
        full = {n: params.get(n, r.default) for n, r in kind.params.items()}
        if kind.describe is not None and all(v is not ... for v in full.values()):
            return kind.describe(full)
    except (KeyError, TypeError, ValueError):
        pass
    return kind.name.rsplit(".", 1)[0]


__all__ = [
    "ACTIVATIONS",
    "LAYOUTS",
    "BlockKind",
    "Capabilities",
    "Param",
    "Shape",
    "adapter_path",
    "capabilities_of",
    "describe_block",
    "get_block",
    "head_kind",
    "known_kinds",
    "register",
]
