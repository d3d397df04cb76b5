"""The found model, exported: ``nas.export(RUN, format="onnx" | "torchscript")``.

- :mod:`nas.exporting._run`: :func:`export` (a run directory's winner; :func:`export_run`
  returns its record and notes too) and :func:`read_exports` (its record,
  ``RUN/export/export.json``).
- :mod:`nas.exporting._export`: :func:`export_model` (one built model: write, check, time),
  :data:`FORMATS` and :class:`ExportReport`.
- :mod:`nas.exporting._target`: :func:`exportable`, what is exported and checked (a GAN: its
  generator, fed a latent and a one-hot label).
- :mod:`nas.exporting._onnx` / :mod:`nas.exporting._torchscript`: the formats (a small
  :class:`~nas.exporting._base.Format` strategy each); :mod:`nas.exporting._describe`: the
  ``preprocessing.json`` written beside the model.

onnx, onnxscript and onnxruntime are optional (``pip install 'nas[export]'``): they are
imported only by an ONNX export.
"""

from __future__ import annotations

from nas.exporting._check import TOLERANCE
from nas.exporting._export import FORMATS, ExportReport, export_model, get_format
from nas.exporting._onnx import OPSET
from nas.exporting._run import (
    PREPROCESSING,
    RunExport,
    export,
    export_notes,
    export_run,
    read_exports,
)
from nas.exporting._target import CHECK_ROWS, Exportable, exportable

__all__ = [
    "CHECK_ROWS",
    "FORMATS",
    "OPSET",
    "PREPROCESSING",
    "TOLERANCE",
    "ExportReport",
    "Exportable",
    "RunExport",
    "export",
    "export_model",
    "export_notes",
    "export_run",
    "exportable",
    "get_format",
    "read_exports",
]
