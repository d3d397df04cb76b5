"""Everything a model costs before it trains, measured in one call (:func:`measure_cost`):
exact params, FLOPs, latency, memory and an energy estimate."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from nas.caller_state import keeps_caller_state
from nas.cost._prepare import _checked_shape, _prepared
from nas.cost.budget import Cost
from nas.cost.flops import _count_flops
from nas.cost.runtime import _activation_bytes, _latency_ms, _state_bytes, _tensor_bytes
from nas.errors import BudgetError, ModelTooLargeError

#: Energy per FLOP of a laptop CPU, in picojoules. A 28 W 4-core laptop chip with one AVX-512 FMA
#: unit peaks near 4 x 2.8 GHz x 32 FLOP/cycle = 358 GFLOP/s, i.e. about 80 pJ/FLOP at the
#: socket; rounded up to 100 because inference rarely runs at peak. The ALU alone costs a few pJ
#: (Horowitz, ISSCC 2014); memory traffic and idle cores make up the rest. An estimate for ranking
#: architectures, not a meter.
ENERGY_PJ_PER_FLOP = 100.0

_MIB = 1024**2


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Exact number of parameters (shared parameters once)."""
    params = [p for p in model.parameters() if p.requires_grad or not trainable_only]
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in params):
        raise BudgetError(
            "The model has uninitialized (lazy) parameters; run one forward pass first, or use "
            "measure_cost, which does."
        )
    return sum(p.numel() for p in params)


#: Bytes one parameter takes while it trains: float32 weight, gradient and two Adam moments.
TRAINING_BYTES_PER_PARAM = 16


def params_before_building(build: Callable[[Any], nn.Module], spec: Any) -> nn.Module | None:
    """``build(spec)`` on torch's meta device: the model's shapes without their storage, so the
    parameters of any sample (``units = 1e11`` included) are counted before a byte of it is
    allocated. None when a block cannot be built there; the model is then measured as before,
    once built."""
    try:
        with torch.device("meta"):
            return build(spec)
    except RuntimeError as e:
        if "overflow" in str(e):  # "Storage size calculation overflowed": > 2**63 elements
            raise ModelTooLargeError(
                "the sampled model has a layer larger than a tensor can hold "
                f"({' '.join(str(e).split())[:120]}); narrow the space (units, channels, blocks)."
            ) from None
        return None
    except Exception:  # noqa: BLE001 -- a block that needs real tensors to build
        return None


def check_fits_memory(params: int, what: str = "this model") -> None:
    """A ModelTooLargeError when training ``params`` parameters would need more memory than
    this machine has (weights, gradients and Adam's two moments, activations aside)."""
    total = _physical_memory()
    need = params * TRAINING_BYTES_PER_PARAM
    if total is not None and need > total:
        raise ModelTooLargeError(
            f"{what} has {params:,} parameters: training it needs {need / 2**30:,.1f} GiB for "
            f"its weights, gradients and optimizer state alone, more than this machine's "
            f"{total / 2**30:,.1f} GiB; narrow the space (units, channels, blocks)."
        )


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: no check
        return None


#: The batch latency is timed at ``batch_size`` examples, or as many as fit in this many bytes
#: of activations (as ``memory_mb`` bounds them per example): a transformer over a 3,000-column
#: table had asked for 36.9 GB at batch 256, and its trial failed.
BATCH_TIMING_BYTES = 512 * 1024 * 1024


@keeps_caller_state
def measure_cost(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    warmup: int = 3,
    repeats: int = 10,
    latency: bool = True,
) -> Cost:
    """Measure params, FLOPs, latency, memory and energy of ``model`` on float32 ``randn`` inputs.

    ``input_shape`` is one example's shape (no batch dim). Everything runs in eval mode under
    ``no_grad`` on ``device`` (default: where the model is); the model's train/eval flags, device
    and the grad mode are restored afterwards. Latency, at batch 1 and at ``batch_size``, with
    the process's torch threads (a search uses 1): after ``warmup`` untimed forward passes, at
    least ``repeats`` timed ones, more up to 20 while they have taken under 50 ms, and their lower
    quartile (the 2nd fastest of 5, the 5th of 20): load on the machine only adds time, so a low
    quantile is the model's own cost. ``latency=False`` skips it and leaves ``None``. A budget
    admits a value equal to its limit (``<=``).

    ``memory_mb`` (MiB): on CUDA, parameter + buffer + input bytes plus the allocator's peak growth
    during a batch-1 forward. Elsewhere, an upper bound: parameter + buffer + input bytes plus the
    outputs of every innermost module run (distinct storages, so views are free), all assumed live,
    plus the largest temporaries one module makes and frees inside its forward: a recurrent
    layer's gates, step outputs, states and (oneDNN's LSTM) reordered weights, a convolution's
    reordered weight or unfolded input (:mod:`nas.cost.runtime`). Checked against torch's
    allocator peak (torch.profiler) in tests/nas/test_cost_memory.py: 1-2x for recurrent models.
    ``energy_mj`` is ``flops * ENERGY_PJ_PER_FLOP``, per example. The batch latency's batch is
    smaller than ``batch_size`` where that many examples' activations would pass
    :data:`BATCH_TIMING_BYTES`; ``batch_size`` in the result says which batch was timed.
    """
    shape = _checked_shape(input_shape)
    lows = {"batch_size": (batch_size, 1), "warmup": (warmup, 0), "repeats": (repeats, 1)}
    for name, (value, low) in lows.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise BudgetError(f"measure_cost {name} must be an int >= {low}, got {value!r}.")
    with _prepared(model, device) as dev:
        one = torch.randn(1, *shape, device=dev)
        flops = _count_flops(model, one)  # also materializes lazy modules before counting params
        activations = _activation_bytes(model, one)
        memory = _state_bytes(model) + _tensor_bytes(one, set()) + activations
        lat = lat_batch = None
        per_example = activations + _tensor_bytes(one, set())
        if per_example * batch_size > BATCH_TIMING_BYTES:  # e.g. attention over 3,000 steps
            batch_size = max(1, BATCH_TIMING_BYTES // max(per_example, 1))
        if latency:
            lat = _latency_ms(model, one, warmup, repeats, dev)
            many = torch.randn(batch_size, *shape, device=dev)
            lat_batch = _latency_ms(model, many, warmup, repeats, dev)
    return Cost(
        params=count_params(model),
        trainable_params=count_params(model, trainable_only=True),
        flops=flops,
        latency_ms=lat,
        latency_ms_batch=lat_batch,
        batch_size=batch_size,
        memory_mb=memory / _MIB,
        energy_mj=flops * ENERGY_PJ_PER_FLOP * 1e-9,  # pJ -> mJ
        device=str(dev),
        threads=torch.get_num_threads() if latency else None,
    )


__all__ = ["BATCH_TIMING_BYTES", "ENERGY_PJ_PER_FLOP", "count_params", "measure_cost"]
