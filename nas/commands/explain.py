"""``nas explain`` and ``nas report``: a run's explanations and its HTML report, again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from nas.commands._app import app, friendly, out


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
    if isinstance(exp, Path):  # views stored as one file (a GAN's generated-vs-real, latents)
        out.print(f"explanations stored in {exp}", markup=False)
        return
    table = Table(title=f"explanations of {len(exp.X)} test examples ({exp.seconds:.1f} s)")
    for col in ("check", "method", "value", "threshold", "verdict"):
        table.add_column(col)
    colour = {"pass": "green", "warn": "yellow", "fail": "red", "skipped": "dim"}
    for c in exp.checks:
        value = "-" if c.value is None else f"{c.value:.3g}"
        limit = "-" if c.threshold is None else f"{c.threshold:.3g}"
        status = f"[{colour[c.status]}]{c.status}[/]" if c.status in colour else escape(c.status)
        table.add_row(escape(c.name), escape(c.method), value, limit, status)
    out.print(table)
    for choice in exp.choices:
        if not choice.chosen:
            out.print(f"[dim]not used: {escape(choice.method)}: {escape(choice.reason)}[/]")
    out.print(f"stored in {Path(run_dir) / 'explain'}", markup=False)


@app.command()
@friendly
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Where to write the .html.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="The study's storage URL when it is not RUN_DIR/study.db (a storage that "
            "run.json names is never opened on its own)."
        ),
    ] = None,
) -> None:
    """Rebuild the self-contained HTML report of a run directory (works offline)."""
    import nas

    path = nas.report(run_dir, output, storage=storage)
    out.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)", markup=False)
