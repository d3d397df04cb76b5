"""FNN blocks: linear -> optional norm -> activation -> dropout, with an optional residual."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from search_spaces.blocks._base import (
    P_ACTIVATION,
    P_DROPOUT,
    Shape,
    activation,
    p_bool,
    p_choice,
    p_int,
    register,
)
from search_spaces.blocks.capabilities import UNKNOWN


class DenseBlock(nn.Module):
    """``y = drop(act(norm(W x + b)))``, plus ``x`` (projected if the width changes) if residual."""

    CAPABILITIES = UNKNOWN  # a plain composite (its residual sum is linear): layers are read

    def __init__(self, d_in: int, units: int, norm: str, act: str, dropout: float, residual: bool):
        super().__init__()
        self.linear = nn.Linear(d_in, units)
        self.norm = {
            "none": nn.Identity,
            "batch": lambda: nn.BatchNorm1d(units),
            "layer": lambda: nn.LayerNorm(units),
        }[norm]()
        self.act = activation(act)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.skip: nn.Module | None = None
        if residual:
            self.skip = nn.Identity() if d_in == units else nn.Linear(d_in, units, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(self.act(self.norm(self.linear(x))))
        return y + self.skip(x) if self.skip is not None else y


@register(
    "dense.v1",
    family="fnn",
    accepts=("vec",),
    params={
        "units": p_int(low=1, doc="output width"),
        "norm": p_choice(("none", "batch", "layer"), "none"),
        "activation": P_ACTIVATION,
        "dropout": P_DROPOUT,
        "residual": p_bool(False, doc="add the input (projected if widths differ)"),
    },
    doc="Fully connected layer with optional normalisation, activation, dropout and residual.",
    describe=lambda p: f"dense({p['units']},{p['activation']}{',res' if p['residual'] else ''})",
)
def build_dense(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    (d_in,) = shape.dims
    block = DenseBlock(d_in, p["units"], p["norm"], p["activation"], p["dropout"], p["residual"])
    return block, Shape("vec", (p["units"],))
