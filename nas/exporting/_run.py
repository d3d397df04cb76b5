"""``nas.export(RUN)``: a run's winner exported, its preprocessing described beside it, and
the check and latencies recorded in ``RUN/export/export.json``."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from nas.config import SearchConfig
from nas.errors import NasError, StorageError
from nas.exporting._base import Format
from nas.exporting._describe import KIND, describe
from nas.exporting._export import export_model, get_format
from nas.kinds import get_kind
from nas.reading import load_model, read_json, readable_run_dir
from nas.run import json_safe, write_json

FOLDER = "export"  # in the run directory: the default output, and the record
RECORD = "export.json"  # {format: ExportReport.to_dict() + where its preprocessing.json is}
PREPROCESSING = "preprocessing.json"  # beside the exported model


def export(
    run: str | os.PathLike[str],
    format: str = "onnx",
    path: str | os.PathLike[str] | None = None,
    *,
    threads: int | None = None,
) -> Path:
    """Export the winner of run directory ``run`` as ``format`` ("onnx" or "torchscript") to
    ``path`` (default ``RUN/export/model.onnx`` / ``model.torchscript.pt``) and return it.

    The file is written only if its runtime (onnxruntime, ``torch.jit.load``) reproduces
    PyTorch within 1e-5 (max abs) on the run's first 256 validation examples (a GAN: its
    generator, on seeded latents and every class); otherwise one NasError says why. Beside the
    file, ``preprocessing.json`` says how to prepare inputs (the run's train-fitted
    preprocessing, not folded into the graph) and read the output; the check and the latencies
    at batch 1 and 256 (PyTorch and the runtime, on ``threads`` threads; default torch's
    setting) go to ``RUN/export/export.json``.
    """
    fmt = get_format(format)
    fmt.require()  # before anything is loaded: a missing extra is the first thing to fix
    run_dir = readable_run_dir(run)
    config = SearchConfig.read(run_dir)
    model = load_model(run_dir)
    out = _output_path(run_dir, fmt, path)
    beside = out.parent / PREPROCESSING
    existing = _check_overwritable(beside)  # before the data loads: a wrong -o fails fast
    kind = get_kind(config.kind)
    target = kind.exportable(model, lambda: config.load_data().val.X, seed=config.seed)
    prep = (config.data_info or {}).get("preprocessing") or {}
    if target.task == "regression" and "y_mean" in prep:  # the graph ends before the target's
        # scaling is undone: its name says so, where a consumer reads only the graph
        target = dataclasses.replace(target, output="prediction_standardized")
    described = describe(target, config.data_info)
    if existing is not None and existing != json.loads(json.dumps(json_safe(described))):
        raise NasError(
            f"{beside} describes another exported model ({existing.get('architecture')}); "
            "export this one into another folder (-o), so that each model keeps its own "
            f"{PREPROCESSING}."
        )
    record_dir = run_dir / FOLDER
    try:
        record_dir.mkdir(exist_ok=True)
    except OSError as e:
        raise StorageError(f"Cannot write to {record_dir} ({e.strerror or e}); make the run "
                           "directory writable.") from None  # fmt: skip
    report = export_model(target, fmt.name, out, threads=threads)
    write_json(beside, described)
    records = read_exports(run_dir)
    records[fmt.name] = {**report.to_dict(), "preprocessing": str(beside.resolve())}
    write_json(record_dir / RECORD, records)
    return out


def read_exports(run: str | os.PathLike[str]) -> dict[str, Any]:
    """The run's export record, ``{format: what its last export wrote and measured}``; empty
    when nothing was exported (or the record is unreadable: the next export rewrites it)."""
    path = Path(run) / FOLDER / RECORD
    if not path.is_file():
        return {}
    try:
        record = read_json(path)
    except NasError:
        return {}
    return record if isinstance(record, dict) else {}


def _output_path(run_dir: Path, fmt: Format, path: str | os.PathLike[str] | None) -> Path:
    """Where ``-o path`` writes: a folder (one that exists, ends in a separator or has no
    suffix) gets ``model<suffix>`` inside it, as ``cp`` would; a file name must end as the
    format's files do, and stay out of the run's own files."""
    suffix = fmt.suffix
    if path is None:
        return run_dir / FOLDER / f"model{suffix}"
    out = Path(path)
    if out.is_dir() or str(path).endswith(("/", os.sep)) or not out.suffix:
        out = out / f"model{suffix}"  # a folder, existing or to make, as cp and mv read one
    elif not out.name.endswith(fmt.suffixes):
        raise NasError(f"path (-o) {out} does not end in {' or '.join(fmt.suffixes)}, "
                       f"the suffix of this format's files; name it e.g. "
                       f"{out.with_name(out.name.split('.')[0] + suffix)}, or pick the format that "
                       "writes it (--format).")  # fmt: skip
    if out.name == PREPROCESSING:
        raise NasError(f"path (-o) {out}: {PREPROCESSING} is the file nas writes beside "
                       f"the model; name the model e.g. model{suffix}.")  # fmt: skip
    inside = out.resolve().is_relative_to(run_dir.resolve())
    if inside and not out.resolve().is_relative_to((run_dir / FOLDER).resolve()):
        raise NasError(f"path (-o) {out} is inside the run directory but outside its {FOLDER}/ "
                       f"folder, where the run's own files are; write under "
                       f"{run_dir / FOLDER} or outside the run.")  # fmt: skip
    return out


def _check_overwritable(path: Path) -> dict[str, Any] | None:
    """What a preprocessing.json nas wrote at ``path`` holds (None when absent), for the caller
    to compare with the model it exports: another model's is kept, since the model exported
    beside it would be left with this one's preprocessing. A file nas did not write is never
    replaced (a NasError)."""
    if not path.exists():
        return None
    try:
        existing = read_json(path)
        ours = existing.get("kind") == KIND
    except (NasError, AttributeError):
        ours = False
    if not ours:
        raise NasError(
            f"{path} exists and was not written by nas export (it writes {PREPROCESSING} "
            "beside the model); choose another folder for the model (-o)."
        )
    return existing


__all__ = ["FOLDER", "PREPROCESSING", "RECORD", "export", "read_exports"]
