"""CNN blocks: conv1d / conv2d with 'same' padding, batch norm, activation, residual, pooling,
and an optional depthwise-separable form."""

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
from search_spaces.blocks.capabilities import Capabilities
from search_spaces.errors import ShapeError, SpecError

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_POOL = {
    (1, "max"): nn.MaxPool1d,
    (1, "avg"): nn.AvgPool1d,
    (2, "max"): nn.MaxPool2d,
    (2, "avg"): nn.AvgPool2d,
}
_DROP = {1: nn.Dropout1d, 2: nn.Dropout2d}


class ConvBlock(nn.Module):
    """conv (or depthwise + pointwise) -> [bn] -> act -> [+ skip] -> [pool] -> [dropout]."""

    CAPABILITIES = Capabilities(spatial=True)  # Grad-CAM's layer; its inside is read as usual

    def __init__(self, dim: int, c_in: int, p: Mapping[str, Any]):
        super().__init__()
        conv, c_out, k, s = _CONV[dim], p["channels"], p["kernel"], p["stride"]
        pad = k // 2  # 'same' for odd kernels at stride 1; ceil(L / stride) otherwise
        use_bias = not p["batch_norm"]
        if p["separable"]:
            self.conv: nn.Module = nn.Sequential(
                conv(c_in, c_in, k, stride=s, padding=pad, groups=c_in, bias=False),  # depthwise
                conv(c_in, c_out, 1, bias=use_bias),  # pointwise
            )
        else:
            self.conv = conv(c_in, c_out, k, stride=s, padding=pad, bias=use_bias)
        self.bn = _BN[dim](c_out) if p["batch_norm"] else nn.Identity()
        self.act = activation(p["activation"])
        self.skip: nn.Module | None = None
        if p["residual"]:
            same = c_in == c_out and s == 1
            self.skip = nn.Identity() if same else conv(c_in, c_out, 1, stride=s, bias=False)
        pool = p["pool"]
        self.pool = _POOL[(dim, pool)](p["pool_size"]) if pool != "none" else nn.Identity()
        self.drop = _DROP[dim](p["dropout"]) if p["dropout"] > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn(self.conv(x)))
        if self.skip is not None:
            y = y + self.skip(x)
        return self.drop(self.pool(y))


def _params() -> dict[str, Any]:
    return {
        "channels": p_int(low=1, doc="output channels"),
        "kernel": p_int(3, low=1, high=15, doc="odd kernel size, 'same' padding"),
        "stride": p_int(1, low=1, high=4),
        "batch_norm": p_bool(True),
        "activation": P_ACTIVATION,
        "residual": p_bool(False, doc="add the input (1x1-projected if needed)"),
        "pool": p_choice(("none", "max", "avg"), "none"),
        "pool_size": p_int(2, low=2, high=4),
        "separable": p_bool(False, doc="depthwise conv followed by a 1x1 pointwise conv"),
        "dropout": P_DROPOUT,
    }


def _describe(p: Mapping[str, Any]) -> str:
    extra = "".join(
        [
            f",s{p['stride']}" if p["stride"] > 1 else "",
            ",sep" if p["separable"] else "",
            ",res" if p["residual"] else "",
            f",{p['pool']}pool" if p["pool"] != "none" else "",
        ]
    )
    return f"{p['channels']},k{p['kernel']}{extra}"


def _out_len(n: int, p: Mapping[str, Any], block: str, axis: str) -> int:
    k, s = p["kernel"], p["stride"]
    if k % 2 == 0:
        raise SpecError(
            f"{block}: parameter 'kernel' is {k}; 'same' padding needs an odd kernel "
            f"(use {k - 1} or {k + 1})."
        )
    n = (n + 2 * (k // 2) - k) // s + 1
    if p["pool"] != "none":
        if n < p["pool_size"]:
            raise ShapeError(
                f"{block}: pooling of size {p['pool_size']} needs at least {p['pool_size']} "
                f"positions along {axis}, but only {n} arrive; set pool='none' or downsample less "
                "in earlier blocks."
            )
        n //= p["pool_size"]
    return n


@register(
    "conv1d.v1",
    family="cnn",
    accepts=("grid1d",),
    params=_params(),
    doc="1-D convolution over (channels, length).",
    describe=lambda p: f"conv1d({_describe(p)})",
)
def build_conv1d(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    c, length = shape.dims
    out = _out_len(length, p, "conv1d.v1", "length")
    return ConvBlock(1, c, p), Shape("grid1d", (p["channels"], out))


@register(
    "conv2d.v1",
    family="cnn",
    accepts=("grid2d",),
    params=_params(),
    doc="2-D convolution over (channels, height, width).",
    describe=lambda p: f"conv2d({_describe(p)})",
)
def build_conv2d(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    c, h, w = shape.dims
    oh, ow = _out_len(h, p, "conv2d.v1", "height"), _out_len(w, p, "conv2d.v1", "width")
    return ConvBlock(2, c, p), Shape("grid2d", (p["channels"], oh, ow))
