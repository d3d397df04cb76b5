"""Adapters between families (flatten, steps <-> channels, image -> sequence, pooling), and the
output heads. The builder inserts adapters itself where the layouts of two blocks differ."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from search_spaces.blocks._base import (
    P_ACTIVATION,
    P_DROPOUT,
    Shape,
    activation,
    get_block,
    p_choice,
    p_int,
    register,
)
from search_spaces.blocks.capabilities import AFFINE, UNKNOWN, Capabilities


class Transpose(nn.Module):
    """Swap the last two dims: (B, T, D) <-> (B, D, T), i.e. steps <-> channels."""

    CAPABILITIES = AFFINE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class ImageRows(nn.Module):
    """(B, C, H, W) -> (B, H, C*W): each row of the image becomes a step."""

    CAPABILITIES = AFFINE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 1, 3).flatten(2)


class Unsqueeze(nn.Module):
    """Add a size-1 dim: (B, F) -> (B, F, 1) features as steps, or (B, 1, F) as a signal."""

    CAPABILITIES = AFFINE

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GlobalPool(nn.Module):
    """Average or max over every position: (B, C, ...) -> (B, C), or (B, T, D) -> (B, D)."""

    CAPABILITIES = Capabilities(affine=True, pool="avg")

    def __init__(self, mode: str, seq: bool):
        super().__init__()
        self.mode, self.seq = mode, seq
        if mode == "max":  # a functional amax: no module for an explainer to hook
            self.CAPABILITIES = Capabilities(opaque="max over positions, no rule", pool="max")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = (1,) if self.seq else tuple(range(2, x.dim()))
        return x.mean(dim=dims) if self.mode == "avg" else x.amax(dim=dims)

    def extra_repr(self) -> str:
        return f"mode={self.mode}"


@register(
    "flatten.v1",
    family="adapter",
    accepts=("grid2d", "grid1d", "seq"),
    params={},
    doc="Flatten to a vector.",
    describe=lambda p: "flatten",
)
def build_flatten(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    return nn.Flatten(), Shape("vec", (shape.numel,))


@register(
    "global_pool.v1",
    family="adapter",
    accepts=("grid2d", "grid1d", "seq"),
    params={"mode": p_choice(("avg", "max"), "avg")},
    doc="Global average / max pooling to a vector.",
    describe=lambda p: f"g{p['mode']}pool",
)
def build_global_pool(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    width = shape.dims[1] if shape.layout == "seq" else shape.dims[0]
    return GlobalPool(p["mode"], shape.layout == "seq"), Shape("vec", (width,))


@register(
    "to_steps.v1",
    family="adapter",
    accepts=("grid1d",),
    params={},
    doc="(C, L) channels -> (L, C) steps.",
    describe=lambda p: "to_steps",
)
def build_to_steps(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    c, length = shape.dims
    return Transpose(), Shape("seq", (length, c))


@register(
    "to_channels.v1",
    family="adapter",
    accepts=("seq",),
    params={},
    doc="(T, F) steps -> (F, T) channels.",
    describe=lambda p: "to_channels",
)
def build_to_channels(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    t, f = shape.dims
    return Transpose(), Shape("grid1d", (f, t))


@register(
    "image_rows.v1",
    family="adapter",
    accepts=("grid2d",),
    params={},
    doc="(C, H, W) image -> (H, C*W) sequence of rows.",
    describe=lambda p: "rows",
)
def build_image_rows(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    c, h, w = shape.dims
    return ImageRows(), Shape("seq", (h, c * w))


@register(
    "features_as_steps.v1",
    family="adapter",
    accepts=("vec",),
    params={},
    doc="(F,) -> (F, 1): each feature is a step.",
    describe=lambda p: "as_steps",
)
def build_features_as_steps(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    return Unsqueeze(2), Shape("seq", (shape.dims[0], 1))


@register(
    "features_as_signal.v1",
    family="adapter",
    accepts=("vec",),
    params={},
    doc="(F,) -> (1, F): a one-channel signal.",
    describe=lambda p: "as_signal",
)
def build_features_as_signal(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    return Unsqueeze(1), Shape("grid1d", (1, shape.dims[0]))


# The adapters the builder may insert, as edges of a layout graph; the shortest path is used.
AUTO_ADAPTERS: dict[tuple[str, str], str] = {
    ("grid2d", "vec"): "flatten.v1",
    ("grid1d", "vec"): "flatten.v1",
    ("seq", "vec"): "flatten.v1",
    ("grid1d", "seq"): "to_steps.v1",
    ("seq", "grid1d"): "to_channels.v1",
    ("grid2d", "seq"): "image_rows.v1",
    ("vec", "seq"): "features_as_steps.v1",
    ("vec", "grid1d"): "features_as_signal.v1",
}


def adapter_path(src: str, accepts: tuple[str, ...]) -> list[str] | None:
    """Adapter kinds that take layout ``src`` to one of ``accepts`` ([] if none needed)."""
    if src in accepts:
        return []
    seen, queue = {src}, deque([(src, [])])
    while queue:
        layout, path = queue.popleft()
        for (a, b), kind in AUTO_ADAPTERS.items():
            if a == layout and b not in seen:
                if b in accepts:
                    return [*path, kind]
                seen.add(b)
                queue.append((b, [*path, kind]))
    return None


class Head(nn.Module):
    """[linear -> act -> dropout] -> linear to the outputs (logits or regression targets)."""

    CAPABILITIES = UNKNOWN  # a plain composite: explainers read its layers

    def __init__(self, d_in: int, outputs: int, p: Mapping[str, Any]):
        super().__init__()
        layers: list[nn.Module] = []
        if p["hidden"] > 0:
            layers += [nn.Linear(d_in, p["hidden"]), activation(p["activation"])]
            d_in = p["hidden"]
        if p["dropout"] > 0:
            layers.append(nn.Dropout(p["dropout"]))
        layers.append(nn.Linear(d_in, outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _head_params() -> dict[str, Any]:
    return {
        "outputs": p_int(low=1, doc="set by the builder from the spec's output_size"),
        "hidden": p_int(0, low=0, doc="optional hidden layer width; 0 for none"),
        "activation": P_ACTIVATION,
        "dropout": P_DROPOUT,
    }


def _describe_head(name: str) -> Any:
    """``classify(3)``, or with a hidden layer ``dense(64,relu) > classify(3)``: what the head
    holds, so that a summary's parts add up to the model's parameters."""

    def describe(p: Mapping[str, Any]) -> str:
        hidden = f"dense({p['hidden']},{p['activation']}) > " if p.get("hidden") else ""
        return f"{hidden}{name}({p['outputs']})"

    return describe


def _build_head(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    return Head(shape.dims[0], p["outputs"], p), Shape("vec", (p["outputs"],))


register(
    "classify.v1",
    family="head",
    accepts=("vec",),
    params=_head_params(),
    doc="Classification head: logits, one per class.",
    describe=_describe_head("classify"),
)(_build_head)
register(
    "regress.v1",
    family="head",
    accepts=("vec",),
    params=_head_params(),
    doc="Regression head: one output per target.",
    describe=_describe_head("regress"),
)(_build_head)

HEAD_FOR_TASK = {"classification": "classify.v1", "regression": "regress.v1"}


def head_kind(task: str) -> str:
    """The head block for a task."""
    return HEAD_FOR_TASK[task]


__all__ = ["AUTO_ADAPTERS", "HEAD_FOR_TASK", "adapter_path", "get_block", "head_kind"]
