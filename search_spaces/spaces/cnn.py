"""CNN space: conv2d blocks for images, conv1d blocks for sequences and tabular features
(a one-channel signal), then flatten or global pooling.

Pooling is sampled for every block but only applied while at least 4 positions remain, so every
spec flows; the decision depends only on sampled values, so replaying a trial's params through
``optuna.trial.FixedTrial`` gives the same spec.
"""

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
from search_spaces.spaces.starts import conv_blocks, family_point
from search_spaces.spec import ArchSpec, BlockSpec

DEFAULTS: dict[str, Dim] = {
    "cnn.n_blocks": IntRange(1, 4),
    "cnn.channels": Choice((16, 32, 64, 128)),
    "cnn.kernel": Choice((3, 5)),
    "cnn.batch_norm": Choice((True, False)),
    "cnn.activation": Choice(("relu", "gelu", "silu")),
    "cnn.residual": Choice((False, True)),
    "cnn.pool": Choice(("none", "max", "avg")),
    "cnn.separable": Choice((False, True)),
    "cnn.dropout": FloatRange(0.0, 0.3),
    "cnn.reduce": Choice(("flatten", "avg", "max")),
}


def _sizes(ctx: SpaceContext) -> tuple[str, list[int]]:
    """The conv kind for the modality and the spatial sizes it will see."""
    if ctx.modality == "image":
        return "conv2d.v1", list(ctx.input_shape[1:])
    if ctx.modality == "sequence":
        return "conv1d.v1", [ctx.input_shape[0]]
    return "conv1d.v1", [ctx.input_shape[0]]


def sample_blocks(
    s: Sampler, ctx: SpaceContext, prefix: str = "cnn", n_key: str = "cnn.n_blocks"
) -> tuple[list[BlockSpec], list[int]]:
    """Conv blocks under ``{prefix}.b{i}.*``; returns them and the spatial sizes after them."""
    kind, sizes = _sizes(ctx)
    blocks = []
    for i in range(int(s(f"{prefix}.n_blocks", n_key))):
        p = f"{prefix}.b{i}"
        pool = s(f"{p}.pool", "cnn.pool")
        if pool != "none" and min(sizes) < 4:
            pool = "none"  # too few positions left to halve
        if pool != "none":
            sizes = [n // 2 for n in sizes]
        blocks.append(
            BlockSpec(
                kind,
                {
                    "channels": int(s(f"{p}.channels", "cnn.channels")),
                    "kernel": int(s(f"{p}.kernel", "cnn.kernel")),
                    "batch_norm": bool(s(f"{p}.batch_norm", "cnn.batch_norm")),
                    "activation": s(f"{p}.activation", "cnn.activation"),
                    "residual": bool(s(f"{p}.residual", "cnn.residual")),
                    "pool": pool,
                    "separable": bool(s(f"{p}.separable", "cnn.separable")),
                    "dropout": float(s(f"{p}.dropout", "cnn.dropout")),
                },
            )
        )
    return blocks, sizes


def start(ctx: SpaceContext) -> dict[str, Any]:
    """A known-good CNN: three conv blocks (32, 64, 64 channels), then global average pooling."""
    return {"cnn.n_blocks": 3, **conv_blocks("cnn", 3), "cnn.reduce": "avg"}


@register_space(
    "cnn",
    doc="conv2d (images) / conv1d (sequences, tabular) blocks + pooling",
    defaults=DEFAULTS,
    family=True,
    applies_to={"image": 10, "sequence": 10, "tabular": 30},
    starting_points=family_point(start),
)
def sample(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """A CNN ArchSpec for ``ctx``."""
    s = Sampler(trial, config or default_config())
    blocks, _ = sample_blocks(s, ctx)
    reduce = s("cnn.reduce")
    if reduce != "flatten":
        blocks.append(BlockSpec("global_pool.v1", {"mode": reduce}))
    return assemble("cnn", s, ctx, blocks)
