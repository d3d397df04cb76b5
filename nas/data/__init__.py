"""Datasets for the search: built-ins and the user's CSV/NPZ files, as :class:`TaskData`.

Every loader splits train / val / test deterministically from ``seed`` (stratified for
classification) and fits all preprocessing on train only, recording it in
``TaskData.preprocessing`` (JSON-able) under these keys:

- ``source``: where the data came from; ``split``: method, seed and sizes;
- ``inputs``: how X was scaled (method, ``fitted_on``, per-feature/channel ``mean``/``std``);
- ``y_mean`` / ``y_std``: regression targets' train statistics (undo: ``TaskData.inverse_target``);
- ``task``: for files, the inferred task, the given one and the rule (:data:`TASK_RULE`);
- CSV only: ``imputation`` (column, missing count, strategy, fill value), ``encoding`` (one-hot
  categories), ``dropped_rows`` (missing target), ``dropped_columns``, and ``transform``: the
  fitted transform itself (:class:`nas.data.transform.TabularTransform`), the one implementation
  applied both here and to new rows by ``nas predict`` (arrays: ``inputs``, rebuilt as an
  :class:`~nas.data.transform.ArrayTransform`).

``TaskData.fingerprint`` says what the data's content is (:mod:`nas.data.fingerprint`), so a
resume on other data is refused; ``TaskData.notes`` says what the user should know of how a
file was read (rows left out, gaps filled, the task inferred), one sentence each.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

from nas.data.builtin import (
    BUILTIN_DATASETS,
    DatasetInfo,
    dataset_info,
    dataset_names,
    list_datasets,
    load_dataset,
)
from nas.data.files import SUPPORTED_SUFFIXES, load_file
from nas.data.prepare import TASK_RULE, check_task
from nas.data.registered import register_dataset, unregister_dataset
from nas.data.taskdata import Split, TaskData
from nas.errors import DataError


def load_data(
    dataset: str | None = None,
    data: str | PathLike[str] | None = None,
    target: str | None = None,
    task: str | None = None,
    seed: int = 0,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    drop: Sequence[str] = (),
) -> TaskData:
    """The one entry point: a built-in ``dataset`` by name, or a ``data`` file (CSV/TSV/NPZ).

    Exactly one of the two. ``target`` names a CSV's target column and ``drop`` columns to leave
    out; ``task`` overrides the inferred task of a file (for a built-in it must match the
    dataset's own task).
    """
    if (dataset is None) == (data is None):
        got = "both" if dataset is not None else "neither"
        raise DataError(
            f"Give exactly one of dataset=<name> (--dataset) or data=<path> (--data), got {got}; "
            f"datasets: {', '.join(dataset_names())}."
        )
    if data is not None:
        return load_file(
            data,
            target=target,
            task=task,
            seed=seed,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            drop=drop,
        )
    name = str(dataset)  # not None: exactly one of the two was given
    task = check_task(task)
    info = dataset_info(name)
    if target is not None or drop:
        what = f"target={target!r}" if target is not None else f"drop={list(drop)!r}"
        raise DataError(
            f"{what} applies to data files only; built-in dataset {name!r} has fixed columns "
            "and target. Leave it out, or pass your own file with data=<path>."
        )
    if task is not None and task != info.task:
        raise DataError(
            f"Built-in dataset {name!r} is a {info.task} task, not {task}; leave task out "
            "or choose a dataset of that task (see list_datasets())."
        )
    return load_dataset(name, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)


__all__ = [
    "BUILTIN_DATASETS",
    "SUPPORTED_SUFFIXES",
    "TASK_RULE",
    "DatasetInfo",
    "Split",
    "TaskData",
    "dataset_info",
    "dataset_names",
    "list_datasets",
    "register_dataset",
    "unregister_dataset",
    "load_data",
    "load_dataset",
    "load_file",
]
