"""RNN space: one recurrent block (rnn / lstm / gru, stacked layers inside) over the steps of a
sequence, the rows of an image, or the features of a tabular example."""

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


def start(ctx: SpaceContext) -> dict[str, Any]:
    """A known-good RNN: one bidirectional GRU layer of 64, reading out the last step."""
    return {"rnn.cell": "gru", "rnn.hidden": 64, "rnn.layers": 1,
            "rnn.bidirectional": True, "rnn.reduce": "last"}  # fmt: skip


@register_space(
    "rnn",
    doc="rnn / lstm / gru over steps, image rows or features",
    defaults=DEFAULTS,
    family=True,
    applies_to={"image": 50, "sequence": 30, "tabular": 40},
    starting_points=family_point(start),
)
def sample(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """An RNN ArchSpec for ``ctx``."""
    s = Sampler(trial, config or default_config())
    return assemble("rnn", s, ctx, [sample_block(s)])
