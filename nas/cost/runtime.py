"""What a forward pass costs at run time: latency (a median over timed runs after warm-up) and
memory (state, and activation bytes: measured on CUDA, an upper bound elsewhere)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import nn


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


def _activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Activation bytes of a batch-1 forward pass (CUDA: measured peak; else an upper bound)."""
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
    total = 0

    def pre(m: nn.Module, args: tuple[Any, ...]) -> None:
        if child_ran:
            child_ran[-1] = True
        child_ran.append(False)

    def post(m: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        nonlocal total
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
    return total


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _median_ms(
    model: nn.Module, x: torch.Tensor, warmup: int, repeats: int, dev: torch.device
) -> float:
    # no_grad rather than inference_mode: a module that caches a tensor in forward would
    # otherwise hand training an inference tensor it cannot backpropagate through.
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        for _ in range(repeats):
            _sync(dev)
            start = time.perf_counter()
            model(x)
            _sync(dev)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
