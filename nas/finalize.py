"""After the trials: retrain and test the winners (each kind its own way), save them in the run
directory, then explain the winner and write the report — a failure there never loses the
search."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna

from nas import run as rundir
from nas import terminal
from nas.data import TaskData
from nas.errors import Interrupted, NasError
from nas.kinds._base import SearchKind
from nas.leaderboard import (
    check_impossible_budget,
    constraint_price,
    feasible_count,
    metric_scale,
    pick_winners,
)
from nas.result import SearchResult
from nas.study import redact
from nas.train.loop import raise_if_stopped
from nas.trial import SearchSettings


def finalize_run(
    result: SearchResult,
    st: optuna.Study,
    td: TaskData,
    settings: SearchSettings,
    top: int,
    kind: SearchKind,
    state: Any,
) -> None:
    """Retrain and test the winners into ``best/`` (and ``top/<k>/``); ``summary.json``."""
    winners = pick_winners(st, top)
    if not winners:
        counts = result.counts
        if set(counts) == {"over_budget"}:  # every sample was too big: say so, with the sizes
            check_impossible_budget(st, replace(settings, max_rejects=1))
        reasons = result.leaderboard.get("reason")
        first = next((r for r in (reasons if reasons is not None else []) if r), "")
        raise NasError(
            f"No trial completed ({counts}); nothing to retrain. First reason: "
            f"{str(first or '-').rstrip('.')}. Fix what it names (the budget, the space or the "
            "data) and search again; a changed space or budget needs another --out."
        )
    note = constraint_note(st, settings)
    if note:
        result.warnings.append(note)
    if top > len(winners):  # a front (or a search) with fewer trials than asked for
        where = "best/ holds it" if len(winners) == 1 else f"top/1-{len(winners)} hold them"
        n = f"{len(winners)} trial{'s' if len(winners) > 1 else ''}"
        what = f"the Pareto front holds {n}" if len(st.directions) > 1 else f"{n} completed"
        result.warnings.append(f"--top {top}: {what}, all kept; {where}.")
    top_dir = result.run_dir / "top"
    if top_dir.exists():
        if not rundir.is_run_dir(result.run_dir):  # never someone else's top/ (run_search checks)
            raise NasError(
                f"{str(result.run_dir)!r} is not a nas run directory; nothing there is replaced. "
                "Pass --out a new or empty folder."
            )
        shutil.rmtree(top_dir)
    for rank, trial in enumerate(winners, start=1):
        raise_if_stopped()  # a SIGTERM whose KeyboardInterrupt Python dropped (stop_pending)
        final = kind.finalize(td, trial, settings, state, rank)
        final.metrics["data"] = td.name
        folders = ([result.run_dir / "best"] if rank == 1 else []) + (
            [top_dir / str(rank)] if len(winners) > 1 else []
        )
        for folder in folders:
            rundir.save_model_dir(folder, final.spec, final.model, final.metrics, final.predictions)
            for name, arrays in final.arrays.items():
                rundir.save_arrays(folder / name, arrays)
        if rank == 1:
            result.spec, result.model, result.cost = final.spec, final.model, final.cost
            result.metrics = final.metrics
        result.pareto.append(final.metrics)
        result.warnings += latency_note(trial, final.cost, settings, rank)
    raise_if_stopped()
    save_baselines(result, kind, td, settings, state)
    rundir.write_json(result.run_dir / "summary.json", {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "counts": result.counts,
        "best": result.metrics.get("test"), "top": [m["trial"] for m in result.pareto],
        # what the search warned of (a winner re-measured over --max-latency-ms, ...): the
        # report and `nas show` say it again, long after the terminal is gone
        "warnings": [str(w) for w in result.warnings],
    })  # fmt: skip


def save_warnings(result: SearchResult) -> None:
    """Bring summary.json's ``warnings`` up to date with the result's (explaining the winner
    may add one after summary.json was written); nothing without a summary.json."""
    path = Path(result.run_dir) / "summary.json"
    try:
        summary = rundir.read_json(path)
    except (OSError, ValueError, NasError):
        return
    if not isinstance(summary, dict):
        return
    warnings = [str(w) for w in result.warnings]
    if summary.get("warnings") != warnings:
        summary["warnings"] = warnings
        rundir.write_json(path, summary)


def latency_note(
    trial: optuna.trial.FrozenTrial, cost: Any, settings: SearchSettings, rank: int
) -> list[str]:
    """A warning when a kept model's latency, measured again after its retrain, is over
    ``--max-latency-ms``, which its trial met: a latency is a median of timed runs on a machine
    whose load varies, so the limit holds as measured when the trial ran, not for ever."""
    limit = settings.budget.max_latency_ms
    now = getattr(cost, "latency_ms", None)
    if limit is None or now is None or now <= limit:
        return []
    then = trial.user_attrs.get("latency_ms")
    which = "the winner" if rank == 1 else f"model {rank} of the front"
    was = f" (its trial measured {then:.3g} ms)" if isinstance(then, int | float) else ""
    return [f"{which} measured {now:.3g} ms at batch 1 after its retrain, over --max-latency-ms "
            f"{limit:g}{was}: latency varies with the machine's load; measure it where it will "
            "run (nas export reports it too)."]  # fmt: skip


def save_baselines(
    result: SearchResult, kind: SearchKind, td: TaskData, settings: SearchSettings, state: Any
) -> None:
    """Score the kind's baselines (fitted as the search started, in ``state``) on the test
    split into ``best/baselines.json``; a failure is one of the result's warnings (the winner is
    already saved, and the report says the baselines were not measured)."""
    try:
        baselines = kind.baselines(td, settings, state)
        if baselines is not None:
            baselines["metric"] = settings.metric
            rundir.write_json(result.run_dir / "best" / "baselines.json", baselines)
    except Exception as e:  # noqa: BLE001 - a baseline must never cost the search its result
        result.warnings.append(f"the baselines could not be measured ({rundir.reason(e)}).")


def explain_and_report(result: SearchResult, kind: SearchKind, options: Any) -> None:
    """Explain the winner (``options.explain``), then write the report (``options.report``).
    A Ctrl-C here is an :class:`Interrupted` that names `nas explain` / `nas report`: the
    search and its winner are kept, and running the search again would retrain the winner."""
    run = result.run_dir
    say = terminal.say if getattr(options, "progress", False) else lambda text: None
    if options.explain and result.model is not None:
        say(f"explaining the winner on up to {options.explain_samples} test examples, with its "
            "quality checks ...")  # fmt: skip
        try:
            raise_if_stopped()  # explain_run checks again at each forward pass of the winner
            result.explanations = kind.explain(
                Path(run),
                result.config,
                data=result.data,
                model=result.model,
                trial=result.metrics.get("trial"),
                samples=options.explain_samples,
            )
        except kind.explain_errors as e:
            result.warnings.append(kind.explain_failed(e, run))
        except KeyboardInterrupt:
            then = f" (then `nas report {run}`)" if options.report else ""
            raise Interrupted(
                f"interrupted while explaining the winner: the search and its winner are kept "
                f"in {run}; run `nas explain {run}`{then} to finish, not the search again "
                "(which would retrain the winner first)."
            ) from None
    save_warnings(result)  # the report shows them
    if options.report:
        from nas.reporting import write_report

        say("writing the report ...")
        try:
            raise_if_stopped()
            result.report_path = write_report(run, storage=options.storage)
        except KeyboardInterrupt:
            kept = (
                "the search, its winner and its explanations are"
                if result.explanations is not None
                else "the search and its winner are"
            )
            storage = f" --storage {redact(options.storage)}" if options.storage else ""
            raise Interrupted(
                f"interrupted while writing the report: {kept} kept in {run}; run `nas report "
                f"{run}{storage}` to write it, not the search again (which would retrain the "
                "winner first)."
            ) from None
        if options.reports_dir is not None:
            copy_report(result, result.report_path, Path(options.reports_dir))


def constraint_note(st: optuna.Study, settings: SearchSettings) -> str | None:
    """What ``--min-faithfulness`` did to the winner, when it did something: no trial met it
    (the winner is the best of all), or it kept a worse winner than the best trial (both named,
    with the gap)."""
    bound = settings.min_faithfulness
    if bound is None:
        return None
    feasible, complete = feasible_count(st)
    if not feasible:
        return (
            f"no trial reached --min-faithfulness {bound:g} (of {complete} complete; see the "
            "faithfulness column): the winner is the best of all of them. Lower the bound, or "
            "search longer."
        )
    price = constraint_price(st)
    if price is None:
        return None
    w, b = price
    scale = metric_scale(st)  # the test metrics' units (a regression's target units)

    def faith(t: optuna.trial.FrozenTrial) -> str:
        value = t.user_attrs.get("faithfulness")
        return f"{value:.3f}" if isinstance(value, (int, float)) else "-"

    return (
        f"--min-faithfulness {bound:g} kept {feasible} of {complete} complete trials; its "
        f"winner (trial {w.number}: validation {settings.metric} {w.values[0] * scale:.4f}, "
        f"faithfulness {faith(w)}) is {abs(w.values[0] - b.values[0]) * scale:.4f} worse than "
        f"the best trial that misses the bound (trial {b.number}: {b.values[0] * scale:.4f}, "
        f"faithfulness {faith(b)}). Lower the bound to keep that model; leaderboard.csv lists "
        "every trial's faithfulness."
    )


def copy_report(result: SearchResult, report: Path, folder: Path) -> None:
    """Copy ``report`` into ``folder`` (``nas.reporting.copy_into``); a failure is one of the
    result's warnings, since the search and ``RUN/report.html`` are already done."""
    try:
        from nas.reporting import copy_into

        folder.mkdir(parents=True, exist_ok=True)
        copy_into(report, Path(result.run_dir), folder)
    except OSError as e:
        result.warnings.append(
            f"the report is at {report}, but copying it into {str(folder)!r} failed "
            f"({e.strerror or e}); copy it by hand, or choose a writable reports folder."
        )


__all__ = [
    "constraint_note",
    "copy_report",
    "explain_and_report",
    "finalize_run",
    "latency_note",
    "save_baselines",
    "save_warnings",
]
