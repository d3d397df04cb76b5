"""CNN space: conv2d blocks for images, conv1d blocks for sequences and tabular features
(a one-channel signal), then flatten or global pooling.

The stack is described by a few choices for the whole net, not one set per block: a depth, a
first width and a growth factor (a block that pools is wider by it), one kernel,
normalisation, activation, residual, separable and dropout for every block, and a pooling kind
applied after every ``pool_every``-th block. About a dozen dimensions, whatever the depth: a
space that TPE can learn in tens of trials (one set of eight per block, up to four blocks,
could not; issue 11). Pooling is applied only while at least 4 positions remain, so every spec
flows; the decision depends only on sampled values, so replaying a trial's params through
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
from search_spaces.spaces.starts import conv_stack, family_point
from search_spaces.spec import ArchSpec, BlockSpec

MAX_CHANNELS = 256  # the growth stops here

DEFAULTS: dict[str, Dim] = {
    "cnn.n_blocks": IntRange(1, 6),
    "cnn.channels": Choice((16, 32, 64)),  # the first block's width (x growth per pooling)
    "cnn.growth": Choice((1.0, 1.5, 2.0)),  # a pooling block's width factor
    "cnn.kernel": Choice((3, 5, 7)),
    "cnn.batch_norm": Choice((True, False)),
    "cnn.activation": Choice(("relu", "gelu", "silu")),
    "cnn.residual": Choice((False, True)),
    "cnn.pool": Choice(("max", "avg", "none")),
    "cnn.pool_every": Choice((1, 2, 3)),  # pool after every k-th block
    "cnn.separable": Choice((False, True)),
    "cnn.dropout": FloatRange(0.0, 0.3),
    "cnn.reduce": Choice(("flatten", "avg", "max")),
}


def _sizes(ctx: SpaceContext) -> tuple[str, list[int]]:
    """The conv kind for the modality and the spatial sizes it will see."""
    if ctx.modality == "image":
        return "conv2d.v1", list(ctx.input_shape[1:])
    return "conv1d.v1", [ctx.input_shape[0]]


def sample_blocks(
    s: Sampler, ctx: SpaceContext, prefix: str = "cnn", n_key: str = "cnn.n_blocks"
) -> tuple[list[BlockSpec], list[int]]:
    """A conv stack from the net-wide choices under ``{prefix}.*`` (depth from ``n_key``);
    returns its blocks and the spatial sizes after them."""
    kind, sizes = _sizes(ctx)
    n = int(s(f"{prefix}.n_blocks", n_key))
    width = int(s(f"{prefix}.channels", "cnn.channels"))
    growth = float(s(f"{prefix}.growth", "cnn.growth")) if n > 1 else 1.0
    shared = {
        "kernel": int(s(f"{prefix}.kernel", "cnn.kernel")),
        "batch_norm": bool(s(f"{prefix}.batch_norm", "cnn.batch_norm")),
        "activation": s(f"{prefix}.activation", "cnn.activation"),
        "residual": bool(s(f"{prefix}.residual", "cnn.residual")),
        "separable": bool(s(f"{prefix}.separable", "cnn.separable")),
        "dropout": float(s(f"{prefix}.dropout", "cnn.dropout")),
    }
    pool_kind = s(f"{prefix}.pool", "cnn.pool")
    every = int(s(f"{prefix}.pool_every", "cnn.pool_every")) if pool_kind != "none" else 1
    blocks, pools = [], 0
    for i in range(n):
        pool = pool_kind if (i + 1) % every == 0 and min(sizes) >= 4 else "none"
        if pool != "none":  # a block that halves the positions widens by the growth factor
            sizes, pools = [m // 2 for m in sizes], pools + 1
        channels = min(MAX_CHANNELS, int(round(width * growth**pools)))
        blocks.append(BlockSpec(kind, {"channels": channels, **shared, "pool": pool}))
    return blocks, sizes


def start(ctx: SpaceContext) -> dict[str, Any]:
    """A known-good CNN: five conv blocks of 32 channels, kernel 5, batch norm and GELU, max
    pooling after every second block, then global average pooling (on MNIST-1D: 21k
    parameters, test accuracy 0.989-0.993 by seed with AdamW one-cycle; BENCHMARKS.md)."""
    return {"cnn.n_blocks": 5, **conv_stack("cnn", width=32, growth=1.0), "cnn.reduce": "avg"}


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
