"""ONNX through ``torch.onnx.export(..., dynamo=True)``, run back with onnxruntime.

The exporter is the torch.export-based one: it is torch 2.13's default and maintained path
(the TorchScript-based ``dynamo=False`` exporter is deprecated). The batch dimension of every
input and of the output is dynamic (named ``batch``); all other dimensions are fixed by the
architecture.

Opset 18, deliberately: it is the opset torch 2.13's ONNX function library (torchlib) is written
against, so no version converter runs (a known source of failed exports); everything nas builds
(Gemm, Conv, LSTM / GRU / RNN, LayerNormalization, attention as MatMul + Softmax) exists in it;
and it reaches more runtimes than torch's default of 20 (onnxruntime since 1.14, and the mobile
and accelerator runtimes that lag behind the newest opsets).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.exporting._base import Format, Runner, example_args, quiet
from nas.exporting._target import Exportable

OPSET = 18


class OnnxFormat(Format):
    """ONNX, opset :data:`OPSET`, checked and timed with onnxruntime."""

    name = "onnx"
    title = "ONNX"
    suffix = ".onnx"
    suffixes = (".onnx",)
    runtime = "onnxruntime"

    packages = ("onnx", "onnxscript", "onnxruntime")  # the exporter needs the first two

    def runtime_version(self) -> str:
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__}"

    def write(self, target: Exportable, path: Path) -> dict[str, Any]:
        batch = torch.export.Dim("batch", min=1)
        with quiet():
            program = torch.onnx.export(
                target.module,
                example_args(target),
                dynamo=True,
                opset_version=OPSET,
                input_names=list(target.inputs),
                output_names=[target.output],
                dynamic_shapes=tuple({0: batch} for _ in target.inputs),
                verbose=False,
            )
            # one self-contained file: nas's models are far below protobuf's 2 GB limit
            program.save(path, external_data=False)
        return {"exporter": "torch.onnx.export(dynamo=True)", "opset": OPSET}

    def load(self, path: Path, threads: int) -> Runner:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # as many as PyTorch uses: a fair comparison
        options.inter_op_num_threads = 1
        with quiet():
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )

        def run(inputs: Mapping[str, torch.Tensor]) -> np.ndarray:
            feeds = {k: v.numpy() for k, v in inputs.items()}
            return np.asarray(session.run(None, feeds)[0])

        return run


__all__ = ["OPSET", "OnnxFormat"]
