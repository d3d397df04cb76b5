"""FLOPs of one example's forward pass.

FLOPs follow the standard convention of ``torch.utils.flop_counter``: matmul / conv FLOPs only,
one multiply-add = 2 FLOPs, bias adds, activations, norms and softmax not counted. The counter
sees nothing of fused kernels (``nn.LSTM`` on CPU, every ``nn.RNNBase`` under cuDNN, the
Transformer inference fast path, CPU flash attention), so those modules are counted analytically
from their weight shapes and whatever the counter saw inside them is discarded, never added twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode

from nas.cost._prepare import _checked_shape, _prepared


def count_flops(
    model: nn.Module, input_shape: tuple[int, ...], *, device: str | torch.device | None = None
) -> int:
    """FLOPs of one example's eval-mode forward pass (matmul / conv, multiply-add = 2).

    Analytic per call, per direction and layer, for the fused modules (bias adds and elementwise
    gate / softmax work excluded, as the counter excludes them elsewhere):

    - ``nn.RNN`` / ``LSTM`` / ``GRU``: ``2 * steps * sum(weight numels)``, i.e.
      ``2 * T * G * (I*H + H*H)`` with G = 1, 4, 3 gates (plus ``2*T*H*P`` with ``proj_size``).
    - ``nn.MultiheadAttention``: ``2*L*E*E + 2*S*(kdim + vdim)*E`` projections, ``2*L*S*E``
      scores, ``2*L*S*E`` attention x values, ``2*L*E*E`` output projection.
    - ``nn.TransformerEncoderLayer``: its attention as above plus ``2 * T * d * f * 2`` FFN.
    """
    shape = _checked_shape(input_shape)
    with _prepared(model, device) as dev:
        return _count_flops(model, torch.randn(1, *shape, device=dev))


def _rnn_flops(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    x = args[0] if args else kwargs["input"]
    # Every weight matrix (ih, hh, hr; each layer and direction) meets one vector per step.
    steps = x.data.shape[0] if isinstance(x, PackedSequence) else math.prod(x.shape[:-1])
    weights = [w for n, w in m.named_parameters(recurse=False) if n.startswith("weight")]
    per_step = sum(w.numel() for w in weights)
    return 2 * steps * per_step


def _mha_flops(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    q, k = (args[i] if len(args) > i else kwargs[n] for i, n in enumerate(("query", "key")))
    seq_dim = 1 if m.batch_first and q.dim() == 3 else 0
    batch = math.prod(q.shape[:-1]) // q.shape[seq_dim]
    n_q, n_k = q.shape[seq_dim], k.shape[seq_dim]
    n_k += int(m.bias_k is not None) + int(m.add_zero_attn)  # the extra key/value slots
    e = m.embed_dim
    proj = 2 * (n_q * e * e + n_k * (m.kdim + m.vdim) * e + n_q * e * e)
    return batch * (proj + 4 * n_q * n_k * e)


def _encoder_layer_flops(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    x = args[0] if args else kwargs["src"]
    d, f = m.linear1.in_features, m.linear1.out_features
    return _mha_flops(m.self_attn, (x, x), {}) + 2 * math.prod(x.shape[:-1]) * d * f * 2


# Checked in order; a module nested in a counted one (the MHA of a layer) is left to its parent.
_ANALYTIC: tuple[tuple[type[nn.Module], Callable[..., int]], ...] = (
    (nn.RNNBase, _rnn_flops),
    (nn.TransformerEncoderLayer, _encoder_layer_flops),
    (nn.MultiheadAttention, _mha_flops),
)


def _cpu_sdpa_flops(q: Any, k: Any, v: Any, *_: Any, **__: Any) -> int:
    # The counter knows the CUDA attention kernels but not the CPU one that
    # F.scaled_dot_product_attention dispatches to; count scores and attention x values.
    return 2 * math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


_CPU_SDPA = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def _count_flops(model: nn.Module, x: torch.Tensor) -> int:
    counter = FlopCounterMode(
        display=False, custom_mapping={_CPU_SDPA: _cpu_sdpa_flops} if _CPU_SDPA else None
    )
    correction = 0
    depth = 0
    start = analytic = 0

    def pre(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        nonlocal depth, start, analytic
        if depth == 0:
            start = counter.get_total_flops()
            analytic = next(fn for cls, fn in _ANALYTIC if isinstance(m, cls))(m, args, kwargs)
        depth += 1

    def post(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        nonlocal depth, correction
        depth -= 1
        if depth == 0:  # swap what the counter saw inside the module for the analytic count
            correction += analytic - (counter.get_total_flops() - start)

    kinds = tuple(cls for cls, _ in _ANALYTIC)
    handles = []
    for m in model.modules():
        if isinstance(m, kinds):
            handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
            handles.append(m.register_forward_hook(post, with_kwargs=True))
    # The counter crashes on the nested tensors an encoder makes of a padding mask; count the
    # padded (dense) computation instead.
    nested = [m for m in model.modules() if getattr(m, "use_nested_tensor", False)]
    try:
        for m in nested:
            m.use_nested_tensor = False
        with torch.no_grad(), counter:
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m in nested:
            m.use_nested_tensor = True
    return counter.get_total_flops() + correction


__all__ = ["count_flops"]
