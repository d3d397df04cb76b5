"""FNN space: a stack of dense blocks (inputs of any modality are flattened by the builder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search_spaces.spaces._base import (
    Choice,
    Dim,
    FloatRange,
    IntRange,
    Sampler,
    SpaceContext,
    TrialLike,
    assemble,
)
from search_spaces.spaces._registry import default_config, register_space
from search_spaces.spaces.starts import family_point
from search_spaces.spec import ArchSpec, BlockSpec

DEFAULTS: dict[str, Dim] = {
    "fnn.n_blocks": IntRange(1, 4),
    "fnn.units": Choice((32, 64, 128, 256, 512)),
    "fnn.norm": Choice(("none", "batch", "layer")),
    "fnn.activation": Choice(("relu", "gelu", "silu", "tanh", "sigmoid", "leaky_relu", "elu")),
    "fnn.dropout": FloatRange(0.0, 0.5),
    "fnn.residual": Choice((False, True)),
}


def sample_blocks(s: Sampler, prefix: str = "fnn") -> list[BlockSpec]:
    """Dense blocks under ``{prefix}.b{i}.*`` names, governed by the ``fnn.*`` dimensions."""
    blocks = []
    for i in range(int(s(f"{prefix}.n_blocks", "fnn.n_blocks"))):
        p = f"{prefix}.b{i}"
        blocks.append(
            BlockSpec(
                "dense.v1",
                {
                    "units": int(s(f"{p}.units", "fnn.units")),
                    "norm": s(f"{p}.norm", "fnn.norm"),
                    "activation": s(f"{p}.activation", "fnn.activation"),
                    "dropout": float(s(f"{p}.dropout", "fnn.dropout")),
                    "residual": bool(s(f"{p}.residual", "fnn.residual")),
                },
            )
        )
    return blocks


def start(ctx: SpaceContext) -> dict[str, Any]:
    """A known-good FNN: 256 -> 128 units, batch norm, relu, a little dropout."""
    block = {"norm": "batch", "activation": "relu", "dropout": 0.1, "residual": False}
    return {
        "fnn.n_blocks": 2,
        "fnn.b0.units": 256,
        "fnn.b1.units": 128,
        **{f"fnn.b{i}.{k}": v for i in range(2) for k, v in block.items()},
    }


@register_space(
    "fnn",
    doc="stacks of dense blocks (norm, activation, dropout, residual)",
    defaults=DEFAULTS,
    family=True,
    applies_to={"image": 20, "sequence": 50, "tabular": 10},
    starting_points=family_point(start),
)
def sample(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """An FNN ArchSpec for ``ctx``."""
    s = Sampler(trial, config or default_config())
    return assemble("fnn", s, ctx, sample_blocks(s))
