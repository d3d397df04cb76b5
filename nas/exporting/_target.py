"""What is exported: the module, its named inputs, the rows it is checked on, and the PyTorch
call its output must match."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nas.errors import NasError
from search_spaces import NasModel

CHECK_ROWS = 256  # the examples every export is checked on (and the large latency batch)
RANDOM = "random inputs (N(0, 1), seeded {seed})"  # what random_rows gives, for the record


@dataclass(frozen=True)
class Exportable:
    """One exportable network: ``module(*inputs)`` gives one tensor, batch first.

    ``reference`` is what a PyTorch user calls (``model(x)``, ``gan.generate(z, y)``) on the
    same inputs: the exported file must reproduce it, not merely ``module``.
    """

    module: nn.Module  # in eval mode
    inputs: Mapping[str, torch.Tensor]  # name -> (N, ...) float32 rows, N <= CHECK_ROWS
    output: str  # the output's name in the exported file
    output_shape: tuple[int, ...]  # per example
    reference: Callable[..., torch.Tensor]
    family: str
    summary: str
    task: str  # classification | regression | generation
    notes: Mapping[str, Any] = field(default_factory=dict)  # how the inputs were made

    @property
    def rows(self) -> int:
        return int(next(iter(self.inputs.values())).shape[0])

    def shapes(self) -> dict[str, list[int | str]]:
        """Each input's shape with the batch dimension named ``batch``."""
        return {k: ["batch", *map(int, v.shape[1:])] for k, v in self.inputs.items()}


def exportable(
    model: nn.Module,
    rows: torch.Tensor | Callable[[], torch.Tensor] | None = None,
    *,
    seed: int = 0,
) -> Exportable:
    """The exportable view of a built NasModel, checked on ``rows`` (its first CHECK_ROWS; a
    callable is called for them only then). Other models are exported through their search
    kind (``SearchKind.exportable``: a GAN exports its generator)."""
    model.eval()
    if not isinstance(model, NasModel):
        raise NasError(f"nas exports the models it builds, not a {type(model).__name__}; "
                       "rebuild it with nas.load_model(RUN).")  # fmt: skip
    if callable(rows):
        rows = rows()
    if rows is None or len(rows) == 0:
        raise NasError("export needs example rows to check the model on; pass the run's "
                       "validation inputs (data.val.X).")  # fmt: skip
    x = rows[:CHECK_ROWS].detach().to(torch.float32).cpu()
    expected = tuple(model.spec.input_shape)
    if tuple(x.shape[1:]) != expected:
        raise NasError(f"the check rows have shape {tuple(x.shape[1:])} per example, the model "
                       f"takes {expected}; pass rows of the run's own data.")  # fmt: skip
    spec = model.spec
    return Exportable(
        module=model,
        inputs={"x": x},
        output="logits" if spec.task == "classification" else "prediction",
        output_shape=tuple(model.output_shape),
        reference=model,
        family=spec.family,
        summary=spec.summary(),
        task=spec.task,
        notes={"rows": "validation examples"},
    )


def random_rows(input_shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """CHECK_ROWS seeded N(0, 1) rows of ``input_shape``, for a check that cannot have the run's
    validation examples (:data:`RANDOM` names them): the space most of nas's preprocessed inputs
    lie in (standardized), and any finite rows of the model's shape compare the exported graph
    with PyTorch."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(CHECK_ROWS, *input_shape, generator=generator)


__all__ = ["CHECK_ROWS", "RANDOM", "Exportable", "exportable", "random_rows"]
