"""CSV files as a tabular TaskData: text and numeric columns, gaps (the file is read by
:mod:`nas.data.csvfile`). Imputation, one-hot encoding and standardization are fitted on the
train rows only and recorded in ``TaskData.preprocessing``."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nas.data.column_notes import column_notes
from nas.data.csvfile import STRAY_SHARE, clean_name, column_as_written, read_table
from nas.data.prepare import (
    TASK_RULE,
    assemble,
    check_enough_rows,
    check_task,
    did_you_mean,
    encode_labels,
    infer_task,
    standardize_targets,
    task_note,
)
from nas.data.split import check_split_args, split_indices, split_record
from nas.data.taskdata import TaskData
from nas.data.transform import MAX_CATEGORIES, TabularTransform, as_text, is_numeric
from nas.errors import DataError

_is_numeric = is_numeric


def _is_row_number(series: pd.Series) -> bool:
    values = series.to_numpy()
    return _is_numeric(series) and bool(np.array_equal(values, np.arange(len(values))))


def load_csv(
    path: Path,
    *,
    target: str | None,
    task: str | None,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    drop: Sequence[str] = (),
) -> TaskData:
    """A CSV file as a tabular TaskData predicting column ``target``; see ``nas.data.load_file``."""
    check_split_args(seed, val_fraction, test_fraction)
    task = check_task(task)
    frame, delimiter = read_table(path)
    positions = {name: i for i, name in enumerate(frame.columns)}  # in the file, for re-reading
    # pandas' to_csv writes the row index as an unnamed first column: not a feature
    row_index = [c for c in frame.columns if c.startswith("Unnamed: ") and _is_row_number(frame[c])]
    frame = frame.drop(columns=row_index)
    columns = list(frame.columns)
    listing = ", ".join(repr(c) for c in columns)
    if target is None:
        raise DataError(
            f"No target column given for {path.name}; pass target=<column> (--target). "
            f"Columns: {listing}."
        )
    # 'vote' typed with the quotes a header once showed finds the column vote
    target = target if target in columns else clean_name(target)
    drop = [d if d in columns else clean_name(d) for d in drop]
    for name, role in [(target, "Target column")] + [(d, "Column to drop") for d in drop]:
        if name not in frame.columns:
            raise DataError(
                f"{role} {name!r} is not in {path.name}{did_you_mean(str(name), columns)}; "
                f"columns: {listing}."
            )
    if target in drop:
        raise DataError(f"Column {target!r} is both the target and a column to drop; drop only "
                        "feature columns (--drop).")  # fmt: skip
    features = [c for c in columns if c != target and c not in drop]
    if not features:
        raise DataError(f"{path.name} has no feature columns besides target {target!r}; add some.")
    prep: dict[str, Any] = {
        "source": {"path": str(path), "format": "csv", "delimiter": delimiter, "rows": len(frame)},
        "dropped_columns": list(drop) + row_index,
    }

    for column in [*features, target]:
        _check_stray_text(frame[column], column, path.name)
    missing_target = frame[target].isna().to_numpy()
    frame = frame.loc[~missing_target].reset_index(drop=True)
    dropped = int(missing_target.sum())
    prep["dropped_rows"] = {"missing_target": dropped}
    if frame.empty:
        raise DataError(f"Every row of {path.name} lacks target {target!r}; fill in the target.")
    without = f" with a value for target {target!r} ({dropped} lack one)" if dropped else ""
    check_enough_rows(len(frame), f"{path.name} has {len(frame)} data row(s){without}")
    notes: list[str] = []
    if dropped:
        notes.append(
            f"{dropped} of {len(missing_target)} rows of {path.name} have no value for target "
            f"{target!r} (an empty cell, or a row shorter than the header) and were left out."
        )
    for column in features:
        if frame[column].isna().all():
            raise DataError(
                f"Feature column {column!r} of {path.name} has no values (all {len(frame)} "
                f"missing); drop it with drop=[{column!r}] (--drop {shlex.quote(column)}) or "
                "fill it in."
            )

    for column in [*features, target]:
        if _is_numeric(frame[column]):
            infinite = int(np.isinf(frame[column].to_numpy(dtype=np.float64)).sum())
            if infinite:
                raise DataError(
                    f"Column {column!r} of {path.name} holds {infinite} infinite value(s); "
                    "replace them with numbers or leave the cells empty to have them imputed."
                )
    y_series = frame[target]
    y_values = y_series.to_numpy(dtype=np.float64) if _is_numeric(y_series) else y_series.to_numpy()
    inferred = infer_task(y_values)
    prep["task"] = {"inferred": inferred, "given": task, "rule": TASK_RULE}
    if task is None:
        notes.append(task_note(inferred, y_values, repr(target)))
    task = task or inferred
    if task == "classification":
        if _is_numeric(y_series):
            _check_one_spelling(path, delimiter, positions[target], ~missing_target, y_series)
        y, class_names = encode_labels(y_values, target)
    elif not _is_numeric(y_series):
        example = y_series.iloc[0]
        raise DataError(
            f"Target {target!r} holds text (e.g. {example!r}), so it cannot be regressed; use "
            "--task classification (task='classification' in Python) or a numeric target."
        )
    else:
        y, class_names = y_values, []
        if len(np.unique(y_values)) < 2:
            raise DataError(
                f"Target {target!r} of {path.name} has one value ({y_values[0]:g}) in all "
                f"{len(y_values)} rows: there is nothing to predict. Choose another target."
            )

    indices = split_indices(
        len(frame),
        y if task == "classification" else None,
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        class_names=class_names,
    )
    prep["split"] = split_record(indices, seed, stratified=task == "classification")
    X, feature_names, feature_prep = _fit_features(frame[features], indices, path.name)
    prep.update(feature_prep)
    notes.extend(_imputation_note(prep["imputation"], path.name))
    said, prep["leaks"], repeated = column_notes(frame, features, target, task, indices,
                                                 prep["transform"])  # fmt: skip
    if repeated:  # positions in the test split: the report scores the models without them
        prep["repeated_test_rows"] = repeated
    notes += said
    y_units = None
    if task == "regression":
        y_units = np.asarray(y, dtype=np.float64)
        y, target_prep = standardize_targets(y, indices[0])
        prep.update(target_prep)
    data = assemble(
        name=path.name,
        task=task,
        modality="tabular",
        X=X,
        y=y,
        indices=indices,
        feature_names=feature_names,
        class_names=class_names,
        target_name=target,
        preprocessing=prep,
        seed=seed,
        y_units=y_units,
    )
    data.notes = notes
    return data


#: A text column whose cells are numbers but for at most this share (and more than
#: MIN_DISTINCT_NUMBERS distinct numbers) is a numeric column with typos, not categories.
MIN_DISTINCT_NUMBERS = 20


def _check_one_spelling(
    path: Path, delimiter: str, position: int, kept: np.ndarray, numbers: pd.Series
) -> None:
    """A DataError when a numeric class column writes one number several ways ("01" and "1"):
    read as numbers they would silently be one class; as text, two."""
    try:
        written = column_as_written(path, delimiter, position)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError):
        return  # read_table read it: this second look is only a check
    if len(written) != len(kept):
        return
    written = written[kept].reset_index(drop=True)
    spellings = written.groupby(numbers.to_numpy()).unique()
    several = [sorted(map(str, s)) for s in spellings if len(s) > 1]
    if several:
        shown = " and ".join(repr(v) for v in several[0][:3])
        raise DataError(
            f"Target {numbers.name!r} of {path.name} writes one class label several ways "
            f"({shown}): as numbers they are one class, as text {len(several[0])}. Write each "
            "class one way (e.g. '1' everywhere, or text labels such as 'c01')."
        )


def _check_stray_text(series: pd.Series, column: str, file_name: str) -> None:
    """A DataError for a numeric column with a few cells that are not numbers (``12.5``, ``abc``,
    ``13.1``, ...): read as text it would become a column of categories, one per number, and
    the search would train on that without a word."""
    if _is_numeric(series) or pd.api.types.is_bool_dtype(series):
        return
    present = series.dropna()
    if present.empty:
        return
    numbers = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    bad = present[numbers.isna()]
    if bad.empty or len(bad) > STRAY_SHARE * len(present):
        return  # all numbers (read as such already), or a text column
    if numbers.nunique() <= MIN_DISTINCT_NUMBERS:
        return  # a few codes and some text: categories
    rows = ", ".join(str(int(i) + 1) for i in bad.index[:3]) + (", ..." if len(bad) > 3 else "")
    raise DataError(
        f"Column {column!r} of {file_name} holds numbers but for {len(bad)} cell(s) that are "
        f"not (e.g. {str(bad.iloc[0])!r}; data row(s) {rows}); correct them, or empty them to "
        "have them imputed."
    )


def _imputation_note(imputed: list[dict[str, Any]], file_name: str) -> list[str]:
    """One note for the feature cells that were missing (short rows leave gaps too)."""
    if not imputed:
        return []
    total = sum(item["missing"] for item in imputed)
    shown = ", ".join(f"{item['column']!r} ({item['missing']})" for item in imputed[:3])
    more = f" and {len(imputed) - 3} more" if len(imputed) > 3 else ""
    return [
        f"{total} missing feature value(s) of {file_name} were filled in with the median or "
        f"most frequent value of the training rows: {shown}{more}."
    ]


def _fit_features(
    frame: pd.DataFrame, indices: tuple[np.ndarray, ...], file_name: str
) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Impute, standardize and one-hot encode, fitted on train (:class:`TabularTransform`, the
    one implementation ``nas predict`` applies too); columns keep the file's order."""
    train = indices[0]
    for column in frame.columns:
        if frame[column].iloc[train].isna().all():
            raise DataError(
                f"Feature column {column!r} of {file_name} has no values in the training rows; "
                f"drop it with drop=[{column!r}] (--drop {shlex.quote(column)}) or fill it "
                "in."
            )
    transform = TabularTransform.fit(frame, train)
    prep: dict[str, Any] = {"transform": transform.to_dict()}
    imputed: list[dict[str, Any]] = []
    numeric = list(transform.numeric)
    for column in transform.columns:
        raw = frame[column].to_numpy() if column in numeric else as_text(frame[column])
        missing = int(pd.isna(raw).sum())
        if missing:
            num = transform.numeric.get(column)
            fill = num.median if num else transform.categorical[column].fill
            strategy = "median" if num else "most_frequent"
            imputed.append(_imputation(column, missing, strategy, fill, indices, raw))
    if numeric:
        prep["inputs"] = {
            "method": "standardize (StandardScaler)",
            "fitted_on": "train",
            "per": "feature",
            "columns": numeric,
            "mean": [transform.numeric[c].mean for c in numeric],
            "std": [transform.numeric[c].std for c in numeric],
        }
    if transform.categorical:
        prep["encoding"] = {
            "method": "one-hot (OneHotEncoder, handle_unknown='infrequent_if_exist')",
            "fitted_on": "train",
            "max_categories": MAX_CATEGORIES,
            "columns": {
                c: sorted(cat.categories + cat.other) for c, cat in transform.categorical.items()
            },
        }
    prep["imputation"] = imputed
    return transform.apply(frame, file_name).X, transform.feature_names, prep


def _imputation(
    column: str,
    missing: int,
    strategy: str,
    fill: float | str,
    indices: tuple[np.ndarray, ...],
    values: np.ndarray,
) -> dict[str, Any]:
    gaps = pd.isna(values)
    per_split = {
        part: int(gaps[idx].sum())
        for part, idx in zip(("train", "val", "test"), indices, strict=True)
    }
    return {
        "column": column,
        "missing": missing,
        "per_split": per_split,
        "strategy": strategy,
        "fill_value": fill,
        "fitted_on": "train",
        # the test rows (positions in the test split) whose cell was filled: the report marks
        # such a value on the examples it explains, which are the first test rows
        "test_rows": np.flatnonzero(gaps[indices[2]]).tolist(),
    }
