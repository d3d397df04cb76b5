"""What every space shares: the context it samples for, the dimensions of its config, and a
small sampler that reads a dimension from the config and asks the trial for a value.

Parameter names are stable and dotted (``cnn.b0.channels``); config keys name a dimension
without the block index (``cnn.channels``), so one range governs every block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from search_spaces.errors import SpaceError
from search_spaces.spaces._ranges import ODD, check_values
from search_spaces.spec import MODALITIES, TASKS, ArchSpec, BlockSpec, TrainSpec


@dataclass(frozen=True)
class SpaceContext:
    """What a space needs to know of the data: one example's shape, modality, task, outputs."""

    input_shape: tuple[int, ...]
    modality: str
    task: str
    output_size: int

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise SpaceError(f"modality must be one of {list(MODALITIES)}, got {self.modality!r}.")
        if self.task not in TASKS:
            raise SpaceError(f"task must be one of {list(TASKS)}, got {self.task!r}.")
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))

    @classmethod
    def of(cls, data: Any) -> SpaceContext:
        """From anything with input_shape, modality, task and output_size (e.g. TaskData)."""
        return cls(tuple(data.input_shape), data.modality, data.task, int(data.output_size))


class TrialLike(Protocol):
    """The part of ``optuna.Trial`` (and ``optuna.trial.FixedTrial``) a space uses."""

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...
    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


# --- dimensions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Fixed:
    value: Any


Dim = IntRange | FloatRange | Choice | Fixed


def dim_to_json(d: Dim) -> Any:
    """The TOML / JSON form of a dimension (the inverse of :func:`parse_dim`)."""
    if isinstance(d, Fixed):
        return d.value
    if isinstance(d, Choice):
        return {"choices": list(d.values)}
    return {"low": d.low, "high": d.high, **({"log": True} if d.log else {})}


def parse_dim(key: str, value: Any, default: Dim) -> Dim:
    """Parse one TOML value into a dimension, checked against the type of the default and
    against the values the dimension allows (``"space.toml: fnn.units"``: the file, then the
    dimension; see :mod:`search_spaces.spaces._ranges`)."""
    dim = _parse_dim(key, value, default)
    where, _, name = key.rpartition(": ")
    bounds = [dim.low, dim.high] if isinstance(dim, (IntRange, FloatRange)) else _values(dim)
    check_values(where or "space", name, list(bounds))
    if name in ODD:  # a conv kernel with 'same' padding: every value the trials may take
        values = range(dim.low, dim.high + 1) if isinstance(dim, IntRange) else bounds
        even = [v for v in values if isinstance(v, int) and v % 2 == 0]
        if even:
            raise SpaceError(
                f"{key} may be {even[0]}, an even kernel; 'same' padding needs odd ones (e.g. "
                f"{{ choices = [3, 5, 7] }})."
            )
    return dim


def _parse_dim(key: str, value: Any, default: Dim) -> Dim:
    want_int = isinstance(default, IntRange) or (
        isinstance(default, (Choice, Fixed))
        and all(isinstance(v, int) and not isinstance(v, bool) for v in _values(default))
    )
    if isinstance(value, Mapping):
        if set(value) == {"choices"}:
            vals = value["choices"]
            if not isinstance(vals, list) or not vals:
                raise SpaceError(f"{key}: 'choices' must be a non-empty list, got {vals!r}.")
            _check_ints(key, vals, want_int)
            return Choice(tuple(vals))
        if {"low", "high"} <= set(value) <= {"low", "high", "log"}:
            lo, hi, log = value["low"], value["high"], value.get("log", False)
            if not isinstance(log, bool):  # bool("false") is True
                raise SpaceError(f"{key}: log must be true or false, got {log!r}.")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)):
                raise SpaceError(f"{key}: low and high must be numbers, got {lo!r} and {hi!r}.")
            if lo > hi or (log and lo <= 0):
                raise SpaceError(
                    f"{key}: need 0 < low <= high for a log range and low <= high "
                    f"otherwise, got low={lo!r}, high={hi!r}."
                )
            if want_int:
                if not (isinstance(lo, int) and isinstance(hi, int)):
                    raise SpaceError(
                        f"{key} is an integer dimension; low and high must be "
                        f"integers, got {lo!r} and {hi!r}."
                    )
                return IntRange(lo, hi, log)
            return FloatRange(float(lo), float(hi), log)
        raise SpaceError(
            f"{key}: a table must be {{ choices = [...] }} or {{ low = .., high = .., log = .. }}, "
            f"got keys {sorted(value)}."
        )
    if isinstance(value, list):
        raise SpaceError(f"{key}: write a list of options as {{ choices = {value!r} }}.")
    _check_ints(key, [value], want_int)
    return Fixed(value)


def _check_ints(key: str, values: list[Any], want_int: bool) -> None:
    # The samplers call int() on these: "32" would pass silently and 2.5 would become 2.
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int)]
    if want_int and bad:
        raise SpaceError(f"{key} is an integer dimension; got {bad[0]!r}. Write whole numbers.")


def _values(d: Dim) -> tuple[Any, ...]:
    return d.values if isinstance(d, Choice) else (d.value,) if isinstance(d, Fixed) else ()


# --- the sampler --------------------------------------------------------------------------


class Sampler:
    """Asks ``trial`` for values of the config's dimensions under stable dotted names."""

    def __init__(self, trial: TrialLike, config: Mapping[str, Dim]):
        self.trial = trial
        self.config = config

    def __call__(self, name: str, key: str | None = None) -> Any:
        """The value for parameter ``name`` from dimension ``key`` (default: ``name``)."""
        key = key or name
        try:
            dim = self.config[key]
        except KeyError:
            raise SpaceError(f"internal: the space has no dimension {key!r}") from None
        if isinstance(dim, Fixed):
            return dim.value
        if isinstance(dim, Choice):
            if len(dim.values) == 1:
                return dim.values[0]
            return self.trial.suggest_categorical(name, list(dim.values))
        if dim.low == dim.high:
            return dim.low
        if isinstance(dim, IntRange):
            return self.trial.suggest_int(name, dim.low, dim.high, log=dim.log)
        return self.trial.suggest_float(name, dim.low, dim.high, log=dim.log)


TRAIN_DEFAULTS: dict[str, Dim] = {
    "train.optimizer": Choice(("adamw", "adam", "sgd")),
    "train.lr": FloatRange(3e-4, 3e-2, log=True),
    "train.weight_decay": FloatRange(1e-6, 1e-2, log=True),
    "train.l1": Fixed(0.0),
    "train.batch_size": Choice((32, 64, 128)),
    "train.schedule": Choice(("onecycle", "cosine", "none")),
    "train.momentum": Fixed(0.9),
    "train.grad_clip": Fixed(1.0),
    # Images only, and not searched unless a space file asks ([train] augment = { choices =
    # ["none", "shift"] }): on digits, shifted copies lowered the test accuracy of 3 CNNs
    # retrained 8 times on 3 splits (benchmarks/augment_digits.py).
    "train.augment": Fixed("none"),
}


def sample_train(s: Sampler, ctx: SpaceContext) -> TrainSpec:
    """The training hyperparameters, under ``train.*`` names; ``train.augment`` is asked
    only of an image (a shift moves images; other inputs train as they are)."""
    return TrainSpec(
        optimizer=s("train.optimizer"),
        lr=float(s("train.lr")),
        weight_decay=float(s("train.weight_decay")),
        l1=float(s("train.l1")),
        batch_size=int(s("train.batch_size")),
        schedule=s("train.schedule"),
        momentum=float(s("train.momentum")),
        grad_clip=float(s("train.grad_clip")),
        augment=s("train.augment") if ctx.modality == "image" else "none",
    )


HEAD_DEFAULTS: dict[str, Dim] = {
    "head.hidden": Choice((0, 64)),
    "head.dropout": FloatRange(0.0, 0.3),
}


def sample_head(s: Sampler, ctx: SpaceContext) -> BlockSpec:
    """The output head for the task, with an optional hidden layer."""
    kind = "classify.v1" if ctx.task == "classification" else "regress.v1"
    hidden = int(s("head.hidden"))
    params: dict[str, Any] = {"outputs": ctx.output_size, "hidden": hidden}
    if hidden:
        params["dropout"] = float(s("head.dropout"))
    return BlockSpec(kind, params)


def assemble(family: str, s: Sampler, ctx: SpaceContext, blocks: Sequence[BlockSpec]) -> ArchSpec:
    """The ArchSpec of ``blocks`` for ``ctx``, with the head and training sampled last."""
    return ArchSpec(
        family,
        ctx.task,
        ctx.modality,
        ctx.input_shape,
        ctx.output_size,
        tuple(blocks),
        sample_head(s, ctx),
        sample_train(s, ctx),
    )
