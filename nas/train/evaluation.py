"""A trained model's outputs and metrics: eval mode, no gradients, batched by slicing."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nas import metrics
from nas.data.taskdata import Split
from nas.errors import DataError
from nas.train._checks import _check_positive

# Examples per forward pass when predicting (no gradients kept). 256, not more: a validation
# pass of 1,024 examples through a 766k-parameter conv1d net lifted a trial's peak RSS from 526
# to 677 MB (issue 11) and is no faster on a CPU.
EVAL_BATCH_SIZE = 256


def _model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _outputs(
    model: nn.Module, X: torch.Tensor, batch_size: int, device: torch.device
) -> torch.Tensor:
    if len(X) == 0:
        raise DataError("Cannot predict on zero examples; the split is empty.")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = [model(X[i : i + batch_size].to(device)) for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts)


def predict(
    model: nn.Module,
    X: torch.Tensor,
    batch_size: int = EVAL_BATCH_SIZE,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The model's outputs for ``X`` (eval mode, no gradients, batched by slicing), on the CPU."""
    _check_positive("batch_size", batch_size)
    dev = torch.device(device) if device is not None else _model_device(model)
    return _outputs(model, X, batch_size, dev).cpu()


def evaluate(
    model: nn.Module,
    split: Split,
    task: str,
    n_classes: int | None = None,
    *,
    batch_size: int = EVAL_BATCH_SIZE,
) -> dict[str, Any]:
    """Every metric of ``task`` on ``split`` (see :func:`nas.metrics.compute_metrics`)."""
    return metrics.compute_metrics(task, split.y, predict(model, split.X, batch_size), n_classes)


__all__ = ["EVAL_BATCH_SIZE", "evaluate", "predict"]
