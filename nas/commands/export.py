"""``nas export``: a run's winner as an ONNX or TorchScript file, checked against PyTorch."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nas.commands._app import app, friendly, out
from nas.exporting import CHECK_ROWS, FORMATS, PREPROCESSING, export_run

FormatName = Enum("FormatName", {f: f for f in FORMATS}, type=str)  # type: ignore[misc]


@app.command()
@friendly
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    format: Annotated[
        FormatName,  # type: ignore[valid-type]
        typer.Option("--format", "-f", help="onnx (opset 18, for onnxruntime) or torchscript."),
    ] = FormatName("onnx"),
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="File to write, or a folder to write model.* in (default: RUN_DIR/export/).",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, help="Threads of the latency runs (default: 1, as a search times latency)."
        ),  # fmt: skip
    ] = None,
) -> None:
    """Export a run's winner, checked against PyTorch on 256 validation examples.

    Writes the model and, beside it, preprocessing.json (how to prepare its inputs).
    Records the check and the latencies in RUN_DIR/export/export.json.
    Example: nas export runs/iris-auto --format onnx
    """
    name = format.value
    done = export_run(run_dir, name, output, threads=threads)
    path, record = done.path, done.record
    fmt = FORMATS[name]
    how = f"opset {record['opset']}, " if "opset" in record else ""
    out.print(f"wrote {path} ({fmt.title}, {how}dynamic batch) and {path.parent / PREPROCESSING}"
              " (how to prepare its inputs)", markup=False, soft_wrap=True)  # fmt: skip
    check = record["check"]
    out.print(f"checked with {record['runtime']}: max abs difference from PyTorch "
              f"{check['max_abs_diff']:.2g} on {check['examples']} {check['rows']} "
              f"(tolerance {check['tolerance']:g})", markup=False, soft_wrap=True)  # fmt: skip
    if check.get("note"):  # not the run's validation examples, and why
        out.print(f"note: {check['note']}", markup=False, soft_wrap=True)
    latency = record["latency_ms"]
    n = latency["threads"]
    table = Table(title=f"latency, lower-quartile ms ({n} thread{'s' if n > 1 else ''})")
    for col in ("runtime", "batch 1", f"batch {CHECK_ROWS}"):
        table.add_column(col, justify="left" if col == "runtime" else "right")
    for runtime, times in latency.items():
        if isinstance(times, dict):
            table.add_row(runtime, f"{times['1']:.3f}", f"{times[str(CHECK_ROWS)]:.3f}")
    out.print(table)
    for note in done.notes:  # a record not written (a read-only run)
        if note != check.get("note"):
            out.print(f"note: {note}", markup=False, soft_wrap=True)
    if done.recorded:
        out.print(f"recorded in {Path(run_dir) / 'export' / 'export.json'}", markup=False)
