"""The public Python API: ``nas.search``, ``nas.load_run``, ``nas.load_model``, ``nas.explain``,
``nas.report`` and ``nas.show``. Everything the ``nas`` command does is one call here; the work
itself is in :mod:`nas.session` (a search), :mod:`nas.kinds` (what differs per kind of search)
and :mod:`nas.reporting` (the report's data)."""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from nas import run as rundir
from nas.caller_state import keeps_caller_state
from nas.config import SearchConfig
from nas.cost import Budget, Cost
from nas.deadline import LONGEST_HEARTBEAT
from nas.errors import NasError, SettingsError, UnknownNameError
from nas.kinds import get_kind
from nas.leaderboard import leaderboard_rows
from nas.reading import as_path, home
from nas.result import SearchResult
from nas.session import RunOptions, reload_study, run_search
from search_spaces import extensions


def _check_keywords(settings: dict[str, Any]) -> None:
    """A keyword nas.search does not take is a SettingsError naming the nearest one it does
    (a misspelt ``n_trial=3`` had been Python's TypeError about ``SearchConfig.create()``)."""
    import difflib
    import inspect

    known = [n for n in inspect.signature(SearchConfig.create).parameters
             if n not in ("cls", "dataset", "data")]  # fmt: skip
    known += [n for n in inspect.signature(search).parameters if n not in ("settings",)]
    limits = [f.name for f in dataclasses.fields(Budget)]
    for name in settings:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            if name in limits:  # NASClassifier takes max_params=...; nas.search a Budget
                hint = f"a limit goes in the budget, budget=nas.Budget({name}=...); "
            raise SettingsError(
                f"nas.search takes no keyword {name!r}; {hint}see help(nas.search) and "
                "help(nas.SearchConfig.create) for the settings it takes."
            )


@keeps_caller_state
def search(
    dataset: str | SearchConfig | None = None,
    data: str | PathLike[str] | None = None,
    *,
    out: str | PathLike[str] | None = None,
    storage: str | None = None,
    progress: bool = False,
    finalize: bool = True,
    explain: bool = False,
    report: bool = False,
    explain_samples: int = 200,
    reports_dir: str | PathLike[str] | None = "reports",
    threads: int | None = None,
    heartbeat: int | None = 10,
    started: float | None = None,
    **settings: Any,
) -> SearchResult:
    """Search a space for the best architecture for a dataset, under a compute budget.

    Pass a :class:`~nas.config.SearchConfig`, or its fields as keywords (see
    :meth:`SearchConfig.create <nas.config.SearchConfig.create>`): ``target``, ``task``,
    ``drop``, ``space``, ``kind``, ``budget``, ``n_trials``, ``timeout``, ``epochs``,
    ``metric``, ``objectives``, ``sampler``, ``pruner``, ``seed``, ``top``, ``study``,
    ``patience``, ``jobs``, ``trial_timeout``, ``min_faithfulness``, ``warm_start``,
    ``command``.

    Trials whose cost exceeds the budget are rejected before training. ``n_trials`` is the
    study's total (a re-run resumes until that many trials have finished); without it and
    without ``timeout``, 20 trials run. ``objectives`` such as ``"accuracy,params"`` search for
    a Pareto front, and ``top`` of its models are kept. The winners are retrained on train +
    validation and tested once on the test split; everything lands in ``out``
    (``runs/<study>``).

    ``jobs`` worker processes share the study (one torch thread each); more machines join with
    ``nas worker``. With an RDB ``storage``, workers send a heartbeat every ``heartbeat``
    seconds so that the trial of a dead worker is marked failed and retried. With ``explain``
    the winner is explained on ``explain_samples`` test examples (``RUN/explain/``); with
    ``report`` the HTML report is written to ``RUN/report.html`` and copied into
    ``reports_dir``.

    ``timeout`` is the whole wait: the search and the final retrain end within it, counted
    from ``started`` (a ``time.time()``; default: this call; ``nas search`` passes the start
    of its process). The explanations and the report follow.
    """
    if dataset is not None and not isinstance(dataset, str | SearchConfig):
        raise NasError(
            f"dataset is the name of a built-in dataset (nas datasets lists them), got "
            f"{type(dataset).__name__}; give your rows as a file with data=PATH (a CSV/TSV or "
            "NPZ), or use nas.NASClassifier / nas.NASRegressor, which take arrays."
        )
    if isinstance(dataset, SearchConfig):
        if data is not None or settings:
            raise NasError("Pass a SearchConfig or keyword settings to nas.search, not both.")
        # a config read from a run keeps the command that started that run, whose --out is
        # another folder: this run records what started it instead
        config = dataclasses.replace(dataset, command=None)
    else:
        if data is not None and not isinstance(data, str | PathLike):
            raise NasError(
                f"data is the path of a CSV/TSV or NPZ file, got {type(data).__name__}; write "
                "the rows to a file first (df.to_csv(path, index=False) or numpy.savez(path, "
                "X=X, y=y)), or use nas.NASClassifier / nas.NASRegressor, which take arrays."
            )
        _check_keywords(settings)
        try:
            config = SearchConfig.create(dataset, data, **settings)
        except UnknownNameError as e:  # a re-run without the extension its run recorded
            _recorded_extension(out, e)
            raise
    if heartbeat is not None and (isinstance(heartbeat, bool)
                                  or not isinstance(heartbeat, int | float)
                                  or not 0 <= heartbeat <= LONGEST_HEARTBEAT):  # fmt: skip
        raise NasError(f"heartbeat is the seconds between a worker's heartbeats, at most "
                       f"{LONGEST_HEARTBEAT:,} (a day), or None to turn them off; got "
                       f"{heartbeat!r}.")  # fmt: skip
    if out is not None and not isinstance(out, str | PathLike):
        raise NasError(f"out is the folder of the run (a str or a path), got "
                       f"{type(out).__name__}; leave it out for runs/<study>.")  # fmt: skip
    if isinstance(out, str | PathLike):  # ~ expanded, as the data's path is (/tmp/oD4 F12)
        out = home(Path(out))
    explain_samples = _count("explain_samples", explain_samples,
                             "the number of test examples to explain")  # fmt: skip
    options = RunOptions(out=out, storage=storage, progress=progress, finalize=finalize,
                         explain=explain, report=report, explain_samples=explain_samples,
                         reports_dir=reports_dir, threads=threads,
                         heartbeat=heartbeat, started=started)  # fmt: skip
    return run_search(config, options)


@keeps_caller_state
def load_run(
    path: str | PathLike[str], *, storage: str | None = None, load_data_too: bool = False
) -> SearchResult:
    """Reload a run directory: its study, leaderboard, winner, metrics and cost.

    The study is read from the run's own ``study.db`` (read-only), or from ``storage`` when
    the search used another storage: the URL run.json records is never opened on its own,
    since a run directory may come from anyone. ``spec``, ``model``, ``metrics`` and ``cost``
    are None (empty) while the search has no winner (no ``best/`` folder yet);
    ``report_path`` is ``RUN/report.html`` when there is one.

    Raises a :class:`nas.NasError` (one line naming the file and the fix) when the folder is
    no run directory, its study is missing or another search's, a winner file is missing,
    damaged or not the one the search saved (``best/sha256.json``), a record is of a newer
    nas, or (``load_data_too``) the data changed since the search.
    """
    from nas.reporting import check_own_study, check_same_search

    run_dir = as_path(path)
    if storage is None:  # its own study.db, named where nas looks for it when it is missing
        check_own_study(run_dir, SearchConfig.study_location(run_dir)[1])
    st = reload_study(run_dir, storage)  # the run's own study.db unless storage names one
    config = SearchConfig.read(run_dir)

    check_same_search(st, config, run_dir, storage)  # not another search's study of that name
    board = (
        rundir.read_leaderboard(run_dir / "leaderboard.csv")
        if (run_dir / "leaderboard.csv").is_file()
        else pd.DataFrame(leaderboard_rows(st, config.objectives))
    )
    result = SearchResult(run_dir, st, board, config=config)
    if (run_dir / "report.html").is_file():
        result.report_path = run_dir / "report.html"
    if (run_dir / "best").exists() and not (run_dir / "best" / "spec.json").is_file():
        rundir.load_spec(run_dir / "best")  # a winner's folder without its spec: names it
    if (run_dir / "best" / "spec.json").is_file():
        result.spec = rundir.load_spec(run_dir / "best")
        result.model = rundir.load_model(run_dir)
        metrics = run_dir / "best" / "metrics.json"
        result.metrics = rundir.best_metrics(run_dir / "best") or {}
        try:
            result.cost = Cost.from_dict(result.metrics["cost"])
        except (NasError, TypeError, ValueError) as e:
            raise NasError(f"{metrics} is damaged ({e}); {rundir.RETRAIN}.") from None
        result.pareto = rundir.top_metrics(run_dir) or [result.metrics]
    if load_data_too:
        result.data = config.load_data()
        changed = config.data_changed(result.data.fingerprint)
        if changed:  # not the rows the search split, trained and tested on
            raise NasError(f"The data of {str(run_dir)!r} changed since its search ({changed}); "
                           "restore that data, or load the run without load_data_too.")  # fmt: skip
    return result


def _count(name: str, value: Any, what: str) -> int:
    """``value`` as a whole number >= 1 (numpy's too), or a NasError naming ``name``."""
    try:
        n = operator.index(value) if not isinstance(value, bool) else -1
    except TypeError:
        n = -1
    if n < 1:
        raise NasError(f"{name} is {what}, a whole number >= 1; got {value!r}.")
    return n


@keeps_caller_state
def explain(
    run: str | PathLike[str] | SearchResult,
    *,
    samples: int | None = None,
    methods: Sequence[str] | None = None,
    checks: bool = True,
    data: str | PathLike[str] | None = None,
    rows: str | int | Sequence[int] | None = None,
    top: int | None = None,
) -> Any:
    """Explain a run's winner (a run directory or a SearchResult) as its search kind does, and
    store the result in ``RUN/explain/``. A classifier is explained on ``samples`` test
    examples with the methods valid for its architecture (``methods`` to choose; ``["all"]``
    for every one), SHAP values and every quality check, and the
    :class:`explain.explanations.Explanations` come back; a GAN gets its generated-vs-real,
    latent and discriminator views, and the path of ``RUN/explain/gan.json`` comes back.

    ``data`` (a CSV/TSV, or NPZ for an NPZ run) explains new rows instead: ``rows`` of that
    file (numbered from 0; default all of a file of at most 20), prepared as ``nas predict``
    prepares them, with the same methods and no quality checks; stored in
    ``RUN/explain-new/<file stem>/`` and a :class:`nas.explain_rows.RowExplanations` comes
    back.

    ``top`` explains the first ``top`` models of the Pareto front (``RUN/top/<k>/``) alike, on
    the same examples with the same methods and checks (``samples`` and ``methods`` default to
    those of the winner's explanation), compares their attributions and stores everything in
    ``RUN/explain-top/`` (``comparison.json`` beside one folder per model); a
    :class:`nas.explaining.FrontExplanations` comes back. ``samples`` defaults to 200."""
    run_dir = run.run_dir if isinstance(run, SearchResult) else as_path(run)
    if isinstance(methods, str):  # "integrated_gradients,shap", as the CLI takes them
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if methods is not None:
        try:
            methods = list(methods)
        except TypeError:
            methods = [methods]  # type: ignore[list-item]
        if not methods or not all(isinstance(m, str) for m in methods):
            raise NasError(
                f"methods names the explanation methods, as a list of names (e.g. "
                f"['integrated_gradients', 'shap'], or ['all']); got {methods!r}: leave it out "
                "for the architecture's defaults. Nothing stored was changed."
            )
    if samples is not None:
        samples = _count("samples", samples, "the number of test examples to explain")
    if data is not None and not isinstance(data, str | PathLike):
        raise NasError(f"data is the path of a CSV/TSV or NPZ file of rows, got "
                       f"{type(data).__name__}; write a DataFrame's rows to a file first "
                       "(df.to_csv(path, index=False)).")  # fmt: skip
    if isinstance(rows, bool):
        raise NasError(f"rows are row numbers (an int, a list of ints, or '0-9'), got {rows!r}.")
    if not isinstance(checks, bool):
        raise NasError(f"checks is True or False (whether to run the quality checks); got "
                       f"{checks!r}.")  # fmt: skip
    if top is not None:
        given = top
        try:  # a whole number (numpy's too); its range is explain_top's to say (--top >= 1)
            top = operator.index(top) if not isinstance(top, bool) else None
        except TypeError:
            top = None
        if top is None:
            raise NasError(f"top is how many models of the Pareto front to explain, a whole "
                           f"number >= 1; got {given!r}.")  # fmt: skip
        if data is not None or rows is not None:
            raise NasError("top explains the test examples of each model; drop data and rows.")
        from nas.explaining import explain_top

        return explain_top(run_dir, top, samples=samples, methods=methods, checks=checks)
    if data is not None or rows is not None:
        from nas.explain_rows import explain_rows

        return explain_rows(run_dir, data, rows, methods=methods)
    config = SearchConfig.read(run_dir)
    kind = get_kind(config.kind)
    if (run_dir / "best" / "spec.json").is_file():
        rundir.check_weights(run_dir / "best")  # named here, before any kind reads it
    samples = 200 if samples is None else samples
    return kind.explain(run_dir, config, samples=samples, methods=methods, checks=checks)


@keeps_caller_state
def report(
    run: str | PathLike[str] | SearchResult,
    path: str | PathLike[str] | None = None,
    *,
    storage: str | None = None,
    copy_to: str | PathLike[str] | None = None,
) -> Path:
    """Write the self-contained HTML report of a run (default ``RUN/report.html``), reading
    its trials from ``RUN/study.db`` or, when the search used another storage, ``storage``;
    ``copy_to`` (a folder) gets a copy named after the run. Returns the report's path.

    Raises a :class:`nas.NasError` (one line naming the problem and the fix) when the folder is
    no run directory, its study cannot be read, or the report cannot be written there."""
    from nas.reporting import write_report

    run_dir = run.run_dir if isinstance(run, SearchResult) else as_path(run)
    return write_report(run_dir, path, storage=storage, copy_to=copy_to)


@keeps_caller_state
def load_model(path: str | PathLike[str]) -> Any:
    """The trained winner of a run directory (or a model folder), rebuilt from its spec (a
    GanModel for a GAN run), in eval mode; its weights read with ``weights_only=True``.

    Raises a :class:`nas.NasError` (one line naming the file and the fix) when the run has no
    winner yet, ``spec.json`` or ``model.pt`` is missing or damaged, either is not the file the
    search saved (``sha256.json``), or a record is of a newer nas."""
    return rundir.load_model(as_path(path))


def _recorded_extension(out: str | PathLike[str] | None, error: UnknownNameError) -> None:
    """A NasError naming the extension the run in ``out`` was searched with, when it is not
    loaded now (the unknown space, kind or dataset is likely its)."""
    record = Path(out) / "run.json" if out is not None else None
    if record is None or not record.is_file():
        return
    try:
        recorded = json.loads(record.read_text(encoding="utf-8")).get("extensions")
    except (OSError, ValueError, AttributeError):
        return
    if not isinstance(recorded, list) or all(extensions.loaded(str(r)) for r in recorded):
        return
    message = extensions.not_loaded(str(record), recorded, error)
    if message is not None:
        raise NasError(message) from None


@keeps_caller_state
def show(path: str | PathLike[str]) -> dict[str, Any]:
    """The run's config (``config``, and as plain data ``run``), its leaderboard, the
    winner's metrics (``best``) and the report's judgement of them against the baselines
    (``judged``, lines of text), and ``provenance``: notes on a winner whose files cannot be
    checked (no ``best/sha256.json``) or a run recorded by a newer nas or another torch; and
    ``exports``, ``(usable, line)`` per recorded ``nas export`` (false where its file is
    missing, changed since, or of an earlier winner)."""
    run_dir = as_path(path)
    config = SearchConfig.read(run_dir)
    out: dict[str, Any] = {"run": config.to_dict(), "config": config, "leaderboard": None,
                           "best": None, "judged": [], "provenance": [],
                           "exports": []}  # fmt: skip
    if (run_dir / "leaderboard.csv").is_file():
        out["leaderboard"] = rundir.read_leaderboard(run_dir / "leaderboard.csv")
    out["best"] = rundir.best_metrics(run_dir / "best")
    if out["best"] is not None:
        from nas.reporting import judged

        out["judged"] = judged(run_dir, config, out["best"])
        unchecked = rundir.unchecked_note(run_dir / "best")
        out["provenance"] += [unchecked] if unchecked else []
    out["provenance"] += rundir.version_notes(config.versions)
    from nas.exporting import export_notes

    out["exports"] = export_notes(run_dir) if out["best"] is not None else []
    return out


__all__ = ["SearchResult", "explain", "load_model", "load_run", "report", "search", "show"]
