"""FNN space: a stack of dense blocks (inputs of any modality are flattened by the builder)."""

from __future__ import annotations

from collections.abc import Mapping

from search_spaces.spaces._base import (
    Choice,
    Dim,
    FloatRange,
    IntRange,
    Sampler,
    SpaceContext,
    TrialLike,
    sample_head,
    sample_train,
)
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


def sample(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """An FNN ArchSpec for ``ctx``."""
    from search_spaces.spaces import default_config

    s = Sampler(trial, config or default_config())
    blocks = sample_blocks(s)
    return ArchSpec(
        "fnn",
        ctx.task,
        ctx.modality,
        ctx.input_shape,
        ctx.output_size,
        tuple(blocks),
        sample_head(s, ctx),
        sample_train(s),
    )
