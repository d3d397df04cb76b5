"""``nas search``: parse and check the options, call ``nas.search``, show the result."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from nas import deadline
from nas.commands._app import PrunerName, SamplerName, app, err, friendly, out, safe
from nas.errors import NasError
from search_spaces.spaces import space_help

_PRUNER_HELP = (
    "Optuna pruner; with several --objectives any but none prunes by Pareto rank "
    "(the README's Pareto section)."
)


@app.command()
@friendly
def search(
    dataset: Annotated[
        str | None, typer.Option(help="A built-in dataset (see `nas datasets`).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Your CSV / TSV / NPZ file.")] = None,
    target: Annotated[str | None, typer.Option(help="The target column of a CSV.")] = None,
    drop: Annotated[
        list[str] | None, typer.Option(help="A CSV column to leave out (repeat for more).")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="classification or regression (else inferred).")
    ] = None,
    space: Annotated[
        str,
        typer.Option(help=space_help()),
    ] = "auto",
    trials: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Total trials of the study; a re-run continues to this many (default 20, "
            "or as many as --timeout allows when it is given).",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="The time you wait, in seconds: the search and the winner's retrain end "
            "within it (no trial starts that would not fit; the trial in flight ends at the "
            "deadline); the explanations and the report follow.",
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="The most epochs a trial may train.")] = 20,
    metric: Annotated[
        str | None,
        typer.Option(
            help="Validation metric to optimise (accuracy, f1, roc_auc, rmse, r2, ...; "
            "fcd for gan)."
        ),
    ] = None,
    objectives: Annotated[
        str | None,
        typer.Option(
            help="Pareto search, e.g. accuracy,params (or flops, latency, memory; faithfulness: "
            "each trial's explanation quality)."
        ),
    ] = None,
    sampler: Annotated[
        SamplerName, typer.Option(case_sensitive=False, help="Optuna sampler.")
    ] = SamplerName("tpe"),
    pruner: Annotated[
        PrunerName, typer.Option(case_sensitive=False, help=_PRUNER_HELP)
    ] = PrunerName("hyperband"),
    max_params: Annotated[
        float | None, typer.Option(help="Budget: parameters (<= this fits; limits are inclusive).")
    ] = None,
    max_flops: Annotated[
        float | None, typer.Option(help="Budget: FLOPs of one example's forward pass (<=).")
    ] = None,
    max_latency_ms: Annotated[
        float | None,
        typer.Option(
            help="Budget: latency at batch 1, ms (<=), on the search's torch threads (1 "
            "unless --threads): the lower quartile of 5-20 timed runs after 2 warm-ups "
            "(README, Cost)."
        ),
    ] = None,
    max_memory_mb: Annotated[
        float | None, typer.Option(help="Budget: batch-1 inference memory, MiB (<=).")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Keep this many Pareto-optimal models.")] = 1,
    seed: Annotated[
        int,  # bounded here so that the error names --seed, not numpy's [0, 2**32) (/tmp/oD4 F15)
        typer.Option(min=0, max=2**32 - 1, help="Seed of the split, the sampler and the weights."),
    ] = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default runs/<study>).")
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name (default: dataset-space, e.g. iris-auto).")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage: an sqlite:// or postgresql:// URL, or a journal file (.log)."
        ),
    ] = None,
    patience: Annotated[int, typer.Option(min=1, help="Early-stopping patience, epochs.")] = 5,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, help="torch threads per process (default 1; add processes with --jobs)."
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option(min=1, help="Worker processes on this machine, one study.")
    ] = 1,
    heartbeat: Annotated[
        int,
        typer.Option(
            min=0,
            help="Seconds between worker heartbeats (SQLite or PostgreSQL); 0 turns them off.",
        ),
    ] = 10,
    trial_timeout: Annotated[
        float | None, typer.Option(min=1, help="End a trial that runs longer (seconds).")
    ] = None,
    min_faithfulness: Annotated[
        float | None,
        typer.Option(
            min=-1.0,
            max=1.0,
            rich_help_panel="Explanation quality",
            help="Constraint: each trial's faithfulness score (0 = explanations no better than "
            "a random order) must reach this; the winner is chosen among the trials that do.",
        ),
    ] = None,
    warm_start: Annotated[
        bool,
        typer.Option(
            "--warm-start/--no-warm-start", help="Start from one known-good design per family."
        ),
    ] = True,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write the HTML report.")
    ] = True,
    samples: Annotated[
        int, typer.Option(min=1, help="Test examples the winner is explained on.")
    ] = 200,
    explain: Annotated[
        bool, typer.Option("--explain/--no-explain", help="Explain the winner.")
    ] = True,
) -> None:
    """Search for the best architecture under accuracy and compute budgets.

    Example: nas search --dataset digits --space cnn --trials 30 --max-params 50000
    """
    deadline.check_limits(timeout, trial_timeout, heartbeat)  # before anything is written
    _warn_of_jobs(jobs)
    import nas
    from nas.cost import Budget

    limits = {"max_params": max_params, "max_flops": max_flops,
              "max_latency_ms": max_latency_ms, "max_memory_mb": max_memory_mb}  # fmt: skip
    for name, value in limits.items():  # named as typed: --max-params, not "max_params ... or
        # None" (/tmp/oD4 F15)
        try:
            Budget(**{name: value})
        except NasError:
            what = "whole number" if name in ("max_params", "max_flops") else "number"
            raise NasError(f"--{name.replace('_', '-')} must be a positive {what}, got "
                           f"{value:g}; leave it out for no limit.") from None  # fmt: skip
    budget = Budget(**limits)
    result = nas.search(
        dataset=dataset, data=data, target=target, task=task, drop=drop or (), space=space,
        budget=budget,
        n_trials=trials, timeout=timeout, epochs=epochs, metric=metric, objectives=objectives,
        sampler=sampler.value, pruner=pruner.value, seed=seed, top=top, out=out_dir,
        study=study, storage=storage, patience=patience, threads=threads, progress=True,
        jobs=jobs, heartbeat=heartbeat or None, trial_timeout=trial_timeout,
        min_faithfulness=min_faithfulness, explain=explain, report=report, explain_samples=samples,
        warm_start=warm_start, command=shlex.join(["nas", *sys.argv[1:]]),
        started=deadline.COMMAND_STARTED,  # the console script's start: its wait, imports included
    )  # fmt: skip
    render_result(result)  # the data's notes were said as the search began (nas.session)


def _warn_of_jobs(jobs: int) -> None:
    """One ``warning:`` line, before the search, when --jobs asks for more processes than the
    machine has cores: each loads torch and they share the cores (--jobs 64 on 2 cores had
    started 64 processes without a word, each trial 5x slower; /tmp/oD4 F7)."""
    cores = os.cpu_count()
    if cores is None or jobs <= cores:
        return
    err.print(
        f"[yellow]warning:[/] --jobs {jobs} asks for {jobs} processes on a machine of {cores} "
        f"CPU core{'s' if cores != 1 else ''} (os.cpu_count()): each process loads torch "
        f"(~300 MB of memory) and they share the cores, so each trial runs slower; --jobs "
        f"{cores} or fewer fits this machine.",
        highlight=False,
        soft_wrap=True,
    )


def top_table(
    board: Any, minimize: bool, metric: str, directions: Any = None, winner: int | None = None
) -> Table | None:
    """The five best complete trials of a leaderboard (validation), or None when none is. A
    search of several objectives (``directions``) marks its Pareto front (★) and lists it first,
    winner first, as nas.leaderboard.pick_winners orders it; the caption gives the rule."""
    done = board[board["state"] == "complete"] if len(board) else board
    if not len(done):
        return None
    from explain.report.decision import metric_label
    from nas.leaderboard import board_front

    label = metric_label(metric)
    front = board_front(board, [str(d) for d in directions or []])
    done = done.assign(_off=[0 if int(n) in front else 1 for n in done["number"]])
    done = done.sort_values(["_off", "metric", "number"], ascending=[True, minimize, True])
    if front:
        rows = done.head(max(5, len(front)))
        table = Table(
            title="top trials (validation; ★ the Pareto front, listed first)",
            caption_justify="left",
        )
        names = [str(c).removeprefix("objective_") for c in board.columns
                 if str(c).startswith("objective_")]  # fmt: skip
        table.caption = (
            f"★: no other trial is at least as good on {label} and {', '.join(names)} and "
            f"better on one. Winner{'' if winner is None else f' (trial {winner})'}: the front "
            f"member with the best validation {label} (ties: the earlier trial)."
        )
    else:
        rows = done.head(5)
        table = Table(title="top trials (validation)")
    cols = (["front"] if front else []) + ["trial", "family", f"val {label}", "params",
                                           "MFLOPs", "latency ms", "s"]  # fmt: skip
    for col in cols:  # folded, never cut: at COLUMNS=40 the numbers had read "0…" (/tmp/oD4 F13)
        table.add_column(col, justify="right", overflow="fold")
    for _, r in rows.iterrows():
        table.add_row(
            *(["★" if int(r["number"]) in front else ""] if front else []),
            str(r["number"]),
            safe(str(r["family"])),
            f"{r['metric']:.4f}",
            f"{int(r['params']):,}",
            f"{r['flops'] / 1e6:.3f}",
            f"{r['latency_ms']:.3f}",
            f"{r['seconds']:.1f}",
        )
    return table


def cost_line(c: Any, label: str) -> str:
    """The winner's cost in one line (a Cost, or its recorded dict)."""
    get = c.get if isinstance(c, dict) else lambda k: getattr(c, k, None)
    n = get("threads")  # the torch threads it was timed on (--threads), where recorded
    on = f", {n} thread{'s' if n != 1 else ''}" if isinstance(n, int) and n > 0 else ""
    return (f"cost{label}: {get('params'):,} params, {get('flops') / 1e6:.3f} MFLOPs, "
            f"{get('latency_ms'):.3f} ms (batch 1{on}), {get('memory_mb'):.2f} MiB")  # fmt: skip


def _score(value: float, digits: int | None = None) -> str:
    """A test score: 0.9731 (4 decimals, or ``digits`` significant ones), and from 1,000 up
    grouped with one decimal: an RMSE in a price's units had read 53623.1257 beside a baselines
    line of 52,300, and an MSE 2875439605.4984 (/tmp/oE4 N7)."""
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.{digits}g}" if digits else f"{value:.4f}"


def test_line(test: dict[str, Any], units: str | None, kind: Any = None) -> str:
    """The winner's test metrics in one line, each named as its search kind names it (a
    classifier's macro averages so, as metrics.json keeps the keys ``precision``, ``recall``,
    ``f1``; a GAN's precision and recall as k-NN manifold scores), then, for a regression of
    several outputs, a line of each output's own scores."""
    if kind is None:
        from explain.report.decision import metric_label as label
    else:
        label = kind.metric_label
    shown = ", ".join(f"{label(k)} {_score(v)}" for k, v in test.items() if isinstance(v, float))
    each = [e for e in test.get("per_output") or [] if isinstance(e, dict)]
    if not each:
        return f"test: {shown}" + (f" (errors in units of {units})" if units else "")
    # outputs of their own scales: their mean alone had hidden a 28x difference (/tmp/oY)
    lines = [f"test: {shown} (the mean over {len(each)} outputs, each in its own units)"]
    for e in each:
        own = ", ".join(f"{label(k)} {_score(v, 4)}" for k, v in e.items()
                        if k != "output" and isinstance(v, float))  # fmt: skip
        lines.append(f"  output {e.get('output')}: {own}")
    return "\n".join(lines)


def render_result(result: Any) -> None:
    """The top trials, the winner's test metrics, and where the artifacts are."""
    metric = getattr(result, "metrics", {}).get("metric") or "metric"
    directions = [d.name.lower() for d in result.study.directions]
    winner = getattr(result, "metrics", {}).get("trial")
    table = top_table(result.leaderboard, directions[0] == "minimize", metric, directions, winner)
    if table is not None:
        out.print(table)
    counts = result.counts
    out.print("trials: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), markup=False)
    if result.spec is not None:
        out.print(
            f"[bold]winner[/] (trial {result.metrics['trial']}): {safe(result.spec.summary())}"
        )
        units = result.metrics.get("target_units")
        test = test_line(result.metrics["test"], units, _kind(result))
        out.print(test, markup=False, soft_wrap=True)
        for line in _judged(result):
            out.print(line, markup=False, soft_wrap=True)
        out.print(cost_line(result.cost, _kind(result).cost_label), markup=False)
    for w in getattr(result, "warnings", [])[getattr(result, "said", 0) :]:  # not said yet
        err.print(f"[yellow]warning:[/] {safe(str(w))}", highlight=False, soft_wrap=True)
    if getattr(result, "report_path", None) is not None:
        out.print(f"report: {result.report_path}", markup=False)
    d = result.run_dir
    best = d / "best"
    files = (
        sorted(p.name for p in best.iterdir() if not p.name.startswith("."))
        if best.is_dir()
        else []
    )
    config = getattr(result, "config", None)
    storage = getattr(config, "storage", None)  # as recorded: a password is ***
    study = f"{d}/study.db" if (d / "study.db").is_file() or not storage else storage
    more = [f"{d}/{name}/" for name in ("top", "explain") if (d / name).is_dir()]  # /tmp/oE4 N9
    out.print(
        f"artifacts: {d}/leaderboard.csv, {d}/best/ ({', '.join(files) or 'none yet'}), "
        + "".join(f"{m}, " for m in more)
        + study,
        markup=False,
    )


def _judged(result: Any) -> list[str]:
    """The baselines and the report's verdict on the winner (nas.reporting.judged); none for a
    result without its record."""
    from nas.reporting import judged

    config = getattr(result, "config", None)
    return judged(result.run_dir, config, result.metrics) if config is not None else []


def _kind(result: Any) -> Any:
    """The search kind of a result (the default kind for a result without a config)."""
    from nas.kinds import get_kind
    from nas.kinds.registry import DEFAULT_KIND

    config = getattr(result, "config", None)
    return get_kind(config.kind if config is not None else DEFAULT_KIND)
