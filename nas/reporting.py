"""Collect a run directory into the plain dict the HTML report renders (explain/report/SCHEMA.md),
and write the report. The same run directory always gives the same report.

The run's search kind adds its own data (a GAN's scores and samples), words the verdict its own
way when it must, and names the architecture the report tabulates; this module never asks
which kind it holds."""

from __future__ import annotations

import os
import time
import warnings
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from nas import run as rundir
from nas.baselines import bootstrap_interval, paired_difference, read_baselines, unseen_scores
from nas.config import SearchConfig
from nas.errors import ModelTooLargeError, NasError, StorageError, UnknownNameError
from nas.findings import alerts, baseline_lines, budget_sentence, search_warnings, verdict
from nas.kinds import get_kind
from nas.leaderboard import is_feasible, metric_scale, status_of
from nas.metrics import METRICS, metric_direction
from nas.pareto_pruner import intermediate_of
from nas.warm_start import fitted_from, fitted_words

_MAX_ROC_POINTS = 200


def collect(run_dir: str | Path, *, storage: str | None = None) -> dict[str, Any]:
    """Everything the report shows, as JSON-able data read from ``run_dir``."""
    run_dir = Path(run_dir)
    config = SearchConfig.read(run_dir)
    kind = get_kind(config.kind)
    data: dict[str, Any] = {
        "title": f"nas report: {config.study}",
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "run": config.to_dict(),
    }
    trials, importances, pareto = _study_data(run_dir, config, storage)
    data["trials"], data["importances"], data["pareto"] = trials, importances, pareto
    data["counts"] = dict(Counter(t["state"] for t in trials))
    data["running"] = rundir.search_running(run_dir)  # no winner may mean: not finished yet
    best_dir = run_dir / "best"
    contradiction = None
    best = rundir.best_metrics(best_dir)
    if best is not None:
        data["best"] = best
        spec = rundir.load_spec(best_dir)
        data["spec"] = spec.to_dict()
        contradiction = _spec_contradiction(best_dir, best, spec)
        # the architecture, layer by layer, of the deployable part (a GAN's generator)
        try:
            data["stages"], data["model_repr"] = _stages(kind.architecture(spec))
        except (NasError, ValueError, TypeError, KeyError, AttributeError, RuntimeError) as e:
            rundir.not_registered(best_dir / "spec.json", e)
            rundir.extension_at_fault(best_dir / "spec.json", e)
            raise NasError(f"{best_dir / 'spec.json'} describes no model nas can build "
                           f"({rundir.reason(e)}); {rundir.RETRAIN}.") from None  # fmt: skip
        data.update(_prediction_views(best_dir, config))
        data.update(_worth(run_dir, config, data.get("best")))
        data["top"] = rundir.top_metrics(run_dir) or None
    data["explanations"], note = _explanations(run_dir)
    data["comparison"] = _comparison(run_dir)
    data.update(kind.report_data(run_dir, data.get("best")))
    data["warnings"] = search_warnings(run_dir)  # what the search warned of as it ended
    versions = [{"level": "warn", "text": n} for n in rundir.version_notes(config.versions)]
    data["alerts"] = ([a for a in (contradiction, note) if a] + versions + kind.alerts(data)
                      + alerts(data))  # fmt: skip
    data["verdict"] = verdict(data, kind)
    return data


def _spec_contradiction(best_dir: Path, best: dict[str, Any], spec: Any) -> dict[str, str] | None:
    """A red alert when best/spec.json is not the architecture best/metrics.json scored (its
    summary, recorded as the winner was saved, differs), or when spec.json or model.pt is not
    the file the search saved (``sha256.json``): one of them was replaced, and the report would
    show one model's architecture beside another's scores; a warning when no ``sha256.json``
    is there to check them against."""
    try:
        described, recorded = spec.summary(), best.get("summary")
    except UnknownNameError as e:  # a block kind not registered here: named with its file
        rundir.not_registered(best_dir / "spec.json", e)
        raise
    # runs saved before summaries named normalisation, activation and dropout recorded the
    # blocks' labels alone: the same spec, said shorter
    if recorded in (described, spec.summary(details=False)):
        try:
            rundir.check_sums(best_dir)
        except NasError as e:
            return {"level": "error", "text": f"{e} The scores shown are of the model the "
                    "search saved, not of these files."}  # fmt: skip
        unchecked = rundir.unchecked_note(best_dir)
        return {"level": "warn", "text": unchecked} if unchecked else None
    text = (f"The winner's files disagree: {best_dir / 'spec.json'} is {described!r} but "
            f"{best_dir / 'metrics.json'} records {recorded!r} (one was replaced), so the "
            f"architecture shown may not be the model scored; {rundir.RETRAIN}.")  # fmt: skip
    return {"level": "error", "text": text}


def _worth(run_dir: Path, config: SearchConfig, best: Any) -> dict[str, Any]:
    """What the test score is worth: the baselines measured in finalize (read, never fitted
    here), each one that scores better than the winner with the interval of its difference on
    the same rows (``paired``), and the score's bootstrap interval from the predictions."""
    best_dir = run_dir / "best"
    metric = config.metric or ""
    interval = bootstrap_interval(best_dir, config.task, metric, config.data_info)
    base = read_baselines(best_dir)
    test = ((best or {}).get("test") or {}).get(metric) if isinstance(best, dict) else None
    up = metric_direction(metric) == "maximize" if metric in METRICS else True
    kept = []  # (name, outputs): to score on the test rows that repeat no training row
    for b in (base or {}).get("baselines") or []:
        outputs = b.pop("outputs", None) if isinstance(b, dict) else None
        if outputs is not None:
            kept.append((str(b.get("name") or "baseline"), outputs))
        value = (b.get("metrics") or {}).get(metric) if isinstance(b, dict) else None
        better = (isinstance(value, int | float) and isinstance(test, int | float)
                  and (value > test if up else value < test))  # fmt: skip
        # the trivial one too: "not shown to beat the majority class" is judged on the same
        # rows (ROC AUC's scorer is slow, and a constant's AUC is 0.5: only when it is better)
        trivial = isinstance(b, dict) and b.get("kind") == "trivial" and metric != "roc_auc"
        if (better or trivial) and outputs is not None:
            b["paired"] = paired_difference(best_dir, config.task, metric, config.data_info,
                                            outputs) or None  # fmt: skip
    repeated = (config.data_info.get("preprocessing") or {}).get("repeated_test_rows")
    unseen = unseen_scores(best_dir, config.task, metric, config.data_info, kept, repeated)
    return {"baselines": base, "test_interval": interval or None, "unseen": unseen}


def judged(run_dir: str | Path, config: SearchConfig, best: dict[str, Any]) -> list[str]:
    """The report's first-screen judgement of the winner (``best``, its metrics.json) against
    the baselines, as lines for a terminal: `nas search` and `nas show` give no other verdict.
    Then, as the report says them too: a limit the final cost is over, winner files that are
    not the ones the search saved, and the search kind's own alerts (a GAN winner that has
    collapsed)."""
    data = {"run": config.to_dict(), "best": best, **_worth(Path(run_dir), config, best)}
    lines = baseline_lines(data)
    budget = budget_sentence(data).strip()
    if " OVER " in f" {budget} ":  # the final measurement is over a limit the trial met
        lines.append(f"budget: {budget}")
    contradiction = (
        _spec_contradiction(Path(run_dir) / "best", best, rundir.load_spec(Path(run_dir) / "best"))
        if (Path(run_dir) / "best" / "spec.json").is_file()
        else None
    )
    if contradiction:
        lines.append(f"warning: {contradiction['text']}")
    said = [a for a in alerts(data) if not a["text"].startswith("The data: ")]  # notes said it
    for alert in [*said, *get_kind(config.kind).alerts(data)]:  # the report's first screen's
        lines.append(f"{'warning' if alert.get('level') != 'info' else 'note'}: {alert['text']}")
    return lines


def explanation_verdict(run_dir: str | Path) -> str | None:
    """The report's first-screen line on the winner's stored explanations: which methods
    passed their checks, which disagree, and, where the winner is no better than the trivial
    baseline, that faithful explanations of it show no learnt pattern. None without a winner
    or explanations of it. `nas explain RUN` prints it: its table alone had shown mostly
    passes for a model fitted to shuffled labels (/tmp/oW 4)."""
    from explain.report.decision_view import decision_view

    run_dir = Path(run_dir)
    config = SearchConfig.read(run_dir)
    best = rundir.best_metrics(run_dir / "best")
    exp, _ = _explanations(run_dir)
    if best is None or exp is None:
        return None
    data = {"run": config.to_dict(), "best": best, **_worth(run_dir, config, best),
            "explanations": exp}  # fmt: skip
    view = decision_view(data)
    return str(view["explanations"]) if view and view.get("explanations") else None


def _explanations(run_dir: Path) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    """The stored explanations of the winner as report data, or None with an alert saying why
    they are left out (they are of an earlier winner, or cannot be read)."""
    from nas.explaining import explains_current_winner, report_view

    explain_dir = run_dir / "explain"
    # what nas explain stores for a classifier, both or neither (a GAN stores gan.json)
    stored = {name: (explain_dir / name).is_file()
              for name in ("explanations.json", "attributions.npz")}  # fmt: skip
    if not any(stored.values()):
        return None, None
    retry = f"run `nas explain {run_dir}` to explain the current winner."
    if not all(stored.values()):
        missing = next(name for name, there in stored.items() if not there)
        text = (f"{explain_dir} is damaged: its {missing} is missing, so the explanations are "
                f"not shown; run `nas explain {run_dir}` to remake it.")  # fmt: skip
        return None, {"level": "warn", "text": text}
    try:
        if not explains_current_winner(run_dir):
            text = f"The explanations in {explain_dir} are of an earlier winner: not shown; {retry}"
            return None, {"level": "warn", "text": text}
        return report_view(explain_dir), None
    except (OSError, ValueError, KeyError, TypeError) as e:  # a damaged or foreign folder
        text = f"The explanations in {explain_dir} could not be read ({e!r}); {retry}"
        return None, {"level": "warn", "text": text}


def _study_data(
    run_dir: Path, config: SearchConfig, storage: str | None
) -> tuple[list[dict[str, Any]], dict[str, float] | None, list[int] | None]:
    import optuna

    from nas.study import read_study

    # only the run's own study.db, unless --storage names the storage: never the URL run.json
    # records (a run directory may come from anyone)
    if storage is None:
        check_own_study(run_dir, config.storage)
    study = read_study(run_dir, config.study, storage, config.storage)
    check_same_search(study, config, run_dir, storage)
    all_trials = [
        t for t in study.get_trials(deepcopy=False) if t.state != optuna.trial.TrialState.WAITING
    ]
    scale = metric_scale(study)  # a trial's value -> the test metrics' units (regression)
    starts = [t.datetime_start for t in all_trials if t.datetime_start is not None]
    t0 = min(starts) if starts else None
    rows = []
    for t in all_trials:
        a = t.user_attrs
        # the last value the trial reported (a pruned trial's standing when it was stopped);
        # a multi-objective trial keeps them as a user attribute (nas.pareto_pruner)
        reported = {s: v for s, v in intermediate_of(t).items() if np.isfinite(v)}
        last_step = max(reported) if reported else None
        rows.append({
            "number": t.number, "state": status_of(t), "family": a.get("family"),
            "params": a.get("params"), "flops": a.get("flops"),
            "latency_ms": a.get("latency_ms"), "memory_mb": a.get("memory_mb"),
            "metric": t.values[0] * scale if t.values else None,
            "values": [v * scale if i == 0 else v for i, v in enumerate(t.values or [])],
            "seconds": a.get("seconds"), "epochs": a.get("epochs"), "reason": a.get("reason"),
            "start_s": (t.datetime_start - t0).total_seconds() if t0 and t.datetime_start else None,
            "end_s": (t.datetime_complete - t0).total_seconds()
            if t0 and t.datetime_complete else None,
            "last_step": last_step,
            "last_value": reported[last_step] * scale if reported else None,
            "hparams": {str(k): v if isinstance(v, bool | int | float | str) or v is None
                        else str(v) for k, v in t.params.items()},
            "depth": _depth(a.get("spec")),
            # --min-faithfulness: the score and whether the trial met the bound
            "faithfulness": a.get("faithfulness"),
            "feasible": is_feasible(t) if t.constraints else None,
            # one of nas's starting points (enqueued before sampling), and the size it had
            # before it was fitted to the budget (nas.warm_start)
            "warm_start": bool(a.get("warm_start")),
            "fitted_from": fitted_from(a),
            "fitted": fitted_words(a),  # "fitted to the budget from 1.93 MFLOPs"
        })  # fmt: skip
    importances = None
    complete = [t for t in all_trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) >= 3:
        try:
            target = None if len(study.directions) == 1 else (lambda t: t.values[0])
            with warnings.catch_warnings():  # PED-ANOVA warns on sparse regimes; expected here
                warnings.simplefilter("ignore")
                imp = optuna.importance.get_param_importances(study, target=target)
            # ties in a fixed order (by name): Optuna's order of equal importances follows
            # Python's per-process string hashing, so the same run gave different reports
            ranked = sorted(imp.items(), key=lambda kv: (-float(kv[1]), kv[0]))
            importances = {k: float(v) for k, v in ranked}
        except (ValueError, RuntimeError, ZeroDivisionError):
            importances = None  # too few trials with a shared search space
    pareto = [t.number for t in study.best_trials] if len(study.directions) > 1 else None
    return rows, importances, pareto


def check_own_study(run_dir: Path, recorded: str | None) -> None:
    """A StorageError when the run's own study.db, the only study read without --storage, is
    missing: named as given and as the absolute path nas looks at (the run.json of a copied or
    moved run names the original's study, which reads like the path nas tried)."""
    from nas.study import redact, storage_file

    db = Path(run_dir) / "study.db"
    if db.exists():
        return
    own = db.resolve()
    recorded_file = storage_file(recorded) if recorded else None
    if not recorded or (recorded_file is not None and recorded_file.resolve() == own):
        raise StorageError(
            f"{db} does not exist, so the run's trials cannot be read (nas reads them from "
            f"{own}); restore it, or pass the study's storage with --storage URL "
            "(storage=<full URL> in Python)."
        )
    copy = (f"copy that file to {own}, or " if recorded.startswith("sqlite:")
            and recorded_file is not None else "")  # fmt: skip
    raise StorageError(
        f"{db} does not exist, so the run's trials cannot be read: nas reads them from the run "
        f"directory's own study.db ({own}), never from the storage its run.json names "
        f"({redact(recorded)}, where the search kept them; a copied or moved run keeps that "
        f"name); {copy}pass that storage with --storage URL (storage=<full URL> in Python)."
    )


def check_same_search(study: Any, config: SearchConfig, run_dir: Path, storage: str | None) -> None:
    """Refuse a study that another search wrote under the same name (a --storage holding
    another run's study, a study.db swapped in): its trials and this run's winner would be
    reported as one run. The comparison is the resume's (SearchConfig.resume_conflict) against
    the settings the study records; a study from before nas recorded them is read as it is."""
    from nas.study import redact
    from nas.worker import RUN_ATTR

    record = study.user_attrs.get(RUN_ATTR)
    if record is None:
        return
    where = f"study {config.study!r} in {redact(storage) if storage else run_dir / 'study.db'}"
    recorded = SearchConfig.from_dict(record, source=where)
    # a run.json older than data fingerprints has none to compare (as a resume of it skips it)
    what = (recorded.resume_conflict(config) if config.data_fingerprint is not None
            else config.resume_conflict(recorded))  # fmt: skip
    if what:
        fix = (
            "pass --storage the storage this run's search used, or leave it out to read "
            f"{run_dir / 'study.db'}"
            if storage
            else "restore the run's own study.db, or pass --storage the storage its search used"
        )
        raise StorageError(
            f"{where} holds a search with {what}: it is not the study of {run_dir} (its "
            f"run.json), and its trials would be reported with this run's winner; {fix}."
        )


def _depth(spec: Any) -> int | None:
    """How many blocks a trial's recorded spec stacks (a GAN's: its generator's); None when the
    trial recorded no spec (it failed while sampling)."""
    if isinstance(spec, dict) and isinstance(spec.get("generator"), dict):
        spec = spec["generator"]
    blocks = spec.get("blocks") if isinstance(spec, dict) else None
    return len(blocks) if isinstance(blocks, list) else None


def _stages(spec: Any) -> tuple[list[dict[str, Any]], str]:
    """The winner's stages (shapes, parameter counts) and its printed modules, from a model
    built on torch's meta device: shapes without storage. A received spec.json of a huge layer
    had been built in full here (16.8 GB, 79 s) to report that it is not the model's (/tmp/oZ
    D1)."""
    from nas.cost.measure import params_before_building
    from search_spaces import build_model

    try:  # a block that needs real tensors to build is built for real
        model = params_before_building(build_model, spec) or build_model(spec)
    except ModelTooLargeError:  # larger than a tensor can hold: nothing to show
        return [], ""
    modules = dict(model.features.named_children())
    modules["head"] = model.head
    block_params = [b.params for b in spec.blocks] + [spec.head.params]
    out, i = [], 0
    for st in model.stages:
        params = {} if st.inserted else dict(block_params[i])
        if not st.inserted:
            i += 1
        out.append(
            {
                "name": st.name,
                "kind": st.kind,
                "inserted": st.inserted,
                "shape_in": str(st.shape_in),
                "shape_out": str(st.shape_out),
                "params": params,
                "n_params": sum(p.numel() for p in modules[st.name].parameters()),
            }
        )
    return out, str(model)


def _prediction_views(best_dir: Path, config: SearchConfig) -> dict[str, Any]:
    """The ROC curves (classification) or residuals (regression) of the test predictions."""
    path = best_dir / "predictions.npz"
    if not path.is_file():
        return {"roc": None, "residuals": None}
    try:
        with np.load(path, allow_pickle=False) as z:
            y_true, outputs = np.asarray(z["y_true"]), np.asarray(z["outputs"])
        if y_true.dtype.kind not in "biuf" or outputs.dtype.kind not in "biuf":
            raise ValueError("the arrays are not numbers")
        if len(y_true) != len(outputs):
            raise ValueError(f"{len(y_true)} targets but {len(outputs)} outputs")
        return _views(y_true, outputs, config)
    except (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, NotImplementedError,
            zipfile.BadZipFile, zlib.error) as e:  # fmt: skip
        # numpy's words for a pickle suggest loading it unsafely: never repeat them; a file of
        # 0 bytes or cut short is an EOFError ("No data left in file")
        why = ("it is damaged, or holds pickled Python objects, which nas never loads"
               if "pickle" in str(e) else "it is damaged: empty or cut short"
               if isinstance(e, EOFError) else None)  # fmt: skip
        raise NasError(f"{path} is not the test predictions of this run "
                       f"({why or rundir.reason(e)}); {rundir.RETRAIN}.") from None  # fmt: skip


def _views(y_true: np.ndarray, outputs: np.ndarray, config: SearchConfig) -> dict[str, Any]:
    info = config.data_info
    if config.task == "classification":
        from sklearn.metrics import auc, roc_curve

        if outputs.ndim != 2 or y_true.ndim != 1:
            raise ValueError(f"outputs of shape {outputs.shape}, targets of {y_true.shape}")
        logits = outputs - outputs.max(axis=1, keepdims=True)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        names = info.get("class_names") or [str(i) for i in range(probs.shape[1])]
        roc = []
        for c in range(probs.shape[1]):
            positives = y_true == c
            if positives.all() or not positives.any():
                continue  # one-vs-rest needs both
            fpr, tpr, _ = roc_curve(positives, probs[:, c])
            keep = np.unique(
                np.linspace(0, len(fpr) - 1, min(len(fpr), _MAX_ROC_POINTS)).astype(int)
            )
            roc.append(
                {
                    "class": names[c] if c < len(names) else str(c),
                    "fpr": np.round(fpr[keep], 4).tolist(),
                    "tpr": np.round(tpr[keep], 4).tolist(),
                    "auc": float(auc(fpr, tpr)),
                }
            )
        return {"roc": roc, "residuals": None}
    pre = info.get("preprocessing", {})
    mean, std = np.asarray(pre.get("y_mean", 0.0)), np.asarray(pre.get("y_std", 1.0))
    y = (y_true * std + mean)[:, 0] if y_true.ndim == 2 else y_true * std + mean
    p = (outputs * std + mean)[:, 0] if outputs.ndim == 2 else outputs * std + mean
    return {
        "roc": None,
        "residuals": {"y_true": np.round(y, 5).tolist(), "y_pred": np.round(p, 5).tolist()},
    }


def write_report(
    run_dir: str | Path,
    path: str | Path | None = None,
    *,
    storage: str | None = None,
    copy_to: str | Path | None = None,
) -> Path:
    """Render the report of a run directory to ``path`` (default ``run_dir/report.html``);
    also copy it to ``copy_to`` (a folder) when given."""
    from explain.report import render_report

    run_dir = rundir.readable_run_dir(run_dir)
    dest = Path(path) if path is not None else run_dir / "report.html"
    _check_destination(dest)  # a wrong -o is named before the work, not after
    data = collect(run_dir, storage=storage)
    try:
        out = render_report(data, dest)
    except OSError as e:
        raise StorageError(
            f"Cannot write the report to {dest} ({e.strerror or e}); pass -o a path in a "
            "writable folder."
        ) from None
    if copy_to is not None:
        folder = rundir.ensure_writable(Path(copy_to))
        try:
            copy_into(out, run_dir, folder)
        except OSError as e:
            raise StorageError(
                f"The report is at {out}, but copying it into {folder} failed "
                f"({e.strerror or e}); choose a writable folder."
            ) from None
    return out


_GENERATOR = b'<meta name="generator" content="nas explain.report">'
_RUN_MARK = b'<meta name="nas-run" content="%s">'


def copy_into(report: Path, run_dir: Path, folder: Path) -> Path:
    """Copy ``report`` into ``folder`` as ``<run name>.html``, replacing only an earlier copy of
    the same run's report: another run of the same folder name (``a/digits``, ``b/digits``)
    gets ``<run name>-2.html`` and so on, and a file that is not a nas report is never
    overwritten. The copy carries the run's mark (a hash of its path, not the path)."""
    import hashlib

    mark = hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:16].encode()
    html = report.read_bytes()
    if _GENERATOR in html:
        html = html.replace(_GENERATOR, _GENERATOR + b"\n" + _RUN_MARK % mark, 1)
    name = Path(run_dir).name
    for k in range(1, 1000):
        dest = folder / (f"{name}.html" if k == 1 else f"{name}-{k}.html")
        if dest.exists():
            with dest.open("rb") as f:
                head = f.read(4096)
            if _RUN_MARK % mark not in head:
                continue  # another run's report, or someone's own file
        rundir.write_bytes_atomic(dest, html)
        return dest
    raise OSError(f"{folder} holds 999 reports named {name}*.html")


def _check_destination(dest: Path) -> None:
    """A StorageError naming ``dest`` when no report can be written there: a file in place of
    one of its folders, or a folder nas may not write in."""
    folder = dest if dest.is_dir() else dest.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the folders still to make are made by the renderer
    why = (
        f"{folder} is a file, not a folder"
        if not folder.is_dir()
        else f"{folder} is not writable"
        if not os.access(folder, os.W_OK)
        else None
    )
    if why:
        raise StorageError(
            f"Cannot write the report to {dest}: {why}; pass -o a path in a writable folder."
        )


def _comparison(run_dir: Path) -> dict[str, Any] | None:
    """``RUN/explain-top/comparison.json`` (``nas explain RUN --top K``) as report data; None
    when there is none; only a ``note`` when it cannot be read or its models are no longer those
    in ``top/`` (a later search replaced the front), so no stale comparison is shown."""
    from nas.explaining import COMPARISON, TOP, model_fingerprint

    path = run_dir / TOP / COMPARISON
    if not path.is_file():
        return None
    retry = f"run `nas explain {run_dir} --top K` to compare the current front"
    try:
        comparison = rundir.read_object(path)
    except NasError as e:
        return {"note": f"The comparison in {path} could not be read ({e}); {retry}."}
    models = comparison.get("models")
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        return {"note": f"The comparison in {path} lists no models; {retry}."}
    for m in models:
        folder = str(m.get("folder") or "")
        ok = folder.startswith("top/") and folder[4:].isdigit()  # only this run's top/<k>/
        try:
            ok = ok and m.get("fingerprint") == model_fingerprint(run_dir / folder)
        except OSError:
            ok = False
        if not ok:
            text = f"The comparison in {path.parent} is of models no longer in top/ ({folder})"
            return {"note": f"{text}: not shown; {retry}."}
    return comparison
