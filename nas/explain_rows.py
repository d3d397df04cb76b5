"""Explanations of NEW rows (``nas explain RUN --data new.csv --rows 0,5``).

The rows go through the run's recorded preprocessing by :func:`nas.predict.load_predictor`'s
own transform (the same notes and one-line errors as ``nas predict``), then through
:func:`explain.explanations.explain_model` as the test set is: the same method choice, zero
baseline and SHAP background (rows of the run's training split). Quality checks are not run.
The result is stored, readable, in ``RUN/explain-new/<file stem>/``: ``attributions.csv`` (one
line per row and method, one column per input feature; for a table, ``filled_in`` names the
columns the file left empty in that row, explained at the value that filled them) and
``explanations.json``. Not inside ``RUN/explain/``: re-explaining the test set replaces that
folder whole.

A regression's values are in the target's own units, as the test set's report shows them
(:class:`explain.report.local_plots.TargetUnits`): the attributions and their sum are the
model's standardized ones times the y_std of the output explained, the output and the output at
the baseline are predicted values (times y_std plus y_mean). A SHAP method that scores windows of
elements (time steps, image patches) splits a window's value equally over its elements: its
values are kept, said to be so in a note, and summed per window where a row's top inputs are
told (``RowExplanations.windows``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from nas import run as rundir
from nas.config import SearchConfig
from nas.errors import NasError, StorageError

FOLDER = "explain-new"  # in the run directory, one folder per explained file
TASKS = ("classification", "regression")
MAX_DEFAULT_ROWS = 20  # a file of more rows needs --rows
NO_CHECKS = "quality checks were not run for new rows (they need many examples)"


def no_checks(run: str | Path) -> str:
    """:data:`NO_CHECKS`, and where the checks of this run's test-set explanations are: in
    ``RUN/explain/``, or (a run searched with --no-explain) made by `nas explain RUN`."""
    if (Path(run) / "explain").is_dir():
        return f"{NO_CHECKS}; the test-set explanations in {Path(run) / 'explain'} have them"
    return (f"{NO_CHECKS}; this run has no test-set explanations yet: `nas explain {run}` "
            "makes them, with their checks")  # fmt: skip


_ROWS_SYNTAX = "--rows takes row numbers of the file counted from 0, e.g. --rows 0,5 or --rows 0-9"


@dataclass
class RowExplanations:
    """The explanations of some rows of a file: ``table`` (one line per row and method: the
    prediction, the class explained and its probability, the output and the output at the
    baseline, then one column per input feature), where they were stored, and notes."""

    rows: list[int]
    methods: list[str]
    table: pd.DataFrame
    folder: Path
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # per row (in ``rows``' order): the lowest agreement of two methods' rankings of its
    # inputs (None: one method, or a constant map); see :func:`row_agreement`
    agreement: list[float | None] = field(default_factory=list)
    # what the output, baseline output, attributions and sums are in (a regression: the
    # target's units; a classifier: the explained class's logit)
    units: str = ""
    # per method that scores windows of elements and splits each window's value equally over
    # them: window name -> its elements' columns in ``table`` (a window's total is its value)
    windows: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def parse_rows(rows: str | int | Sequence[int] | None) -> list[int] | None:
    """``"0,5"`` / ``"0-4"`` / ``[0, 5]`` -> row numbers (repeats dropped); a NasError else."""
    if rows is None:
        return None
    if isinstance(rows, str):
        out: list[int] = []
        for part in (p.strip() for p in rows.split(",")):
            m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
            if m is None or (m[2] is not None and int(m[2]) < int(m[1])):
                raise NasError(f"{_ROWS_SYNTAX}; got {rows!r}.")
            out += range(int(m[1]), int(m[2] or m[1]) + 1)
    else:
        items = [rows] if isinstance(rows, int | np.integer) else list(rows)
        if not all(isinstance(r, int | np.integer) and r >= 0 for r in items):
            raise NasError(f"{_ROWS_SYNTAX} (whole numbers >= 0); got {rows!r}.")
        out = [int(r) for r in items]
    if not out:
        raise NasError(f"{_ROWS_SYNTAX}; got no row.")
    return list(dict.fromkeys(out))


def explain_rows(
    run_dir: str | PathLike[str],
    data: str | PathLike[str] | None,
    rows: str | int | Sequence[int] | None = None,
    *,
    methods: Sequence[str] | None = None,
    seed: int = 0,
    threads: int | None = None,
) -> RowExplanations:
    """Explain rows ``rows`` of file ``data`` (numbered from 0 as in the file; default all of
    a file of at most 20 rows) with the run's winner, and store them in
    ``RUN/explain-new/<file stem>/``."""
    import time

    from explain.explanations import explain_model
    from nas.data.transform import TabularTransform
    from nas.predict import load_predictor, row_outputs
    from nas.reading import load_spec
    from nas.train import configure_threads

    start = time.perf_counter()
    wanted = parse_rows(rows)
    if data is None:
        raise NasError("--rows picks rows of a new file: give the file with --data new.csv "
                       "(without --data, nas explain explains the run's test split).")  # fmt: skip
    run = Path(run_dir)
    config = SearchConfig.read(run)
    task = config.data_info.get("task")
    best = run / "best" if (run / "best" / "spec.json").is_file() else run
    # the winner must be one network with a task (a GAN's spec has none); none yet: the
    # predictor says so below
    winner = load_spec(best) if (best / "spec.json").is_file() else None
    if task not in TASKS or (winner is not None and getattr(winner, "task", None) not in TASKS):
        raise NasError(
            f"{run} is a {config.kind} run ({task}); new-row explanations are for classifiers "
            "and regressors only. Run `nas explain RUN` without --data for its own views."
        )
    predictor = load_predictor(run)
    rundir.check_writable(run, run / FOLDER, "the explanations")  # before the work
    file = Path(data)
    raw, _ = predictor.read_file(file, to="explain")
    n = len(raw)
    if wanted is None:
        if n > MAX_DEFAULT_ROWS:
            raise NasError(f"{file.name} has {n} rows; choose the rows to explain with --rows "
                           f"(e.g. --rows 0,5 or --rows 0-9; all rows only up to "
                           f"{MAX_DEFAULT_ROWS}).")  # fmt: skip
        wanted = list(range(n))
    outside = [r for r in wanted if r >= n]
    if outside:
        raise NasError(f"row {outside[0]} is not in {file.name}: it has {n} rows, numbered 0 "
                       f"to {n - 1}.")  # fmt: skip
    # the whole file through the predictor, as `nas predict` would: the same errors and notes
    X_all = predictor.inputs(raw, source=file.name)
    X = X_all[wanted].float()
    notes = list(predictor.notes)
    # a table's cells the file left empty, per column (None: not a table, nothing to fill)
    tabular = isinstance(predictor.transform, TabularTransform)
    filled = {c: set(r) for c, r in predictor.filled.items()} if tabular else None
    configure_threads(threads)
    train = _run_data(run, config)
    outputs = row_outputs(predictor.model, X)
    classify = task == "classification"
    dummy = torch.as_tensor(outputs.argmax(1) if classify else outputs)
    new = dataclasses.replace(train, test=type(train.test)(X, dummy))
    exp = explain_model(predictor.model, new, samples=len(X), methods=methods, checks=False,
                        seed=seed)  # fmt: skip
    names = _names(exp)
    scales = target_units(predictor, outputs.shape[1]) if not classify else None
    records = _records(exp, predictor, wanted, outputs, filled, scales)
    windows = _windows(exp, names)
    notes += [_split_note(m, exp.attributions[m].params, w) for m, w in windows.items()]
    from explain.quality import AGREEMENT_WARN

    agreement = [row_agreement(rec, exp.input_shape) for rec in records]
    disagree = [r for r, rho in zip(wanted, agreement, strict=True)
                if rho is not None and rho < AGREEMENT_WARN]  # fmt: skip
    if disagree:
        notes.append(_disagreement(disagree, len(wanted)))
    table = _table(records, names)
    for rec in records:  # the values by feature name, for a person reading the JSON
        for method, m in rec["methods"].items():
            if len(m["values"]) == len(names):
                by_name = dict(zip(names, m.pop("values").tolist(), strict=True))
                m["attributions"] = by_name
                if method in windows:  # the only values of such a method that mean anything
                    m["windows"] = {w: math.fsum(by_name[c] for c in cols)
                                    for w, cols in windows[method].items()}  # fmt: skip
    units = _units(classify, predictor.target_name, scales)
    meta = {
        "run": str(run), "file": str(file), "rows": wanted, "task": task,
        "target": predictor.target_name, "feature_names": names, "units": units,
        "methods": {m: a.meta() for m, a in exp.attributions.items()},
        "checks": no_checks(run), "notes": notes, "explanations": records,
    }  # fmt: skip
    folder = _store(run, file, _plain(meta), table)
    # the windows' elements as the table's columns (a feature named as a fixed column is
    # "feature:<name>" there); the feature columns come last, in the names' order
    column = dict(zip(names, table.columns[-len(names) :] if len(table) else names, strict=True))
    windows = {m: {w: [column[c] for c in cols] for w, cols in by_window.items()}
               for m, by_window in windows.items()}  # fmt: skip
    return RowExplanations(wanted, list(exp.attributions), table, folder, notes,
                           time.perf_counter() - start, agreement, units["said"],
                           windows)  # fmt: skip


def target_units(predictor: Any, width: int) -> list[Any]:
    """A regression's scale per output (:class:`explain.report.local_plots.TargetUnits`, as the
    test set's report converts its explanations): the model's standardized output ``z`` is
    ``z * y_std + y_mean`` in the target's units, an attribution ``a`` is ``a * y_std``. A run
    whose targets were not standardized keeps its outputs (scale 1, shift 0)."""
    from explain.report.local_plots import TargetUnits

    pre = predictor.preprocessing
    mean, std = pre.get("y_mean"), pre.get("y_std")
    if mean is None or std is None:
        mean, std = [0.0] * width, [1.0] * width
    mean, std = np.broadcast_to(mean, width), np.broadcast_to(std, width)
    name = predictor.target_name
    return [TargetUnits(float(mean[j]), float(std[j]), name if width == 1 else f"{name} {j}")
            for j in range(width)]  # fmt: skip


def _units(classify: bool, target: str, scales: list[Any] | None) -> dict[str, Any]:
    """explanations.json's ``units``: what the outputs and attributions are in, said."""
    if classify or not scales:
        return {"of": "logit", "said": "output, baseline_output, the attributions and their "
                "sum are the logit of the class explained (the model's output before softmax), "
                "not a probability"}  # fmt: skip
    if len(scales) == 1:
        said = (f"output and baseline_output are the predicted {target}, the attributions and "
                f"their sum changes in it, in {target}'s own units (the model's standardized "
                "values times y_std; the outputs plus y_mean)")  # fmt: skip
    else:
        said = (f"each row's values are in the own units of the output it explains (units, "
                f"output_explained j): the predicted {target} j and changes in it (the model's "
                "standardized values times that output's y_std; the outputs plus its "
                "y_mean)")  # fmt: skip
    said += "; the methods' additivity errors (methods) stay standardized"
    return {"of": [u.name for u in scales] if len(scales) > 1 else target,
            "y_mean": [u.mean for u in scales], "y_std": [u.std for u in scales],
            "said": said}  # fmt: skip


def row_agreement(record: dict[str, Any], input_shape: Sequence[int]) -> float | None:
    """The lowest, over pairs of methods, weighted rank agreement (Spearman's rho, each input
    unit weighted by its share of the two maps: :func:`explain.compare.rank_agreement`, as the
    test set's agreement check) of the two methods' |attributions| of one row, per unit
    (feature, time step or pixel); stored per pair as the record's ``agreement``. None with one
    method, or where a map is constant (nothing to rank)."""
    from explain.compare import rank_agreement, unit_maps

    maps = {m: unit_maps(np.asarray(v["values"]).reshape(1, *input_shape))[0]
            for m, v in record["methods"].items()}  # fmt: skip
    pairs = {f"{a} vs {b}": rank_agreement(maps[a], maps[b])
             for a, b in itertools.combinations(maps, 2)}  # fmt: skip
    record["agreement"] = {k: (round(v, 4) if math.isfinite(v) else None) for k, v in pairs.items()}
    finite = [v for v in pairs.values() if math.isfinite(v)]
    return min(finite) if finite else None


def _disagreement(rows: list[int], explained: int) -> str:
    """The note on rows whose methods rank the inputs unrelatedly."""
    from explain.quality import AGREEMENT_WARN

    listed = ", ".join(map(str, rows[:10])) + (" ..." if len(rows) > 10 else "")
    return (
        f"the methods disagree on {len(rows)} of {explained} row(s) ({listed}): their rankings "
        f"of the inputs agree below {AGREEMENT_WARN} (weighted rank agreement, where 1 is the "
        "same ranking), so which inputs drove those predictions is uncertain; read them as "
        "two answers, not one (attributions.csv holds each method's values)."
    )


def _run_data(run: Path, config: SearchConfig) -> Any:
    """The run's data (its training split gives SHAP's background), unchanged since."""
    data = config.load_data()
    changed = config.data_changed(data.fingerprint)
    if changed:
        raise NasError(
            f"The data of {str(run)!r} changed since its search ({changed}); the explanations' "
            "SHAP background comes from its training rows: restore that data."
        )
    return data


def _names(exp: Any) -> list[str]:
    size = math.prod(exp.input_shape)
    if len(exp.feature_names) == size:
        return [str(f) for f in exp.feature_names]
    return [f"x[{','.join(map(str, i))}]" for i in np.ndindex(*exp.input_shape)]


def _records(
    exp: Any, predictor: Any, rows: list[int], outputs: np.ndarray,
    filled: dict[str, set[int]] | None = None, scales: list[Any] | None = None,
) -> list[dict]:  # fmt: skip
    """Per row: the prediction (as `nas predict` writes it), the class explained and its
    probability, the columns the file left empty there (``filled_in``: explained at the
    training median / most frequent category that filled them, not at a value of the file),
    and per method the output, the output at the baseline and the values; a regression's in
    the units of the output explained (``scales``: :func:`target_units`)."""
    classify = exp.task == "classification"
    from nas.predict import _softmax

    predicted, proba = predictor._decide(outputs), _softmax(outputs)
    records = []
    for i, row in enumerate(rows):
        rec: dict[str, Any] = {"row": row}
        if predicted.ndim == 1:
            rec["prediction"] = _plain(predicted[i])
        else:
            rec.update({f"prediction_{j}": _plain(v) for j, v in enumerate(predicted[i])})
        if filled is not None:
            rec["filled_in"] = "; ".join(c for c, r in filled.items() if row in r)
        rec["methods"] = {}
        for method, a in exp.attributions.items():
            values = np.asarray(a.values[i], dtype=np.float64).reshape(-1)
            t = int(a.targets[i])
            if classify:  # every method explains the predicted class
                rec["class_explained"], rec["probability"] = exp.class_names[t], float(proba[i, t])
            else:
                rec["output_explained"] = t
            base = np.nan if a.base_values is None else float(a.base_values[i])
            output = float(outputs[i, t])
            if scales is not None:  # standardized -> the target's units, as `nas predict`'s
                rec["units"] = scales[t].name
                output, base = scales[t].value(output), scales[t].value(base)
                values = values * scales[t].std
            rec["methods"][method] = {"output": output, "baseline_output": base,
                                      "sum": float(values.sum()), "values": values}  # fmt: skip
        records.append(rec)
    return records


def _windows(exp: Any, names: list[str]) -> dict[str, dict[str, list[str]]]:
    """Per method whose values are each window's (time steps, an image patch, given groups)
    value split equally over its elements: window name -> the names of its elements. Not
    one-hot groups: their value goes to the category the row has, as one feature's would."""
    from explain.shap_groups import ONE_HOT

    out = {}
    for method, a in exp.attributions.items():
        params = a.params or {}
        ids = params.get("group_ids")
        if not params.get("spread") or ids is None or str(params.get("groups")).startswith(ONE_HOT):
            continue
        ids = np.asarray(ids).reshape(-1)
        if len(ids) != len(names):
            continue
        out[method] = {_window_name(np.flatnonzero(ids == g), exp.input_shape, names): [
            names[k] for k in np.flatnonzero(ids == g)] for g in np.unique(ids)}  # fmt: skip
    return out


def _window_name(flat: np.ndarray, shape: Sequence[int], names: list[str]) -> str:
    """A window's elements as an index of the input: ``x[10,:]`` (step 10, every channel),
    ``x[8:10,:]``, ``x[0,0:4,4:8]`` (a patch); the feature names joined where it is no box."""
    if len(flat) == 1:
        return names[int(flat[0])]
    idx = np.stack(np.unravel_index(flat, tuple(shape)), axis=1)
    low, high = idx.min(0), idx.max(0) + 1
    if int(np.prod(high - low)) == len(flat) and len(shape) > 1:  # a box of the input's axes
        parts = [":" if lo == 0 and hi == n else str(lo) if hi == lo + 1 else f"{lo}:{hi}"
                 for lo, hi, n in zip(low, high, shape, strict=True)]  # fmt: skip
        return f"x[{','.join(parts)}]"
    said = [names[int(k)] for k in flat]
    return "+".join(said) if len(said) <= 3 else f"{said[0]}+...+{said[-1]} ({len(said)})"


def _split_note(method: str, params: dict[str, Any], windows: dict[str, list[str]]) -> str:
    """The note on a method whose values are its windows' split equally over their elements."""
    sizes = sorted({len(c) for c in windows.values()})
    size = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
    window, cols = next(((w, c) for w, c in windows.items() if len(c) > 1),
                        next(iter(windows.items())))  # fmt: skip
    example = f"{cols[0]} and {cols[1]}, both in {window}" if len(cols) > 1 else window
    return (
        f"{method} scores windows of {size} elements, not single elements "
        f"({params.get('groups')}), and splits each window's value equally over its "
        f"elements: the elements of one window (e.g. {example}) get equal values by "
        "construction, so only a window's total means anything. attributions.csv keeps the "
        "split values (a window's elements add up to its value); explanations.json gives "
        "each window's total (windows), and the table shows the windows."
    )


def _table(records: list[dict], names: list[str]) -> pd.DataFrame:
    """One line per row and method; feature columns last (renamed if one is a fixed name)."""
    lines = []
    for rec in records:
        head = {k: v for k, v in rec.items() if k not in ("methods", "agreement")}
        for method, m in rec["methods"].items():
            if len(m["values"]) != len(names):  # not one value per input element
                continue
            fixed = {"row": head["row"], "method": method, **head}
            fixed.update({k: v for k, v in m.items() if k != "values"})
            cols = [f"feature:{n}" if n in fixed else n for n in names]
            lines.append({**fixed, **dict(zip(cols, m["values"].tolist(), strict=True))})
    return pd.DataFrame(lines)


def _store(run: Path, file: Path, meta: dict[str, Any], table: pd.DataFrame) -> Path:
    """``attributions.csv`` + ``explanations.json`` into a fresh folder, swapped in whole."""

    def fill(tmp: Path) -> None:
        table.to_csv(tmp / "attributions.csv", index=False)
        text = json.dumps(meta, indent=2, default=_plain, allow_nan=False)
        (tmp / "explanations.json").write_text(text, encoding="utf-8")

    rundir.check_inside(run, run / FOLDER / file.stem, "new rows' explanations")
    try:
        (run / FOLDER).mkdir(parents=True, exist_ok=True)
        return rundir.replace_dir(run / FOLDER / file.stem, fill)
    except OSError as e:  # a folder that became unwritable meanwhile, a full disk
        raise StorageError(f"Cannot store the explanations in {run / FOLDER} ({e.strerror or e}); "
                           "make the run directory writable, or copy the run somewhere you can "
                           "write and explain the copy.") from None  # fmt: skip


def _plain(value: Any) -> Any:
    """JSON-able: numpy scalars as Python ones, arrays as lists, NaN as null."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


__all__ = ["FOLDER", "NO_CHECKS", "RowExplanations", "explain_rows", "no_checks", "parse_rows"]
