"""Reading a run directory back: every file checked as it is read, and each kind of damage
(a missing, binary or truncated file, a wrong shape, a pickle payload) one NasError that names
the file and the fix. :mod:`nas.run` writes the files and re-exports these readers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from nas.errors import ModelTooLargeError, NasError, UnknownNameError
from search_spaces import ArchSpec, NasModel, extensions
from search_spaces.errors import ExtensionBlockError
from search_spaces.gan import GanModel, GanSpec
from search_spaces.rebuild import build_spec, spec_from_json

if TYPE_CHECKING:
    import pandas as pd

# The fixes a damaged file's message names: the winner's files are rewritten by the search
# (finished trials are not run again); the record of the run cannot be.
RETRAIN = (
    "run the same `nas search` command again (same --out) to retrain the winner and rewrite it"
)
REDO = "the run's record is damaged; re-run the search into a new --out folder"


def as_path(path: Any) -> Path:
    """A run directory's path from a str or os.PathLike, ``~`` expanded (:func:`home`); a
    NasError for anything else (None, a number, bytes had been TypeErrors from pathlib)."""
    if not isinstance(path, str | os.PathLike):
        raise NasError(f"a run directory is a path (str or pathlib.Path), got "
                       f"{type(path).__name__} {path!r}.")  # fmt: skip
    return home(Path(path))


def home(path: Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded, as a shell does to one it sees
    unquoted: ``--out '~/x'`` and ``--data=~/a.csv`` had made a folder named ``~`` in the
    working directory and looked for ``./~/a.csv`` (/tmp/oD4 F12). As given where there is no
    home to expand to."""
    try:
        return path.expanduser()
    except RuntimeError:  # no $HOME and no such user
        return path


def readable_run_dir(path: str | Path) -> Path:
    """``path`` if it is a folder with a ``run.json``; else a NasError saying what it is."""
    folder = as_path(path)
    where = "the folder `nas search` wrote: its --out, runs/<study> by default"
    try:
        there = folder.exists()  # a name over 255 bytes is an OSError here (/tmp/oD4 F11)
    except OSError as e:
        raise NasError(f"Cannot read {folder} ({e.strerror or e}); pass {where}.") from None
    if not there:
        raise NasError(f"{folder} does not exist; is this a nas run directory? Pass {where}.")
    if not folder.is_dir():
        raise NasError(f"{folder} is a file, not a nas run directory; pass {where}.")
    if not (folder / "run.json").exists():
        raise NasError(f"{folder / 'run.json'} does not exist: {folder} is not a nas run "
                       f"directory; pass {where}.")  # fmt: skip
    return folder


def read_json(path: str | Path, fix: str = REDO) -> Any:
    """Read a JSON file of the run directory, or raise NasError naming it and ``fix``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NasError(f"{path} does not exist; is this a nas run directory?") from None
    except UnicodeDecodeError:
        raise NasError(f"{path} is not a text file, so not JSON; {fix}.") from None
    except OSError as e:  # a folder in its place, unreadable
        raise NasError(f"Cannot read {path} ({e.strerror or e}); {fix}.") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise NasError(f"{path} is not valid JSON ({reason(e)}); {fix}.") from None


def read_object(path: str | Path, fix: str = REDO) -> dict[str, Any]:
    """A JSON file that must hold an object (a dict), or a NasError naming it."""
    value = read_json(path, fix)
    if not isinstance(value, dict):
        raise NasError(f"{path} does not hold a JSON object (it holds a "
                       f"{type(value).__name__}); {fix}.")  # fmt: skip
    return value


# What every reader of a model folder's metrics.json relies on, by kind of value.
_METRICS_KEYS = {"trial": int, "family": str, "summary": str, "test": dict, "cost": dict}
_METRICS_OPTIONAL = {"val": dict, "objectives": dict, "retrain": dict}
_WORDS = {int: "an integer", str: "a string", dict: "a JSON object"}


def check_fields(cls: type, record: Mapping[str, Any], source: str, fix: str) -> None:
    """A NasError naming the key when a value of ``record`` (a run.json) is not of the kind
    its dataclass field of ``cls`` declares: a damaged or hand-edited record is refused as it
    is read, not later as a traceback. Absent and null values are left to the defaults."""
    scalars = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}
    words = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or "
             "false", "tuple": "a list of strings", "Mapping": "a JSON object"}  # fmt: skip
    for f in dataclasses.fields(cls):
        value = record.get(f.name)
        kind = "Mapping[str, Any]" if f.name in ("space", "budget") else str(f.type)
        kind = kind.removesuffix(" | None")
        if value is None:
            continue
        if kind in scalars:
            ok = isinstance(value, scalars[kind]) and (kind == "bool") == isinstance(value, bool)
        elif kind.startswith("tuple["):
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        else:
            ok = not kind.startswith("Mapping[") or isinstance(value, Mapping)
        if not ok:
            raise NasError(
                f"{source} is incomplete or damaged: {f.name!r} should be "
                f"{words[kind.split('[')[0]]}, not {json.dumps(value, default=str)[:60]}; {fix}."
            )


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A model folder's ``metrics.json`` (its path), checked for the keys every reader uses."""
    metrics = read_object(path, RETRAIN)
    for key, kind in (*_METRICS_KEYS.items(), *_METRICS_OPTIONAL.items()):
        value = metrics.get(key)
        if key not in metrics and key in _METRICS_OPTIONAL:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            what = (f"should be {_WORDS[kind]}, not {json.dumps(value)[:60]}" if key in metrics
                    else "is missing")  # fmt: skip
            raise NasError(f"{path} is damaged: {key!r} {what}; {RETRAIN}.")
    return metrics


def best_metrics(best_dir: str | Path) -> dict[str, Any] | None:
    """The winner's ``metrics.json`` in ``best_dir``; None when the run has no winner yet (no
    best/ files), a NasError naming the file when the winner's other files are there without
    it: a report had said "none completed, no winner yet" of a finished run that lost it."""
    folder = Path(best_dir)
    path = folder / "metrics.json"
    if path.is_file():
        return read_metrics(path)
    left = [n for n in ("spec.json", "model.pt") if (folder / n).is_file()]
    if path.exists() or left:
        what = "is not a file" if path.exists() else "does not exist"
        raise NasError(
            f"{path} {what} though {folder} holds the winner's {' and '.join(left) or 'files'}: "
            f"its scores were lost or deleted; {RETRAIN}."
        )
    return None


def top_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The ``metrics.json`` of each ``top/<k>/`` model, in the order of k, each checked."""

    def rank(path: Path) -> tuple[int, str]:  # a folder not named by a number goes last
        name = path.parent.name
        return (int(name), "") if name.isdigit() else (1 << 30, name)

    paths = sorted((Path(run_dir) / "top").glob("*/metrics.json"), key=rank)
    return [read_metrics(p) for p in paths]


def read_leaderboard(path: str | Path) -> pd.DataFrame:
    """``leaderboard.csv`` as a DataFrame, or a NasError naming it (it must have the
    ``number`` and ``state`` columns)."""
    import pandas as pd

    fix = "run the same `nas search` command again (same --out) to rewrite it from the study"
    try:
        board = pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise NasError(f"{path} is not a readable CSV table ({reason(e)}); {fix}.") from None
    missing = [c for c in ("number", "state") if c not in board.columns]
    if missing:
        raise NasError(f"{path} has no {' or '.join(map(repr, missing))} column; {fix}.")
    return board


def _what(e: BaseException) -> str:
    return f"{type(e).__name__}: {reason(e)}" if str(e).strip() else type(e).__name__


def reason(e: BaseException, limit: int = 240) -> str:
    """An exception's message on one line, cut at ``limit`` characters."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


LOCK_FILE = ".nas.lock"  # held by the search running in a run directory (nas.session)


def search_running(path: str | Path) -> bool:
    """Whether a nas search holds ``path``'s lock now (``LOCK_FILE``, ``flock``: nas.session):
    a folder without a winner may be one still being searched, not one that was stopped. The
    lock is tried shared and released at once; the file is not created."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: searches take no lock there
        return False
    try:
        fd = os.open(Path(path) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


def load_spec(folder: Path) -> ArchSpec | GanSpec:
    """The ArchSpec (or, for a GAN run, the GanSpec) stored in ``folder/spec.json``."""
    path = Path(folder) / "spec.json"
    if path.exists() and not path.is_file():
        raise NasError(f"{path} is not a file; {RETRAIN}.")
    if not path.is_file():
        if path.parent.name == "best" and (path.parent.parent / "run.json").is_file():
            if path.parent.is_dir():
                raise NasError(
                    f"{path} does not exist though {path.parent} does: the run has no saved "
                    f"winner (its spec.json was lost or deleted); {RETRAIN}."
                )
            if search_running(path.parent.parent):
                raise NasError(
                    f"{path} does not exist yet: a nas search is running in "
                    f"{path.parent.parent} now, and saves its winner when it ends; wait for it."
                )
            raise NasError(
                f"{path} does not exist: the run has no saved winner (interrupted before it "
                f"was retrained, or best/ was removed); {RETRAIN}."
            )
        raise NasError(f"{str(path)!r} does not exist; pass a run directory or its best/ folder.")
    text = json.dumps(read_object(path, RETRAIN))  # names the file if it is not JSON at all
    try:
        return spec_from_json(text)
    except (NasError, ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
        not_registered(path, e)
        raise NasError(f"{path} is not a valid architecture spec ({reason(e)}); "
                       f"{RETRAIN}.") from None  # fmt: skip


def extension_at_fault(path: Path, error: BaseException) -> None:
    """A NasError blaming the extension, not the run, when ``path`` (a model folder's
    spec.json) cannot be built because a block kind an extension registers fails as it is built
    (its builder raising, its declared shape wrong): the spec is as the search wrote it, and
    searching again would fail the same way (/tmp/oG5 F3)."""
    if not isinstance(error, ExtensionBlockError):
        return
    raise NasError(
        f"{path} names the block kind {error.kind!r} of the extension {error.origin}, which "
        f"fails to build it now ({reason(error.problem, 400)}); fix that extension, or load "
        "the version of it the search used: the spec is as the search wrote it."
    ) from None


def not_registered(path: Path, error: BaseException) -> None:
    """A NasError naming the extension to load when ``path`` (a model folder's spec.json)
    names a block kind, space or kind this process does not know: an extension's, which the
    run's run.json (beside the folder, or above a top/ model's) may name."""
    if not isinstance(error, UnknownNameError):
        return
    recorded: Any = None
    for up in (path.parent.parent, path.parent.parent.parent):
        try:
            record = json.loads((up / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        recorded = record.get("extensions") if isinstance(record, Mapping) else None
        break
    message = extensions.not_loaded(str(path), recorded, error)
    if message is not None:
        raise NasError(message) from None


def load_model(path: str | Path) -> NasModel | GanModel:
    """Rebuild the trained model of a run directory (its ``best/``) or of a model folder (a
    GanModel when ``spec.json`` holds a GanSpec).

    The weights are read with ``torch.load(..., weights_only=True)``: a state_dict of tensors,
    never arbitrary pickled objects.
    """
    folder = Path(path)
    if (folder / "best" / "spec.json").is_file() or (
        (folder / "run.json").is_file() and not (folder / "spec.json").exists()
    ):  # a run directory (its best/ may be gone: then load_spec names best/spec.json)
        folder = folder / "best"
    spec = load_spec(folder)
    weights = check_weights(folder)
    state = _read_state(weights)
    # the spec's shapes first, on torch's meta device: a spec edited to units = 30,000,000
    # beside 150 KB of weights had been built in full (1.8 GB, 12 s) before the weights said
    # it was not theirs (/tmp/oX 2)
    _check_shapes(_shapes_only(folder, spec), state, weights, folder)
    model = _built(folder, spec)
    try:
        model.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError, KeyError) as e:
        raise NasError(f"{weights} does not hold the weights of {folder / 'spec.json'} "
                       f"({reason(e)}); {RETRAIN}.") from None  # fmt: skip
    check_sums(folder)  # files that load, but not the ones trained and tested
    model.eval()
    return model


def _shapes_only(folder: Path, spec: Any) -> Any:
    """``spec``'s model built on torch's meta device (:func:`nas.cost.params_before_building`:
    shapes without storage; None where a block needs real tensors), or a NasError naming
    spec.json when a layer is larger than a tensor can hold."""
    from nas.cost.measure import params_before_building

    try:
        return params_before_building(build_spec, spec)
    except ModelTooLargeError as e:
        raise NasError(f"{folder / 'spec.json'} describes no model nas can build ({e}); "
                       f"{RETRAIN}.") from None  # fmt: skip


def _built(folder: Path, spec: Any) -> Any:
    """``spec``'s model, or a NasError naming spec.json (and the extension to load)."""
    try:
        return build_spec(spec)
    except (NasError, ValueError, TypeError, KeyError, RuntimeError) as e:
        not_registered(folder / "spec.json", e)
        extension_at_fault(folder / "spec.json", e)
        raise NasError(f"{folder / 'spec.json'} describes no model nas can build ({reason(e)}); "
                       f"{RETRAIN}.") from None  # fmt: skip


def _read_state(weights: Path) -> Mapping[str, torch.Tensor]:
    """``model.pt``'s state_dict, read with ``weights_only=True``; a NasError if it is none."""
    try:
        with warnings.catch_warnings():  # torch warns of a plain pickle before refusing it
            warnings.simplefilter("ignore")
            state = torch.load(weights, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # never repeat torch's advice to load it unsafely
        raise NasError(
            f"{weights} does not load safely (torch.load with weights_only=True refused it): "
            "it is damaged, or holds pickled Python objects, which nas never loads since they "
            f"could run code; {RETRAIN}."
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, TypeError, AttributeError,
            KeyError) as e:  # fmt: skip
        raise NasError(f"{weights} is not a PyTorch weights file ({_what(e)}); "
                       f"{RETRAIN}.") from None  # fmt: skip
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise NasError(f"{weights} holds a {type(state).__name__}, not a state_dict of tensors; "
                       f"{RETRAIN}.")  # fmt: skip
    return state


def _check_shapes(model: Any, state: Mapping[str, torch.Tensor], weights: Path,
                  folder: Path) -> None:  # fmt: skip
    """A NasError when ``model`` (shapes only) and the weights differ in a key or a shape."""
    if model is None:
        return
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state.items()}
    if wanted == given:
        return
    missing = [k for k in wanted if k not in given]
    extra = [k for k in given if k not in wanted]
    sized = [k for k in wanted if k in given and wanted[k] != given[k]]
    what = (f"{sized[0]!r} is {list(given[sized[0]])} in the weights but "
            f"{list(wanted[sized[0]])} in the spec" if sized
            else f"missing {missing[0]!r}" if missing else f"unexpected {extra[0]!r}")  # fmt: skip
    raise NasError(f"{weights} does not hold the weights of {folder / 'spec.json'} ({what}); "
                   f"{RETRAIN}.")  # fmt: skip


SUMS = "sha256.json"  # beside spec.json and model.pt: their digests as the search saved them
SUMMED = ("spec.json", "model.pt")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sums(folder: Path) -> None:
    """A NasError when ``folder``'s spec.json or model.pt is not the file the search saved
    (``sha256.json``; a folder saved before it has none and is not checked): a spec edited to
    another activation or pooling still takes the weights, and predicted 0.617 where the model
    that was trained and tested scores 0.845."""
    path = Path(folder) / SUMS
    if not path.is_file():
        return
    saved = read_object(path, RETRAIN)
    for name in SUMMED:
        file = Path(folder) / name
        expected = saved.get(name)
        if isinstance(expected, str) and file.is_file() and file_sha256(file) != expected:
            raise NasError(
                f"{file} is not the file the search saved (its SHA-256 differs from "
                f"{path.name}'s): the model it gives is not the one that was trained and "
                f"tested. Restore the original file, or {RETRAIN}."
            )


def unchecked_note(folder: Path) -> str | None:
    """A note when ``folder`` holds ``spec.json`` and ``model.pt`` without ``sha256.json``:
    :func:`check_sums` then has nothing to check them against, so an edited spec or replaced
    weights would load without a word (a folder saved before nas wrote the file has none)."""
    folder = Path(folder)
    if (folder / SUMS).is_file() or not all((folder / n).is_file() for n in SUMMED):
        return None
    return (f"{folder / SUMS} is missing, so nothing checks that {folder.name}/spec.json and "
            f"model.pt are the files the search trained and tested; use this model only if you "
            f"trust where the folder came from, or {RETRAIN}.")  # fmt: skip


def _release(text: Any) -> tuple[int, ...] | None:
    """(major, minor, patch) of a version string such as ``2.13.0+cpu``; None if it has none."""
    match = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", text) if isinstance(text, str) else None
    return tuple(int(g or 0) for g in match.groups()) if match else None


def version_notes(recorded: Mapping[str, Any]) -> list[str]:
    """Notes on a run recorded (``run.json``'s ``versions``) by a newer nas than this one, whose
    fields this nas may read wrongly or not at all, or trained with another torch release,
    whose kernels can move its outputs in their last digits."""
    from nas._version import __version__

    notes: list[str] = []
    if not isinstance(recorded, Mapping):
        return notes
    made = recorded.get("nas")
    release = _release(made)
    if made is not None and (release is None or release > _release(__version__)):
        what = "newer than" if release is not None else "not a version, unlike"
        notes.append(f"this run was written by nas {str(made)[:40]!r}, {what} this nas "
                     f"({__version__}): fields it added may be read wrongly or not at all; "
                     "upgrade nas to read the run as it was written.")  # fmt: skip
    trained = _release(recorded.get("torch"))
    if trained is not None and trained[:2] != _release(torch.__version__)[:2]:
        notes.append(f"the model was trained with torch {recorded['torch']} and runs here on "
                     f"torch {torch.__version__}: its outputs can differ from the report's in "
                     f"their last digits.")  # fmt: skip
    return notes


def check_weights(folder: Path) -> Path:
    """``folder/model.pt`` if it is a file; else a NasError naming it and the fix."""
    weights = Path(folder) / "model.pt"
    if not weights.is_file():
        what = "is not a file" if weights.exists() else "does not exist"
        raise NasError(
            f"{weights} {what}; the search has not finished its final retraining (or the file "
            "was lost). Run `nas search` again with the same --out to finish."
        )
    return weights
