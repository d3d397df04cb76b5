"""Export one model: write it to a temporary file, load it back with the format's runtime,
check it against PyTorch, time both, and only then move it into place."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nas.errors import NasError, StorageError
from nas.exporting._base import Format, quiet, why
from nas.exporting._check import (
    REPEATS,
    TOLERANCE,
    WARMUP,
    check,
    latency,
    nondeterminism,
    pytorch_runner,
)
from nas.exporting._onnx import OnnxFormat
from nas.exporting._target import Exportable
from nas.exporting._torchscript import TorchScriptFormat

#: The export formats by name (``--format``); their order is the CLI's.
FORMATS: dict[str, Format] = {f.name: f for f in (OnnxFormat(), TorchScriptFormat())}


def get_format(name: str) -> Format:
    """The registered format ``name``, or a NasError listing the known ones."""
    if name not in FORMATS:
        raise NasError(f"export format {name!r} is unknown; choose one of {list(FORMATS)}.")
    return FORMATS[name]


@dataclass(frozen=True)
class ExportReport:
    """What one export wrote and measured (``to_dict`` is its record in ``export.json``)."""

    format: str
    path: Path
    runtime: str  # with its version
    family: str
    architecture: str
    how: dict[str, Any]  # the exporter and, for ONNX, the opset
    inputs: dict[str, list[int | str]]
    output: dict[str, list[int | str]]
    examples: int  # rows checked
    rows: str  # what they were
    max_abs_diff: float
    threads: int
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # runner -> batch
    note: str = ""  # why the rows are not the usual ones (the run's validation examples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "path": str(self.path.resolve()),
            "family": self.family,
            "architecture": self.architecture,
            **self.how,
            "runtime": self.runtime,
            "inputs": self.inputs,
            "output": self.output,
            "check": {
                "examples": self.examples,
                "rows": self.rows,
                "tolerance": TOLERANCE,
                "max_abs_diff": self.max_abs_diff,
                **({"note": self.note} if self.note else {}),
            },
            "latency_ms": {
                "threads": self.threads,
                "warmup": WARMUP,
                "repeats": REPEATS,
                "statistic": "lower quartile",
                **self.latency_ms,
            },
        }


def export_model(
    target: Exportable, format: str, path: str | os.PathLike[str], *, threads: int | None = None
) -> ExportReport:
    """Export ``target`` to ``path`` as ``format``; checked and timed on ``threads`` threads
    (default 1, as a search times latency) for PyTorch and the runtime alike, and written only
    if the exported file reproduces PyTorch within :data:`TOLERANCE` (max abs)."""
    fmt = get_format(format)
    fmt.require()
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):  # fmt: skip
        raise NasError(f"threads must be an integer >= 1, got {threads!r}.")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise StorageError(f"Cannot write to {path.parent} ({e.strerror or e}); choose a "
                           "writable place (-o).") from None  # fmt: skip
    os.close(fd)
    tmp = Path(name)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads or 1)
        report = _export(fmt, target, path, tmp)
        os.replace(tmp, path)
        os.chmod(path, 0o666 & ~_umask())
        return report
    finally:
        torch.set_num_threads(before)
        tmp.unlink(missing_ok=True)


def _export(fmt: Format, target: Exportable, path: Path, tmp: Path) -> ExportReport:
    other = [f for f in FORMATS if f != fmt.name]
    fix = f"nothing was written (--format {other[0]} may work)" if other else "nothing was written"
    what = f"{fmt.title} export of this {target.family} model"
    with quiet():
        random = nondeterminism(target)  # PyTorch against itself first (/tmp/oG5 F9)
    if random:
        raise NasError(f"Cannot export: {random}; nothing was written.")
    try:
        how = fmt.write(target, tmp)
    except Exception as e:  # any exporter failure means this model cannot take this format
        raise NasError(f"{what} failed: {why(e)}; {fix}.") from None
    threads = torch.get_num_threads()
    try:
        runner = fmt.load(tmp, threads)
        with quiet():
            diff = check(target, runner)
    except Exception as e:
        raise NasError(f"{fmt.runtime} cannot run the {what} ({why(e)}); {fix}.") from None
    if not diff <= TOLERANCE:
        raise NasError(f"The {what} differs from PyTorch by {diff:.3g} (max abs) on "
                       f"{target.rows} examples, more than {TOLERANCE:g}; {fix}.")  # fmt: skip
    with quiet():
        times = latency(target, {"pytorch": pytorch_runner(target), fmt.runtime: runner})
    return ExportReport(
        format=fmt.name,
        path=path,
        runtime=fmt.runtime_version(),
        family=target.family,
        architecture=target.summary,
        how=how,
        inputs=target.shapes(),
        output={target.output: ["batch", *target.output_shape]},
        examples=target.rows,
        rows=str(target.notes.get("rows", "")),
        max_abs_diff=diff,
        threads=threads,
        latency_ms=times,
        note=str(target.notes.get("note", "")),
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["FORMATS", "ExportReport", "export_model", "get_format"]
