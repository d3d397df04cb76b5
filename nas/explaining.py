"""Explaining a run's winner: load it and its data, call ``explain`` (which knows nothing of
the search), and store the result in ``RUN/explain/``.

Beside the explanations, ``explain/source.json`` records a fingerprint of the model explained
(``best/spec.json`` + ``best/model.pt``), so a report never shows the explanations of an earlier
winner as if they were of the current one (a resumed search with ``--no-explain``, or one whose
explaining failed, keeps the old folder).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explain.explanations import Explanations, explain_model
from explain.explanations import report_view as _report_view
from nas import run as rundir
from nas.config import SearchConfig
from nas.errors import NasError

SOURCE = "source.json"  # in RUN/explain/: which model the explanations are of


def explain_run(
    run_dir: str | Path,
    *,
    samples: int = 200,
    methods: Sequence[str] | None = None,
    checks: bool = True,
    seed: int = 0,
    threads: int | None = None,
) -> Explanations:
    """Explain the winner of ``run_dir`` on ``samples`` test examples; save to ``explain/``.

    Sets torch's thread count like the search does (``threads``, default one per process:
    see :func:`nas.train.configure_threads`)."""
    from nas.train import configure_threads

    configure_threads(threads)
    run_dir = Path(run_dir)
    config = SearchConfig.read(run_dir)
    if not (run_dir / "best" / "spec.json").is_file():
        raise NasError(
            f"{str(run_dir)!r} has no winner to explain (no best/ folder): the search there "
            "has not finished (no trial completed, or it stopped before the final retraining). "
            "Run the same `nas search` again to finish it, then explain."
        )
    fingerprint = model_fingerprint(run_dir / "best")  # of the files the model is loaded from
    model = rundir.load_model(run_dir)
    data = config.load_data()
    changed = config.data_changed(data.fingerprint)  # the winner was chosen and tested on it
    if changed:
        raise NasError(
            f"The data of {str(run_dir)!r} changed since its search ({changed}); restore that "
            "data to explain the winner, or search again on the new data into another --out "
            "folder."
        )
    exp = explain_model(model, data, samples=samples, methods=methods, checks=checks, seed=seed)
    _store(exp, run_dir, fingerprint)
    return exp


def _store(exp: Explanations, run_dir: Path, fingerprint: str) -> None:
    """Save into a fresh folder, then swap it in: a killed process or a failed save never
    leaves the arrays of one explanation beside the metadata of another."""
    if not rundir.is_run_dir(run_dir):  # explain/ is replaced: only ever a run directory's
        raise NasError(
            f"{str(run_dir)!r} is not a nas run directory (no run.json of a nas search); "
            "pass the run directory of a search to explain its winner."
        )

    def fill(tmp: Path) -> None:
        exp.save(tmp)
        rundir.write_json(tmp / SOURCE, {"model": fingerprint})

    rundir.replace_dir(run_dir / "explain", fill)


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 of a model folder's ``spec.json`` and ``model.pt``."""
    h = hashlib.sha256()
    for name in ("spec.json", "model.pt"):
        h.update((Path(model_dir) / name).read_bytes())
    return h.hexdigest()


def explains_current_winner(run_dir: str | Path) -> bool:
    """Whether ``RUN/explain/`` holds explanations of the model now in ``RUN/best/`` (True
    for folders written before fingerprints were recorded: nothing to compare)."""
    run_dir = Path(run_dir)
    source = run_dir / "explain" / SOURCE
    if not source.is_file():
        return True
    try:
        recorded = rundir.read_json(source).get("model")
        return recorded == model_fingerprint(run_dir / "best")
    except (NasError, OSError, AttributeError):
        return False


def report_view(explain_dir: str | Path) -> dict[str, Any]:
    """The explanations of a run, as the report's data."""
    return _report_view(Explanations.load(explain_dir))
