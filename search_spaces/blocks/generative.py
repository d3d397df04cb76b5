"""GAN generator blocks: project a vector to a small feature map, upsample it x2 per block, and
map the result to exactly one example of the data (its shape and its layout).

A generator is an ordinary ArchSpec whose input is the latent vector: ``dense -> to_grid ->
upconv2d x k -> gen_out`` for images, ``to_grid (grid1d) -> upconv1d x k`` or ``to_grid -> gru``
for sequences, dense blocks for tabular data. The builder infers every shape statically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from search_spaces.blocks._base import (
    P_ACTIVATION,
    Param,
    Shape,
    activation,
    p_bool,
    p_choice,
    p_int,
    register,
)
from search_spaces.blocks.capabilities import UNKNOWN
from search_spaces.errors import SpecError

_BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d}
OUTPUT_ACTIVATIONS = ("sigmoid", "tanh", "none")  # sigmoid: data in [0, 1]; none: standardized


class ToGrid(nn.Module):
    """``(B, F) -> (B, C, H, W)`` or ``(B, C, L)``: a linear projection reshaped, then bn, act."""

    CAPABILITIES = UNKNOWN  # a plain composite (its reshape is linear): layers are read

    def __init__(self, d_in: int, dims: tuple[int, ...], batch_norm: bool, act: str):
        super().__init__()
        self.dims = dims
        self.linear = nn.Linear(d_in, math.prod(dims), bias=not batch_norm)
        self.bn = _BN[len(dims) - 1](dims[0]) if batch_norm else nn.Identity()
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.linear(x).reshape(x.shape[0], *self.dims)))

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


@register(
    "to_grid.v1",
    family="gan",
    accepts=("vec",),
    params={
        "channels": p_int(low=1, doc="channels of the feature map"),
        "height": p_int(low=1, doc="height of a grid2d map, or the length of a grid1d one"),
        "width": p_int(0, low=0, doc="width of a grid2d map; 0 makes a grid1d map"),
        "batch_norm": p_bool(True),
        "activation": P_ACTIVATION,
    },
    doc="Linear projection of a vector reshaped to a (C, H, W) or (C, L) feature map.",
    describe=lambda p: (
        f"to_grid({p['channels']},"
        + (f"{p['height']}x{p['width']})" if p["width"] else f"L{p['height']})")
    ),
)
def build_to_grid(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    (d_in,) = shape.dims
    if p["width"]:
        out = Shape("grid2d", (p["channels"], p["height"], p["width"]))
    else:
        out = Shape("grid1d", (p["channels"], p["height"]))
    return ToGrid(d_in, out.dims, p["batch_norm"], p["activation"]), out


class UpConv(nn.Module):
    """x2 upsampling: a stride-2 transposed conv (k4, p1), or nearest upsampling + a k3 conv;
    then batch norm and the activation."""

    CAPABILITIES = UNKNOWN  # a plain composite: layers are read

    def __init__(self, dim: int, c_in: int, p: Mapping[str, Any]):
        super().__init__()
        c_out, bias = p["channels"], not p["batch_norm"]
        if p["mode"] == "transposed":
            self.up: nn.Module = _CONV_T[dim](c_in, c_out, 4, stride=2, padding=1, bias=bias)
        else:
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                _CONV[dim](c_in, c_out, 3, padding=1, bias=bias),
            )
        self.bn = _BN[dim](c_out) if p["batch_norm"] else nn.Identity()
        self.act = activation(p["activation"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.up(x)))


def _upconv_params() -> dict[str, Param]:
    return {
        "channels": p_int(low=1, doc="output channels"),
        "mode": p_choice(
            ("transposed", "upsample"),
            "transposed",
            doc="ConvTranspose(k4, s2, p1), or nearest x2 upsampling + conv(k3, 'same')",
        ),
        "batch_norm": p_bool(True),
        "activation": P_ACTIVATION,
    }


def _describe_upconv(name: str, p: Mapping[str, Any]) -> str:
    return f"{name}({p['channels']}{',up' if p['mode'] == 'upsample' else ''})"


@register(
    "upconv1d.v1",
    family="gan",
    accepts=("grid1d",),
    params=_upconv_params(),
    doc="Doubles the length of a (C, L) map.",
    describe=lambda p: _describe_upconv("upconv1d", p),
)
def build_upconv1d(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    c, length = shape.dims
    return UpConv(1, c, p), Shape("grid1d", (p["channels"], 2 * length))


@register(
    "upconv2d.v1",
    family="gan",
    accepts=("grid2d",),
    params=_upconv_params(),
    doc="Doubles the height and width of a (C, H, W) map.",
    describe=lambda p: _describe_upconv("upconv2d", p),
)
def build_upconv2d(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    c, h, w = shape.dims
    return UpConv(2, c, p), Shape("grid2d", (p["channels"], 2 * h, 2 * w))


class GenOut(nn.Module):
    """The generator's output layer: one example of the data, in the data's layout.

    ``conv2d``: a k3 conv to the image's channels; ``conv1d``: a k3 conv to the features, then
    channels -> steps; ``steps``: a per-step linear; ``linear``: flatten, linear, reshape. Maps
    of another size are resized (bilinear / linear) to the data's, then the output activation.
    """

    CAPABILITIES = UNKNOWN  # a plain composite (resizing is linear): layers are read

    def __init__(self, shape: Shape, target: tuple[int, ...], act: str):
        super().__init__()
        self.target = target
        rank, layout = len(target), shape.layout
        if rank == 3 and layout == "grid2d":
            self.mode, self.proj = "conv2d", nn.Conv2d(shape.dims[0], target[0], 3, padding=1)
            size: tuple[int, ...] = shape.dims[1:]
        elif rank == 2 and layout == "grid1d":
            self.mode, self.proj = "conv1d", nn.Conv1d(shape.dims[0], target[1], 3, padding=1)
            size = shape.dims[1:]
        elif rank == 2 and layout == "seq":
            self.mode, self.proj = "steps", nn.Linear(shape.dims[1], target[1])
            size = shape.dims[:1]
        else:
            self.mode = "linear"
            self.proj = nn.Sequential(nn.Flatten(), nn.Linear(shape.numel, math.prod(target)))
            size = target[1:] if rank == 3 else target[:1]
        wanted = target[1:] if rank == 3 else target[:1]
        self.resize: tuple[int, ...] | None = tuple(wanted) if tuple(size) != wanted else None
        self.act = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "none": nn.Identity}[act]()

    def _resized(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize is None:
            return x
        mode = "bilinear" if len(self.resize) == 2 else "linear"
        return F.interpolate(x, size=self.resize, mode=mode, align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "linear":
            y = self.proj(x).reshape(x.shape[0], *self.target)
        elif self.mode == "conv2d":
            y = self._resized(self.proj(x))
        elif self.mode == "conv1d":
            y = self._resized(self.proj(x)).transpose(1, 2)
        else:  # steps: (B, L, D) -> (B, L, F), resized along the steps
            y = self._resized(self.proj(x).transpose(1, 2)).transpose(1, 2)
        return self.act(y)

    def extra_repr(self) -> str:
        return f"target={self.target}, mode={self.mode}, resize={self.resize}"


def data_layout(shape: tuple[int, ...]) -> str:
    """The layout of one data example: ``(F,)`` vec, ``(T, F)`` seq, ``(C, H, W)`` grid2d."""
    return {1: "vec", 2: "seq", 3: "grid2d"}[len(shape)]


@register(
    "gen_out.v1",
    family="gan",
    accepts=("vec", "seq", "grid1d", "grid2d"),
    params={
        "shape": Param(list, doc="one data example's shape: [F], [T, F] or [C, H, W]"),
        "activation": p_choice(
            OUTPUT_ACTIVATIONS,
            "none",
            doc="sigmoid for data in [0, 1], tanh for [-1, 1], none for standardized data",
        ),
    },
    doc="Generator output: exactly one data example, in the data's layout.",
    describe=lambda p: f"gen_out({p['activation']})",
)
def build_gen_out(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    target = p["shape"]
    if not (
        1 <= len(target) <= 3
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in target)
    ):
        raise SpecError(
            f"gen_out.v1: parameter 'shape' is {target!r}; give one data example's shape as 1 "
            "to 3 positive integers: [F], [T, F] or [C, H, W]."
        )
    target = tuple(target)
    return GenOut(shape, target, p["activation"]), Shape(data_layout(target), target)
