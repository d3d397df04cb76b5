"""Transformer blocks: token embeddings for tabular, image and sequence inputs (with learned or
sinusoidal positions and an optional CLS token), encoder layers, and sequence pooling."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from search_spaces.blocks._base import P_DROPOUT, Shape, p_bool, p_choice, p_int, register
from search_spaces.blocks.capabilities import AFFINE, UNKNOWN, Capabilities, capabilities_of
from search_spaces.errors import ShapeError

_EMBEDDING = Capabilities(token_embedding=True)  # what every embed_* kind builds
_POSITIONS = p_choice(("learned", "sinusoidal", "none"), "learned")


def sinusoidal_positions(n: int, d: int) -> torch.Tensor:
    """The fixed sin/cos table of Vaswani et al. (2017), shape ``(n, d)``."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    table = torch.zeros(n, d)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : d // 2]
    return table


class TokenEmbedding(nn.Module):
    """Wraps a tokenizer (inputs -> (B, T, d)) with an optional CLS token and positions."""

    CAPABILITIES = Capabilities(token_embedding=True)

    def __init__(self, tokenizer: nn.Module, n_tokens: int, d: int, p: Mapping[str, Any]):
        super().__init__()
        self.tokenizer = tokenizer
        tok = capabilities_of(tokenizer)
        self.CAPABILITIES = Capabilities(
            token_embedding=True,
            token_patch=tok.token_patch,
            token_grid=tok.token_grid,
            token_offset=tok.token_offset,
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if p["cls"] else None
        total = n_tokens + (1 if p["cls"] else 0)
        self.positions = p["positions"]
        if p["positions"] == "learned":
            self.pos = nn.Parameter(torch.randn(1, total, d) * 0.02)
        elif p["positions"] == "sinusoidal":
            self.register_buffer("pos", sinusoidal_positions(total, d)[None], persistent=False)
        else:
            self.pos = None
        self.drop = nn.Dropout(p["dropout"]) if p["dropout"] > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tokenizer(x)
        if self.cls_token is not None:
            t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1)
        if self.pos is not None:
            t = t + self.pos
        return self.drop(t)

    def extra_repr(self) -> str:
        return f"positions={self.positions}, cls={self.cls_token is not None}"


class FeatureTokenizer(nn.Module):
    """One token per tabular feature: ``token_i = x_i * w_i + b_i`` (as in FT-Transformer)."""

    CAPABILITIES = AFFINE

    def __init__(self, n_features: int, d: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_features, d) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_features, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, None] * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"features={self.weight.shape[0]}, d_model={self.weight.shape[1]}"


class Rows(nn.Module):
    """(B, C, H, W) -> (B, H, C*W): each image row becomes one step."""

    CAPABILITIES = AFFINE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 1, 3).flatten(2)


class Patches(nn.Module):
    """(B, C, H, W) -> (B, H/p * W/p, d) with a stride-p conv (the ViT patch embedding).

    Given the image's ``side`` (H, W), an image whose sides are not multiples of ``p`` is
    zero-padded at the bottom and right to whole patches, as timm's ``dynamic_img_pad``, so
    every pixel feeds a token; without it (``embed_patch.v1``) the remainder is never seen.
    """

    CAPABILITIES = UNKNOWN  # a composite: its conv is read; the patch side is set per instance

    def __init__(self, c: int, d: int, p: int, side: tuple[int, int] | None = None):
        super().__init__()
        self.proj = nn.Conv2d(c, d, kernel_size=p, stride=p)
        self.pad = (0, 0) if side is None else ((-side[0]) % p, (-side[1]) % p)
        grid = () if side is None else (-(-side[0] // p), -(-side[1] // p))
        self.CAPABILITIES = Capabilities(token_patch=(p, p), token_grid=grid,
                                         token_offset=(0, 0) if grid else ())  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = nn.functional.pad(x, (0, self.pad[1], 0, self.pad[0]))
        return self.proj(x).flatten(2).transpose(1, 2)


class Windows(nn.Module):
    """(B, T, F) -> (B, T/w, d): one token per stride-w window of steps.

    Given the sequence's ``steps``, a length that is not a multiple of ``w`` is zero-padded at
    the start, so the last window ends at the last step and every step feeds a token; without
    it (``embed_steps.v1``) the last steps are never seen.
    """

    CAPABILITIES = UNKNOWN  # a composite: its conv is read; the window is set per instance

    def __init__(self, f: int, d: int, w: int, steps: int | None = None):
        super().__init__()
        self.proj = nn.Conv1d(f, d, kernel_size=w, stride=w)
        self.lead = 0 if steps is None else (-steps) % w
        grid = () if steps is None else (-(-steps // w),)
        self.CAPABILITIES = Capabilities(token_patch=(w,), token_grid=grid,
                                         token_offset=(self.lead,) if grid else ())  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        if self.lead:
            x = nn.functional.pad(x, (self.lead, 0))
        return self.proj(x).transpose(1, 2)


def _embed_params(**extra: Any) -> dict[str, Any]:
    return {
        "d_model": p_int(low=2, doc="token width"),
        "positions": _POSITIONS,
        "cls": p_bool(False, doc="prepend a learned CLS token"),
        "dropout": P_DROPOUT,
        **extra,
    }


def _embedded(tok: nn.Module, n: int, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    d = p["d_model"]
    return TokenEmbedding(tok, n, d, p), Shape("seq", (n + (1 if p["cls"] else 0), d), p["cls"])


@register(
    "embed_tabular.v1",
    family="transformer",
    accepts=("vec",),
    params=_embed_params(),
    doc="One token per feature.",
    capabilities=_EMBEDDING,
    describe=lambda p: f"embed_features(d{p['d_model']})",
)
def build_embed_tabular(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    (f,) = shape.dims
    return _embedded(FeatureTokenizer(f, p["d_model"]), f, p)


_PATCH = _embed_params(patch=p_int(0, low=0, doc="patch side; 0 = one token per row"))
_WINDOW = _embed_params(window=p_int(1, low=1, doc="steps per token (stride = window)"))


def _describe_patch(p: Mapping[str, Any]) -> str:
    return f"embed_{'rows' if p['patch'] == 0 else 'patch' + str(p['patch'])}(d{p['d_model']})"


def _describe_steps(p: Mapping[str, Any]) -> str:
    return f"embed_steps(d{p['d_model']}{',w' + str(p['window']) if p['window'] > 1 else ''})"


def _patches(shape: Shape, p: Mapping[str, Any], kind: str, pad: bool) -> tuple[nn.Module, Shape]:
    c, h, w = shape.dims
    d, k = p["d_model"], p["patch"]
    if k == 0:
        return _embedded(nn.Sequential(Rows(), nn.Linear(c * w, d)), h, p)
    if k > h or k > w:
        raise ShapeError(
            f"{kind}: patch {k} is larger than the {h}x{w} image; "
            f"use a patch of at most {min(h, w)} (or 0 for rows)."
        )
    if pad:
        return _embedded(Patches(c, d, k, side=(h, w)), -(-h // k) * -(-w // k), p)
    return _embedded(Patches(c, d, k), (h // k) * (w // k), p)


def _windows(shape: Shape, p: Mapping[str, Any], kind: str, pad: bool) -> tuple[nn.Module, Shape]:
    t, f = shape.dims
    d, w = p["d_model"], p["window"]
    if w == 1:
        return _embedded(nn.Linear(f, d), t, p)
    if w > t:
        raise ShapeError(f"{kind}: window {w} is longer than the {t} steps; use at most {t}.")
    if pad:
        return _embedded(Windows(f, d, w, steps=t), -(-t // w), p)
    return _embedded(Windows(f, d, w), t // w, p)


@register(
    "embed_patch.v1",
    family="transformer",
    accepts=("grid2d",),
    params=_PATCH,
    doc="Image tokens: square patches (of sides that are not multiples of the patch, the "
    "remainder is never seen; embed_patch.v2 pads it), or rows.",
    capabilities=_EMBEDDING,
    describe=_describe_patch,
)
def build_embed_patch(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    return _patches(shape, p, "embed_patch.v1", pad=False)


@register(
    "embed_patch.v2",
    family="transformer",
    accepts=("grid2d",),
    params=_PATCH,
    doc="Image tokens: square patches, the image zero-padded at the bottom and right to whole "
    "patches so every pixel is seen; or rows.",
    capabilities=_EMBEDDING,
    describe=_describe_patch,
)
def build_embed_patch_v2(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    return _patches(shape, p, "embed_patch.v2", pad=True)


@register(
    "embed_steps.v1",
    family="transformer",
    accepts=("seq",),
    params=_WINDOW,
    doc="Sequence tokens: one per step, or one per strided window of steps (of a length that "
    "is not a multiple of the window, the last steps are never seen; embed_steps.v2 pads).",
    capabilities=_EMBEDDING,
    describe=_describe_steps,
)
def build_embed_steps(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    return _windows(shape, p, "embed_steps.v1", pad=False)


@register(
    "embed_steps.v2",
    family="transformer",
    accepts=("seq",),
    params=_WINDOW,
    doc="Sequence tokens: one per step, or one per strided window of steps, the sequence "
    "zero-padded at the start so the last window ends at the last step and every step is seen.",
    capabilities=_EMBEDDING,
    describe=_describe_steps,
)
def build_embed_steps_v2(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    return _windows(shape, p, "embed_steps.v2", pad=True)


@register(
    "tfm_encoder.v1",
    family="transformer",
    accepts=("seq",),
    params={
        "heads": p_int(4, low=1, doc="attention heads; must divide d_model"),
        "ff": p_int(low=1, doc="feed-forward width"),
        "layers": p_int(1, low=1, high=12, doc="identical encoder layers"),
        "dropout": P_DROPOUT,
        "norm": p_choice(("pre", "post"), "pre"),
        "activation": p_choice(("relu", "gelu"), "gelu"),
    },
    doc="torch.nn.TransformerEncoder (batch first).",
    describe=lambda p: f"encoder(h{p['heads']},ff{p['ff']}x{p['layers']},{p['norm']})",
)
def build_encoder(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    t, d = shape.dims
    if d % p["heads"]:
        ok = [h for h in range(1, d + 1) if d % h == 0 and h <= 16]
        raise ShapeError(
            f"tfm_encoder.v1: heads={p['heads']} does not divide d_model={d}; choose heads in {ok}."
        )
    layer = nn.TransformerEncoderLayer(
        d,
        p["heads"],
        p["ff"],
        p["dropout"],
        p["activation"],
        batch_first=True,
        norm_first=p["norm"] == "pre",
    )
    # Nested tensors only speed up padded batches, which nas never makes.
    enc = nn.TransformerEncoder(layer, p["layers"], enable_nested_tensor=False)
    return enc, shape


class SeqPool(nn.Module):
    """(B, T, D) -> (B, D) by the CLS token, the mean, the max or the last step."""

    CAPABILITIES = Capabilities(affine=True, pool="mean")

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode
        if mode == "max":  # a functional amax: no module for an explainer to hook
            self.CAPABILITIES = Capabilities(opaque="max over steps, no rule", pool="max")
        else:  # picking a token or averaging them is linear
            self.CAPABILITIES = Capabilities(affine=True, pool=mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "cls":
            return x[:, 0]
        if self.mode == "last":
            return x[:, -1]
        return x.mean(dim=1) if self.mode == "mean" else x.amax(dim=1)

    def extra_repr(self) -> str:
        return f"mode={self.mode}"


@register(
    "seq_pool.v1",
    family="transformer",
    accepts=("seq",),
    params={"mode": p_choice(("cls", "mean", "max", "last"), "mean")},
    doc="Reduce a token sequence to one vector.",
    describe=lambda p: f"pool({p['mode']})",
)
def build_seq_pool(shape: Shape, p: Mapping[str, Any]) -> tuple[nn.Module, Shape]:
    if p["mode"] == "cls" and not shape.cls:
        raise ShapeError(
            "seq_pool.v1: mode 'cls' needs a CLS token, but the embedding has none; "
            "set cls=true on the embedding or pool by 'mean'."
        )
    return SeqPool(p["mode"]), Shape("vec", (shape.dims[1],))
