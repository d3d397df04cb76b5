"""The optimizer, its per-step learning-rate schedule, and the number of steps in an epoch."""

from __future__ import annotations

import math

import torch
from torch import nn

from nas.errors import NasError
from search_spaces.spec import TrainSpec


def steps_per_epoch(n: int, batch_size: int) -> int:
    """``ceil(n / batch_size)`` (batch size capped at ``n``), except that a one-example tail
    batch is folded into the batch before it, because BatchNorm cannot train on one example."""
    bs = min(batch_size, n)
    steps = math.ceil(n / bs)
    return steps - 1 if steps > 1 and n % bs == 1 else steps


def make_optimizer(model: nn.Module, train: TrainSpec) -> torch.optim.Optimizer:
    """SGD (with momentum), Adam or AdamW; weight decay applies to weights, not biases/norms."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise NasError("The model has no trainable parameters; nothing to train.")
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": train.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if train.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=train.lr, momentum=train.momentum)
    cls = torch.optim.Adam if train.optimizer == "adam" else torch.optim.AdamW
    return cls(groups, lr=train.lr)


def make_scheduler(
    optimizer: torch.optim.Optimizer, train: TrainSpec, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-step schedule: none, cosine to zero, or one-cycle peaking at ``train.lr``.

    One-cycle keeps the spec's momentum (``cycle_momentum=False``): the search tunes it.
    """
    if train.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if train.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=train.lr, total_steps=total_steps, cycle_momentum=False
        )
    return None


__all__ = ["make_optimizer", "make_scheduler", "steps_per_epoch"]
