"""Collect a run directory into the plain dict the HTML report renders (explain/report/SCHEMA.md),
and write the report. The same run directory always gives the same report."""

from __future__ import annotations

import shutil
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from nas import run as rundir
from nas.errors import NasError

_MAX_ROC_POINTS = 200


def collect(run_dir: str | Path, *, storage: str | None = None) -> dict[str, Any]:
    """Everything the report shows, as JSON-able data read from ``run_dir``."""
    run_dir = Path(run_dir)
    record = rundir.read_json(run_dir / "run.json")
    data: dict[str, Any] = {
        "title": f"nas report: {record['study']}",
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "run": record,
    }
    trials, importances, pareto = _study_data(run_dir, record, storage)
    data["trials"], data["importances"], data["pareto"] = trials, importances, pareto
    data["counts"] = dict(Counter(t["state"] for t in trials))
    best_dir = run_dir / "best"
    if (best_dir / "metrics.json").is_file():
        best = rundir.read_json(best_dir / "metrics.json")
        data["best"] = best
        spec = rundir.load_spec(best_dir)
        data["spec"] = spec.to_dict()
        # a GAN's architecture, layer by layer, is its generator's (the deployable part)
        data["stages"], data["model_repr"] = _stages(getattr(spec, "generator", spec))
        data.update(_prediction_views(best_dir, record))
        tops = sorted((run_dir / "top").glob("*/metrics.json"), key=lambda p: int(p.parent.name))
        data["top"] = [rundir.read_json(p) for p in tops] or None
    data["explanations"], note = _explanations(run_dir)
    if record.get("space_name") == "gan":
        from nas.gan.search import report_data

        data["gan"] = report_data(run_dir, data.get("best"))
    data["alerts"] = ([note] if note else []) + alerts(data)
    data["verdict"] = verdict(data)
    return data


def _explanations(run_dir: Path) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    """The stored explanations of the winner as report data, or None with an alert saying why
    they are left out (they are of an earlier winner, or cannot be read)."""
    from nas.explaining import explains_current_winner, report_view

    explain_dir = run_dir / "explain"
    if not (explain_dir / "explanations.json").is_file():
        return None, None
    retry = f"run `nas explain {run_dir}` to explain the current winner."
    if not explains_current_winner(run_dir):
        text = f"The explanations in {explain_dir} are of an earlier winner: not shown; {retry}"
        return None, {"level": "warn", "text": text}
    try:
        return report_view(explain_dir), None
    except (OSError, ValueError, KeyError, TypeError) as e:  # a damaged or foreign folder
        text = f"The explanations in {explain_dir} could not be read ({e!r}); {retry}"
        return None, {"level": "warn", "text": text}


def _study_data(
    run_dir: Path, record: dict[str, Any], storage: str | None
) -> tuple[list[dict[str, Any]], dict[str, float] | None, list[int] | None]:
    import optuna

    from nas.search import status_of
    from nas.study import open_storage

    url = storage or record["storage"]
    if "***" in url:
        raise NasError(
            f"{run_dir}/run.json records a storage with a hidden password; pass "
            "--storage <full URL> to build the report."
        )
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=record["study"], storage=open_storage(url))
    all_trials = [
        t for t in study.get_trials(deepcopy=False) if t.state != optuna.trial.TrialState.WAITING
    ]
    starts = [t.datetime_start for t in all_trials if t.datetime_start is not None]
    t0 = min(starts) if starts else None
    rows = []
    for t in all_trials:
        a = t.user_attrs
        rows.append({
            "number": t.number, "state": status_of(t), "family": a.get("family"),
            "params": a.get("params"), "flops": a.get("flops"),
            "latency_ms": a.get("latency_ms"), "memory_mb": a.get("memory_mb"),
            "metric": t.values[0] if t.values else None, "values": list(t.values or []),
            "seconds": a.get("seconds"), "epochs": a.get("epochs"), "reason": a.get("reason"),
            "start_s": (t.datetime_start - t0).total_seconds() if t0 and t.datetime_start else None,
            "end_s": (t.datetime_complete - t0).total_seconds()
            if t0 and t.datetime_complete else None,
        })  # fmt: skip
    importances = None
    complete = [t for t in all_trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) >= 3:
        try:
            target = None if len(study.directions) == 1 else (lambda t: t.values[0])
            with warnings.catch_warnings():  # PED-ANOVA warns on sparse regimes; expected here
                warnings.simplefilter("ignore")
                imp = optuna.importance.get_param_importances(study, target=target)
            importances = {k: float(v) for k, v in imp.items()}
        except (ValueError, RuntimeError, ZeroDivisionError):
            importances = None  # too few trials with a shared search space
    pareto = [t.number for t in study.best_trials] if len(study.directions) > 1 else None
    return rows, importances, pareto


def _stages(spec: Any) -> tuple[list[dict[str, Any]], str]:
    from search_spaces import build_model

    model = build_model(spec)
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


def _prediction_views(best_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    path = best_dir / "predictions.npz"
    if not path.is_file():
        return {"roc": None, "residuals": None}
    with np.load(path, allow_pickle=False) as z:
        y_true, outputs = z["y_true"], z["outputs"]
    info = record.get("data_info", {})
    if record.get("task") == "classification":
        from sklearn.metrics import auc, roc_curve

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


def alerts(data: dict[str, Any]) -> list[dict[str, str]]:
    """Things a reader should know before trusting the winner."""
    out: list[dict[str, str]] = []
    best, run = data.get("best"), data["run"]
    counts = data.get("counts", {})
    if best is None:
        out.append({"level": "error", "text": "No trial completed: there is no winner yet."})
    else:
        metric = run["metric"]
        val, test = best.get("val", {}).get(metric), best.get("test", {}).get(metric)
        if isinstance(val, (int, float)) and isinstance(test, (int, float)):
            gap = (val - test) if run["directions"][0] == "maximize" else (test - val)
            scale = (
                1.0
                if metric
                in ("accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc", "r2")
                else max(abs(val), 1e-9)
            )
            if gap / scale > 0.05:
                out.append(
                    {
                        "level": "warn",
                        "text": f"Validation {metric} {val:.4g} is better "
                        f"than test {test:.4g}: the search may have over-fitted the "
                        "validation split; treat the test number as the honest one.",
                    }
                )
        per_class = best.get("test", {}).get("per_class") or []
        support = [c["support"] for c in per_class if c["support"] > 0]
        if support and max(support) > 3 * min(support):
            out.append(
                {
                    "level": "warn",
                    "text": "The classes are imbalanced (test support "
                    f"{min(support)} to {max(support)}): read balanced accuracy and "
                    "per-class recall, not only accuracy.",
                }
            )
    if counts.get("failed"):
        reasons = [t["reason"] for t in data.get("trials", []) if t["state"] == "failed"]
        out.append(
            {
                "level": "warn",
                "text": f"{counts['failed']} trial(s) failed; first "
                f"reason: {reasons[0] if reasons else 'unknown'}.",
            }
        )
    if counts.get("over_budget"):
        out.append(
            {
                "level": "info",
                "text": f"{counts['over_budget']} sampled architecture(s) "
                "were over budget and rejected before training.",
            }
        )
    exp = data.get("explanations") or {}
    failed = [c for c in exp.get("checks", []) if c.get("status") == "fail"]
    if failed:
        names = ", ".join(sorted({f"{c['name']} ({c['method']})" for c in failed}))
        out.append(
            {
                "level": "warn",
                "text": f"Explanation checks failed: {names}. Read those "
                "methods' attributions with care: they failed a test of faithfulness.",
            }
        )
    apart = [c["method"] for c in exp.get("agreement", []) if c.get("status") == "fail"]
    if apart:
        out.append(
            {
                "level": "info",
                "text": "Some methods disagree on what matters ("
                + "; ".join(apart)
                + "): disagreement says the view depends on the method, "
                "not which one is right; prefer the methods that pass their checks.",
            }
        )
    return out


def verdict(data: dict[str, Any]) -> str:
    """One paragraph, in words, on what the search found."""
    best, run = data.get("best"), data["run"]
    n = len(data.get("trials", []))
    if best is None:
        return f"{n} trials ran and none completed, so there is no winner yet."
    metric = run["metric"]
    test = best.get("test", {}).get(metric)
    cost = best.get("cost", {})
    budget = {k: v for k, v in (run.get("budget") or {}).items() if v is not None}
    within = (
        (" It fits the budget (" + ", ".join(f"{k} {v:,g}" for k, v in budget.items()) + ").")
        if budget
        else ""
    )
    test_txt = f"{test:.4g}" if isinstance(test, (int, float)) else "n/a"
    if best.get("family") == "gan":
        t = best.get("test", {})
        refs = [f"{name} {t[k]:.4g}" for name, k in (("real data", "real_fcd"),
                ("uniform noise", "noise_fcd")) if isinstance(t.get(k), (int, float))]  # fmt: skip
        cond = t.get("cond_accuracy")
        cond_txt = ""
        if isinstance(cond, (int, float)):
            cond_txt = (
                f" The real-data classifier labels {cond:.1%} of its samples with the class "
                "they were generated for."
            )
        return (
            f"Of {n} trials, the best is a GAN whose generator has {cost.get('params', 0):,} "
            f"parameters and {cost.get('flops', 0) / 1e6:.3g} MFLOPs per sample; it scores test "
            f"FCD {test_txt} on {run['data_info']['sizes']['test']} held-out examples (lower is "
            f"better; for reference: {', '.join(refs) or 'n/a'}).{cond_txt}{within}"
        )
    return (
        f"Of {n} trials, the best is a {best['family']} network with {cost.get('params', 0):,} "
        f"parameters and {cost.get('flops', 0) / 1e6:.3g} MFLOPs per example; retrained on "
        f"train + validation it scores test {metric} {test_txt} on "
        f"{run['data_info']['sizes']['test']} held-out examples.{within}"
    )


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

    run_dir = Path(run_dir)
    dest = Path(path) if path is not None else run_dir / "report.html"
    out = render_report(collect(run_dir, storage=storage), dest)
    if copy_to is not None:
        folder = rundir.ensure_writable(Path(copy_to))
        shutil.copyfile(out, folder / f"{run_dir.name}.html")
    return out
