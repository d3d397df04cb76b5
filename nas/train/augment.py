"""Augmenting training inputs (``TrainSpec.augment``): applied to the batches a model trains
on, never to validation, test or new data.

``"shift"`` moves each image of a batch by its own random whole number of pixels, up to 1/8 of
its height and of its width (at least one pixel; the 4 of 32 that CIFAR training uses, 1 of 8
for the 8x8 digits), filling the uncovered border with zeros: blank for inputs scaled to
[0, 1], the channel's mean for standardized ones.

The built-in spaces do not search it: a space file asks for it (``[train] augment = { choices =
["none", "shift"] }``). On the 8x8 digits, where one pixel is an eighth of the image, it lowered
the mean test accuracy of three CNNs retrained eight times on each of three splits
(``benchmarks/augment_digits.py``, BENCHMARKS.md); larger images are where it is worth trying.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def max_shift(side: int) -> int:
    """The largest move along a side of ``side`` pixels: 1/8 of it, at least 1."""
    return max(1, round(side / 8))


def shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``x`` (N, C, H, W), each image moved by its own (dy, dx), drawn uniformly from
    ``-max_shift .. max_shift`` per axis with ``gen`` (a CPU generator); a new tensor."""
    if x.dim() != 4:
        raise ValueError(f"shift moves (N, C, H, W) images, got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    ph, pw = max_shift(h), max_shift(w)
    dy = torch.randint(0, 2 * ph + 1, (n,), generator=gen).to(x.device)
    dx = torch.randint(0, 2 * pw + 1, (n,), generator=gen).to(x.device)
    padded = F.pad(x, (pw, pw, ph, ph))  # zeros around every image
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    images = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(c, device=x.device)[None, :, None, None]
    # the window at (dy, dx) of the padded image: dy = ph, dx = pw is the image unmoved
    return padded[images, channels, rows, cols]


AUGMENTS = {"shift": shift}

__all__ = ["AUGMENTS", "max_shift", "shift"]
