"""What every measurement shares: one example's input shape, checked, and the model put in eval
mode on the measuring device for the duration (its own flags and device restored after)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from nas.errors import ShapeError


@contextmanager
def _prepared(model: nn.Module, device: str | torch.device | None) -> Iterator[torch.device]:
    """Eval mode on ``device``; then every module's own flag (mixed modes survive) and device."""
    flags = [(m, m.training) for m in model.modules()]
    home = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
    target = home if device is None else torch.device(device)
    if target.type == "cuda" and target.index is None:
        target = torch.device("cuda", torch.cuda.current_device())
    moved = target != home
    try:
        if moved:
            model.to(target)
        model.eval()
        yield target
    finally:
        if moved:
            model.to(home)
        for m, training in flags:
            m.training = training


def _checked_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    ok = isinstance(input_shape, (tuple, list, torch.Size)) and all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in input_shape
    )
    if not ok:
        raise ShapeError(
            "input_shape must be a tuple of positive ints, one example's shape without the batch "
            f"dim (e.g. (3, 32, 32)), got {input_shape!r}."
        )
    return tuple(input_shape)
