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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explain.errors import ExplainError
from explain.explanations import SHAP, Explanations, explain_model, resolve_methods
from explain.explanations import report_view as _report_view
from nas import run as rundir
from nas.config import SearchConfig
from nas.errors import NasError
from nas.train.loop import raise_if_stopped
from search_spaces import ArchSpec

SOURCE = "source.json"  # in RUN/explain/: which model the explanations are of
TOP = "explain-top"  # RUN/explain-top/<k>/: the explanations of top/<k>/, and the comparison
COMPARISON = "comparison.json"  # in RUN/explain-top/


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
    if (run_dir / "best").exists() and not (run_dir / "best" / "spec.json").is_file():
        rundir.load_spec(run_dir / "best")  # names best/spec.json (missing, or not a file)
    if not (run_dir / "best" / "spec.json").is_file():
        if rundir.search_running(run_dir):
            raise NasError(
                f"{str(run_dir)!r} has no winner to explain yet: a nas search is running there "
                "now, and saves (and, unless --no-explain, explains) its winner when it ends; "
                "wait for it."
            )
        raise NasError(
            f"{str(run_dir)!r} has no winner to explain (no best/ folder): the search there "
            "has not finished (no trial completed, or it stopped before the final retraining). "
            "Run the same `nas search` again to finish it, then explain."
        )
    rundir.check_writable(run_dir, run_dir / "explain", "the explanations")  # before the work
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
    reruns = _stored_reruns(run_dir, min(samples, len(data.test.X)))
    # a SIGTERM whose KeyboardInterrupt Python dropped (nas.train.loop.stop_pending) stops the
    # explanations at the winner's next forward pass, as it stops training at the next batch
    model.register_forward_pre_hook(raise_if_stopped)
    exp = explain_model(model, data, samples=samples, methods=methods, checks=checks, seed=seed,
                        rerun_examples=reruns)  # fmt: skip
    _store(exp, run_dir, fingerprint)
    return exp


def _stored_reruns(run_dir: Path, samples: int) -> dict[str, int] | None:
    """How many examples each method's re-run checks used in the winner's stored explanation
    of as many test examples (``samples``), to use again: their count fits a time limit as
    measured on the machine that made them, and a re-made explanation gives the same numbers
    only with the same count. None when there is none to follow (the time limit decides)."""
    path = run_dir / "explain" / "explanations.json"
    try:
        if not path.is_file() or not explains_current_winner(run_dir):
            return None
        stored = Explanations.load(run_dir / "explain")
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged folder: measured afresh
    if len(stored.X) != samples:
        return None
    counts = {c.method: int(c.extra["n_examples"]) for c in stored.checks
              if c.name in ("sensitivity", "randomisation")
              and isinstance(c.extra.get("n_examples"), int)}  # fmt: skip
    return counts or None


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

    rundir.check_inside(run_dir, run_dir / "explain", "its explanations")
    rundir.replace_dir(run_dir / "explain", fill)


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 of a model folder's ``spec.json`` and ``model.pt``."""
    h = hashlib.sha256()
    for name in ("spec.json", "model.pt"):
        h.update((Path(model_dir) / name).read_bytes())
    return h.hexdigest()


def explains_current_winner(run_dir: str | Path) -> bool:
    """Whether ``RUN/explain/`` holds explanations of the model now in ``RUN/best/`` (True
    for folders written before fingerprints were recorded: nothing to compare); a ValueError
    when its record of the model explained is damaged (not JSON, not an object)."""
    run_dir = Path(run_dir)
    source = run_dir / "explain" / SOURCE
    if not source.is_file():
        return True
    try:
        recorded = rundir.read_json(source).get("model")
    except (NasError, OSError, AttributeError):
        raise ValueError(f"{source} is damaged") from None
    try:
        return recorded == model_fingerprint(run_dir / "best")
    except (NasError, OSError):
        return False  # no readable winner to compare with


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


# --- the Pareto front, explained alike and compared -------------------------------------------


@dataclass
class FrontExplanations:
    """The explanations of a run's top-K models (``explanations[i]`` is of ``top/<i+1>/``),
    their comparison (``comparison.json``) and the folder they are stored in."""

    folder: Path
    explanations: list[Explanations]
    comparison: dict[str, Any]


def explain_top(
    run_dir: str | Path,
    top: int,
    *,
    samples: int | None = None,
    methods: Sequence[str] | None = None,
    checks: bool = True,
    seed: int = 0,
    threads: int | None = None,
) -> FrontExplanations:
    """Explain the first ``top`` models of ``RUN/top/`` alike (the same test examples, methods,
    seed and checks), compare their attributions (:func:`explain.compare.compare`) and store
    everything in ``RUN/explain-top/``, written whole and then swapped in.

    ``samples`` and ``methods`` default to those of the winner's stored explanation
    (``RUN/explain/``), else 200 examples and the default methods; a method that is not valid
    for every model is left out (``comparison["dropped"]`` says why), unless it was asked for by
    name, which is an error."""
    from explain.compare import compare
    from nas.train import configure_threads

    if top < 1:
        raise NasError(f"--top must be at least 1, got {top}; pass how many models to explain.")
    configure_threads(threads)
    run_dir = Path(run_dir)
    config = SearchConfig.read(run_dir)
    folders = top_folders(run_dir)[:top]
    if not folders:
        from nas.findings import search_warnings

        alone = any(w.startswith("--top ") and "all kept; best/ holds it" in w
                    for w in search_warnings(run_dir))  # fmt: skip
        if alone and (run_dir / "best" / "spec.json").is_file():
            # searched for a front of several, which held one trial (the search warned so)
            front = "its Pareto front" if len(config.objectives) > 1 else "the search"
            raise NasError(
                f"{str(run_dir)!r} was searched with --top {config.top}, but {front} held one "
                "trial, kept in best/ alone, so there is nothing to compare; explain it with "
                f"`nas explain {run_dir}`, or run the same search again with a longer --timeout "
                "or more --trials (same --out) for a larger front."
            )
        raise NasError(
            f"{str(run_dir)!r} has no top/ folder of Pareto-optimal models to compare; search "
            "with several objectives and --top K (e.g. --objectives accuracy,params --top 3), "
            "or explain the winner alone with `nas explain RUN`."
        )
    models, records = [], []
    for folder in folders:
        spec = rundir.load_spec(folder)
        if not isinstance(spec, ArchSpec):
            raise NasError(
                f"{folder} holds a {type(spec).__name__}: --top compares the explanations of "
                "classifiers and regressors; explain this run with `nas explain RUN`."
            )
        rundir.check_weights(folder)
        records.append(_model_record(folder, config))
        models.append(rundir.load_model(folder))
    rundir.check_writable(run_dir, run_dir / TOP, "the comparison")  # before the work
    data = config.load_data()
    changed = config.data_changed(data.fingerprint)
    if changed:
        raise NasError(
            f"The data of {str(run_dir)!r} changed since its search ({changed}); restore that "
            "data to explain its models."
        )
    n, wanted, strict = _winner_settings(run_dir, samples, methods)
    names, dropped = _shared_methods(models, folders, data, wanted, strict)
    exps = [explain_model(m, data, samples=n, methods=names, checks=checks, seed=seed)
            for m in models]  # fmt: skip
    comparison = compare(exps, records)
    comparison.update(
        samples=int(len(exps[0].X)), sample_indices=list(range(len(exps[0].X))), seed=seed,
        checked=checks, dropped=dropped,
    )  # fmt: skip
    if not rundir.is_run_dir(run_dir):  # explain-top/ is replaced: only ever a run directory's
        raise NasError(f"{str(run_dir)!r} is not a nas run directory; nothing was written.")

    def fill(tmp: Path) -> None:
        for folder, exp, record in zip(folders, exps, records, strict=True):
            exp.save(tmp / folder.name)
            rundir.write_json(tmp / folder.name / SOURCE, {"model": record["fingerprint"]})
        rundir.write_json(tmp / COMPARISON, comparison)

    rundir.check_inside(run_dir, run_dir / TOP, "its explanations")
    dest = rundir.replace_dir(run_dir / TOP, fill)
    return FrontExplanations(dest, exps, comparison)


def top_folders(run_dir: str | Path) -> list[Path]:
    """``RUN/top/<k>/`` folders that hold a model, in the order of k."""
    found = [p for p in (Path(run_dir) / "top").glob("*/spec.json") if p.parent.name.isdigit()]
    return sorted((p.parent for p in found), key=lambda p: int(p.name))


def _model_record(folder: Path, config: SearchConfig) -> dict[str, Any]:
    """What the comparison shows of one model: rank, trial, family, params, test metric."""
    m = rundir.read_metrics(folder / "metrics.json") if (folder / "metrics.json").is_file() else {}
    metric = str(m.get("metric") or config.metric or "metric")
    test = m.get("test") if isinstance(m.get("test"), dict) else {}
    cost = m.get("cost") if isinstance(m.get("cost"), dict) else {}
    return {
        "rank": int(m.get("rank") or folder.name), "folder": f"top/{folder.name}",
        "trial": m.get("trial"), "family": str(m.get("family") or "?"),
        "params": cost.get("params"), "metric": metric, "test": test.get(metric),
        "fingerprint": model_fingerprint(folder),
    }  # fmt: skip


def _winner_settings(
    run_dir: Path, samples: int | None, methods: Sequence[str] | None
) -> tuple[int, Sequence[str] | None, bool]:
    """The examples and methods to explain with: as asked, else as the winner's stored
    explanation was (SHAP under its request name), else 200 and the defaults; and whether the
    methods were asked for by name (then each must be valid for every model)."""
    strict = methods is not None and list(methods) != ["all"]
    stored, folder = None, run_dir / "explain"
    if (samples is None or methods is None) and (folder / "explanations.json").is_file():
        try:
            if explains_current_winner(run_dir):
                stored = Explanations.load(folder)
        except (OSError, ValueError, KeyError, TypeError):
            stored = None  # a damaged folder: fall back on the defaults
    if samples is None:
        samples = len(stored.X) if stored is not None else 200
    if methods is None and stored is not None:
        methods = list(dict.fromkeys(SHAP if m.startswith("shap") else m
                                     for m in stored.attributions))  # fmt: skip
    return samples, methods, strict


def _shared_methods(
    models: Sequence[Any],
    folders: Sequence[Path],
    data: Any,
    wanted: Sequence[str] | None,
    strict: bool,
) -> tuple[list[str], dict[str, str]]:
    """The methods every model is explained with, and those left out with why. Names asked
    for one by one must be valid for every model (else a NasError naming the model); the
    defaults, ``all`` and the winner's methods keep those valid for all."""
    example = data.test.X[:2].float()
    base, _ = resolve_methods(models[0], data.modality, wanted, example=example)
    dropped: dict[str, str] = {}
    for folder, model in zip(folders, models, strict=True):
        try:
            _, choices = resolve_methods(model, data.modality, base if strict else None, example)
        except ExplainError as e:
            raise NasError(f"{folder}: {e}") from None
        reasons = {c.method: c.reason for c in choices if not c.chosen}
        for m in base:
            if m in reasons and m not in dropped:
                dropped[m] = f"not valid for {folder.parent.name}/{folder.name}: {reasons[m]}"
    return [m for m in base if m not in dropped], dropped
