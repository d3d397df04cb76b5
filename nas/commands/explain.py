"""``nas explain`` and ``nas report``: a run's explanations and its HTML report, again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from nas.commands._app import app, err, friendly, out, safe
from nas.errors import Interrupted, NasError


@app.command()
@friendly
def explain(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    samples: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Test examples to explain (default 200; with --top, as many as the "
            "winner's explanation).",
        ),
    ] = None,
    methods: Annotated[
        str | None,
        typer.Option(help="Comma-separated methods (e.g. integrated_gradients,shap), or all."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Explain new rows of this CSV/TSV (NPZ for NPZ runs) instead of the "
            "test split; stored in RUN_DIR/explain-new/<file stem>/."
        ),  # fmt: skip
    ] = None,
    rows: Annotated[
        str | None,
        typer.Option(
            help="With --data: rows of the file, from 0 (e.g. 0,5 or 0-9); default "
            "all of a file of at most 20 rows."
        ),  # fmt: skip
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(
            help="Explain the first K models of the Pareto front (RUN_DIR/top/) alike and "
            "compare their attributions; stored in RUN_DIR/explain-top/."
        ),
    ] = None,
) -> None:
    """Explain a run's winner: attributions, SHAP values and their quality checks.

    Stores arrays + JSON metadata in RUN_DIR/explain/. Example: nas explain runs/digits-auto;
    new rows: nas explain runs/churn --data new.csv --rows 0,5; the Pareto front compared:
    nas explain runs/front --top 3
    """
    try:
        _explain(run_dir, samples, methods, data, rows, top)
    except KeyboardInterrupt:
        where = "explain-top" if top is not None else "explain-new" if data else "explain"
        raise Interrupted(
            f"interrupted: nothing was stored ({run_dir / where}/ is as it was); run the same "
            "command again to explain."
        ) from None


def _explain(
    run_dir: Path,
    samples: int | None,
    methods: str | None,
    data: Path | None,
    rows: str | None,
    top: int | None,
) -> None:

    wanted = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    what = (f"the first {top} models of the front" if top is not None
            else f"the rows of {data}" if data is not None
            else f"{samples or 'up to 200'} test examples")  # fmt: skip
    # it had been silent for its whole run, 20-40 s on digits (/tmp/oD4 F3): a spinner on a
    # terminal, gone when the work ends (an error then stands alone, in one line)
    doing = Text(f"explaining {what} of {run_dir}: attributions, SHAP values and their checks")
    with err.status(doing):
        _explain_now(run_dir, samples, wanted, data, rows, top)


def _explain_now(
    run_dir: Path,
    samples: int | None,
    wanted: list[str] | None,
    data: Path | None,
    rows: str | None,
    top: int | None,
) -> None:
    import nas

    if top is not None:
        if data is not None or rows is not None:
            raise NasError("--top explains each model's test examples; drop --data and --rows.")
        _explain_top(nas.explain(run_dir, samples=samples, methods=wanted, top=top))
        return
    if data is not None or rows is not None:
        _explain_rows(nas.explain(run_dir, methods=wanted, data=data, rows=rows), data)
        return
    exp = nas.explain(run_dir, samples=samples, methods=wanted)
    if isinstance(exp, Path):  # views stored as one file (a GAN's generated-vs-real, latents)
        out.print(f"explanations stored in {exp}", markup=False)
        return
    from explain.report.method_trust import MIN_JUDGED, examples_checked
    from nas.reporting import explanation_verdict

    table = Table(title=f"explanations of {len(exp.X)} test examples ({exp.seconds:.1f} s)")
    for col in ("check", "method", "value", "threshold", "n", "verdict"):  # n: examples
        table.add_column(col, justify="right" if col == "n" else "left",
                         no_wrap=col in ("check", "verdict"), min_width=6 if col == "verdict"
                         else None)  # fmt: skip
    colour = {"pass": "green", "warn": "yellow", "fail": "red", "skipped": "dim"}
    few = False
    for c in exp.checks:
        value = "-" if c.value is None else f"{c.value:.3g}"
        limit = "-" if c.threshold is None else f"{c.threshold:.3g}"
        status = f"[{colour[c.status]}]{c.status}[/]" if c.status in colour else safe(c.status)
        n = examples_checked({"extra": c.extra}, len(exp.X))
        few |= n is not None and n < MIN_JUDGED and c.status != "skipped"
        table.add_row(safe(c.name), safe(c.method), value, limit, "-" if n is None else str(n),
                      status + ("*" if n is not None and n < MIN_JUDGED else ""))  # fmt: skip
    out.print(table)
    for choice in exp.choices:
        if not choice.chosen:
            out.print(f"[dim]not used: {safe(choice.method)}: {safe(choice.reason)}[/]")
    if few:
        out.print(f"note: n is the examples a check ran on; *: fewer than {MIN_JUDGED}, too "
                  f"few to judge: explain more (--samples {MIN_JUDGED} or more).",
                  markup=False)  # fmt: skip
    from nas import run as rundir
    from nas.config import SearchConfig

    unchecked = rundir.unchecked_note(Path(run_dir) / "best")  # as nas show and the report
    versions = rundir.version_notes(SearchConfig.read(run_dir).versions)
    for w in ([unchecked] if unchecked else []) + versions:
        out.print(f"warning: {w}", markup=False, soft_wrap=True)
    said = explanation_verdict(run_dir)  # the report's line: disagreeing methods, a model
    if said:  # no better than the trivial baseline
        out.print(f"verdict: {said}", markup=False, soft_wrap=True)
    out.print(f"stored in {Path(run_dir) / 'explain'}", markup=False)


def _explain_top(front: Any) -> None:
    from explain.compare import answer

    c = front.comparison
    models = c["models"]
    table = Table(title=f"{len(models)} models explained alike on {c['samples']} test examples; "
                  f"rank agreement of {c['method']} with #1")  # fmt: skip
    for col in ("rank", "family", "params", "test", "verdicts", "global rho", "local rho"):
        table.add_column(col)
    colour = {"pass": "green", "warn": "yellow", "fail": "red"}
    for i, m in enumerate(models):
        verdicts = ", ".join(
            f"{safe(k)} [{colour.get(v, 'dim')}]{safe(v)}[/]" for k, v in m["checks"].items()
        )
        test = "-" if m.get("test") is None else f"{m['metric']} {m['test']:.4g}"
        rhos = [c["agreement"][k][0][i] for k in ("global", "local")]
        table.add_row(str(m["rank"]), safe(str(m["family"])), str(m.get("params") or "-"),
                      safe(test), verdicts, *(_rho(r) for r in rhos))  # fmt: skip
    out.print(table)
    for method, why in (c.get("dropped") or {}).items():
        out.print(f"[dim]not used: {safe(method)}: {safe(why)}[/]")
    said = answer(c)
    if said:
        out.print(said["sentence"], markup=False, soft_wrap=True)
    out.print(f"stored in {front.folder}", markup=False)


def _rho(x: Any) -> str:
    return "-" if x is None or x != x else f"{x:.2f}"


def top_features(line: Any, features: list[str], k: int = 3) -> str:
    """A row's ``k`` largest attributions, ``name +value``; a feature whose cell the file left
    empty (``filled_in``: explained at the value that filled it) is said to be."""
    values = line[features].astype(float)
    top = values.abs().sort_values(ascending=False).index[:k]
    empty = set(str(line.get("filled_in") or "").split("; ")) - {""}

    def said(f: str) -> str:
        return f"{f} (empty, filled in)" if f.partition("=")[0] in empty else f

    return ", ".join(f"{said(f)} {values[f]:+.3g}" for f in top)


def top_windows(line: Any, windows: dict[str, list[str]], k: int = 3) -> str:
    """A row's ``k`` largest window totals, ``name +value``, of a method that splits each
    window's value equally over its elements (only the totals mean anything)."""
    totals = {w: float(line[cols].astype(float).sum()) for w, cols in windows.items()}
    top = sorted(totals, key=lambda w: abs(totals[w]), reverse=True)[:k]
    return ", ".join(f"{w} {totals[w]:+.3g}" for w in top)


def _predicted(line: Any) -> str:
    """A row's prediction as the table shows it: the class and its probability (the class
    explained, when another), or the regression outputs."""
    head = list(line.index)[: list(line.index).index("output")]  # not a feature's column
    outputs = [str(line[c]) for c in head if str(c).startswith("prediction")]
    said = ", ".join(outputs)
    p = line.get("probability")
    if p is None or p != p:  # a regression (NaN: not a number to show)
        return said
    explained = str(line.get("class_explained"))
    other = f" (explained: {explained})" if explained != said else ""
    return f"{said}, p {float(p):.3f}{other}"


def _explain_rows(result: Any, data: Path | None) -> None:
    from nas.explain_rows import no_checks

    for note in result.notes:
        out.print(f"note: {note}", markup=False, soft_wrap=True)
    name = data.name if data is not None else "the data"
    table = Table(title=f"{len(result.rows)} row(s) of {name} explained ({result.seconds:.1f} s)")
    methods = [m for m in result.methods if len(result.table)
               and (result.table["method"] == m).any()]  # fmt: skip
    several = len(methods) > 1
    table.add_column("row", justify="right")
    table.add_column("prediction")
    table.add_column("method", no_wrap=True)
    table.add_column("top features", ratio=1)
    if several:  # each method's answer is shown: where they differ, the row is flagged
        table.add_column("agree (\u03c1)", justify="right", no_wrap=True)
    first = result.table[result.table["method"] == methods[0]] if methods else []
    features = list(first.columns[list(first.columns).index("sum") + 1 :]) if len(first) else []
    agreement = dict(zip(result.rows, result.agreement, strict=False))
    for _, line in first.iterrows() if len(first) else []:
        cells = [str(line["row"]), _predicted(line)]
        rho = agreement.get(line["row"])
        for k, method in enumerate(methods):
            same = result.table[(result.table["method"] == method)
                                & (result.table["row"] == line["row"])]  # fmt: skip
            windows = result.windows.get(method)
            said = (top_windows(same.iloc[0], windows) if windows
                    else top_features(same.iloc[0], features))  # fmt: skip
            shown = [f"{method} (per window)" if windows else method, said if len(same) else "-"]
            if several:
                shown.append(("-" if rho is None else f"{rho:.2f}") if k == 0 else "")
            table.add_row(*map(safe, cells if k == 0 else ["", ""]), *map(safe, shown),
                          end_section=k == len(methods) - 1)  # fmt: skip
    if len(first):
        out.print(table)
    if result.units:
        out.print(f"units: {result.units}", markup=False, soft_wrap=True)
    checks = no_checks(result.folder.parent.parent)  # RUN/explain-new/<file>/
    out.print(f"methods: {', '.join(result.methods)}; {checks}", markup=False, soft_wrap=True)
    out.print(f"stored in {result.folder} (attributions.csv, explanations.json)", markup=False,
              soft_wrap=True)  # fmt: skip


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

    try:
        path = nas.report(run_dir, output, storage=storage)
    except KeyboardInterrupt:
        raise Interrupted(
            "interrupted: the report was not written (the run is unchanged); run the same "
            "command again to write it."
        ) from None
    out.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)", markup=False)
