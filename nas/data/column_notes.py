"""What a CSV's columns may be hiding, said as notes before the search (``TaskData.notes``;
recorded in run.json's ``data_info.notes``, shown by ``nas show`` and the report).

Each is a trap a real file sets, which scores hide: a target with a long tail; a perfect test
score from a column that is the target under another name; an ID or row number a model can
learn the file's order from; test rows that are copies of training rows; and columns nas reads
otherwise than a person would think (numbers with a few words in them, dates, text of many
values, a constant). None refuses the file: each names the column and what to do; the user
knows what it means.
"""

from __future__ import annotations

import re
import shlex
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nas.data.transform import OTHER, as_text, is_numeric, label_name

MIN_ROWS = 20  # fewer rows say nothing about a column's pattern
SAME_AS_TARGET_R = 0.999999  # |correlation| of a regression feature with its target: a copy
# a column alone predicts the target "almost exactly" when its nearest rows' vote is right this
# often (classification: the share of the errors of always saying the most frequent class that
# it removes; iris's best column, petal width, removes 0.92) or explains this share of the
# target's variance (regression; a feature of correlation 0.99 explains about 0.976)
NEAR_CLASS = 0.96
NEAR_R2 = 0.995
_NEIGHBOURS = (-1, 1, -2, 2)  # the rows either side in the column's order
NEAR_ROWS = 20_000  # of the training rows at most, drawn at random: enough to judge a column
DISTINCT_SHARE = 0.5  # duplicates are copies only where most rows are distinct
NUMBER_SHARE = 0.5  # a text column this share of whose cells are numbers
DATE_SHARE = 0.9  # a text column this share of whose cells read as dates
SKEW = 2.0  # a positive regression target's skewness above which its tail is said
_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?")


def column_notes(
    frame: pd.DataFrame,
    features: Sequence[str],
    target: str,
    task: str,
    indices: tuple[np.ndarray, ...],
    transform: dict[str, Any],
) -> tuple[list[str], list[str], list[int]]:
    """The notes for the feature columns ``features`` of ``frame`` (the rows kept, in the
    file's order), its ``target`` column, the split ``indices`` and the fitted ``transform``
    record (``TabularTransform.to_dict``); and those of them that can make the test score
    overstate the model (a copy of the target, an ID, test rows copied from training rows),
    which the report's first screen repeats; and the positions in the test split of its rows
    that repeat a training or validation row (the report scores the models without them)."""
    if len(frame) < MIN_ROWS:
        return [], [], []
    notes: list[str] = _skewed_target(frame[target].iloc[indices[0]], task, target)
    for c in features:
        exact = _same_as_target(frame[c], frame[target], task, c, target)
        notes += exact
        notes += (
            [] if exact else _predicts_target(frame[c], frame[target], task, c, target, indices[0])
        )
        notes += _identifier(frame[c], c)
    copied, repeated = _copies(frame[list(features)], indices)
    notes += copied
    leaks = [n for n in notes if not n.startswith("target ")]  # what can inflate the test score
    categorical = transform.get("categorical") or {}
    train = indices[0]
    capped = []  # (column, distinct values) of text read as its most frequent categories
    for c in features:
        said = _read_as(frame[c], c, categorical.get(c), train)
        record = categorical.get(c)
        if not said and isinstance(record, dict) and record.get("other"):
            capped.append((c, len(record.get("categories") or []) + len(record["other"])))
        notes += said
    return notes + _capped(capped, categorical), leaks, repeated


def _capped(capped: list[tuple[str, int]], categorical: dict[str, Any]) -> list[str]:
    """One note for the text columns of more values than become categories."""
    if not capped:
        return []
    kept = len(categorical[capped[0][0]].get("categories") or [])
    shown = ", ".join(f"{c!r} ({n})" for c, n in capped[:4])
    more = f" and {len(capped) - 4} more" if len(capped) > 4 else ""
    one = len(capped) == 1
    return [
        f"text column{'' if one else 's'} {shown}{more} {'has' if one else 'have'} more "
        f"distinct values in the training rows than become categories: the {kept} most "
        f"frequent of each are categories and the others share one {OTHER!r} feature; free "
        "text or codes may need turning into numbers in the file."
    ]


def _skewed_target(y: pd.Series, task: str, target: str) -> list[str]:
    """A positive regression target with a long right tail (prices, counts, durations): the
    squared error is dominated by its largest values, and a network may predict below 0."""
    if task != "regression" or not is_numeric(y):
        return []
    v = y.to_numpy(dtype=np.float64)
    if len(v) < MIN_ROWS or v.min() <= 0:
        return []
    skew = float(np.mean((v - v.mean()) ** 3) / v.std() ** 3) if v.std() > 0 else 0.0
    if skew < SKEW:
        return []
    ratio = v.max() / np.median(v)
    return [
        f"target {target!r} is positive with a long right tail (skewness {skew:.1f} in the "
        f"training rows; its largest value {ratio:.0f}x the median): squared errors are "
        "dominated by the largest values, and the model may predict below 0; a column "
        f"log({target}) as the target may fit better (its predictions are then logarithms)."
    ]


def _drop(c: str) -> str:
    return f"drop it with --drop {shlex.quote(c)} (drop=[{c!r}])"


def _same_as_target(x: pd.Series, y: pd.Series, task: str, c: str, target: str) -> list[str]:
    """A column that gives the target exactly: each of its values goes with one class (and
    it repeats, so it is not an ID), or a regression's target up to a linear rescale."""
    both = x.notna() & y.notna()
    x, y = x[both], y[both]
    if task == "classification":
        distinct = x.nunique()
        if distinct < 2 or distinct > len(x) / 2:
            return []
        if (y.groupby(x.to_numpy()).nunique() > 1).any():
            return []
        how = f"each of its {distinct} values goes with one class of {target!r}"
    else:
        if not is_numeric(x) or x.nunique() < 3:
            return []
        r = np.corrcoef(x.to_numpy(dtype=np.float64), y.to_numpy(dtype=np.float64))[0, 1]
        if not abs(r) >= SAME_AS_TARGET_R:
            return []
        how = f"it is {target!r} up to a linear rescale (correlation {r:+.6f})"
    return [
        f"column {c!r} gives the target exactly in every row ({how}): if it is the target "
        "under another name, or is known only after the outcome, a test score near perfect "
        f"says nothing of new rows; {_drop(c)}."
    ]


def _predicts_target(
    x: pd.Series, y: pd.Series, task: str, c: str, target: str, train: np.ndarray
) -> list[str]:
    """A column that alone predicts the target almost exactly in the training rows (a near copy
    of it with a little noise, an ID the file was numbered by outcome, a value known only after
    the outcome): each training row's target is predicted from its neighbours in the column's
    order (the majority class of the four nearest; a number on the line through the two either
    side), ties in the column in a seeded random order. Only the training rows' targets are
    read."""
    x, y = x.iloc[train], y.iloc[train]
    both = (x.notna() & y.notna()).to_numpy()
    n = int(both.sum())
    if n < MIN_ROWS:
        return []
    xs, ys = x.to_numpy()[both], y.to_numpy()[both]
    shuffled = np.random.default_rng(0).permutation(n)[:NEAR_ROWS]  # ties: no order from the file
    xs, ys = xs[shuffled], ys[shuffled]
    n = len(xs)
    key = xs.astype(np.float64) if is_numeric(x) else pd.factorize(as_text(pd.Series(xs)))[0]
    ys = ys[np.argsort(key, kind="stable")]
    rows = np.arange(n)
    if task == "classification":
        codes, _ = pd.factorize(pd.Series(ys).astype(str))
        votes = np.zeros((n, int(codes.max()) + 1))
        for step in _NEIGHBOURS:  # the nearer neighbour on the left breaks a tie
            there = rows + step
            ok = (there >= 0) & (there < n)
            np.add.at(votes, (rows[ok], codes[there[ok]]), 1.5 if step == -1 else 1.0)
        right = float(np.mean(votes.argmax(axis=1) == codes))
        most = float(np.bincount(codes).max() / n)
        if most >= 1 or (right - most) / (1 - most) < NEAR_CLASS:
            return []
        how = (
            f"the majority class of the 4 training rows nearest in it is right for {right:.1%} "
            f"of training rows, where the most frequent class is {most:.1%}"
        )
    else:
        if not is_numeric(y):
            return []
        v = ys.astype(np.float64)
        # each row from the rows either side of it in the column's order: the straight line
        # through them where the column's values differ (a smooth relation is followed, not
        # blurred), else their mean; a row at either end from its one neighbour
        k = np.sort(key)
        top = float(np.max(np.abs(k))) if n else 0.0
        if 0 < top < np.inf:  # shares of the gaps, not the gaps: +-1e308 had overflowed them
            k = k / top
        left, right = np.r_[v[1], v[:-1]], np.r_[v[1:], v[-2]]
        kl, kr = np.r_[k[1], k[:-1]], np.r_[k[1:], k[-2]]
        apart = kr != kl
        share = np.divide(k - kl, kr - kl, out=np.full(n, 0.5), where=apart)
        guess = left + (right - left) * share
        spread = float(np.sum((v - v.mean()) ** 2))
        r2 = 1 - float(np.sum((v - guess) ** 2)) / spread if spread > 0 else 0.0
        if not r2 >= NEAR_R2:  # NaN is no evidence (it had flagged a column of +-1e308)
            return []
        how = f"the rows either side of each training row in it give {target!r} with R² {r2:.4f}"
    return [
        f"column {c!r} alone predicts the target almost exactly ({how}): if it is the target "
        "in another form, or is known only after the outcome, the test score overstates what "
        f"the model does on new rows; {_drop(c)} unless it is known when you predict."
    ]


def _identifier(x: pd.Series, c: str) -> list[str]:
    """A column with a different value in every row: whole numbers in order or consecutive
    (a row number, an ID), or text (names, keys)."""
    if x.isna().any() or x.nunique() < len(x):
        return []
    if is_numeric(x):
        v = x.to_numpy(dtype=np.float64)
        if not np.all(v == np.round(v)):
            return []
        step = np.diff(v)
        ordered = bool(np.all(step > 0) or np.all(step < 0))
        if not ordered and v.max() - v.min() + 1 != len(v):
            return []
        how = "in increasing order" if ordered and step[0] > 0 else (
            "in decreasing order" if ordered else "consecutive")  # fmt: skip
        return [
            f"column {c!r} holds a different whole number in every row, {how} (a row number "
            "or an ID?): a model can learn where a row sits in the file instead of what it "
            f"says, which new rows do not share; {_drop(c)} unless its value means something."
        ]
    if pd.api.types.is_bool_dtype(x):
        return []
    return [
        f"column {c!r} has a different value in every row (an ID, a name or free text?): as "
        f"categories it tells the model nothing it can use on new rows; {_drop(c)}."
    ]


def _copies(features: pd.DataFrame, indices: tuple[np.ndarray, ...]) -> tuple[list[str], list[int]]:
    """Test rows without gaps whose features repeat a training or validation row's exactly,
    where most rows are distinct (so a repeat is a copy, not the few values a column takes):
    the note, and their positions in the test split."""
    rows = pd.util.hash_pandas_object(features, index=False).to_numpy()
    if len(np.unique(rows)) < DISTINCT_SHARE * len(rows):
        return [], []
    whole = features.notna().all(axis=1).to_numpy()  # rows with a gap are alike in their gaps
    train, val, test = indices
    seen = set(rows[np.concatenate([train, val])].tolist())
    repeated = [k for k, i in enumerate(test.tolist()) if whole[i] and rows[i] in seen]
    if not repeated:
        return [], []
    return [
        f"{len(repeated)} of the {len(test)} test rows repeat a training or validation row's "
        "features exactly: the test score counts them, so it may overstate how the model does "
        "on rows it has not seen (the report also scores the models on the others); remove the "
        "duplicate rows from the file to test on new rows."
    ], repeated


def _read_as(x: pd.Series, c: str, categorical: Any, train: np.ndarray) -> list[str]:
    """How a column is read where a person might expect otherwise: a constant, numbers with
    some words in them, or dates (text of many values: :func:`_capped`)."""
    present = x.iloc[train].dropna()
    if present.nunique() == 1:
        value = label_name(present.iloc[0])
        return [f"column {c!r} has one value ({value}) in every training row: it tells the "
                f"model nothing; {_drop(c)}."]  # fmt: skip
    if not isinstance(categorical, dict):
        return []  # read as numbers
    text = pd.Series(as_text(x)).dropna().str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    words = text[numbers.isna()]
    if len(text) and len(words) < len(text) and numbers.notna().mean() >= NUMBER_SHARE:
        return [
            f"column {c!r} is read as categories, not numbers: {len(words)} of its "
            f"{len(text)} cells are not numbers (e.g. {words.iloc[0]!r}); empty those cells "
            "to have it read as numbers (empty cells are filled in)."
        ]
    other = list(categorical.get("other") or [])
    kept = len(categorical.get("categories") or [])
    if _dates(text):
        shown = f"its {kept} most frequent values" if other else "each date a category"
        return [
            f"column {c!r} holds dates, read as categories ({shown}): the model cannot use "
            "their order or distance; turn them into numbers in the file (e.g. days since "
            "the first date)."
        ]
    return []


def _dates(text: pd.Series) -> bool:
    """Whether nearly every cell reads as a date written with digits (2024-03-01, 1/3/2024)."""
    sample = text.iloc[:500]
    if not len(sample) or sample.str.match(_DATE_LIKE).mean() < DATE_SHARE:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it guesses a format per cell
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= DATE_SHARE)
