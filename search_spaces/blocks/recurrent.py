"""RNN blocks: rnn / lstm / gru over a (steps, features) sequence, reduced to a vector by the
last step, the mean or the max over steps (or kept as a sequence with reduce='none')."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from search_spaces.blocks._base import P_DROPOUT, Shape, p_bool, p_choice, p_int, register
from search_spaces.blocks.capabilities import UNKNOWN

_RNN = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentBlock(nn.Module):
    """A batch-first torch RNN followed by a reduction over steps."""

    CAPABILITIES = UNKNOWN  # a composite: explainers read its RNN, which torch's table covers

    def __init__(self, cell: str, d_in: int, p: Mapping[str, Any]):
        super().__init__()
        kwargs: dict[str, Any] = {"nonlinearity": p["nonlinearity"]} if cell == "rnn" else {}
        # torch applies dropout between stacked layers only; it warns when there is one layer.
        dropout = p["dropout"] if p["layers"] > 1 else 0.0
        self.rnn = _RNN[cell](
            d_in,
            p["hidden"],
            num_layers=p["layers"],
            batch_first=True,
            bidirectional=p["bidirectional"],
            dropout=dropout,
            **kwargs,
        )
        self.reduce = p["reduce"]
        self.dirs = 2 if p["bidirectional"] else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.rnn(x)
        if self.reduce == "none":
            return out
        if self.reduce == "mean":
            return out.mean(dim=1)
        if self.reduce == "max":
            return out.amax(dim=1)
        # "last": the final state of each direction of the top layer (for the backward
        # direction that is the state after reading step 0, which out[:, -1] would miss).
        h_n = h[0] if isinstance(h, tuple) else h
        return h_n[-self.dirs :].transpose(0, 1).reshape(x.shape[0], -1)

    def extra_repr(self) -> str:
        return f"reduce={self.reduce}"


def _params(cell: str) -> dict[str, Any]:
    params = {
        "hidden": p_int(low=1, doc="hidden units per direction"),
        "layers": p_int(1, low=1, high=8),
        "bidirectional": p_bool(False),
        "dropout": P_DROPOUT,
        "reduce": p_choice(
            ("last", "mean", "max", "none"),
            "last",
            doc="how steps become one vector; 'none' keeps the sequence",
        ),
    }
    if cell == "rnn":
        params["nonlinearity"] = p_choice(("tanh", "relu"), "tanh")
    return params


def _make(cell: str) -> None:
    def build(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
        steps, d_in = shape.dims
        width = p["hidden"] * (2 if p["bidirectional"] else 1)
        out = Shape("seq", (steps, width)) if p["reduce"] == "none" else Shape("vec", (width,))
        return RecurrentBlock(cell, d_in, p), out

    def describe(p: Mapping[str, Any]) -> str:
        bi = ",bi" if p["bidirectional"] else ""
        layers = f"x{p['layers']}" if p["layers"] > 1 else ""
        return f"{cell}({p['hidden']}{layers}{bi},{p['reduce']})"

    register(
        f"{cell}.v1",
        family="rnn",
        accepts=("seq",),
        params=_params(cell),
        doc=f"torch.nn.{_RNN[cell].__name__} over steps, batch first.",
        describe=describe,
    )(build)


for _cell in _RNN:
    _make(_cell)
