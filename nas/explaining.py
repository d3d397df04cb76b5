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

import numpy as np

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
    """The explanations of a run, as the report's data (explain/report/SCHEMA.md), with what a
    reader needs to read a local card and a beeswarm: the output explained, the base value and
    the prediction of each local example, and SHAP values per output where stored."""
    exp = Explanations.load(explain_dir)
    view = _report_view(exp)
    add_outputs(view, exp)
    return view


def _label(exp: Explanations, k: int) -> str:
    names = exp.class_names or []
    return str(names[k]) if 0 <= k < len(names) else str(k)


def add_outputs(view: dict[str, Any], exp: Explanations) -> None:
    """Add to ``view`` (in place) per local example the output explained (``output``: kind
    "logit" or "output", target index and label), each method's base value (``base_values``:
    the output at its baseline, or SHAP's mean over the background) and the explained output
    (``output_value``); and to ``shap`` the explained output per row (``targets``), the
    output names and, where stored, every output's values (``per_output``)."""
    classification = exp.task == "classification"
    kind = "logit" if classification else "output"
    attrs = {m: a for m, a in exp.attributions.items()
             if a.values.shape[1:] == tuple(exp.input_shape)}  # fmt: skip
    for item in view.get("local") or []:
        i = int(item["index"])
        bases: dict[str, float] = {}
        value = None
        for m, a in attrs.items():
            if a.base_values is None or np.ndim(a.base_values) != 1 or len(a.base_values) <= i:
                continue
            base = float(a.base_values[i])
            bases[m] = round(base, 6)
            total = float(np.sum(a.values[i], dtype=np.float64))
            signed = a.delta is not None and not m.startswith("shap")  # SHAP's delta is |error|
            if signed and value is None:  # delta = sum - (f(x) - base): f(x) exactly
                value = base + total - float(np.ravel(a.delta)[i])
            elif value is None and a.params.get("additive_by_construction"):
                value = base + total  # exact / permutation SHAP: sums to f(x) - base
        first = next(iter(attrs.values()), None)
        target = int(np.ravel(first.targets)[i]) if first is not None else 0
        item["output"] = {
            "kind": kind,
            "target": target,
            "label": _label(exp, target) if classification else str(target),
        }
        item["base_values"] = bases
        item["output_value"] = None if value is None else round(value, 6)
    shap = view.get("shap")
    a = exp.attributions.get(shap.get("method")) if isinstance(shap, dict) else None
    if a is None:
        return
    shap["output_kind"] = kind
    shap["targets"] = [int(t) for t in np.ravel(a.targets)]
    shap["output_names"] = [_label(exp, k) for k in range(int(np.max(a.targets, initial=0)) + 1)]
    if a.base_values is not None:
        shap["base_values"] = np.round(np.asarray(a.base_values, dtype=float), 6).tolist()
    values, base = a.arrays.get("per_output_values"), a.arrays.get("per_output_base")
    if values is not None and base is not None and values.ndim == 3:
        n = values.shape[1]
        shap["output_names"] = [_label(exp, k) for k in range(values.shape[0])]
        shap["per_output"] = {
            "values": np.round(values.astype(np.float64), 4).tolist(),
            "base_values": np.round(base.astype(np.float64), 6).tolist(),
            "inputs": np.round(np.asarray(exp.X[:n], dtype=np.float64), 4).tolist(),
        }
