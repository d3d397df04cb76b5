"""Hybrid spaces: a convolutional stem feeding a recurrent block or a transformer encoder.
The builder inserts the adapters (image rows / channels -> steps) between the families."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search_spaces.spaces import cnn, rnn, transformer
from search_spaces.spaces._base import (
    Dim,
    IntRange,
    Sampler,
    SpaceContext,
    TrialLike,
    assemble,
)
from search_spaces.spaces._registry import default_config, register_space
from search_spaces.spaces.starts import conv_stack, family_point
from search_spaces.spec import ArchSpec, BlockSpec

DEFAULTS: dict[str, Dim] = {"hybrid.stem_blocks": IntRange(1, 2)}


def stem_key(param: str) -> str:
    """The dimension behind a hybrid's parameter: the stem's are ``cnn.*`` (its depth is
    ``hybrid.stem_blocks``), the rest the ``rnn.*`` or ``transformer.*`` ones."""
    parts = param.split(".")
    last = parts[-1]
    if parts[1] == "stem":
        return "hybrid.stem_blocks" if last == "n_blocks" else f"cnn.{last}"
    return f"{'rnn' if parts[1] == 'rnn' else 'transformer'}.{last}"


def start_cnn_rnn(ctx: SpaceContext) -> dict[str, Any]:
    """A known-good conv stem (two blocks of 32 channels, one pooling) feeding a
    bidirectional GRU."""
    return {"cnn_rnn.stem.n_blocks": 2, **conv_stack("cnn_rnn.stem"),
            "cnn_rnn.rnn.cell": "gru", "cnn_rnn.rnn.hidden": 64,
            "cnn_rnn.rnn.layers": 1, "cnn_rnn.rnn.bidirectional": True,
            "cnn_rnn.rnn.reduce": "last"}  # fmt: skip


def start_cnn_transformer(ctx: SpaceContext) -> dict[str, Any]:
    """A known-good conv block feeding the transformer family's starting point."""
    tfm = {
        k.replace("transformer.", "cnn_transformer.tfm."): v
        for k, v in transformer.start(ctx).items()
    }
    return {
        "cnn_transformer.stem.n_blocks": 1,
        **conv_stack("cnn_transformer.stem"),
        **tfm,
    }


@register_space(
    "cnn_rnn",
    doc="conv stem feeding a recurrent block",
    defaults=DEFAULTS,
    family=True,
    applies_to={"image": 30, "sequence": 20},
    starting_points=family_point(start_cnn_rnn, stem_key),
)
def sample_cnn_rnn(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """Conv stem -> rnn / lstm / gru."""
    s = Sampler(trial, config or default_config())
    stem, _ = cnn.sample_blocks(s, ctx, prefix="cnn_rnn.stem", n_key="hybrid.stem_blocks")
    return assemble("cnn_rnn", s, ctx, [*stem, rnn.sample_block(s, prefix="cnn_rnn.rnn")])


@register_space(
    "cnn_transformer",
    doc="conv stem feeding a transformer",
    defaults=DEFAULTS,
    family=True,
    applies_to={"image": 60, "sequence": 60},
    starting_points=family_point(start_cnn_transformer, stem_key),
)
def sample_cnn_transformer(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """Conv stem -> one token per position of its feature map -> transformer encoder."""
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
    return assemble("cnn_transformer", s, ctx, blocks)
