"""Starting points: one sensible architecture per family, enqueued as a study's first trials
(``optuna.Study.enqueue_trial``), so a short search starts from known-good designs instead of
from random ones. The sampler takes over from there; values a space's config does not allow
are dropped, and the sampler fills them in.

Each space declares its own point at its registration (``starting_points=``); this module holds
what they share: the training recipe, a conv stack, and the two ways a point is fitted to a
config (filtered by dimension, or replayed through the space's sampler).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from search_spaces.spaces._base import Choice, Dim, FloatRange, IntRange, SpaceContext
from search_spaces.spaces._registry import SpaceFn, StartFn

TRAIN_START = {"train.optimizer": "adamw", "train.lr": 3e-3, "train.weight_decay": 1e-4,
               "train.batch_size": 64, "train.schedule": "onecycle", "head.hidden": 0}  # fmt: skip


def conv_stack(prefix: str, *, width: int = 32, growth: float = 2.0) -> dict[str, Any]:
    """The params of a known-good conv stack under ``{prefix}.*`` (its depth is the caller's):
    kernel 5, batch norm, GELU, max pooling after every second block."""
    return {
        f"{prefix}.channels": width,
        f"{prefix}.growth": growth,
        f"{prefix}.kernel": 5,
        f"{prefix}.batch_norm": True,
        f"{prefix}.activation": "gelu",
        f"{prefix}.residual": False,
        f"{prefix}.pool": "max",
        f"{prefix}.pool_every": 2,
        f"{prefix}.separable": False,
        f"{prefix}.dropout": 0.0,
    }


def _allowed(dim: Dim, value: Any) -> Any:
    """``value`` as the dimension allows it: itself, or for a number the space no longer
    allows (a TOML narrowing ``rnn.hidden`` to 16 or 32 under a start of 64) the nearest
    allowed value at or below it (else the smallest); :data:`_NOT` when the dimension is not a
    trial parameter (Fixed, one choice) or the value has no near one (another word)."""
    if isinstance(dim, Choice):
        if len(dim.values) < 2:
            return _NOT
        if any(type(c) is type(value) and c == value for c in dim.values):
            return value
        if _number(value) and all(_number(c) for c in dim.values):
            below = [c for c in dim.values if c <= value]
            return max(below) if below else min(dim.values)
        return _NOT
    if isinstance(dim, (IntRange, FloatRange)) and dim.low < dim.high and _number(value):
        near = min(max(value, dim.low), dim.high)
        return int(near) if isinstance(dim, IntRange) else float(near)
    return _NOT  # Fixed: not a trial parameter


_NOT = object()  # no value of the dimension stands for the start's


def block_key(param: str) -> str:
    """The dimension behind a family's parameter: ``fnn.b0.units`` -> ``fnn.units``."""
    parts = param.split(".")
    return f"{parts[0]}.{parts[-1]}"


def family_point(
    point: Callable[[SpaceContext], dict[str, Any]], key_of: Callable[[str], str] = block_key
) -> StartFn:
    """A family's ``starting_points``: ``point(ctx)`` plus :data:`TRAIN_START`, keeping only the
    values the config lets the trial choose. A param that is not itself a dimension is checked
    against the dimension ``key_of(param)`` (default :func:`block_key`)."""

    def starting_points(ctx: SpaceContext, config: Mapping[str, Dim]) -> list[dict[str, Any]]:
        kept = {}
        for param, value in {**point(ctx), **TRAIN_START}.items():
            key = param if param in config else key_of(param)
            near = _allowed(config[key], value) if key in config else _NOT
            if near is not _NOT:
                kept[param] = near
        return [kept]

    return starting_points


class ReplayTrial:
    """A trial that answers from ``point`` as closely as the space allows and keeps the values
    it used: the params worth enqueueing. A number the space no longer allows (a TOML that
    narrows ``rnn.hidden`` to 16 or 32 under a start of 64) becomes the nearest allowed value at
    or below it (else the smallest), so the start keeps its place and can still be fitted to a
    budget; any other value the space does not allow is left to the sampler (the first choice
    or the low end is answered, and not kept)."""

    def __init__(self, point: Mapping[str, Any]):
        self.point, self.kept = point, {}

    def _take(self, name: str, ok: bool, fallback: Any) -> Any:
        if name in self.point and ok:
            self.kept[name] = self.point[name]
            return self.point[name]
        return fallback

    def _near(self, name: str, value: Any) -> Any:
        self.kept[name] = value
        return value

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        v = self.point.get(name, ...)
        ok = any(type(c) is type(v) and c == v for c in choices)
        if not ok and _number(v) and choices and all(_number(c) for c in choices):
            below = [c for c in choices if c <= v]
            return self._near(name, max(below) if below else min(choices))
        return self._take(name, ok, choices[0])

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, **kw: Any) -> int:
        v = self.point.get(name)
        if isinstance(v, int) and not isinstance(v, bool) and not low <= v <= high:
            clamped = min(max(v, low), high)
            return self._near(name, low + (clamped - low) // step * step)
        ok = isinstance(v, int) and not isinstance(v, bool) and low <= v <= high
        return self._take(name, ok, low)

    def suggest_float(self, name: str, low: float, high: float, **kw: Any) -> float:
        v = self.point.get(name)
        if _number(v) and not low <= v <= high:
            return self._near(name, float(min(max(v, low), high)))
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high
        return self._take(name, ok, low)


def replayed(
    point: dict[str, Any], sample: SpaceFn, ctx: SpaceContext, config: Mapping[str, Dim]
) -> dict[str, Any]:
    """The part of ``point`` that ``sample`` under ``config`` really asks for and allows."""
    trial = ReplayTrial(point)
    sample(trial, ctx, config)
    return trial.kept


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Probe(ReplayTrial):
    """A replay that also notes, for each numeric parameter the space asks for and the point
    sets, the values the space allows at or below the point's, largest first."""

    def __init__(self, point: Mapping[str, Any]):
        super().__init__(point)
        self.lower: dict[str, list[Any]] = {}
        self.options: dict[str, list[Any]] = {}  # non-numeric choices: the point's first

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        v = super().suggest_categorical(name, choices)
        if name in self.kept and _number(v) and all(_number(c) for c in choices):
            self.lower[name] = sorted({c for c in choices if c <= v}, reverse=True)
        elif name in self.kept:
            self.options[name] = [v, *(c for c in choices if not (type(c) is type(v) and c == v))]
        return v

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, **kw: Any) -> int:
        v = super().suggest_int(name, low, high, step=step, **kw)
        if name in self.kept:
            self.lower[name] = list(range(v, low - 1, -step))
        return v


def lower_values(
    point: Mapping[str, Any], sample: SpaceFn, ctx: SpaceContext, config: Mapping[str, Dim]
) -> dict[str, list[Any]]:
    """Per numeric parameter of ``point`` that ``sample`` asks for under ``config`` (widths,
    depths, kernels, growth factors, but also batch sizes): the allowed values at or below the
    point's, the point's own first. Floats sampled from a range (rates, dropout) are left out.
    What a smaller version of a starting point may take (``nas.warm_start``)."""
    probe = _Probe(point)
    sample(probe, ctx, config)
    return {k: v for k, v in probe.lower.items() if len(v) > 1}


def other_choices(
    point: Mapping[str, Any], sample: SpaceFn, ctx: SpaceContext, config: Mapping[str, Dim]
) -> dict[str, list[Any]]:
    """Per non-numeric choice of ``point`` that ``sample`` asks for under ``config`` (a norm,
    separable or not, a residual): the allowed values, the point's own first. What a smaller
    version of a starting point may switch when shrinking its numbers is not enough
    (``nas.warm_start``: batch norm's parameters under a budget of a few hundred)."""
    probe = _Probe(point)
    sample(probe, ctx, config)
    return {k: v for k, v in probe.options.items() if len(v) > 1}
