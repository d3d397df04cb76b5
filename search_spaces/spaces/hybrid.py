"""Hybrid spaces: a convolutional stem feeding a recurrent block or a transformer encoder.
The builder inserts the adapters (image rows / channels -> steps) between the families."""

from __future__ import annotations

from collections.abc import Mapping

from search_spaces.spaces import cnn, rnn, transformer
from search_spaces.spaces._base import (
    Dim,
    IntRange,
    Sampler,
    SpaceContext,
    TrialLike,
    sample_head,
    sample_train,
)
from search_spaces.spec import ArchSpec, BlockSpec

DEFAULTS: dict[str, Dim] = {"hybrid.stem_blocks": IntRange(1, 2)}


def sample_cnn_rnn(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """Conv stem -> rnn / lstm / gru."""
    from search_spaces.spaces import default_config

    s = Sampler(trial, config or default_config())
    stem, _ = cnn.sample_blocks(s, ctx, prefix="cnn_rnn.stem", n_key="hybrid.stem_blocks")
    blocks = [*stem, rnn.sample_block(s, prefix="cnn_rnn.rnn")]
    return ArchSpec(
        "cnn_rnn",
        ctx.task,
        ctx.modality,
        ctx.input_shape,
        ctx.output_size,
        tuple(blocks),
        sample_head(s, ctx),
        sample_train(s),
    )


def sample_cnn_transformer(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """Conv stem -> one token per position of its feature map -> transformer encoder."""
    from search_spaces.spaces import default_config

    s = Sampler(trial, config or default_config())
    pre = "cnn_transformer.tfm"
    stem, _ = cnn.sample_blocks(s, ctx, prefix="cnn_transformer.stem", n_key="hybrid.stem_blocks")
    d = int(s(f"{pre}.d_model", "transformer.d_model"))
    pool = s(f"{pre}.pool", "transformer.pool")
    common = {
        "d_model": d,
        "cls": pool == "cls",
        "positions": s(f"{pre}.positions", "transformer.positions"),
    }
    if ctx.modality == "image":
        embed = BlockSpec("embed_patch.v1", {**common, "patch": 1})
    else:
        embed = BlockSpec("embed_steps.v1", {**common, "window": 1})
    blocks = [*stem, embed, *transformer.encoder_blocks(s, pool, prefix=pre)]
    return ArchSpec(
        "cnn_transformer",
        ctx.task,
        ctx.modality,
        ctx.input_shape,
        ctx.output_size,
        tuple(blocks),
        sample_head(s, ctx),
        sample_train(s),
    )
