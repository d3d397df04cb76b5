"""The run directory: the user-facing record of a search, written atomically so that a killed
process never leaves a half-written file.

    runs/<study>/
      run.json            what was asked: dataset, space, budget, objectives, seed, command
      study.db            Optuna storage (SQLite) unless --storage names another
      leaderboard.csv     one row per trial
      best/spec.json      the winning ArchSpec (a GanSpec, "type": "gan", for a GAN search)
      best/model.pt       its state_dict (loads with torch.load(..., weights_only=True))
      best/metrics.json   test-set metrics and cost
      best/samples.npz    GAN runs: generated and real samples per class
      scorer/             GAN runs: the feature classifier that scores generators
      top/<k>/...         the same for each of the --top K Pareto-optimal models
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.errors import StorageError
from nas.reading import (  # noqa: F401 (re-exported: nas.run is the run directory's module)
    LOCK_FILE,
    REDO,
    RETRAIN,
    SUMMED,
    SUMS,
    best_metrics,
    check_sums,
    check_weights,
    extension_at_fault,
    file_sha256,
    load_model,
    load_spec,
    not_registered,
    read_json,
    read_leaderboard,
    read_metrics,
    read_object,
    readable_run_dir,
    reason,
    search_running,
    top_metrics,
    unchecked_note,
    version_notes,
)
from search_spaces import ArchSpec
from search_spaces.gan import GanSpec

LEADERBOARD_COLUMNS = (
    "number", "state", "family", "params", "flops", "latency_ms", "memory_mb", "metric",
    "seconds", "epochs", "micro_batch", "reason",
)  # fmt: skip


def ensure_writable(path: Path) -> Path:
    """Create ``path`` (a folder) or raise StorageError naming it and the fix."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as e:
        raise StorageError(
            f"Cannot write to output folder {str(path)!r} ({e.strerror or e}); choose a "
            "writable folder with --out."
        ) from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; artifacts get the usual open() mode.
_FILE_MODE = 0o666 & ~_umask()


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and an atomic rename."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_dir(dest: Path, fill: Callable[[Path], None]) -> Path:
    """Write a folder whole: ``fill(tmp)`` writes into a fresh sibling, which then replaces
    ``dest``; a failure leaves ``dest`` as it was."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def check_inside(run_dir: Path, path: Path, what: str, elsewhere: str = "") -> None:
    """A StorageError when ``path``, a path in ``run_dir``, passes through a link (a folder
    such as ``export/`` or ``predictions/`` of a run received from someone) that leads outside
    the run: nas would overwrite or delete files there, which are not the run's (/tmp/oX 3).
    A ``path`` outside ``run_dir`` is the user's own choice (``-o``) and is not checked;
    ``elsewhere`` names how to write there instead (", or give -o a path of your own")."""
    run_dir, path = Path(run_dir), Path(path)
    try:
        parts = path.relative_to(run_dir).parts
    except ValueError:
        return
    root, here = run_dir.resolve(), run_dir
    for part in parts:
        here = here / part
        if here.is_symlink() and not here.resolve().is_relative_to(root):
            raise StorageError(
                f"{here} is a link to {here.resolve()}, outside the run directory {run_dir}: "
                f"nas writes {what} inside the run only, and would change files there that are "
                f"not the run's. Remove the link (or copy the run without it){elsewhere}."
            )


def write_json(path: Path, data: Any) -> None:
    """Atomically write JSON (NaN and infinities become null)."""
    write_text_atomic(path, json.dumps(json_safe(data), indent=2) + "\n")


def json_safe(x: Any) -> Any:
    if isinstance(x, float):
        return x if x == x and abs(x) != float("inf") else None
    if isinstance(x, Mapping):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy / torch scalars
        return json_safe(x.item())
    return x


def write_leaderboard(
    path: Path, rows: Sequence[Mapping[str, Any]], extra_columns: Sequence[str] = ()
) -> None:
    """Atomically write ``leaderboard.csv``: one row per trial."""
    columns = list(LEADERBOARD_COLUMNS) + [c for c in extra_columns if c not in LEADERBOARD_COLUMNS]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    write_text_atomic(path, buf.getvalue())


def save_model_dir(
    folder: Path,
    spec: ArchSpec | GanSpec,
    model: torch.nn.Module,
    metrics: Mapping[str, Any],
    predictions: Mapping[str, Any] | None = None,
) -> None:
    """Write ``spec.json``, ``model.pt`` (state_dict only), ``metrics.json``, ``sha256.json``
    (the digests of the first two, checked whenever the model is loaded: an edited spec that
    still takes the weights builds another model) and, if given, ``predictions.npz`` (test
    targets and model outputs, plain arrays) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "spec.json", spec.to_json() + "\n")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".model.pt.")
    os.close(fd)
    try:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save(state, tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, folder / "model.pt")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    write_json(folder / "metrics.json", metrics)
    write_json(folder / SUMS, {name: file_sha256(folder / name) for name in SUMMED})
    if predictions:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".predictions.", suffix=".npz")
        os.close(fd)
        np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in predictions.items()})
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, folder / "predictions.npz")


def save_arrays(path: Path, arrays: Mapping[str, Any]) -> None:
    """Atomically write plain arrays as a compressed ``.npz`` (read back with
    ``allow_pickle=False``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- is this folder a run directory? ---------------------------------------------------------
# What an interrupted first attempt may leave before run.json is written: the SQLite storage.
# the folders a search (and its explanations) writes whole in a run directory
SEARCH_FOLDERS = ("best", "top", "explain", "explain-top")
_STORAGE_LEFTOVERS = ("study.db", "study.db-journal", "study.db-wal", "study.db-shm", LOCK_FILE)


def check_writable(run: Path, folder: Path, what: str) -> None:
    """A StorageError, in one line, when ``what`` cannot be stored in ``folder`` of run
    directory ``run`` (read-only): checked before the work, which had ended in a traceback
    after it."""
    where = folder if folder.is_dir() else run
    if not os.access(where, os.W_OK | os.X_OK):
        raise StorageError(
            f"Cannot store {what} in {folder}: {where} is not writable; make the run "
            "directory writable, or copy the run somewhere you can write (cp -r RUN COPY) and "
            "use the copy."
        )


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a nas run record: a ``run.json`` object with ``schema_version``
    and ``kind`` (schema 2), or the ``study`` and ``space`` of a version-1 record."""
    record_path = Path(path) / "run.json"
    if not record_path.is_file():
        return False
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(record, dict):
        return False
    return {"schema_version", "kind"} <= record.keys() or {"study", "space"} <= record.keys()


_OPTUNA_TABLES = {"studies", "trials", "version_info"}  # what every Optuna RDB schema has


def _check_leftover_study(db: Path) -> None:
    """A StorageError unless ``db`` (in a folder without run.json) is what an interrupted first
    attempt leaves: absent, empty, or an Optuna study; a user's own SQLite file or any other
    file named study.db is never written into."""
    import contextlib
    import sqlite3
    from urllib.parse import quote

    if not db.is_file() or db.stat().st_size == 0:
        return
    try:
        uri = f"file:{quote(str(db.resolve()))}?mode=ro"
        query = "SELECT name FROM sqlite_master WHERE type='table'"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            tables = {t for (t,) in conn.execute(query)}
    except sqlite3.Error as e:
        tables, why = set(), f"not a SQLite database: {e}"
    else:
        why = "its tables: " + (", ".join(sorted(tables)[:5]) or "none")
    if not tables >= _OPTUNA_TABLES:
        raise StorageError(
            f"Output folder {str(db.parent)!r} has no run.json and its study.db is not an "
            f"Optuna study ({why}); nas would write into it. Pass --out a new or empty folder."
        )


def trials_recorded(folder: Path) -> str | None:
    """What in a run directory says that trials ran (a saved winner, rows of leaderboard.csv),
    in words; None for a search that stopped before its first trial was stored."""
    if (folder / "best").is_dir():
        return "its best/ holds a winner"
    try:
        with open(folder / "leaderboard.csv", newline="", encoding="utf-8") as f:
            rows = sum(1 for row in csv.reader(f) if row) - 1  # less the header
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return f"its leaderboard.csv lists {rows} trial(s)" if rows > 0 else None


def _check_study_kept(folder: Path) -> None:
    """A StorageError when the run directory's study.db holds no study (0 bytes, no Optuna
    tables, or none of run.json's name) while the run records trials: resuming would start a
    fresh study there, and the record that those trials ran would be lost without a word. A
    study.db that is not SQLite at all is named when the search opens it."""
    import contextlib
    import sqlite3
    from urllib.parse import quote

    db, wal = folder / "study.db", folder / "study.db-wal"
    if not db.is_file() or (wal.is_file() and wal.stat().st_size > 0):
        return  # no study.db (another --storage), or its trials still in the -wal file
    try:
        study = json.loads((folder / "run.json").read_text(encoding="utf-8")).get("study")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return  # a damaged run.json is named as the search reads it
    if db.stat().st_size == 0:
        why = "it is empty, 0 bytes"
    else:
        try:
            uri = f"file:{quote(str(db.resolve()))}?immutable=1"  # creates nothing beside it
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                tables = {t for (t,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}  # fmt: skip
                names = ([n for (n,) in conn.execute("SELECT study_name FROM studies")]
                         if "studies" in tables else [])  # fmt: skip
        except sqlite3.Error:
            return
        if study in names:
            return
        only = f"; only {', '.join(map(repr, names))}" if names else ""
        why = f"none named {study!r}{only}" if "studies" in tables else "no Optuna tables"
    recorded = trials_recorded(folder)
    if recorded is None:
        return  # a search that stopped before its first trial: it starts again
    raise StorageError(
        f"{db} holds no study ({why}), but {folder / 'run.json'} records a search whose "
        f"trials ran ({recorded}); searching there would start afresh and lose the record of "
        "those trials. Restore study.db from a backup, or pass --out a new folder to search "
        "afresh."
    )


def check_run_dir(path: str | Path) -> Path:
    """``path`` if nas may write there: a new or empty folder, or a run directory (to resume,
    unless its study.db lost the study its trials are recorded in);
    a StorageError naming the folder and the fix otherwise (nas deletes and replaces folders
    such as ``explain/`` and ``top/`` in a run directory, never in someone else's folder).
    A path through ``..`` is checked (and returned) as it resolves: ``missing/../theirs`` is
    no folder until ``missing`` is created, and then it is ``theirs`` (/tmp/oX 1)."""
    folder = Path(path)
    if ".." in folder.parts:
        folder = Path(os.path.realpath(folder))
    try:
        is_dir = folder.is_dir()  # a name over 255 bytes is an OSError here (/tmp/oD4 F11)
    except OSError as e:
        raise StorageError(
            f"Cannot write to output folder {str(folder)!r} ({e.strerror or e}); choose a "
            "writable folder with --out."
        ) from None
    if is_dir and is_run_dir(folder):
        _check_study_kept(folder)
        for name in SEARCH_FOLDERS:  # a resumed search rewrites them: a link out of the run
            # had had best/'s six files rewritten in another folder (/tmp/oZ D2, D3)
            check_inside(folder, folder / name, "a search's results")
        return folder
    if not is_dir:
        return folder  # a new folder, or not a folder (creating it names that problem)
    try:
        entries = [p.name for p in folder.iterdir()]
    except OSError as e:
        raise StorageError(
            f"Cannot read output folder {str(folder)!r} ({e.strerror or e}); choose a "
            "readable folder with --out."
        ) from None
    if all(name in _STORAGE_LEFTOVERS for name in entries):
        _check_leftover_study(folder / "study.db")
        return folder
    why = (
        "its run.json is not the record of a nas search"
        if (folder / "run.json").exists()
        else "it has no run.json"
    )
    raise StorageError(
        f"Output folder {str(folder)!r} is not empty and is not a nas run directory ({why}); "
        "nas would overwrite files there. Pass --out a new or empty folder, or the run "
        "directory of an earlier search to resume it."
    )
