"""The public Python API: ``nas.search``, ``nas.load_run`` and ``nas.load_model``.

Everything the ``nas`` command does is one call here.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from nas import run as rundir
from nas.cost import Budget, Cost
from nas.data import TaskData, load_data
from nas.errors import NasError
from nas.metrics import check_metric, default_metric
from nas.search import (
    SearchSettings,
    check_impossible_budget,
    leaderboard_rows,
    make_objective,
    make_stop_on_impossible,
    pick_winners,
    retrain_and_test,
    status_of,
)
from nas.study import make_pruner, make_sampler, open_storage, parse_objectives, redact, storage_url
from nas.train import configure_threads
from nas.worker import (
    CATCH,
    RUN_ATTR,
    SESSION_ATTR,
    StudyTotal,
    counted_trials,
    heartbeat_kwargs,
    retry_history,
    session_running,
    spawn_workers,
    stop_workers,
)
from search_spaces import ArchSpec, NasModel, Space, SpaceContext, get_space
from search_spaces.gan import GanModel, GanSpec
from search_spaces.spaces import starting_points

_NAME_OK = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class SearchResult:
    """A finished (or reloaded) search: the winner, its test metrics and cost, the record."""

    run_dir: Path
    study: optuna.Study
    leaderboard: pd.DataFrame  # one row per trial, as in leaderboard.csv
    spec: ArchSpec | GanSpec | None = None  # the winner (None if no trial completed)
    model: NasModel | GanModel | None = None  # retrained (a GAN: to its best epoch)
    metrics: dict[str, Any] = field(default_factory=dict)  # best/metrics.json
    cost: Cost | None = None
    pareto: list[dict[str, Any]] = field(default_factory=list)  # metrics.json of each top model
    data: TaskData | None = None
    explanations: Any = None  # explain.explanations.Explanations, when explained
    report_path: Path | None = None  # the HTML report, when written
    warnings: list[str] = field(default_factory=list)  # things that went wrong after the search

    @property
    def counts(self) -> dict[str, int]:
        """Trials by status: complete, pruned, over_budget, failed, running."""
        return dict(Counter(status_of(t) for t in self.study.get_trials(deepcopy=False)))

    @property
    def test_metrics(self) -> dict[str, Any]:
        return self.metrics.get("test", {})


def _study_name(dataset: str | None, data: str | PathLike[str] | None, space: Space) -> str:
    stem = dataset if dataset is not None else Path(str(data)).stem
    return _NAME_OK.sub("-", f"{stem}-{Path(space.name).stem}").strip("-") or "study"


# What decides the value of a trial: a re-run in the same run directory must keep them all, or
# its trials would not be comparable with the earlier ones (a new seed is a new data split).
_RESUME_KEYS = ("study", "dataset", "data", "target", "drop", "task", "seed", "metric",
                "objectives", "space_name", "budget", "epochs", "patience")  # fmt: skip


def _check_resume(path: Path, record: dict[str, Any]) -> None:
    """Refuse to mix two different searches in one run directory."""
    if not path.is_file():
        return
    old = rundir.read_json(path)
    new = json.loads(json.dumps(record, default=str))  # compare as stored in run.json
    diff = next((k for k in _RESUME_KEYS if old.get(k) != new.get(k)), None)
    what = f"{diff}={old.get(diff)!r}, not {new.get(diff)!r}" if diff else ""
    if not diff:
        old_dims, new_dims = (r.get("space", {}).get("dims", {}) for r in (old, new))
        changed = sorted(k for k in old_dims.keys() | new_dims.keys()
                         if old_dims.get(k) != new_dims.get(k))  # fmt: skip
        what = f"other space dimensions ({', '.join(changed[:3])} differ)" if changed else ""
    if what:
        raise NasError(
            f"{path.parent} holds a search with {what}; resume it with the same settings, "
            "or pass another --out / --study."
        )


def search(
    dataset: str | None = None,
    data: str | PathLike[str] | None = None,
    *,
    target: str | None = None,
    task: str | None = None,
    drop: Sequence[str] = (),
    space: str | Space = "auto",
    budget: Budget | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    epochs: int = 20,
    metric: str | None = None,
    objectives: str | list[str] | None = None,
    sampler: str = "tpe",
    pruner: str = "hyperband",
    seed: int = 0,
    top: int = 1,
    out: str | PathLike[str] | None = None,
    study: str | None = None,
    storage: str | None = None,
    patience: int = 5,
    threads: int | None = None,
    progress: bool = False,
    finalize: bool = True,
    warm_start: bool = True,
    explain: bool = False,
    report: bool = False,
    explain_samples: int = 200,
    reports_dir: str | PathLike[str] | None = "reports",
    jobs: int = 1,
    heartbeat: int | None = 10,
    trial_timeout: float | None = None,
    command: str | None = None,
) -> SearchResult:
    """Search the ``space`` for the best architecture for a dataset, under ``budget``.

    Trials whose cost exceeds the budget are rejected before training. ``n_trials`` is the
    study's total (a re-run resumes until that many trials have finished); without it and
    without ``timeout``, 20 trials run. ``objectives`` such as ``"accuracy,params"`` search for
    a Pareto front, and ``top`` of its models are kept. The winners are retrained on train +
    validation and tested once on the test split; everything lands in ``out``
    (``runs/<study>``). ``drop`` names CSV columns to leave out.

    ``jobs`` worker processes share the study (one torch thread each); more machines join with
    ``nas worker``. With an RDB storage, workers send a heartbeat every ``heartbeat`` seconds so
    that the trial of a dead worker is marked failed and retried. ``trial_timeout`` ends a
    trial that runs longer as failed. With ``explain`` the winner is explained on
    ``explain_samples`` test examples (``RUN/explain/``); with ``report`` the HTML report is
    written to ``RUN/report.html`` and copied into ``reports_dir``.
    """
    budget = budget or Budget()
    sp = space if isinstance(space, Space) else get_space(space)
    if n_trials is None and timeout is None:
        n_trials = 20
    for name, value in (("n_trials", n_trials), ("epochs", epochs), ("top", top),
                        ("jobs", jobs)):  # fmt: skip
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):  # fmt: skip
            raise NasError(f"{name} must be an integer >= 1, got {value!r}.")
    if timeout is not None and not timeout > 0:
        raise NasError(f"timeout must be > 0 seconds, got {timeout!r}.")
    td = load_data(dataset=dataset, data=data, target=target, task=task, seed=seed, drop=drop)
    is_gan = sp.name == "gan"
    if is_gan:  # scored by FCD (lower is better), the first objective; costs of the generator
        from nas.gan.search import check_gan_data, gan_objectives

        check_gan_data(td)
        metric, names, directions = gan_objectives(objectives, metric)
    else:
        metric = check_metric(metric or default_metric(td.task), td.task)
        names, directions = parse_objectives(objectives, metric)
        metric = names[0] if check_metric(names[0], td.task) else metric
    settings = SearchSettings(
        space=sp,
        metric=metric,
        objectives=tuple(names),
        budget=budget,
        epochs=epochs,
        patience=patience,
        seed=seed,
        trial_timeout=trial_timeout,
    )
    name = study or _study_name(dataset, data, sp)
    run_dir = rundir.ensure_writable(Path(out) if out is not None else Path("runs") / name)
    url = storage_url(storage, run_dir)
    # Bad names and URLs fail here, before run.json records a search that never ran.
    store = open_storage(url, **heartbeat_kwargs(url, heartbeat))
    multi = len(names) > 1
    optuna_sampler = make_sampler(sampler, seed, multi)
    optuna_pruner = make_pruner(pruner, epochs, multi)
    record = {
        "study": name, "storage": redact(url), "dataset": dataset,
        "data": str(Path(data).resolve()) if data is not None else None, "target": target,
        "drop": list(drop), "task": td.task, "seed": seed, "space_name": sp.name,
        "space": sp.to_dict(), "budget": budget.to_dict(), "metric": metric, "objectives": names,
        "directions": directions, "epochs": epochs, "patience": patience, "sampler": sampler,
        "pruner": pruner, "top": top, "n_trials": n_trials, "timeout": timeout,
        "trial_timeout": trial_timeout, "jobs": jobs,
        "command": redact(command or " ".join(sys.argv)), "versions": _versions(),
        "data_info": td.describe(),
    }  # fmt: skip
    classifier = None
    if is_gan:  # the scorer's classifier: trained once, kept in RUN/scorer/ for workers
        from nas.gan.search import scorer_path

        record["scorer"] = str(scorer_path(run_dir).resolve())
    _check_resume(run_dir / "run.json", record)
    rundir.write_json(run_dir / "run.json", record)
    if is_gan:
        from nas.gan.search import search_classifier

        classifier = search_classifier(td, seed, scorer_path(run_dir))

    configure_threads(threads, workers=jobs)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = optuna.create_study(
        storage=store,
        study_name=name,
        load_if_exists=True,
        directions=directions,
        sampler=optuna_sampler,
        pruner=optuna_pruner,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        st.set_metric_names(names)
    # Trials still RUNNING from an earlier, stopped session will never finish: not counted.
    st.set_user_attr(SESSION_ATTR, len(st.get_trials(deepcopy=False)))
    if RUN_ATTR not in st.user_attrs:  # what `nas worker` processes read to join the study
        st.set_user_attr(RUN_ATTR, json.loads(json.dumps(record, default=str)))
    if warm_start and not st.get_trials(deepcopy=False):
        for params in starting_points(sp, SpaceContext.of(td)):
            st.enqueue_trial(params, user_attrs={"warm_start": True})
    workers = spawn_workers(
        url, name, jobs - 1, n_trials=n_trials, timeout=timeout, heartbeat=heartbeat
    )
    interrupted = False
    try:
        _optimize(st, td, settings, run_dir, n_trials, timeout, progress, classifier)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        stop_workers(workers, interrupt=interrupted)  # retrain once, after every worker is done
        _leaderboard(st, list(settings.objectives), run_dir)
    grace = heartbeat_kwargs(url, heartbeat).get("grace_period")
    while (_wait_for_other_machines(st, grace=grace, to_total=n_trials is not None)
           and n_trials is not None and counted_trials(st) < n_trials):  # fmt: skip
        # a dead worker's trial was failed and re-queued meanwhile: run its retry here
        _optimize(st, td, settings, run_dir, n_trials, timeout, progress, classifier)
    result = SearchResult(run_dir, st, _leaderboard(st, names, run_dir), data=td)
    if finalize:
        _finalize(result, st, td, settings, top, classifier)
        _explain_and_report(result, explain, report, explain_samples, reports_dir)
    return result


def _explain_and_report(
    result: SearchResult,
    explain: bool,
    report: bool,
    samples: int,
    reports_dir: str | PathLike[str] | None,
) -> None:
    """Explain the winner, then write the report; a failure here never loses the search."""
    is_gan = result.metrics.get("family") == "gan"
    if explain and result.model is not None and is_gan:  # GAN views, not classifier ones
        from nas.gan.search import explain_gan_run

        try:
            explain_gan_run(result.run_dir, result.model, result.data, result.metrics["trial"])
        except (NasError, RuntimeError, ValueError, TypeError, KeyError) as e:
            result.warnings.append(f"GAN explanations failed ({e!r}); the report omits them.")
    elif explain and result.model is not None:
        from nas.explaining import explain_run

        try:
            result.explanations = explain_run(result.run_dir, samples=samples)
        except (NasError, RuntimeError, ValueError) as e:
            result.warnings.append(
                f"explanations failed ({e}); run `nas explain {result.run_dir}` to retry."
            )
    if report:
        from nas.report import write_report

        result.report_path = write_report(result.run_dir, copy_to=reports_dir)


def _optimize(
    st: optuna.Study,
    td: TaskData,
    settings: SearchSettings,
    run_dir: Path,
    n_trials: int | None,
    timeout: float | None,
    progress: bool,
    classifier: Any = None,
) -> None:
    remaining = None
    if n_trials is not None:
        remaining = n_trials - counted_trials(st)
        if remaining <= 0:
            return
    callbacks: list[Any] = [
        lambda s, t: _leaderboard(s, list(settings.objectives), run_dir),
        make_stop_on_impossible(settings),
    ]
    if n_trials is not None:  # the study's total, shared by every worker on this storage
        callbacks.append(StudyTotal(n_trials))
    objective = make_objective(td, settings, classifier)

    def run(cbs: list[Any]) -> None:
        st.optimize(objective, n_trials=remaining, timeout=timeout, callbacks=cbs, catch=CATCH)

    try:
        if progress:
            from nas.progress import SearchProgress

            with SearchProgress(st, settings.metric, remaining, timeout) as view:
                run([*callbacks, view])
        else:
            run(callbacks)
    finally:
        _leaderboard(st, list(settings.objectives), run_dir)
    check_impossible_budget(st, settings)


def _wait_for_other_machines(st: optuna.Study, *, grace: float | None, to_total: bool) -> bool:
    """Wait for the trials that ``nas worker`` processes of other machines are still running:
    they count toward the total, and the winners are picked once, from every trial. With
    heartbeats (``grace``: seconds without one before a trial counts as dead) a dead worker's
    trial is failed, so the wait ends; without them a trial of another machine cannot be told
    from an orphan, and is not waited for. A trial that never sent a heartbeat is waited for at
    most twice the longest trial so far (a minute at least). With a trial total (``to_total``)
    the trials that start meanwhile (the retry of a dead worker's trial) are waited for too.

    True when a dead worker's trial was failed and re-queued for a retry that is still to run.
    """
    if not grace:
        return False
    pending = {t.number for t in session_running(st)}
    done = st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    longest = max(((t.datetime_complete - t.datetime_start).total_seconds() for t in done
                   if t.datetime_complete and t.datetime_start), default=0.0)  # fmt: skip
    deadline = time.monotonic() + grace + max(60.0, 2 * longest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        while pending and time.monotonic() < deadline:
            optuna.storages.fail_stale_trials(st)
            time.sleep(1.0)
            running = {t.number for t in session_running(st)}
            pending = running if to_total else pending & running
    waiting = st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    return any(retry_history(t) for t in waiting)


def _leaderboard(st: optuna.Study, names: list[str], run_dir: Path) -> pd.DataFrame:
    rows = leaderboard_rows(st, names)
    rundir.write_leaderboard(
        run_dir / "leaderboard.csv", rows, [f"objective_{n}" for n in names[1:]]
    )
    return pd.DataFrame(rows)


def _finalize(
    result: SearchResult,
    st: optuna.Study,
    td: TaskData,
    settings: SearchSettings,
    top: int,
    classifier: Any = None,
) -> None:
    winners = pick_winners(st, top)
    if not winners:
        counts = result.counts
        if set(counts) == {"over_budget"}:  # every sample was too big: say so, with the sizes
            check_impossible_budget(st, replace(settings, max_rejects=1))
        reasons = result.leaderboard.get("reason")
        first = next((r for r in (reasons if reasons is not None else []) if r), "")
        raise NasError(
            f"No trial completed ({counts}); nothing to retrain. First reason: {first or '-'}. "
            "Check the budget, the space and the data, then run the same command again."
        )
    top_dir = result.run_dir / "top"
    if top_dir.exists():
        shutil.rmtree(top_dir)
    for rank, trial in enumerate(winners, start=1):
        grid = None
        if classifier is not None:  # a GAN search: retrain to the best epoch, score on test
            from nas.gan.search import retrain_and_score

            final, grid = retrain_and_score(td, trial, settings, classifier, rank=rank)
        else:
            final = retrain_and_test(td, trial, settings, rank=rank)
        final.metrics["data"] = td.name
        folders = ([result.run_dir / "best"] if rank == 1 else []) + (
            [top_dir / str(rank)] if len(winners) > 1 else []
        )
        for folder in folders:
            rundir.save_model_dir(folder, final.spec, final.model, final.metrics, final.predictions)
            if grid is not None:
                from nas.gan.search import save_samples

                save_samples(folder, grid)
        if rank == 1:
            result.spec, result.model, result.cost = final.spec, final.model, final.cost
            result.metrics = final.metrics
        result.pareto.append(final.metrics)
    rundir.write_json(result.run_dir / "summary.json", {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "counts": result.counts,
        "best": result.metrics.get("test"), "top": [m["trial"] for m in result.pareto],
    })  # fmt: skip


def _versions() -> dict[str, str]:
    import platform

    import torch

    from nas import __version__

    return {
        "nas": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "optuna": optuna.__version__,
    }


def load_run(
    path: str | PathLike[str], *, storage: str | None = None, load_data_too: bool = False
) -> SearchResult:
    """Reload a run directory: its study, leaderboard, winner, metrics and cost.

    ``storage`` overrides the recorded URL (run.json keeps it without the password).
    """
    run_dir = Path(path)
    record = rundir.read_json(run_dir / "run.json")
    url = storage or (record["storage"] if "***" not in record["storage"] else None)
    if url is None:
        raise NasError(
            f"{run_dir}/run.json records a storage with a hidden password; pass "
            "storage=<full URL> (or --storage) to open it."
        )
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    st = optuna.load_study(study_name=record["study"], storage=open_storage(url))
    board = (
        pd.read_csv(run_dir / "leaderboard.csv")
        if (run_dir / "leaderboard.csv").is_file()
        else pd.DataFrame(leaderboard_rows(st, record["objectives"]))
    )
    result = SearchResult(run_dir, st, board)
    if (run_dir / "best" / "spec.json").is_file():
        result.spec = rundir.load_spec(run_dir / "best")
        result.model = rundir.load_model(run_dir)
        result.metrics = rundir.read_json(run_dir / "best" / "metrics.json")
        result.cost = Cost.from_dict(result.metrics["cost"])
        tops = sorted((run_dir / "top").glob("*/metrics.json"), key=lambda p: int(p.parent.name))
        result.pareto = [rundir.read_json(p) for p in tops] or [result.metrics]
    if load_data_too:
        result.data = load_data(
            dataset=record["dataset"],
            data=record["data"],
            target=record["target"],
            task=record["task"],
            seed=record["seed"],
            drop=record.get("drop") or (),
        )
    return result


def explain(
    run: str | PathLike[str] | SearchResult,
    *,
    samples: int = 200,
    methods: Sequence[str] | None = None,
    checks: bool = True,
) -> Any:
    """Explain a run's winner (a run directory or a SearchResult) on ``samples`` test examples
    with the methods valid for its architecture (``methods`` to choose; ``["all"]`` for every
    one), SHAP values, and every quality check. Stored in ``RUN/explain/``; returns the
    :class:`explain.explanations.Explanations` (for a GAN run: the path of
    ``RUN/explain/gan.json``, its generated-vs-real, latent and discriminator views)."""
    from nas.explaining import explain_run

    run_dir = run.run_dir if isinstance(run, SearchResult) else Path(run)
    metrics = run_dir / "best" / "metrics.json"
    if metrics.is_file() and rundir.read_json(metrics).get("family") == "gan":
        from nas.gan.search import explain_gan_run  # a GAN: its own views, a Path back

        done = load_run(run_dir, load_data_too=True)
        path = explain_gan_run(run_dir, done.model, done.data, done.metrics["trial"])
        if path is None:
            raise NasError("GAN explanations need explain.gan, which this nas lacks; upgrade.")
        return path
    return explain_run(run_dir, samples=samples, methods=methods, checks=checks)


def report(
    run: str | PathLike[str] | SearchResult,
    path: str | PathLike[str] | None = None,
    *,
    storage: str | None = None,
    copy_to: str | PathLike[str] | None = None,
) -> Path:
    """Write the self-contained HTML report of a run (default ``RUN/report.html``)."""
    from nas.report import write_report

    run_dir = run.run_dir if isinstance(run, SearchResult) else Path(run)
    return write_report(run_dir, path, storage=storage, copy_to=copy_to)


def load_model(path: str | PathLike[str]) -> NasModel | GanModel:
    """The trained winner of a run directory (or a model folder), rebuilt from its spec (a
    GanModel for a GAN run)."""
    return rundir.load_model(Path(path))


def show(path: str | PathLike[str]) -> dict[str, Any]:
    """The run record, counts and best metrics of a run directory, as plain data."""
    run_dir = Path(path)
    record = rundir.read_json(run_dir / "run.json")
    out = {"run": record, "leaderboard": None, "best": None}
    if (run_dir / "leaderboard.csv").is_file():
        out["leaderboard"] = pd.read_csv(run_dir / "leaderboard.csv")
    if (run_dir / "best" / "metrics.json").is_file():
        out["best"] = json.loads((run_dir / "best" / "metrics.json").read_text())
    return out
