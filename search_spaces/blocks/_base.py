"""The block registry: versioned block kinds, their parameter rules, and tensor layouts.

A block builder takes the incoming :class:`Shape` (per example, no batch dim) and its validated
params and returns ``(module, outgoing_shape)``. Shapes are inferred statically: no forward pass.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from search_spaces import extensions
from search_spaces.blocks.capabilities import UNKNOWN, Capabilities
from search_spaces.errors import SpecError, UnknownBlockError
from search_spaces.validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_type,
    describe_choices,
    describe_range,
)

# Tensor layouts a block can consume or produce (per example, batch dim omitted):
#   vec    (F,)        features
#   seq    (T, D)      steps first, D features per step (batch_first RNN / transformer layout)
#   grid1d (C, L)      channels first, for Conv1d
#   grid2d (C, H, W)   channels first, for Conv2d
LAYOUTS = ("vec", "seq", "grid1d", "grid2d")
_RANK = {"vec": 1, "seq": 2, "grid1d": 2, "grid2d": 3}


@dataclass(frozen=True)
class Shape:
    """A per-example tensor shape with its layout; ``cls`` marks a leading CLS token in a seq."""

    layout: str
    dims: tuple[int, ...]
    cls: bool = False

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS or len(self.dims) != _RANK[self.layout]:
            raise SpecError(f"internal: bad shape {self.layout}{self.dims}")

    @property
    def numel(self) -> int:
        return math.prod(self.dims)

    def __str__(self) -> str:
        names = {"vec": "F", "seq": "T,D", "grid1d": "C,L", "grid2d": "C,H,W"}[self.layout]
        return f"{self.layout}({names}={','.join(map(str, self.dims))})"


@dataclass(frozen=True)
class Param:
    """The rule for one block parameter: its type, allowed values or range, and default."""

    type: type | tuple[type, ...]
    default: Any = ...  # ... means required
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    doc: str = ""

    def check(self, block: str, name: str, value: Any) -> Any:
        """``value`` (an int made a float where a float is expected), or a SpecError."""
        if self.choices is not None:
            return check_choice(block, name, value, self.choices)
        if self.type is bool:
            return check_bool(block, name, value)
        if self.type is int:
            return check_int(block, name, value, self.low, self.high)  # type: ignore[arg-type]
        if self.type is float:
            return check_float(block, name, value, self.low, self.high)
        return check_type(block, name, value, self.type, self.hint())

    def hint(self) -> str:
        """What to use, e.g. ``"use a value in [1, 15]"`` or ``"choose one of [...]"``."""
        if self.choices is not None:
            return describe_choices(self.choices)
        if self.type is bool:
            return "use true or false"
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        return describe_range(self.low, self.high) or "use a " + " or ".join(
            t.__name__ for t in types
        )


Builder = Callable[[Shape, Mapping[str, Any]], "tuple[nn.Module, Shape]"]


@dataclass(frozen=True)
class BlockKind:
    """A registered block: versioned name, family, accepted input layouts, params, builder, and
    what explainers may rely on for the whole kind (``capabilities``)."""

    name: str
    family: str
    accepts: tuple[str, ...]
    params: Mapping[str, Param]
    build: Builder
    doc: str = ""
    describe: Callable[[Mapping[str, Any]], str] | None = field(default=None, compare=False)
    capabilities: Capabilities = UNKNOWN

    def validate(self, params: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        """Return params with defaults filled in; raise SpecError naming the block and the fix."""
        label = f"{where}{self.name}"
        unknown = set(params) - set(self.params)
        if unknown:
            name = sorted(unknown)[0]
            close = difflib.get_close_matches(name, list(self.params), n=1)
            fix = (
                f"did you mean {close[0]!r}?"
                if close
                else f"known parameters: {sorted(self.params)}"
            )
            raise SpecError(f"{label}: unknown parameter {name!r}; {fix}")
        out: dict[str, Any] = {}
        for pname, rule in self.params.items():
            if pname in params:
                out[pname] = rule.check(label, pname, params[pname])
            elif rule.default is ...:
                raise SpecError(
                    f"{label}: missing required parameter {pname!r}; add it to the block's params "
                    f"({rule.doc or rule.hint()})."
                )
            else:
                out[pname] = rule.default
        return out


_REGISTRY: dict[str, BlockKind] = {}


def register(
    name: str,
    *,
    family: str,
    accepts: Sequence[str],
    params: Mapping[str, Param],
    doc: str = "",
    describe: Callable[[Mapping[str, Any]], str] | None = None,
    capabilities: Capabilities = UNKNOWN,
) -> Callable[[Builder], Builder]:
    """Decorator registering a block builder under a versioned name such as ``"gru.v1"``;
    ``capabilities`` are facts true of every module the kind builds (e.g. a token embedding)."""
    if "." not in name or not name.rsplit(".", 1)[1].startswith("v"):
        raise ValueError(f"block names are versioned like 'conv2d.v1', got {name!r}")

    def deco(fn: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"block kind {name!r} is already registered")
        _REGISTRY[name] = BlockKind(
            name, family, tuple(accepts), dict(params), fn, doc, describe, capabilities
        )
        extensions.note("block", name, fn)
        return fn

    return deco


def get_block(name: str) -> BlockKind:
    """The registered kind ``name``; an unknown name is a SpecError that lists the known ones."""
    known = f"Known kinds: {', '.join(sorted(_REGISTRY))}."
    return extensions.look_up(_REGISTRY, name, "block", UnknownBlockError, known)


def known_kinds(family: str | None = None) -> list[str]:
    """Registered kind names, optionally of one family, sorted."""
    return sorted(k for k, v in _REGISTRY.items() if family is None or v.family == family)


# --- small shared pieces of block modules -------------------------------------------------

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": nn.ELU,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module (never shared: a reused ReLU breaks DeepLift and SHAP)."""
    return ACTIVATIONS[name]()


def p_int(default: Any = ..., low: int = 1, high: int | None = None, doc: str = "") -> Param:
    return Param(int, default, low=low, high=high, doc=doc)


def p_float(
    default: Any = ..., low: float = 0.0, high: float | None = None, doc: str = ""
) -> Param:
    return Param(float, default, low=low, high=high, doc=doc)


def p_choice(choices: Sequence[Any], default: Any = ..., doc: str = "") -> Param:
    types = tuple({type(c) for c in choices})
    return Param(types if len(types) > 1 else types[0], default, choices=tuple(choices), doc=doc)


def p_bool(default: Any = ..., doc: str = "") -> Param:
    return Param(bool, default, doc=doc)


P_ACTIVATION = p_choice(tuple(ACTIVATIONS), "relu", doc="the nonlinearity")
P_DROPOUT = p_float(0.0, 0.0, 0.9, doc="dropout probability")
