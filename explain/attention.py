"""Transformer-specific explanations: attention maps and rollout, and integrated gradients on
the token embedding, both mapped from tokens back to input elements.

``nn.TransformerEncoderLayer`` never returns its attention weights (it asks ``self_attn`` for
none, and in eval mode its fused fast path skips ``self_attn`` altogether), so a forward
pre-hook records each layer's input and the weights are recomputed from it by calling the
layer's own ``self_attn`` with ``need_weights=True``: the same weights, on any code path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from captum.attr import LayerIntegratedGradients
from torch import nn

from explain.errors import ExplainError
from explain.method_choice import token_embedding
from search_spaces.blocks import capabilities_of


def _spatial(modality: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The input dims tokens can map to; the rest (features of a step, channels) broadcast."""
    return {"tabular": shape, "sequence": shape[:1], "image": shape[1:]}[modality]


def _embed_input(
    model: nn.Module, name: str, modality: str, shape: tuple[int, ...]
) -> tuple[str, tuple[int, ...], bool]:
    """The embedding's input layout and dims, and whether it reads the raw input (only
    inserted adapters before it) rather than a conv stem's features."""
    stages = list(getattr(model, "stages", ()))
    short = name.rsplit(".", 1)[-1]
    at = next((i for i, s in enumerate(stages) if s.name == short), None)
    if at is None:  # not a NasModel: the embedding reads the input itself
        return {"tabular": "vec", "sequence": "seq", "image": "grid2d"}[modality], shape, True
    direct = all(s.inserted for s in stages[:at])
    return stages[at].shape_in.layout, stages[at].shape_in.dims, direct


def _token_grid(patch: tuple[int, ...], layout: str, dims: tuple[int, ...]) -> tuple[int, ...]:
    """The token layout (CLS excluded): ``(n,)`` along one axis, or ``(gh, gw)`` patches;
    ``patch`` is the embedding's input elements per token (``token_patch``)."""
    if layout == "grid2d":
        if len(patch) == 2:
            return (dims[1] // patch[0], dims[2] // patch[1])
        return (dims[1],)  # one token per image row
    if patch:
        return (dims[0] // patch[0],)  # one token per window of steps
    return (dims[0],)


def token_owner(model: nn.Module, modality: str, shape: tuple[int, ...]) -> np.ndarray:
    """For each spatial input position, the index of the token it feeds (-1 for none).

    Exact for embeddings of the raw input (features, steps, windows, rows, patches); for a conv
    stem in front, each position goes to the token at its scaled position (nearest upsampling).
    """
    found = token_embedding(model)
    if found is None:
        raise ExplainError("the model has no transformer token embedding to map tokens from.")
    name, emb = found
    caps = capabilities_of(emb)
    patch, offset = caps.token_patch, caps.token_offset or (0,) * len(caps.token_patch)
    layout, dims, direct = _embed_input(model, name, modality, shape)
    grid = caps.token_grid or _token_grid(patch, layout, dims)
    spatial = _spatial(modality, shape)
    if modality == "image" and len(grid) == 2:
        (gh, gw), (h, w) = grid, spatial
        if direct:
            ii = (np.arange(h) + offset[0]) // patch[0]
            jj = (np.arange(w) + offset[1]) // patch[1]
        else:
            ii, jj = np.arange(h) * gh // h, np.arange(w) * gw // w
        own = ii[:, None] * gw + jj[None, :]
        return np.where((ii[:, None] < gh) & (jj[None, :] < gw), own, -1)
    (n,) = grid
    length = spatial[0]
    if direct and patch:
        idx = (np.arange(length) + offset[0]) // patch[0]
    elif direct:
        idx = np.arange(length)
    else:
        idx = np.arange(length) * n // length
    idx = np.where(idx < n, idx, -1)
    if modality == "image":  # tokens are rows: every pixel of row h feeds token h
        return np.repeat(idx[:, None], spatial[1], axis=1)
    return idx


def _span(name: str, idx: np.ndarray) -> str:
    lo, hi = int(idx.min()), int(idx.max())
    return f"{name} {lo}" if lo == hi else f"{name}s {lo}-{hi}"


def token_labels(owner: np.ndarray, n_tokens: int, modality: str, cls: bool) -> list[str]:
    """A short label per token (CLS first if any) naming the input region it reads."""
    out = ["CLS"] if cls else []
    unit = {"tabular": "feature", "sequence": "step", "image": "row"}[modality]
    for k in range(n_tokens):
        at = np.argwhere(owner == k)
        if not len(at):
            out.append(f"token {k} (no input)")
        elif owner.ndim == 1 or np.all(owner[at[:, 0].min()] == k):
            out.append(_span(unit, at[:, 0]))  # whole rows, steps or features
        else:
            out.append(f"{_span('row', at[:, 0])}, {_span('col', at[:, 1])}")
    return out


def tokens_to_input(
    tokens: torch.Tensor, owner: np.ndarray, shape: tuple[int, ...], modality: str, additive: bool
) -> torch.Tensor:
    """(N, n_tokens) -> (N, *shape). ``additive`` splits a token's value evenly over the input
    elements it owns (sums are kept, as completeness needs); otherwise each gets the value."""
    own = torch.as_tensor(owner, device=tokens.device).long()
    flat = own.reshape(-1)
    n = tokens.shape[0]
    padded = torch.cat([tokens, tokens.new_zeros(n, 1)], dim=1)  # index -1 -> the zero column
    vals = padded[:, torch.where(flat >= 0, flat, tokens.shape[1])].reshape(n, *own.shape)
    bcast = int(np.prod(shape)) // int(own.numel())
    if additive:
        counts = torch.bincount(flat[flat >= 0], minlength=tokens.shape[1]).to(tokens.dtype)
        per = torch.cat([counts, counts.new_ones(1)])[torch.where(flat >= 0, flat, -1)]
        vals = vals / (per.reshape(own.shape) * bcast)
    if modality == "sequence":
        return vals[:, :, None].expand(n, *shape)
    if modality == "image":
        return vals[:, None].expand(n, *shape)
    return vals


def _pool_mode(model: nn.Module) -> str:
    """How the head reads the last encoder's tokens: the mode of the pool after it ("mean"
    when none follows it, as a flatten reads every token)."""
    mode = "mean"
    for m in model.modules():
        caps = capabilities_of(m)
        if caps.attention:
            mode = "mean"
        elif caps.pool:
            mode = caps.pool
    return mode


def attention_maps(model: nn.Module, X: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Per encoder layer, the attention weights ``(N, heads, T, T)`` (queries x keys)."""
    layers = [m for m in model.modules() if capabilities_of(m).attention]
    seen: list[torch.Tensor] = []
    hooks = [m.register_forward_pre_hook(lambda _m, args: seen.append(args[0])) for m in layers]
    per_layer: list[list[torch.Tensor]] = [[] for _ in layers]
    try:
        with torch.no_grad():
            for i in range(0, len(X), batch_size):
                seen.clear()
                model(X[i : i + batch_size])
                for k, (layer, x) in enumerate(zip(layers, seen, strict=True)):
                    h = layer.norm1(x) if layer.norm_first else x
                    _, w = layer.self_attn(h, h, h, need_weights=True, average_attn_weights=False)
                    per_layer[k].append(w)
    finally:
        for h in hooks:
            h.remove()
    return [torch.cat(ws) for ws in per_layer]


def rollout(maps: list[torch.Tensor]) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): head-averaged maps with the residual path
    (0.5 A + 0.5 I, rows renormalised) multiplied through the layers -> (N, T, T)."""
    eye = torch.eye(maps[0].shape[-1], dtype=maps[0].dtype, device=maps[0].device)
    out = eye.expand(maps[0].shape[0], -1, -1)
    for w in maps:
        a = 0.5 * w.mean(dim=1) + 0.5 * eye
        out = (a / a.sum(dim=-1, keepdim=True)) @ out
    return out


def attention_attribution(
    model: nn.Module, X: torch.Tensor, modality: str, p: dict[str, Any], batch_size: int
) -> tuple[torch.Tensor, dict[str, np.ndarray], str, list[str]]:
    """Rollout importance of each input element (for the pooled output, not one target)."""
    maps = attention_maps(model, X, batch_size)
    roll = rollout(maps)
    _, emb = token_embedding(model)  # type: ignore[misc]
    cls = emb.cls_token is not None
    mode = _pool_mode(model)
    # The head reads the CLS row (cls pooling), the last row, or every row (mean / max).
    rows = roll[:, 0] if mode == "cls" else roll[:, -1] if mode == "last" else roll.mean(dim=1)
    tokens = rows[:, 1:] if cls else rows
    owner = token_owner(model, modality, tuple(X.shape[1:]))
    values = tokens_to_input(tokens, owner, tuple(X.shape[1:]), modality, additive=False)
    keep = int(p["keep_maps"])
    stacked = torch.stack(maps, dim=1)  # (N, layers, heads, T, T)
    labels = token_labels(owner, tokens.shape[1], modality, cls)
    arrays = {
        "attention": stacked[:keep].float().cpu().numpy(),
        "attention_mean": stacked.mean(dim=0).float().cpu().numpy(),
        "rollout": roll.float().cpu().numpy(),
        "token_importance": tokens.float().cpu().numpy(),
        "token_owner": owner,
    }
    note = (
        f"attention rollout read at the {mode!r}-pooled {'CLS token' if mode == 'cls' else 'rows'};"
        " the same for every target (attention is not class-specific)"
    )
    return values, arrays, note, labels


def embedding_ig(
    model: nn.Module,
    X: torch.Tensor,
    targets: torch.Tensor,
    baseline: torch.Tensor,
    modality: str,
    p: dict[str, Any],
) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """Integrated gradients on the token embedding's output, summed over the embedding width and
    split evenly over the input elements each token reads (CLS and positions cancel out)."""
    _, emb = token_embedding(model)  # type: ignore[misc]
    lig = LayerIntegratedGradients(model, emb)
    base = baseline if baseline.shape[0] == X.shape[0] else baseline.expand_as(X)
    attr = lig.attribute(
        X,
        baselines=base,
        target=targets,
        n_steps=int(p["n_steps"]),
        method=p["integration"],
        internal_batch_size=int(p["internal_batch_size"]),
    )
    tokens = attr.sum(dim=-1)
    if emb.cls_token is not None:
        tokens = tokens[:, 1:]
    owner = token_owner(model, modality, tuple(X.shape[1:]))
    values = tokens_to_input(tokens, owner, tuple(X.shape[1:]), modality, additive=True)
    return values, {"token_attribution": tokens.detach().float().cpu().numpy()}
