"""TorchScript through ``torch.jit.trace`` of the eval model, run back with ``torch.jit.load``.

Tracing, not scripting: nas's models are straight-line networks whose only shape dependence is
the batch size, and tracing records exactly the kernels eval-mode PyTorch runs (the Transformer
inference fast path included, since the trace runs under ``no_grad``). The check at batch 1 and
at batch N catches a trace that froze the batch size. TorchScript is deprecated in torch 2.13
(``torch.export`` is its successor); this format is for runtimes that still load it (libtorch
C++, older mobile stacks).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.exporting._base import Format, Runner, example_args, quiet
from nas.exporting._target import Exportable


class TorchScriptFormat(Format):
    """TorchScript (``torch.jit.trace``), checked and timed with ``torch.jit.load``."""

    name = "torchscript"
    title = "TorchScript"
    suffix = ".torchscript.pt"
    suffixes = (".pt", ".pth")  # what torch.jit.save's examples and users name them
    runtime = "torch.jit"

    def runtime_version(self) -> str:
        return f"torch.jit {torch.__version__}"

    def write(self, target: Exportable, path: Path) -> dict[str, Any]:
        # check_trace would re-run the same two rows; the export's own check is stricter
        with quiet(), torch.no_grad():
            traced = torch.jit.trace(target.module, example_args(target), check_trace=False)
            torch.jit.save(traced, str(path))
        return {"exporter": "torch.jit.trace", "inputs_in_order": list(target.inputs)}

    def load(self, path: Path, threads: int) -> Runner:
        with quiet():
            module = torch.jit.load(str(path), map_location="cpu")
        module.eval()

        def run(inputs: Mapping[str, torch.Tensor]) -> np.ndarray:
            with torch.no_grad():
                return module(*inputs.values()).numpy()

        return run


__all__ = ["TorchScriptFormat"]
