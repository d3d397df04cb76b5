"""What a forward pass costs at run time: latency (a low quantile of timed runs after warm-up) and
memory (state, and activation bytes: measured on CUDA, an upper bound elsewhere, temporaries inside
recurrent layers and convolutions included)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence


def _state_bytes(model: nn.Module) -> int:
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _tensor_bytes(obj: Any, seen: set[int]) -> int:
    """Bytes of the distinct storages of the tensors in ``obj`` (nested tuples, lists, dicts)."""
    if isinstance(obj, torch.Tensor):
        try:
            storage = obj.untyped_storage()
        except (RuntimeError, NotImplementedError):  # nested / sparse tensors have none
            return obj.numel() * obj.element_size()
        if storage.data_ptr() in seen:
            return 0
        seen.add(storage.data_ptr())
        return storage.nbytes()
    if isinstance(obj, (tuple, list)):
        return sum(_tensor_bytes(o, seen) for o in obj)
    if isinstance(obj, dict):
        return sum(_tensor_bytes(o, seen) for o in obj.values())
    return 0


#: What one call of oneDNN's fused LSTM kernel (``aten::mkldnn_rnn_layer``, torch's CPU LSTM)
#: allocates besides the terms counted in :func:`_rnn_scratch`, whatever the sizes: its
#: scratchpad and primitive descriptors. torch's allocator saw 20-33 KiB for every size from 1 to
#: 50 steps, 8 to 100 inputs and 16 to 128 units (tests/nas/test_cost_memory.py compares).
FUSED_RNN_CALL_BYTES = 48 * 1024

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_scratch(m: nn.RNNBase, args: tuple[Any, ...]) -> int:
    """An upper bound on the bytes ``m`` allocates inside its forward besides its output.

    torch runs a recurrent layer one layer and direction at a time; what one such call makes
    for the next (its outputs, each step's and stacked, ``2 N P``, the directions concatenated,
    ``N P dirs``, and ``4 H`` of states) is summed over every call, as if never freed; what a
    call makes for itself and frees on return is the largest call's: the input's rows ``N I``,
    ``3 N G H`` gate values (input and hidden projections and their elementwise results, every
    step, as if none were freed) and, for oneDNN's fused LSTM, two copies of the call's weights
    (reordered into its layout; up to twice was seen) plus :data:`FUSED_RNN_CALL_BYTES`.
    N rows = steps x batch, I inputs (P x dirs after the first layer), H units (P outputs with
    ``proj_size``, else H), G gates (1, 3, 4)."""
    x = args[0] if args else None
    if isinstance(x, PackedSequence):
        x = x.data
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        return 0
    rows = math.prod(x.shape[:-1])
    dirs = 2 if m.bidirectional else 1
    h, g = m.hidden_size, _GATES.get(m.mode, 4)
    p = m.proj_size or h
    fused = m.mode == "LSTM"
    kept = largest = 0
    for layer in range(m.num_layers):
        i = m.input_size if layer == 0 else p * dirs
        kept += dirs * (2 * rows * p + 4 * h) + rows * p * dirs
        weights = g * h * (i + h + 2) + (p * h if m.proj_size else 0)  # ih, hh, biases, hr
        own = rows * i + 3 * rows * g * h + (2 * weights if fused else 0)
        largest = max(largest, own)
    extra = FUSED_RNN_CALL_BYTES if fused else 0
    return (kept + largest) * x.element_size() + extra


def _up16(n: int) -> int:
    return -(-n // 16) * 16


def _conv_scratch(m: nn.modules.conv._ConvNd, out: Any) -> int:
    """An upper bound on a convolution's own temporaries: oneDNN's copy of its weight, reordered
    into a blocked layout with both channel counts padded to a multiple of 16 (every call at batch
    1: 36 x 24 x 5 x 5 became 48 x 32 x 5 x 5), or the unfolded input of torch's fallback kernels
    (``C_in / groups x prod(kernel) x prod(output size)``, a group at a time), whichever is
    larger: one of them runs."""
    if not isinstance(out, torch.Tensor):
        return 0
    k = math.prod(m.kernel_size)
    weight = _up16(m.out_channels) * _up16(m.in_channels // m.groups) * k
    batch = math.prod(out.shape[: -len(m.kernel_size) - 1])
    cols = batch * (m.in_channels // m.groups) * k * math.prod(out.shape[-len(m.kernel_size) :])
    return max(weight, cols) * out.element_size()


def _attention_scratch(m: nn.Module, args: tuple[Any, ...]) -> int:
    """An upper bound on an attention's own temporaries: its scores and their softmax, one
    ``batch x heads x L x S`` matrix each (a 3,000-feature table read as 3,000 steps by 4 heads
    makes 144 MB of them per example; nothing else in the model comes near)."""
    attn = m.self_attn if isinstance(m, nn.TransformerEncoderLayer) else m
    if not isinstance(attn, nn.MultiheadAttention) or not args:
        return 0
    q = args[0]
    k = args[1] if isinstance(m, nn.MultiheadAttention) and len(args) > 1 else q
    if not isinstance(q, torch.Tensor) or not isinstance(k, torch.Tensor) or q.dim() < 2:
        return 0
    first = bool(getattr(m, "batch_first", getattr(attn, "batch_first", False)))
    if q.dim() == 2:  # unbatched (L, E)
        batch, length, keys = 1, q.shape[0], k.shape[0]
    elif first:
        batch, length, keys = q.shape[0], q.shape[1], k.shape[1]
    else:
        batch, length, keys = q.shape[1], q.shape[0], k.shape[0]
    return 2 * batch * attn.num_heads * length * keys * q.element_size()


def _activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Activation bytes of a batch-1 forward pass (CUDA: measured peak; else an upper bound).

    Elsewhere: the outputs of every innermost module run (distinct storages), all assumed live,
    plus the largest of the temporaries one module makes inside its forward and frees before it
    returns (only one module runs at a time): recurrent layers' gates, step outputs and states
    (:func:`_rnn_scratch`), convolutions' reordered weights and unfolded inputs
    (:func:`_conv_scratch`), attention's scores and softmax (:func:`_attention_scratch`)."""
    dev = x.device
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        with torch.no_grad():
            model(x)
        torch.cuda.synchronize(dev)
        return torch.cuda.max_memory_allocated(dev) - before

    # Innermost = no child ran inside it; this also catches a layer whose fast path skips its
    # children. Outputs are kept alive so a freed address is never mistaken for a seen storage.
    child_ran: list[bool] = []
    outputs: list[Any] = []
    seen = {x.untyped_storage().data_ptr()}  # the input is counted by the caller
    total = scratch = 0

    def pre(m: nn.Module, args: tuple[Any, ...]) -> None:
        if child_ran:
            child_ran[-1] = True
        child_ran.append(False)

    def post(m: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        nonlocal total, scratch
        if isinstance(m, nn.RNNBase):  # its children (none in torch's) never hide its work
            scratch = max(scratch, _rnn_scratch(m, args))
        elif isinstance(m, nn.modules.conv._ConvNd):
            scratch = max(scratch, _conv_scratch(m, out))
        elif isinstance(m, nn.MultiheadAttention | nn.TransformerEncoderLayer):
            # the encoder layer's fast path runs its attention without calling the module
            scratch = max(scratch, _attention_scratch(m, args))
        if not child_ran.pop():
            outputs.append(out)
            total += _tensor_bytes(out, seen)

    handles = [m.register_forward_pre_hook(pre) for m in model.modules()]
    handles += [m.register_forward_hook(post) for m in model.modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total + scratch


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


#: Timed runs keep coming, after the caller's ``repeats``, until there are this many ...
LATENCY_RUNS = 20
#: ... or the timed runs have taken this long (ms): a slow model is timed ``repeats`` times.
LATENCY_BUDGET_MS = 50.0

_clock = time.perf_counter  # seconds; a test swaps it for a noisy one


def low_quartile_ms(
    run: Callable[[], Any],
    warmup: int,
    repeats: int,
    max_runs: int = LATENCY_RUNS,
    budget_ms: float = LATENCY_BUDGET_MS,
) -> float:
    """The lower quartile of the wall times of ``run()`` in ms: at least ``repeats`` timed calls
    after ``warmup`` untimed ones, more (up to ``max_runs``) while they have taken under
    ``budget_ms``. Other work on the machine only ever adds time to a call, so a low quantile
    is the call's own cost where the median is the load's (a median of 5 ranged 0.09 to 0.23 ms
    on a busy machine for a model of 0.08 ms alone). nas export times its runtimes with it."""
    for _ in range(warmup):
        run()
    times: list[float] = []
    while len(times) < repeats or (len(times) < max_runs and sum(times) < budget_ms):
        start = _clock()
        run()
        times.append((_clock() - start) * 1e3)
    return sorted(times)[(len(times) - 1) // 4]


def _latency_ms(
    model: nn.Module, x: torch.Tensor, warmup: int, repeats: int, dev: torch.device
) -> float:
    """The model's latency in ms (:func:`low_quartile_ms` of its forward pass, synchronised on
    a GPU)."""

    def forward() -> None:
        _sync(dev)
        model(x)
        _sync(dev)

    # no_grad rather than inference_mode: a module that caches a tensor in forward would
    # otherwise hand training an inference tensor it cannot backpropagate through.
    with torch.no_grad():
        return low_quartile_ms(forward, warmup, repeats)
