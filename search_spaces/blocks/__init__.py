"""The block registry. Importing this package registers every block family."""

from __future__ import annotations

import re
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


def describe_block(block: Any, details: bool = True) -> str:
    """A short human label for a BlockSpec, e.g. ``conv2d(32,k3,gelu,bn,maxpool)``.

    With ``details`` the label also names what the block's own label leaves out and a reader
    rebuilding it by hand would miss: its normalisation (``bn`` / ``ln``), an activation the
    label does not show, and dropout (``drop0.1``, two significant figures). ``details=False``
    gives the label alone, as nas wrote summaries before 2026-12-07 (``best/metrics.json`` of
    older runs records that)."""
    kind = get_block(block.kind)
    params: Mapping[str, Any] = block.params
    try:
        full = {n: params.get(n, r.default) for n, r in kind.params.items()}
        if kind.describe is not None and all(v is not ... for v in full.values()):
            label = kind.describe(full)
            extra = _details(label, full) if details else []
            if extra and label.endswith(")"):
                return f"{label[:-1]},{','.join(extra)})"
            return f"{label}[{','.join(extra)}]" if extra else label
    except (KeyError, TypeError, ValueError):
        pass
    return kind.name.rsplit(".", 1)[0]


_NORM_LABEL = {"batch": "bn", "layer": "ln", "group": "gn", "instance": "in"}


def _details(label: str, p: Mapping[str, Any]) -> list[str]:
    """What ``label`` does not say of the parameters every reader needs: normalisation, the
    activation, dropout (by their conventional names, whichever block declares them)."""
    shown = set(re.split(r"[^A-Za-z0-9_.]+", label))
    extra: list[str] = []
    act = p.get("activation")  # a head's applies to its hidden layer only
    if isinstance(act, str) and act not in shown and p.get("hidden") != 0:
        extra.append(act)
    norm = p.get("norm")
    if isinstance(norm, str) and norm not in ("none", *shown):
        extra.append(_NORM_LABEL.get(norm, norm))
    if p.get("batch_norm") is True:
        extra.append("bn")
    drop = p.get("dropout")
    if isinstance(drop, int | float) and not isinstance(drop, bool) and drop > 0:
        extra.append(f"drop{drop:.2g}")
    return extra


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
