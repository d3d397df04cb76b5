"""The ``nas`` command: thin — parse, check, call the public API, render with Rich.

Every error nas raises on purpose (:class:`nas.errors.NasError`) becomes one line on stderr and
exit code 2, with no traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from nas.errors import NasError
from nas.study import PRUNERS, SAMPLERS

app = typer.Typer(
    name="nas",
    help="Neural architecture search under accuracy and compute budgets, explained.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])
SamplerName = Enum("SamplerName", {s: s for s in SAMPLERS}, type=str)  # type: ignore[misc]
PrunerName = Enum("PrunerName", {p: p for p in PRUNERS}, type=str)  # type: ignore[misc]


def friendly(fn: F) -> F:
    """Turn NasError into one stderr line + exit 2, and Ctrl-C into a clean exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NasError as e:
            err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print(
                "interrupted: completed trials are kept in the study; run the same "
                "command again to continue.",
                soft_wrap=True,  # one line, however narrow the terminal (or a pipe: 80)
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@app.command()
@friendly
def datasets(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the built-in datasets with their shape, task and size."""
    from nas.data import list_datasets

    infos = list_datasets()
    if as_json:
        for info in infos:
            print(json.dumps(info.to_dict()))
        return
    table = Table(title="built-in datasets")
    for col in ("name", "task", "modality", "input shape", "outputs", "examples", "description"):
        # names are what a user types next: never fold them, even in an 80-column terminal
        table.add_column(col, overflow="fold", no_wrap=col in ("name", "task", "modality"))
    for i in infos:
        table.add_row(
            i.name,
            i.task,
            i.modality,
            str(tuple(i.input_shape)),
            str(i.output_size),
            str(i.n_examples),
            i.description,
        )
    out.print(table)


@app.command()
@friendly
def spaces(
    space: Annotated[str | None, typer.Argument(help="A space name or a .toml file.")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Built-in dataset whose shape to use.")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Or a CSV / NPZ file.")] = None,
    target: Annotated[str | None, typer.Option(help="Target column of a CSV.")] = None,
    sample: Annotated[int, typer.Option(min=0, help="How many architectures to sample.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the random sampler.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the search spaces, show one's dimensions, or sample architectures with their cost.

    Example: nas spaces cnn --dataset digits --sample 5
    """
    from nas.explore import sample_architectures, space_dimensions, space_list

    if space is None:
        table = Table(title="search spaces")
        table.add_column("space")
        table.add_column("what it searches")
        for name, doc in space_list():
            table.add_row(name, doc)
        out.print(table)
        out.print("Sample some: nas spaces SPACE --dataset digits --sample 5")
        return
    if sample == 0:
        dims = space_dimensions(space)
        if as_json:
            print(json.dumps(dims))
            return
        table = Table(title=f"space {space}: dimensions (override them in a TOML file)")
        table.add_column("dimension")
        table.add_column("values")
        for key, value in dims["dims"].items():
            table.add_row(key, json.dumps(value))
        out.print(table)
        return
    if dataset is None and data is None:
        raise NasError(
            "--sample needs the data's shape: pass --dataset NAME (see `nas datasets`) "
            "or --data FILE."
        )
    rows = sample_architectures(
        space, dataset=dataset, data=data, target=target, n=sample, seed=seed
    )
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table(title=f"{sample} samples of space {space} (seed {seed})")
    for col in ("#", "family", "architecture", "params", "MFLOPs", "latency ms"):
        table.add_column(col, overflow="fold", justify="right" if col != "architecture" else "left")
    for i, r in enumerate(rows):
        table.add_row(
            str(i),
            r["family"],
            r["summary"],
            f"{r['params']:,}",
            f"{r['flops'] / 1e6:.3f}",
            f"{r['latency_ms']:.3f}",
        )
    out.print(table)


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
        typer.Option(
            help="auto, fnn, cnn, rnn, transformer, cnn_rnn, cnn_transformer, gan, or a .toml file."
        ),
    ] = "auto",
    trials: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Total trials of the study; a re-run continues to this many (default 20).",
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Stop starting trials after this many seconds.")
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
        typer.Option(help="Pareto search, e.g. accuracy,params (or flops, latency, memory)."),
    ] = None,
    sampler: Annotated[SamplerName, typer.Option(help="Optuna sampler.")] = SamplerName("tpe"),
    pruner: Annotated[PrunerName, typer.Option(help="Optuna pruner.")] = PrunerName("hyperband"),
    max_params: Annotated[float | None, typer.Option(help="Budget: parameters.")] = None,
    max_flops: Annotated[float | None, typer.Option(help="Budget: FLOPs per example.")] = None,
    max_latency_ms: Annotated[
        float | None, typer.Option(help="Budget: batch-1 latency, ms.")
    ] = None,
    max_memory_mb: Annotated[
        float | None, typer.Option(help="Budget: inference memory, MiB.")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Keep this many Pareto-optimal models.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the split, the sampler and the weights.")] = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default runs/<study>).")
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name (default <dataset>-<space>).")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage URL: sqlite:///…, postgresql://…, or a journal file .log."
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
            min=0, help="Seconds between worker heartbeats (SQLite/PostgreSQL); 0 turns them off."
        ),
    ] = 10,
    trial_timeout: Annotated[
        float | None, typer.Option(min=1, help="End a trial that runs longer (seconds).")
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
    import nas
    from nas.cost import Budget

    budget = Budget(
        max_params=max_params,
        max_flops=max_flops,
        max_latency_ms=max_latency_ms,
        max_memory_mb=max_memory_mb,
    )
    result = nas.search(
        dataset=dataset, data=data, target=target, task=task, drop=drop or (), space=space,
        budget=budget,
        n_trials=trials, timeout=timeout, epochs=epochs, metric=metric, objectives=objectives,
        sampler=sampler.value, pruner=pruner.value, seed=seed, top=top, out=out_dir,
        study=study, storage=storage, patience=patience, threads=threads, progress=True,
        jobs=jobs, heartbeat=heartbeat or None, trial_timeout=trial_timeout,
        explain=explain, report=report, explain_samples=samples,
        warm_start=warm_start, command="nas " + " ".join(sys.argv[1:]),
    )  # fmt: skip
    render_result(result)


def render_result(result: Any) -> None:
    """The top trials, the winner's test metrics, and where the artifacts are."""
    board = result.leaderboard
    done = board[board["state"] == "complete"] if len(board) else board
    if len(done):
        asc = result.study.directions[0].name == "MINIMIZE"
        table = Table(title="top trials (validation)")
        metric = getattr(result, "metrics", {}).get("metric") or "metric"
        for col in ("trial", "family", f"val {metric}", "params", "MFLOPs", "latency ms", "s"):
            table.add_column(col, justify="right")
        for _, r in done.sort_values("metric", ascending=asc).head(5).iterrows():
            table.add_row(
                str(r["number"]),
                str(r["family"]),
                f"{r['metric']:.4f}",
                f"{int(r['params']):,}",
                f"{r['flops'] / 1e6:.3f}",
                f"{r['latency_ms']:.3f}",
                f"{r['seconds']:.1f}",
            )
        out.print(table)
    counts = result.counts
    out.print("trials: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if result.spec is not None:
        test = result.metrics["test"]
        shown = {k: v for k, v in test.items() if isinstance(v, float)}
        out.print(f"[bold]winner[/] (trial {result.metrics['trial']}): {result.spec.summary()}")
        out.print("test: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items()))
        c = result.cost
        part = " (generator)" if result.metrics.get("family") == "gan" else ""
        out.print(
            f"cost{part}: {c.params:,} params, {c.flops / 1e6:.3f} MFLOPs, "
            f"{c.latency_ms:.3f} ms (batch 1), {c.memory_mb:.2f} MiB"
        )
    for w in getattr(result, "warnings", []):
        err.print(f"[yellow]warning:[/] {w}")
    if getattr(result, "report_path", None) is not None:
        out.print(f"report: {result.report_path}")
    d = result.run_dir
    extra = ", samples.npz" if result.metrics.get("family") == "gan" else ""
    out.print(
        f"artifacts: {d}/leaderboard.csv, {d}/best/ (spec.json, model.pt, metrics.json{extra}), "
        f"{d}/study.db"
    )


@app.command()
@friendly
def explain(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    samples: Annotated[int, typer.Option(min=1, help="Test examples to explain.")] = 200,
    methods: Annotated[
        str | None,
        typer.Option(help="Comma-separated methods (e.g. integrated_gradients,shap), or all."),
    ] = None,
) -> None:
    """Explain a run's winner: attributions, SHAP values and their quality checks.

    Stores arrays + JSON metadata in RUN_DIR/explain/. Example: nas explain runs/digits-auto
    """
    import nas

    wanted = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    exp = nas.explain(run_dir, samples=samples, methods=wanted)
    if isinstance(exp, Path):  # a GAN run: generated-vs-real, latent and discriminator views
        out.print(f"GAN explanations stored in {exp}")
        return
    table = Table(title=f"explanations of {len(exp.X)} test examples ({exp.seconds:.1f} s)")
    for col in ("check", "method", "value", "threshold", "verdict"):
        table.add_column(col)
    colour = {"pass": "green", "warn": "yellow", "fail": "red", "skipped": "dim"}
    for c in exp.checks:
        value = "-" if c.value is None else f"{c.value:.3g}"
        limit = "-" if c.threshold is None else f"{c.threshold:.3g}"
        table.add_row(c.name, c.method, value, limit, f"[{colour[c.status]}]{c.status}[/]")
    out.print(table)
    for choice in exp.choices:
        if not choice.chosen:
            out.print(f"[dim]not used: {choice.method}: {choice.reason}[/]")
    out.print(f"stored in {Path(run_dir) / 'explain'}")


@app.command()
@friendly
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Where to write the .html.")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="The storage URL, if run.json hides its password.")
    ] = None,
) -> None:
    """Rebuild the self-contained HTML report of a run directory (works offline)."""
    import nas

    path = nas.report(run_dir, output, storage=storage)
    out.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command()
@friendly
def worker(
    storage: Annotated[str, typer.Option(help="The study's storage URL (e.g. postgresql://…).")],
    study: Annotated[str, typer.Option(help="The study name given to `nas search`.")],
    trials: Annotated[
        int | None, typer.Option(min=1, help="Stop when the study has this many trials.")
    ] = None,
    timeout: Annotated[float | None, typer.Option(min=1, help="Stop after this many s.")] = None,
    threads: Annotated[int, typer.Option(min=1, help="torch threads of this worker.")] = 1,
    index: Annotated[
        int, typer.Option(min=1, help="This worker's number (seeds its sampler).")
    ] = 1,
    heartbeat: Annotated[int, typer.Option(min=0, help="Heartbeat seconds; 0 = off.")] = 10,
) -> None:
    """Join a running study as one more worker (this or another machine).

    Start the study with `nas search ... --storage URL --study NAME` on one machine (it retrains
    and reports once at the end); run `nas worker --storage URL --study NAME` on the others.
    """
    from nas.worker import work

    n = work(
        storage,
        study,
        n_trials=trials,
        timeout=timeout,
        threads=threads,
        index=index,
        heartbeat=heartbeat or None,
    )
    err.print(f"worker {index}: ran {n} trial(s) of study {study!r}.")


@app.command()
@friendly
def show(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Print a run's summary: what was searched, trial counts, and the winner."""
    import nas

    info = nas.show(run_dir)
    run = info["run"]
    out.print(
        f"[bold]{run['study']}[/]  data: {run['dataset'] or run['data']}  task: "
        f"{run['task']}  space: {run['space_name']}  seed: {run['seed']}"
    )
    out.print(f"budget: {run['budget']}  objectives: {', '.join(run['objectives'])}")
    board = info["leaderboard"]
    if board is not None:
        out.print(
            "trials: "
            + ", ".join(f"{k} {v}" for k, v in board["state"].value_counts().sort_index().items())
        )
    best = info["best"]
    if best:
        out.print(f"[bold]winner[/] (trial {best['trial']}): {best['summary']}")
        out.print(
            "test: "
            + ", ".join(f"{k} {v:.4f}" for k, v in best["test"].items() if isinstance(v, float))
        )
        if best.get("family") == "gan":
            t, clf = best["test"], best.get("classifier") or {}
            out.print(
                f"GAN: test FCD {t.get('fcd', float('nan')):.4g} (real-data floor "
                f"{t.get('real_fcd', float('nan')):.4g}, two halves "
                f"{t.get('halves_fcd', float('nan')):.4g}, uniform noise "
                f"{t.get('noise_fcd', float('nan')):.4g}); scorer classifier test accuracy "
                f"{clf.get('test_accuracy') or float('nan'):.4f}"
            )
    else:
        out.print("no winner yet: run the same `nas search` command to finish the search.")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
