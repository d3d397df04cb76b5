"""Transformer space: a modality-specific token embedding, encoder layers, and CLS / mean
pooling. Heads are drawn from values that divide every d_model choice (checked on load)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search_spaces.errors import SpaceError
from search_spaces.spaces._base import (
    Choice,
    Dim,
    Fixed,
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
    "transformer.d_model": Choice((16, 32, 64)),
    "transformer.heads": Choice((1, 2, 4)),
    "transformer.ff": Choice((32, 64, 128, 256)),
    "transformer.layers": IntRange(1, 3),
    "transformer.dropout": FloatRange(0.0, 0.3),
    "transformer.norm": Choice(("pre", "post")),
    "transformer.activation": Choice(("gelu", "relu")),
    "transformer.positions": Choice(("learned", "sinusoidal")),
    "transformer.pool": Choice(("mean", "cls")),
    "transformer.patch": Choice((0, 2, 4)),  # images: 0 = one token per row
    "transformer.window": Choice((1, 2, 4)),  # sequences: steps per token
}


def embedding(
    s: Sampler,
    ctx_modality: str,
    steps: int,
    min_side: int,
    d: int,
    cls: bool,
    prefix: str = "transformer",
) -> BlockSpec:
    """The token embedding for a modality (``steps`` / ``min_side`` bound windows and patches)."""
    common = {"d_model": d, "cls": cls}
    if ctx_modality == "tabular":
        return BlockSpec("embed_tabular.v1", {**common, "positions": "none"})
    positions = s(f"{prefix}.positions", "transformer.positions")
    if ctx_modality == "image":
        patch = int(s(f"{prefix}.patch", "transformer.patch"))
        patch = patch if patch <= min_side else 0
        return BlockSpec("embed_patch.v2", {**common, "positions": positions, "patch": patch})
    window = int(s(f"{prefix}.window", "transformer.window"))
    window = window if window <= steps // 2 else 1  # keep at least two tokens
    return BlockSpec("embed_steps.v2", {**common, "positions": positions, "window": window})


def encoder_blocks(s: Sampler, pool: str, prefix: str = "transformer") -> list[BlockSpec]:
    """The encoder stack and its pooling, under ``{prefix}.*`` names."""
    enc = BlockSpec(
        "tfm_encoder.v1",
        {
            "heads": int(s(f"{prefix}.heads", "transformer.heads")),
            "ff": int(s(f"{prefix}.ff", "transformer.ff")),
            "layers": int(s(f"{prefix}.layers", "transformer.layers")),
            "dropout": float(s(f"{prefix}.dropout", "transformer.dropout")),
            "norm": s(f"{prefix}.norm", "transformer.norm"),
            "activation": s(f"{prefix}.activation", "transformer.activation"),
        },
    )
    return [enc, BlockSpec("seq_pool.v1", {"mode": pool})]


def check_config(config: Mapping[str, Dim]) -> None:
    """Every heads choice must divide every d_model choice."""

    def values(key: str) -> list[Any]:
        d = config[key]
        if isinstance(d, Choice):
            return list(d.values)
        if isinstance(d, Fixed):
            return [d.value]
        return list(range(d.low, d.high + 1)) if isinstance(d, IntRange) else []

    bad = [
        (h, d) for h in values("transformer.heads") for d in values("transformer.d_model") if d % h
    ]
    if bad:
        h, d = bad[0]
        raise SpaceError(
            f"transformer.heads {h} does not divide transformer.d_model {d}; "
            "every heads choice must divide every d_model choice."
        )


def start(ctx: SpaceContext) -> dict[str, Any]:
    """A known-good transformer: d_model 32, 4 heads, 2 pre-norm layers, mean pooling."""
    return {
        "transformer.d_model": 32,
        "transformer.heads": 4,
        "transformer.ff": 64,
        "transformer.layers": 2,
        "transformer.dropout": 0.1,
        "transformer.norm": "pre",
        "transformer.activation": "gelu",
        "transformer.positions": "learned",
        "transformer.pool": "mean",
        "transformer.patch": 2,
        "transformer.window": 2,
    }


@register_space(
    "transformer",
    doc="token embedding + encoder layers + CLS/mean pooling",
    defaults=DEFAULTS,
    family=True,
    applies_to={"image": 40, "sequence": 40, "tabular": 20},
    starting_points=family_point(start),
    check=check_config,
)
def sample(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """A transformer ArchSpec for ``ctx``."""
    s = Sampler(trial, config or default_config())
    d = int(s("transformer.d_model"))
    pool = s("transformer.pool")
    shape = ctx.input_shape
    steps = shape[0]
    min_side = min(shape[1:]) if ctx.modality == "image" else 0
    blocks = [
        embedding(s, ctx.modality, steps, min_side, d, pool == "cls"),
        *encoder_blocks(s, pool),
    ]
    return assemble("transformer", s, ctx, blocks)
