"""``nas predict``: a run's winner on new rows, with the run's recorded preprocessing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from nas import run as rundir
from nas.commands._app import app, friendly, out
from nas.errors import NasError
from nas.predict import load_predictor


@app.command()
@friendly
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    data: Annotated[
        Path | None,
        typer.Option(
            help="CSV/TSV (or NPZ for NPZ runs) of rows to predict; default: the "
            "test split of the run's built-in dataset."
        ),  # fmt: skip
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="CSV to write (default: RUN_DIR/predictions/<data>.csv)."
        ),  # fmt: skip
    ] = None,
) -> None:
    """Predict new rows with a run's winner, scoring them when they hold the target.

    Writes the input's rows plus a prediction column and, for classification, one
    probability column per class (original labels; regression in the target's units).
    A target column in the data is ignored, and scored if present.

    Example: nas predict runs/churn --data new.csv -o predictions.csv
    """
    start = time.perf_counter()
    name = data.stem if data is not None else "test"
    path = output if output is not None else run_dir / "predictions" / f"{name}.csv"
    if path.exists() and path.is_dir():
        raise NasError(f"{path} is a folder; give -o a file name such as predictions.csv.")
    if data is not None and path.exists() and path.resolve() == data.resolve():
        raise NasError(f"-o {path} is the input file, which nas would overwrite; give -o "
                       "another file name.")  # fmt: skip
    own = run_dir.resolve()
    if (
        path.exists()
        and own in path.resolve().parents
        and own / "predictions" not in (path.resolve().parents)
    ):  # run.json, the weights, the study: a run that no longer loads
        raise NasError(f"-o {path} is a file of the run {run_dir}, which nas would overwrite; "
                       "give -o a file outside it (or under its predictions/).")  # fmt: skip
    rundir.check_inside(run_dir, path, "its predictions", ", or give -o a path of your own")
    sep = _separator(path)
    predictor = load_predictor(run_dir)
    result = predictor.predict_file(data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        result.table.to_csv(path, index=False, sep=sep)  # compressed as the suffix says
    except OSError as e:
        raise NasError(f"Cannot write {path} ({e.strerror or e}); give -o a file in a folder "
                       "you can write to.") from None  # fmt: skip
    seconds = time.perf_counter() - start
    for note in result.notes:
        out.print(f"note: {note}", markup=False, soft_wrap=True)
    out.print(f"wrote {path}: {len(result.table)} rows predicted in {seconds:.2f} s",
              markup=False, soft_wrap=True)  # fmt: skip
    if result.metrics:
        from explain.report.decision import metric_label

        scalars = {k: v for k, v in result.metrics.items() if isinstance(v, float | int)}
        units = (f" (errors in {predictor.target_name}'s units)"
                 if predictor.task == "regression" else "")  # fmt: skip
        shown = ", ".join(f"{metric_label(k)} {v:.4g}" for k, v in scalars.items())
        out.print(f"against {predictor.target_name!r}: {shown}{units}", markup=False,
                  soft_wrap=True)  # fmt: skip
        for each in result.metrics.get("per_output") or []:  # outputs of their own scales
            own = ", ".join(f"{metric_label(k)} {v:.4g}" for k, v in each.items()
                            if k != "output" and isinstance(v, float | int))  # fmt: skip
            out.print(f"  output {each.get('output')}: {own}", markup=False, soft_wrap=True)
    if result.caveat:
        out.print(f"note: {result.caveat}", markup=False, soft_wrap=True)


_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst")
_OTHER_FORMATS = {".npz", ".npy", ".json", ".jsonl", ".parquet", ".pq", ".feather", ".arrow",
                  ".xlsx", ".xls", ".pkl", ".pickle", ".h5", ".hdf5", ".pt", ".pth", ".onnx",
                  ".html", ".htm", ".db", ".sqlite"}  # fmt: skip


def _separator(path: Path) -> str:
    """The column separator ``-o``'s name asks for: a tab for .tsv, else a comma (optionally
    compressed, as pandas infers from the name). The suffix of another format is refused:
    ``-o preds.npz`` had written CSV text into a file numpy could not read."""
    suffixes = [x.lower() for x in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind == ".tsv":
        return "\t"
    if kind not in _OTHER_FORMATS:
        return ","
    raise NasError(f"-o {path} names a {kind} file, but predictions are written as a table of "
                   "text: give -o a .csv or .tsv name (.csv.gz to compress).")  # fmt: skip
