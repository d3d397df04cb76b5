"""RNN space: one recurrent block (rnn / lstm / gru, stacked layers inside) over the steps of a
sequence, the rows of an image, or the features of a tabular example."""

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
    "rnn.cell": Choice(("gru", "lstm", "rnn")),
    "rnn.hidden": Choice((32, 64, 128)),
    "rnn.layers": IntRange(1, 2),
    "rnn.bidirectional": Choice((False, True)),
    "rnn.dropout": FloatRange(0.0, 0.3),
    "rnn.reduce": Choice(("last", "mean", "max")),
}


def sample_block(s: Sampler, prefix: str = "rnn") -> BlockSpec:
    """One recurrent block under ``{prefix}.*`` names, governed by the ``rnn.*`` dimensions."""
    cell = s(f"{prefix}.cell", "rnn.cell")
    layers = int(s(f"{prefix}.layers", "rnn.layers"))
    params = {
        "hidden": int(s(f"{prefix}.hidden", "rnn.hidden")),
        "layers": layers,
        "bidirectional": bool(s(f"{prefix}.bidirectional", "rnn.bidirectional")),
        "dropout": float(s(f"{prefix}.dropout", "rnn.dropout")) if layers > 1 else 0.0,
        "reduce": s(f"{prefix}.reduce", "rnn.reduce"),
    }
    return BlockSpec(f"{cell}.v1", params)


def sample(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """An RNN ArchSpec for ``ctx``."""
    from search_spaces.spaces import default_config

    s = Sampler(trial, config or default_config())
    return ArchSpec(
        "rnn",
        ctx.task,
        ctx.modality,
        ctx.input_shape,
        ctx.output_size,
        (sample_block(s),),
        sample_head(s, ctx),
        sample_train(s),
    )
