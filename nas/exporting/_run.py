"""``nas.export(RUN)``: a run's winner exported, its preprocessing described beside it, and
the check and latencies recorded in ``RUN/export/export.json``."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nas.caller_state import keeps_caller_state
from nas.config import SearchConfig
from nas.data.fingerprint import file_fingerprint, short
from nas.errors import NasError, StorageError
from nas.exporting._base import Format
from nas.exporting._describe import KIND, describe
from nas.exporting._export import export_model, get_format
from nas.exporting._target import RANDOM, random_rows
from nas.kinds import get_kind
from nas.reading import (
    file_sha256,
    load_model,
    read_json,
    readable_run_dir,
    unchecked_note,
    version_notes,
)
from nas.run import check_inside, json_safe, write_json

FOLDER = "export"  # in the run directory: the default output, and the record
RECORD = "export.json"  # {format: ExportReport.to_dict() + where its preprocessing.json is}
PREPROCESSING = "preprocessing.json"  # beside the exported model


@dataclass(frozen=True)
class RunExport:
    """What :func:`export_run` wrote: the model's path, its record (``export.json``'s entry for
    the format, unless the run is read-only) and the notes to show (the check's other rows, and
    why; a record not written)."""

    path: Path
    record: dict[str, Any]
    notes: tuple[str, ...] = ()
    recorded: bool = True  # in RUN/export/export.json (not where the run is read-only)


@keeps_caller_state
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
    generator, on seeded latents and every class); otherwise one NasError says why. Where the
    search's data cannot be loaded (a run moved without its data file) or is not the data the
    run searched (its fingerprint differs), the check runs on 256 seeded N(0, 1) inputs of the
    model's input shape instead, and a UserWarning and the record say so and why. Beside the
    file, ``preprocessing.json`` says how to prepare inputs (the run's train-fitted
    preprocessing, not folded into the graph) and read the output; the check and the latencies
    at batch 1 and 256 (PyTorch and the runtime, on ``threads`` threads; default 1, as a search
    times latency, whatever torch's setting: /tmp/oH5 F8) go to ``RUN/export/export.json``;
    where the run directory is read-only, ``path`` outside it is written all the same and a
    UserWarning says the record was not.
    """
    done = export_run(run, format, path, threads=threads)
    for note in done.notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return done.path


def export_run(
    run: str | os.PathLike[str],
    format: str = "onnx",
    path: str | os.PathLike[str] | None = None,
    *,
    threads: int | None = None,
) -> RunExport:
    """:func:`export`, returning what it wrote and its notes instead of warning them (for
    ``nas export``, which prints them)."""
    fmt = get_format(format)
    fmt.require()  # before anything is loaded: a missing extra is the first thing to fix
    run_dir = readable_run_dir(run)
    config = SearchConfig.read(run_dir)
    model = load_model(run_dir)
    if config.data_info.get("task") in ("classification", "regression"):
        from nas.predict import checked_transform  # preprocessing.json is written from it

        checked_transform(run_dir, config.data_info, model)  # a damaged record: one line
    out = _output_path(run_dir, fmt, path)
    for written in (out, out.parent / PREPROCESSING, run_dir / FOLDER / RECORD):
        check_inside(run_dir, written, "its exports", ", or give -o a path of your own")
    beside = out.parent / PREPROCESSING
    existing = _check_overwritable(beside)  # before the data loads: a wrong -o fails fast
    record_dir = run_dir / FOLDER
    unwritable = _unwritable(record_dir)  # a read-only run: exported elsewhere, not recorded
    if unwritable is not None and out.resolve().is_relative_to(record_dir.resolve()):
        raise StorageError(f"Cannot write to {record_dir} ({unwritable}); make the run "
                           "directory writable.")  # fmt: skip
    kind = get_kind(config.kind)
    rows = _CheckRows(config, model)
    target = kind.exportable(model, rows, seed=config.seed)
    if rows.why is not None:  # the kind checked on the rows made in their place
        note = f"checked on random inputs, not the search's validation examples: {rows.why}"
        target = dataclasses.replace(
            target, notes={**target.notes, "rows": RANDOM.format(seed=config.seed), "note": note}
        )
    prep = (config.data_info or {}).get("preprocessing") or {}
    if target.task == "regression" and "y_mean" in prep:  # the graph ends before the target's
        # scaling is undone: its name says so, where a consumer reads only the graph
        target = dataclasses.replace(target, output="prediction_standardized")
    described = describe(target, config.data_info)
    earlier = None
    if (existing is not None and existing != json.loads(json.dumps(json_safe(described)))
            and beside.resolve() == (record_dir / PREPROCESSING).resolve()):  # fmt: skip
        # the run's own export/ holds an earlier winner's (a resumed search changed it): the
        # folder is the run's, so that model's files go and the current winner is exported
        # (a refusal had left the earlier model there for good, /tmp/oR2 1)
        earlier = str(existing.get("architecture"))
        existing = None
    if existing is not None and existing != json.loads(json.dumps(json_safe(described))):
        raise NasError(
            f"{beside} describes another exported model ({existing.get('architecture')}); "
            "export this one into another folder (-o), so that each model keeps its own "
            f"{PREPROCESSING}."
        )
    report = export_model(target, fmt.name, out, threads=threads)
    if earlier is not None:  # once this winner's file is written and checked
        _clear_earlier(run_dir, keep=out)
    write_json(beside, described)
    record = {**report.to_dict(), "preprocessing": str(beside.resolve()),
              "sha256": file_sha256(out), "winner_sha256": _winner_sha256(run_dir)}  # fmt: skip
    notes = [report.note] if report.note else []
    if earlier is not None:
        notes.append(f"{record_dir} held the export of an earlier winner ({earlier}); it is "
                     "replaced by the current winner's")  # fmt: skip
    unchecked = unchecked_note(run_dir / "best")  # exported from files nothing vouches for
    notes += ([unchecked] if unchecked else []) + version_notes(config.versions)
    if unwritable is None:
        records = read_exports(run_dir)
        records[fmt.name] = record
        try:
            write_json(record_dir / RECORD, records)
        except OSError as e:  # writable a moment ago: the file system changed under us
            unwritable = e.strerror or str(e)
    if unwritable is not None:
        notes.append(f"not recorded in {record_dir / RECORD}: the run directory is read-only "
                     f"({unwritable})")  # fmt: skip
    return RunExport(out, record, tuple(notes), unwritable is None)


class _CheckRows:
    """The rows a model's export is checked on, made when its kind asks for them (a GAN's never
    does): the search's validation inputs when its data loads and is the data the run searched;
    else seeded N(0, 1) rows of the model's input shape, and ``why`` says why."""

    def __init__(self, config: SearchConfig, model: torch.nn.Module):
        self.config, self.model = config, model
        self.why: str | None = None

    def __call__(self) -> torch.Tensor:
        rows, self.why = _validation_rows(self.config)
        spec = getattr(self.model, "spec", None)
        shape = tuple(spec.input_shape) if spec is not None else None
        if rows is not None and shape is not None and tuple(rows.shape[1:]) != shape:
            given = tuple(rows.shape[1:])
            rows, self.why = None, f"the search's data has rows of {given}, the model takes {shape}"
        if rows is not None:
            return rows
        if shape is None:
            raise NasError(f"Cannot check the export: {self.why}.")
        return random_rows(shape, self.config.seed)


def _validation_rows(config: SearchConfig) -> tuple[torch.Tensor | None, str | None]:
    """The search's validation inputs, or None and why they are not to be had: its data file
    is missing, cannot be loaded, or holds other data than the run searched (a file is
    fingerprinted before it is loaded)."""
    recorded = config.data_fingerprint
    what = (f"data file {str(config.data)!r}" if config.data is not None
            else f"data {config.dataset!r}")  # fmt: skip
    if config.data is not None:
        file = Path(config.data).expanduser()
        if not file.exists():
            return None, f"the search's {what} is missing"
        try:
            now = file_fingerprint(file) if recorded is not None and file.is_file() else recorded
        except OSError as e:
            return None, f"the search's {what} cannot be read ({e.strerror or e})"
        if now != recorded:
            return None, (f"the search's {what} changed since the search (fingerprint "
                          f"{short(recorded)} then, {short(now)} now)")  # fmt: skip
    try:
        data = config.load_data()
    except NasError as e:
        return None, f"the search's {what} cannot be loaded ({str(e).rstrip('.')})"
    if recorded is not None and data.fingerprint != recorded:
        return None, (f"the search's {what} changed since the search (fingerprint "
                      f"{short(recorded)} then, {short(data.fingerprint)} now)")  # fmt: skip
    return data.val.X, None


def _unwritable(folder: Path) -> str | None:
    """Why nothing can be written in ``folder`` (made if missing), e.g. "Read-only file
    system"; None when a file can be made there (and is removed again)."""
    try:
        folder.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".probe.", suffix=".tmp")
    except OSError as e:
        return e.strerror or str(e)
    os.close(fd)
    Path(name).unlink(missing_ok=True)
    return None


def _clear_earlier(run_dir: Path, keep: Path) -> None:
    """Remove the run's own exports of an earlier winner: the model files its record names
    inside ``RUN/export/`` (but ``keep``, the current winner's, just written there) and their
    records; exports written elsewhere with -o keep theirs."""
    folder = (run_dir / FOLDER).resolve()
    kept = {}
    for name, record in read_exports(run_dir).items():
        path = Path(str(record.get("path") or "")) if isinstance(record, dict) else None
        if path is not None and path.resolve().parent == folder:
            if path.resolve() != keep.resolve():
                path.unlink(missing_ok=True)
        else:
            kept[name] = record
    write_json(run_dir / FOLDER / RECORD, kept)


def _winner_sha256(run_dir: Path) -> str | None:
    """The digest of the winner's weights (``best/model.pt``) an export is made from: what
    :func:`export_notes` compares with the winner of the day."""
    weights = run_dir / "best" / "model.pt"
    return file_sha256(weights) if weights.is_file() else None


def export_notes(run: str | os.PathLike[str]) -> list[tuple[bool, str]]:
    """``(usable, line)`` per recorded export of the run (``RUN/export/export.json``): where it
    is and how it was checked, or why it is not to be used as the run's model: its file is
    missing or changed since it was exported and checked, or it is of an earlier winner (a
    resumed search changed the winner; exports written before nas recorded the winner's digest
    are compared by architecture)."""
    run_dir = Path(run)
    records = read_exports(run_dir)
    if not records:
        return []
    winner = _winner_sha256(run_dir)
    summary = None
    if (run_dir / "best" / "metrics.json").is_file():
        try:
            summary = read_json(run_dir / "best" / "metrics.json").get("summary")
        except (NasError, AttributeError):
            summary = None
    lines = []
    for name, record in sorted(records.items()):
        if not isinstance(record, dict):
            continue
        path = _moved(Path(str(record.get("path") or "")), run_dir)
        own = path.resolve().parent == (run_dir / FOLDER).resolve()
        where = "" if own else f" -o {shlex.quote(str(path))}"  # an export kept elsewhere
        again = (f"run `nas export {shlex.quote(str(run_dir))} --format {name}{where}` "
                 "again")  # fmt: skip
        recorded, made_from = record.get("sha256"), record.get("winner_sha256")
        if not path.is_file():
            lines.append((False, f"{name} export {path} is missing; {again}."))
        elif (made_from is not None and winner is not None and made_from != winner) or (
            made_from is None and summary is not None and record.get("architecture") != summary
        ):
            earlier = record.get("architecture")
            lines.append((False, f"{name} export {path} is of an earlier winner ({earlier}), "
                                 f"not of this run's; {again}."))  # fmt: skip
        elif isinstance(recorded, str) and file_sha256(path) != recorded:
            lines.append((False, f"{name} export {path} changed since it was exported and "
                                 f"checked (its SHA-256 differs from {FOLDER}/{RECORD}'s); "
                                 f"{again}."))  # fmt: skip
        else:
            check = record.get("check") or {}
            diff = check.get("max_abs_diff")
            checked = ""
            if isinstance(diff, int | float):
                checked = (f", checked on {check.get('examples')} {check.get('rows')} "
                           f"(max abs diff {diff:.2g})")  # fmt: skip
            lines.append((True, f"exported: {name} {path}{checked}"))
    return lines


def _moved(path: Path, run_dir: Path) -> Path:
    """Where a recorded export of the run's own ``export/`` is now: the record holds absolute
    paths, so a copied or moved run had reported the original run's file as its own (or as
    missing once the original was moved; /tmp/oE4 N4). A path outside the run whose folder is
    named ``export`` is the run's own export when the run's ``export/`` holds that file, or the
    folder is another run's (the original, with its run.json) or gone (the run was moved)."""
    here = run_dir / FOLDER / path.name
    if path.parent.name != FOLDER or not path.name:
        return path
    if path.resolve().is_relative_to(run_dir.resolve()):
        return path
    if here.is_file() or (path.parent.parent / "run.json").is_file() or not path.exists():
        return here
    return path


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


__all__ = ["FOLDER", "PREPROCESSING", "RECORD", "RunExport", "export", "export_run", "read_exports"]
