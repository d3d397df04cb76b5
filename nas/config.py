"""One search configuration, frozen: what a search is asked to do, and the run's record.

:class:`SearchConfig` is what ``run.json`` holds (schema-versioned), what ``nas worker``
processes read from the study to join it, what ``nas explain`` / ``nas report`` / resume read
back, and what a resume compares field by field. Runs written before the schema had a version
(version 1: the same keys without ``schema_version`` / ``kind``) load into it unchanged.

The record keeps a fingerprint of the data (``data_fingerprint``: the sha256 of a file's bytes,
or of a built-in's arrays or generator), and a resume on other data is refused. A record written
before the fingerprint existed has none: its resume goes on (there is nothing to compare; the
session warns) and records the fingerprint from then on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from os import PathLike
from pathlib import Path
from typing import Any

from nas.cost import Budget
from nas.data import TaskData, load_data
from nas.data.fingerprint import short
from nas.deadline import LONGEST
from nas.errors import NasError, UnknownNameError
from nas.kinds.registry import get_kind, kind_for_space
from nas.reading import home
from nas.trial import SearchSettings
from search_spaces import Space, extensions, get_space

SCHEMA_VERSION = 2
RECORD = "run.json"  # in the run directory
_NAME_OK = re.compile(r"[^A-Za-z0-9._-]+")
_STUDY_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
# What decides the value of a trial: a re-run in the same run directory must keep them all, or
# its trials would not be comparable with the earlier ones (a new seed is a new data split).
# the data first: a run of another dataset is named by its dataset, not by the study name
# derived from it
RESUME_FIELDS = ("dataset", "data", "data_fingerprint", "target", "study", "drop", "task", "seed",
                 "metric", "objectives", "space_name", "budget", "epochs", "patience",
                 "kind", "min_faithfulness")  # fmt: skip


@dataclass(frozen=True)
class SearchConfig:
    """A search's configuration. Build one with :meth:`create` (checked keyword arguments),
    complete it with :meth:`resolve` once the data is loaded, and store it as ``run.json``."""

    study: str  # the Optuna study name (and the default run folder, runs/<study>)
    space: Space  # the search space, its dimensions included
    kind: str = "classifier"  # the registered search kind (nas.kinds)
    dataset: str | None = None  # a built-in dataset ...
    data: str | None = None  # ... or the absolute path of the user's CSV / NPZ file
    data_fingerprint: str | None = None  # "sha256:<hex>" of the data's content (set by resolve)
    target: str | None = None  # a CSV's target column
    drop: tuple[str, ...] = ()  # CSV columns left out
    task: str | None = None  # classification / regression (inferred from the data if None)
    seed: int = 0  # the split, the sampler and the weights
    budget: Budget = field(default_factory=Budget)
    metric: str | None = None  # the validation metric (the kind's default if None)
    objectives: tuple[str, ...] = ()  # metric first, then cost objectives; () = the metric
    directions: tuple[str, ...] = ()  # maximize / minimize per objective (set by resolve)
    epochs: int = 20  # the most epochs a trial trains
    patience: int = 5  # early stopping on the validation loss
    sampler: str = "tpe"
    pruner: str = "hyperband"
    top: int = 1  # Pareto-optimal models kept
    n_trials: int | None = None  # the study's total, shared by every worker
    timeout: float | None = None  # seconds after which no trial starts
    trial_timeout: float | None = None  # seconds a trial may run
    min_faithfulness: float | None = None  # a constraint on each trial's nas.faithfulness score
    jobs: int = 1  # worker processes on this machine
    warm_start: bool = True  # enqueue one known-good design per family first
    storage: str | None = None  # the storage URL, password redacted
    command: str | None = None  # the command line that started the search
    versions: Mapping[str, str] = field(default_factory=dict)  # nas, python, torch, optuna
    # the extension modules (names or .py files) that had registered blocks, spaces or kinds
    # when the search started: a later process must load them to read this run
    extensions: tuple[str, ...] = ()
    # "sha256:<hex>" of each extension's code (see extensions.digest): a resume with other code
    # is refused, a run read with other code warned of (/tmp/oG5 F4); {} in earlier runs
    extension_digests: Mapping[str, str] = field(default_factory=dict)
    data_info: Mapping[str, Any] = field(default_factory=dict)  # TaskData.describe()
    extras: Mapping[str, Any] = field(default_factory=dict)  # the kind's own (a GAN's scorer)
    schema_version: int = SCHEMA_VERSION

    # --- building one --------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        dataset: str | None = None,
        data: str | PathLike[str] | None = None,
        *,
        target: str | None = None,
        task: str | None = None,
        drop: Sequence[str] = (),
        space: str | Space = "auto",
        kind: str | None = None,
        budget: Budget | None = None,
        n_trials: int | None = None,
        timeout: float | None = None,
        epochs: int = 20,
        metric: str | None = None,
        objectives: str | Sequence[str] | None = None,
        sampler: str = "tpe",
        pruner: str = "hyperband",
        seed: int = 0,
        top: int = 1,
        study: str | None = None,
        patience: int = 5,
        jobs: int = 1,
        trial_timeout: float | None = None,
        min_faithfulness: float | None = None,
        warm_start: bool = True,
        command: str | None = None,
    ) -> SearchConfig:
        """A config from keyword arguments, checked; without ``n_trials`` and ``timeout``, 20
        trials. ``kind`` defaults to the kind the space implies (see :mod:`nas.kinds`)."""
        sp = space if isinstance(space, Space) else get_space(space)
        if n_trials is None and timeout is None:
            n_trials = 20
        for name, value in (("n_trials", n_trials), ("epochs", epochs), ("top", top),
                            ("jobs", jobs)):  # fmt: skip
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):  # fmt: skip
                raise NasError(f"{name} must be an integer >= 1, got {value!r}.")
        if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int)
                                     or patience < 1):  # fmt: skip
            raise NasError(
                f"patience must be an integer >= 1 (epochs without improvement "
                f"before a trial stops), or None for no early stop; got {patience!r}."
            )
        for name, seconds in (("timeout", timeout), ("trial_timeout", trial_timeout)):
            if seconds is not None and (isinstance(seconds, bool)
                                        or not isinstance(seconds, int | float)
                                        or not seconds > 0):  # fmt: skip
                raise NasError(f"{name} must be a number of seconds > 0 (or None for no "
                               f"limit), got {seconds!r}.")  # fmt: skip
            if seconds is not None and not seconds <= LONGEST:  # inf: /tmp/oD4 F5
                raise NasError(f"{name} must be a finite number of seconds, at most "
                               f"{LONGEST:,} (365 days), got {seconds!r}; None is no "
                               "limit.")  # fmt: skip
        if budget is not None and not isinstance(budget, Budget):
            raise NasError(f"budget must be a nas.Budget (e.g. nas.Budget(max_params=5000)), got "
                           f"{type(budget).__name__} {budget!r}.")  # fmt: skip
        if min_faithfulness is not None and (
            isinstance(min_faithfulness, bool)
            or not isinstance(min_faithfulness, (int, float))
            or not -1.0 <= float(min_faithfulness) <= 1.0
        ):
            raise NasError(
                f"min_faithfulness must be a number in [-1, 1] (the faithfulness score: 0 is "
                f"no better than a random order, 0.2 clearly better), got {min_faithfulness!r}."
            )
        if isinstance(objectives, str):
            objectives = [o.strip() for o in objectives.split(",")]
        if objectives is not None and (
            not isinstance(objectives, Sequence) or not all(isinstance(o, str) for o in objectives)
        ):
            raise NasError(
                f"objectives are names, as 'accuracy,params' or ['accuracy', 'params'] (the "
                f"metric first, then costs: params, flops, latency, memory); got {objectives!r}."
            )
        if objectives is not None and any(not o.strip() for o in objectives):
            raise NasError(
                f"objectives has an empty name in {objectives!r} (e.g. a stray comma); give "
                f"names as 'accuracy,params' (the metric first, then params, flops, latency, "
                f"memory or faithfulness)."
            )
        if data is not None and not isinstance(data, str | PathLike):
            raise NasError(f"data is the path of a CSV/TSV or NPZ file, got "
                           f"{type(data).__name__}.")  # fmt: skip
        return cls(
            study=check_study_name(study) if study is not None else _study_name(dataset, data, sp),
            space=sp,
            kind=get_kind(kind).name if kind else kind_for_space(sp.name).name,
            dataset=dataset,
            data=str(home(Path(data)).resolve()) if data is not None else None,
            target=target,
            drop=tuple(drop),
            task=task,
            seed=seed,
            budget=budget or Budget(),
            metric=metric,
            objectives=tuple(objectives or ()),
            epochs=epochs,
            patience=patience,
            sampler=sampler,
            pruner=pruner,
            top=top,
            n_trials=n_trials,
            timeout=timeout,
            trial_timeout=trial_timeout,
            min_faithfulness=None if min_faithfulness is None else float(min_faithfulness),
            jobs=jobs,
            warm_start=warm_start,
            command=command,
        )

    def resolve(self, data: TaskData, **more: Any) -> SearchConfig:
        """The config completed from the loaded data: its task and description, and the
        kind's metric, objectives and directions (the kind checks the data first); ``more``
        sets other fields (storage, command, versions, extras)."""
        kind = get_kind(self.kind)
        kind.check_data(data)
        metric, names, directions = kind.objectives(self.objectives or None, self.metric,
                                                    data.task)  # fmt: skip
        if self.min_faithfulness is not None and not kind.scores_faithfulness:
            raise NasError(
                f"A {kind.name} search cannot score its trials' explanations; drop "
                "--min-faithfulness."
            )
        return replace(self, task=data.task, metric=metric, objectives=tuple(names),
                       directions=tuple(directions), data_info=data.describe(),
                       data_fingerprint=data.fingerprint, **more)  # fmt: skip

    # --- using one -----------------------------------------------------------------------
    @property
    def space_name(self) -> str:
        return self.space.name

    def load_data(self) -> TaskData:
        """The data this search runs on (the same split: the same seed)."""
        try:
            return load_data(dataset=self.dataset, data=self.data, target=self.target,
                             task=self.task, seed=self.seed, drop=self.drop)  # fmt: skip
        except UnknownNameError as e:  # a registered dataset whose extension is not loaded
            if not any(not extensions.loaded(r) for r in self.extensions):
                raise
            message = extensions.not_loaded(RECORD, list(self.extensions), e) or str(e)
            raise NasError(message) from None

    def settings(self) -> SearchSettings:
        """What a trial of this search obeys."""
        if self.metric is None:
            raise NasError("internal: settings() of a config that was never resolved.")
        return SearchSettings(space=self.space, metric=self.metric, objectives=self.objectives,
                              budget=self.budget, epochs=self.epochs, patience=self.patience,
                              seed=self.seed, trial_timeout=self.trial_timeout,
                              min_faithfulness=self.min_faithfulness)  # fmt: skip

    def data_changed(self, fingerprint: str | None, now: str = "now") -> str | None:
        """How data of ``fingerprint`` differs from this search's, in words
        (``"data.csv: fingerprint ab12 then, cd34 now"``); None when it is the same data, or
        when the record is older than fingerprints and nothing can be compared."""
        if self.data_fingerprint is None or fingerprint == self.data_fingerprint:
            return None
        return (f"{self.data or self.dataset}: fingerprint {short(self.data_fingerprint)} "
                f"then, {short(fingerprint)} {now}")  # fmt: skip

    def resume_conflict(self, new: SearchConfig) -> str | None:
        """What makes ``new`` a different search from this one (then its trials cannot join
        this study), in words; None when it may resume this one."""
        mine, theirs = self.to_dict(), new.to_dict()
        fingerprints = self.data_fingerprint is not None and new.data_fingerprint is not None
        for name in RESUME_FIELDS:
            if name == "data_fingerprint" and self.data_fingerprint is None:
                continue  # a record older than fingerprints: nothing to compare
            if name == "data" and fingerprints:
                continue  # the bytes decide: the same ones at another path (moved, or another
                # machine's mount) are the same data, other ones are named as other data
            if _value(self, name) != _value(new, name):
                if name == "budget":  # as `nas show` says it, not two dicts of Nones
                    return f"budget {_limits(self.budget)}, not {_limits(new.budget)}"
                if name == "data_fingerprint":
                    return (
                        f"other data: {self.data or self.dataset} had fingerprint "
                        f"{short(self.data_fingerprint)} then, {short(new.data_fingerprint)} now"
                    )
                return f"{name}={mine.get(name)!r}, not {theirs.get(name)!r}"
        old_dims, new_dims = self.space.config, new.space.config
        changed = sorted(k for k in old_dims.keys() | new_dims.keys()
                         if old_dims.get(k) != new_dims.get(k))  # fmt: skip
        return f"other space dimensions ({', '.join(changed[:3])} differ)" if changed else None

    # --- run.json ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able; the keys of earlier run.json files keep their names and places."""
        out: dict[str, Any] = {"schema_version": self.schema_version}
        for f in fields(self):
            if f.name == "schema_version":
                continue
            value = getattr(self, f.name)
            if f.name == "space":
                out["space_name"] = value.name
                value = value.to_dict()
            elif f.name == "budget":
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = json.loads(json.dumps(dict(value), default=str))
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], *, source: str = RECORD) -> SearchConfig:
        """The inverse of :meth:`to_dict`; also reads the run.json of earlier versions (their
        kind follows from the space; keys this version does not know go to ``extras``).
        ``source`` names the record in error messages (its path)."""
        fix = "re-run the search into a new --out folder"
        if not isinstance(record, Mapping):
            raise NasError(
                f"{source} does not hold a JSON object (it holds a {type(record).__name__}); "
                "is this a nas run directory?"
            )
        version = record.get("schema_version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
            raise NasError(
                f"{source} has schema version {version!r}, newer than this nas reads "
                f"({SCHEMA_VERSION}); upgrade nas to open this run."
            )
        from nas.reading import check_fields  # the type of each value, by its field's

        check_fields(cls, record, source, fix)
        _check_target_scale(record.get("data_info"), source, fix)
        known = {f.name for f in fields(cls)} | {"space_name"}
        parts = {}
        for name, parse in (("space", Space.from_dict), ("budget", Budget.from_dict)):
            try:
                parts[name] = parse(record[name] if name == "space" else record.get(name) or {})
            except (KeyError, TypeError, ValueError, AttributeError, NasError) as e:
                _not_loaded(source, record, e)
                what = "is missing" if isinstance(e, KeyError) else f"cannot be read ({e})"
                raise NasError(
                    f"{source} is incomplete or damaged: its {name!r} {what}; {fix}."
                ) from None
        try:
            values = {k: v for k, v in record.items() if k in known and k != "space_name"}
            values.update(parts)
            for name in ("drop", "objectives", "directions", "extensions"):
                values[name] = tuple(record.get(name) or ())
            extras = dict(record.get("extras") or {})
            if version == 1:  # what older versions kept beside the known keys (a GAN's scorer)
                extras.update({k: v for k, v in record.items() if k not in known})
            values["extras"] = extras
            values["schema_version"] = SCHEMA_VERSION
            values["kind"] = record.get("kind") or kind_for_space(values["space"].name).name
            return cls(**values)
        except (KeyError, TypeError, ValueError, AttributeError, NasError) as e:
            _not_loaded(source, record, e)
            what = str(e) if isinstance(e, NasError) else f"{type(e).__name__}: {e}"
            raise NasError(f"{source} is incomplete or damaged ({what}); {fix}.") from None

    @staticmethod
    def study_location(run_dir: str | PathLike[str]) -> tuple[str, str | None]:
        """The study name and storage URL a run directory records: all that opening its study
        needs, read before (and even without) the rest of the record."""
        from nas import run as rundir

        path = rundir.readable_run_dir(run_dir) / RECORD
        record = rundir.read_json(path)
        study = record.get("study") if isinstance(record, Mapping) else None
        if not isinstance(study, str):
            raise NasError(f"{path} names no study; is this a nas run directory?")
        storage = record.get("storage")
        return study, storage if isinstance(storage, str) else None

    @classmethod
    def read(cls, run_dir: str | PathLike[str], *, warn: bool = True) -> SearchConfig:
        """The config of a run directory (its run.json). Every command that reads a run comes
        here: with ``warn``, an extension loaded now whose code is not the one the search ran
        (its recorded digest) is said in one warning line on stderr, once per process; the
        models are rebuilt from today's code (/tmp/oG5 F4)."""
        from nas import run as rundir
        from nas.terminal import say

        path = rundir.readable_run_dir(run_dir) / RECORD
        config = cls.from_dict(rundir.read_json(path), source=str(path))
        if warn:
            for line in extensions.changed_warning(str(path), config.extension_digests):
                say(f"warning: {line}")
        return config._moved_with(path.parent)

    def _moved_with(self, run_dir: Path) -> SearchConfig:
        """A data file kept inside the run directory (the estimators' ``data.npz``) moves with
        it: when the recorded path is gone and the run holds a file of that name, that file
        (the data fingerprint, checked where the data is used, says whether it is the same)."""
        if self.data is None or Path(self.data).exists():
            return self
        inside = run_dir / Path(self.data).name
        if not inside.is_file():
            return self
        return replace(self, data=str(inside.resolve()))

    def write(self, run_dir: str | PathLike[str]) -> Path:
        """Store as ``run_dir/run.json`` (atomically)."""
        from nas import run as rundir

        path = Path(run_dir) / RECORD
        rundir.write_json(path, self.to_dict())
        return path


def _check_target_scale(info: Any, source: str, fix: str) -> None:
    """A NasError when a regression's recorded target scale (``data_info.preprocessing``'s
    ``y_mean`` and ``y_std``) is not finite numbers, the std positive: every reader turns the
    stored outputs into the target's units with them. A y_std of 0 had made every interval
    "0 to 0" and turned `nas show`'s verdict over without a word; one of "abc" had been a
    traceback (/tmp/oZ D4)."""
    prep = info.get("preprocessing") if isinstance(info, Mapping) else None
    if not isinstance(prep, Mapping):
        return
    for key in ("y_mean", "y_std"):
        if key not in prep or prep[key] is None:
            continue
        value = prep[key]
        values = value if isinstance(value, list) else [value]
        good = bool(values) and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and (key == "y_mean" or v > 0) for v in values)  # fmt: skip
        if not good:
            what = "positive numbers (the target's scale)" if key == "y_std" else "numbers"
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise NasError(f"{source}: its data_info.preprocessing.{key} should be {what}, not "
                           f"{shown}; the run's record is damaged; {fix}.")  # fmt: skip


def _not_loaded(source: str, record: Mapping[str, Any], error: BaseException) -> None:
    """A NasError naming the extension to load when ``record`` (a run.json) cannot be read
    because an extension it was searched with is not loaded in this process."""
    message = extensions.not_loaded(source, record.get("extensions"), error)
    if message is not None:
        raise NasError(message) from None


def _limits(budget: Budget) -> str:
    """A budget's limits as `nas show` says them (``params <= 5,000, flops <= 1e+06``), or
    ``none``: the budget-mismatch error had printed two dicts of Python Nones (/tmp/oD4 F15)."""
    limits = {k: v for k, v in budget.to_dict().items() if v is not None}
    return ", ".join(f"{k.removeprefix('max_')} <= {v:,g}" for k, v in limits.items()) or "none"


def _value(config: SearchConfig, name: str) -> Any:
    return config.space.name if name == "space_name" else getattr(config, name)


def _study_name(dataset: str | None, data: str | PathLike[str] | None, space: Space) -> str:
    stem = dataset if dataset is not None else Path(str(data)).stem
    return _NAME_OK.sub("-", f"{stem}-{Path(space.name).stem}").strip("-.") or "study"


def check_study_name(name: Any) -> str:
    """``name`` if it is a study name (it is also the default run folder, ``runs/<study>``):
    letters, digits, ``-``, ``_`` and ``.``, not starting with a dot; a NasError otherwise."""
    if isinstance(name, str) and _STUDY_NAME.fullmatch(name):
        return name
    raise NasError(
        f"Study name {name!r} is not a name: use letters, digits, '-', '_' and '.' (not "
        "starting with a dot). To put the run in another folder, pass that path to --out."
    )


__all__ = ["RESUME_FIELDS", "SCHEMA_VERSION", "SearchConfig", "check_study_name"]
