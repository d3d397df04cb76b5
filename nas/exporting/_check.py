"""The export's check and timing: the exported file against PyTorch on the same rows, and
the latency of both at batch 1 and at batch CHECK_ROWS."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from nas.cost.runtime import low_quartile_ms
from nas.exporting._base import Runner
from nas.exporting._target import CHECK_ROWS, Exportable
from search_spaces import extensions

TOLERANCE = 1e-5  # the largest absolute difference from PyTorch an export may have
WARMUP, REPEATS = 3, 10  # untimed calls, then at least this many timed ones
MAX_RUNS, BUDGET_MS = 40, 200.0  # more timed calls, while they take under this in all


def _timed(run: Callable[[], Any]) -> float:
    """nas.cost's lower quartile of timed calls, with the export's counts."""
    return low_quartile_ms(run, WARMUP, REPEATS, MAX_RUNS, BUDGET_MS)


def pytorch_runner(target: Exportable) -> Runner:
    """The reference, as eval-mode PyTorch runs it (under no_grad, so the Transformer takes
    its inference fast path)."""

    def run(inputs: Mapping[str, torch.Tensor]) -> np.ndarray:
        with torch.no_grad():
            return target.reference(*inputs.values()).numpy()

    return run


def max_abs_diff(expected: np.ndarray, got: np.ndarray) -> float:
    """The largest absolute difference; infinite when the shapes differ or only one side is
    not finite at some place (NaN against NaN counts as equal)."""
    if expected.shape != got.shape:
        return float("inf")
    both_nan = np.isnan(expected) & np.isnan(got)
    diff = np.where(both_nan, 0.0, np.abs(expected.astype(np.float64) - got))
    return float(np.nan_to_num(diff, nan=np.inf).max(initial=0.0))


def check(target: Exportable, exported: Runner) -> float:
    """The max abs difference between the exported file and PyTorch on all the check rows
    at once and on the first row alone (batch 1)."""
    reference = pytorch_runner(target)
    first = {k: v[:1] for k, v in target.inputs.items()}
    return max(
        max_abs_diff(reference(target.inputs), exported(target.inputs)),
        max_abs_diff(reference(first), exported(first)),
    )


def nondeterminism(target: Exportable) -> str | None:
    """Why no export can match the model, when PyTorch does not match itself: its output on the
    check rows, computed twice, differs by more than TOLERANCE. None when the two passes agree.

    A forward that draws random numbers in eval mode (an extension adding ``torch.randn``, a
    dropout that ``eval()`` does not turn off) had each format fail its check, each error
    saying the other format may work (/tmp/oG5 F9). The stage where the passes first part is
    named when the model is a stack of named stages (a NasModel)."""
    outputs: list[dict[str, torch.Tensor]] = [{}, {}]
    stages = _stages(target.module)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        results = []
        for seen in outputs:
            hooks = [
                module.register_forward_hook(
                    lambda m, i, out, name=name, seen=seen: seen.setdefault(name, out)
                )
                for name, module in stages
            ]
            try:
                results.append(target.reference(*target.inputs.values()).numpy())
            finally:
                for hook in hooks:
                    hook.remove()
    diff = max_abs_diff(results[0], results[1])
    if diff <= TOLERANCE:
        return None
    where = ""
    kinds = {stage.name: stage.kind for stage in getattr(target.module, "stages", ())}
    for name, _ in stages:
        a, b = outputs[0].get(name), outputs[1].get(name)
        if (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and max_abs_diff(a.numpy(), b.numpy()) > TOLERANCE
        ):
            kind = kinds.get(name, "")
            origin = extensions.origin("block", kind) if kind else None
            by = (
                f", from the extension {origin}"
                if origin and extensions.is_extension(origin)
                else ""
            )
            where = f", first at its stage {name}" + (f" ({kind}{by})" if kind else "")
            break
    return (
        f"the model is not deterministic in eval mode: PyTorch itself, run twice on the same "
        f"{target.rows} examples, differs by {diff:.3g} (max abs){where}. Its forward draws "
        "random numbers (torch.randn, torch.rand, ...), applies a dropout that eval() does not "
        "turn off (F.dropout(..., training=True)) or keeps a state that changes with each call; "
        "no export can match it. Make the "
        "forward deterministic when not self.training"
    )


def _stages(module: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """A NasModel's stages in order (``features``' children, then ``head``); none else."""
    features, head = getattr(module, "features", None), getattr(module, "head", None)
    if not isinstance(features, torch.nn.Sequential) or not isinstance(head, torch.nn.Module):
        return []
    return [*features.named_children(), ("head", head)]


def latency(target: Exportable, runners: Mapping[str, Runner]) -> dict[str, dict[str, float]]:
    """``{runner name: {"1": ms, "<CHECK_ROWS>": ms}}``; the large batch repeats the check
    rows when there are fewer of them."""
    index = torch.arange(CHECK_ROWS) % target.rows
    batches = {
        "1": {k: v[:1] for k, v in target.inputs.items()},
        str(CHECK_ROWS): {k: v[index] for k, v in target.inputs.items()},
    }
    return {
        name: {
            size: _timed(lambda r=run, b=batch: r(b)) for size, batch in batches.items()
        }  # fmt: skip
        for name, run in runners.items()
    }


__all__ = [
    "REPEATS",
    "TOLERANCE",
    "WARMUP",
    "check",
    "latency",
    "max_abs_diff",
    "nondeterminism",
]
