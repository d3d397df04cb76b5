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
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.errors import NasError, StorageError
from search_spaces import ArchSpec, NasModel
from search_spaces.gan import GanModel, GanSpec
from search_spaces.rebuild import build_spec, spec_from_json

LEADERBOARD_COLUMNS = (
    "number", "state", "family", "params", "flops", "latency_ms", "memory_mb", "metric",
    "seconds", "epochs", "reason",
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Atomically write JSON (NaN and infinities become null)."""
    write_text_atomic(path, json.dumps(_json_safe(data), indent=2) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file of the run directory, or raise NasError naming it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NasError(f"{str(path)!r} does not exist; is this a nas run directory?") from None
    except json.JSONDecodeError as e:
        raise NasError(f"{str(path)!r} is not valid JSON ({e}); re-run the search.") from None


def _json_safe(x: Any) -> Any:
    if isinstance(x, float):
        return x if x == x and abs(x) != float("inf") else None
    if isinstance(x, Mapping):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy / torch scalars
        return _json_safe(x.item())
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
    """Write ``spec.json``, ``model.pt`` (state_dict only), ``metrics.json`` and, if given,
    ``predictions.npz`` (test targets and model outputs, plain arrays) into ``folder``."""
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


def load_spec(folder: Path) -> ArchSpec | GanSpec:
    """The ArchSpec (or, for a GAN run, the GanSpec) stored in ``folder/spec.json``."""
    path = Path(folder) / "spec.json"
    if not path.is_file():
        raise NasError(f"{str(path)!r} does not exist; pass a run directory or its best/ folder.")
    return spec_from_json(path.read_text(encoding="utf-8"))


def load_model(path: str | Path) -> NasModel | GanModel:
    """Rebuild the trained model of a run directory (its ``best/``) or of a model folder (a
    GanModel when ``spec.json`` holds a GanSpec).

    The weights are read with ``torch.load(..., weights_only=True)``: a state_dict of tensors,
    never arbitrary pickled objects.
    """
    folder = Path(path)
    if (folder / "best" / "spec.json").is_file():
        folder = folder / "best"
    spec = load_spec(folder)
    weights = folder / "model.pt"
    if not weights.is_file():
        raise NasError(
            f"{str(weights)!r} does not exist; the search has not finished its "
            "final retraining. Run `nas search` again with the same --out to finish."
        )
    model = build_spec(spec)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return model
