"""``nas datasets``, ``nas spaces`` and ``nas show``: what there is to search, and what a run
found."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nas.commands._app import app, err, friendly, out, safe
from nas.errors import NasError


@app.command()
@friendly
def datasets(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the datasets, built in and registered by extensions, with shape, task and size."""
    from nas.data import list_datasets

    infos = list_datasets()
    if as_json:
        for info in infos:
            print(json.dumps(info.to_dict()))
        return
    table = Table(title="datasets (--dataset NAME)")
    for col in ("name", "task", "modality", "input shape", "outputs", "examples", "description"):
        # names are what a user types next: never fold them, even in an 80-column terminal
        table.add_column(col, overflow="fold", no_wrap=col in ("name", "task", "modality"))
    for i in infos:
        table.add_row(
            safe(i.name),
            i.task,
            i.modality,
            str(tuple(i.input_shape)),
            str(i.output_size),
            str(i.n_examples),
            safe(i.description),
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
    sample: Annotated[
        int,
        typer.Option(
            min=0,
            max=1_000,  # 1e12 had been taken, then ran silent for ever (/tmp/oD4 F8); 10,000
            # took ~30 min (/tmp/oE4 N3)
            help="How many architectures to sample, with their cost (latency: batch 1, 1 "
            "thread, as the search measures it).",
        ),
    ] = 0,
    seed: Annotated[
        int, typer.Option(min=0, max=2**32 - 1, help="Seed of the random sampler.")
    ] = 0,
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
            table.add_row(safe(name), safe(doc))
        out.print(table)
        out.print("Sample some: nas spaces SPACE --dataset digits --sample 5")
        return
    if sample == 0:
        dims = space_dimensions(space)
        if as_json:
            print(json.dumps(dims))
            return
        table = Table(title=f"space {safe(space)}: the {len(dims['dims'])} dimensions it reads "
                      "(override them in a TOML file)")  # fmt: skip
        table.add_column("dimension")
        table.add_column("values")
        for key, value in dims["dims"].items():
            table.add_row(safe(key), safe(json.dumps(value)))
        out.print(table)
        return
    if dataset is None and data is None:
        raise NasError(
            "--sample needs the data's shape: pass --dataset NAME (see `nas datasets`) "
            "or --data FILE."
        )
    # each is built and timed (about 0.2 s): a spinner on a terminal meanwhile (/tmp/oE4 N3)
    with err.status(f"sampling {sample} architectures of {space} and timing each"):
        rows = sample_architectures(
            space, dataset=dataset, data=data, target=target, n=sample, seed=seed
        )
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table(title=f"{sample} samples of space {safe(space)} (seed {seed})")
    for col in (
        "#",
        "family",
        "architecture",
        "params",
        "MFLOPs",
        "latency ms (batch 1, 1 thread)",
    ):
        table.add_column(col, overflow="fold", justify="right" if col != "architecture" else "left")
    for i, r in enumerate(rows):
        table.add_row(
            str(i),
            safe(r["family"]),
            safe(r["summary"]),
            f"{r['params']:,}",
            f"{r['flops'] / 1e6:.3f}",
            f"{r['latency_ms']:.3f}",
        )
    out.print(table)


@app.command()
@friendly
def show(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Print a run's summary: what was searched, trial counts, and the winner."""
    import nas
    from nas import run as rundir
    from nas.kinds import get_kind

    info = nas.show(run_dir)
    config = info["config"]
    out.print(
        f"[bold]{safe(config.study)}[/]  data: {safe(str(config.dataset or config.data))}  "
        f"task: {safe(str(config.task))}  space: {safe(config.space_name)}  "
        f"seed: {config.seed}"
    )
    limits = {k: v for k, v in config.budget.to_dict().items() if v is not None}
    shown = ", ".join(f"{k.removeprefix('max_')} <= {v:,g}" for k, v in limits.items())
    out.print(
        f"budget: {shown or 'none'}  objectives: {', '.join(config.objectives)}",
        markup=False,
    )
    for note in (config.data_info or {}).get("notes") or []:  # what loading did to the data
        out.print(f"note: {note}", markup=False, soft_wrap=True)
    board = info["leaderboard"]
    best = info["best"]
    if board is not None:
        from nas.commands.search import top_table

        metric = (best or {}).get("metric") or config.metric
        table = top_table(board, config.directions[0] == "minimize", str(metric),
                          config.directions, (best or {}).get("trial"))  # fmt: skip
        if table is not None:  # what the search printed at its end, read from leaderboard.csv
            out.print(table)
        states = board["state"].astype(str).value_counts().sort_index().items()
        out.print("trials: " + ", ".join(f"{k} {v}" for k, v in states), markup=False)
    if best:
        out.print(f"[bold]winner[/] (trial {best['trial']}): {safe(best['summary'])}")
        from nas.commands.search import test_line

        kind = get_kind(config.kind)
        test = test_line(best["test"], best.get("target_units"), kind)
        out.print(test, markup=False, soft_wrap=True)
        for line in info["judged"]:
            out.print(line, markup=False, soft_wrap=True)
        cost = best.get("cost")
        if isinstance(cost, dict) and all(
            isinstance(cost.get(k), int | float)
            for k in ("params", "flops", "latency_ms", "memory_mb")
        ):
            from nas.commands.search import cost_line

            out.print(cost_line(cost, kind.cost_label), markup=False)
        for line in kind.show_lines(best):
            out.print(line, markup=False)
        from nas.findings import search_warnings

        for w in search_warnings(run_dir):  # what the search warned of as it ended
            err.print(f"[yellow]warning:[/] {safe(w)}", highlight=False, soft_wrap=True)
        for usable, line in info["exports"]:  # nas export's record: of this winner, unchanged?
            if usable:
                out.print(line, markup=False, soft_wrap=True)
            else:
                err.print(f"[yellow]warning:[/] {safe(line)}", highlight=False, soft_wrap=True)
        top = sorted(p.parent.name for p in Path(run_dir, "top").glob("*/metrics.json"))
        if top:
            out.print(f"kept: {len(top)} Pareto-optimal models in {run_dir}/top/"
                      f"{{{','.join(top)}}}", markup=False)  # fmt: skip
    elif rundir.search_running(run_dir):
        out.print("no winner yet: a nas search is running in this folder now; it retrains and "
                  "tests the winner when it ends.", markup=False)  # fmt: skip
    else:
        out.print("no winner yet: run the same `nas search` command to finish the search.")
    for w in info["provenance"]:  # files nothing checks; a run of a newer nas
        if not any(w in line for line in info["judged"]):  # said once (the report's alert)
            err.print(f"[yellow]warning:[/] {safe(w)}", highlight=False, soft_wrap=True)
