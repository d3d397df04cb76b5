"""Starting points that fit the budget: a known-good design shrunk until it meets
``--max-params`` / ``--max-flops`` / ``--max-memory``, instead of a first trial that is refused.

A starting point (``search_spaces.spaces.starts``) is a design for the data, not for the
user's budget: under ``--max-params 5000`` every built-in one is over it, and the search then
starts from nothing. :func:`fit_to_budget` keeps the design's choices (kernel family, norm,
activation, training recipe) and lowers only the numbers that size the model, chosen by
measurement: a numeric parameter the space asks for takes part when its smallest allowed value
changes the model's parameter count (widths, depths, kernels, growth factors; a batch size does
not). Of every combination of those parameters at or below the point's values, the one with
the most parameters that meets the budget is kept (ties: the earliest in the enumeration,
i.e. the one closest to the point's own values in its first parameters). When no combination
of numbers fits, and no other starting point of the space fits either (:func:`fit_starts`), the
point's choices that carry parameters are switched too (batch norm to none, a convolution to a
separable one: only values that give it fewer parameters), and the same rule picks among all
of them: under ``--max-params 1100`` breast_cancer's FNN start goes to dense(32) without norm
(1,058), where dense(32) with batch norm (1,122) is over. The search then starts from the
largest version of a known-good design that the user can afford, and the sampler is free to go
elsewhere. A latency limit is not fitted (it would need timed forward
passes for every candidate); a point that no combination fits is kept as it is and refused.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch

from nas.cost import check_fits_memory, count_params, params_before_building
from nas.errors import NasError
from search_spaces.errors import SpaceError
from search_spaces.spaces import space_info
from search_spaces.spaces.starts import ReplayTrial, lower_values, other_choices, replayed

MAX_CANDIDATES = 4096  # combinations built and counted at most per point (a few seconds)


def _params(objective: Any, model: Any) -> int:
    """The parameter count the budget applies to (a GAN's generator)."""
    part = objective.budget_part(model)
    return sum(p.numel() for p in part.parameters()) if isinstance(part, torch.nn.Module) else 0


def _build(objective: Any, point: Mapping[str, Any], first: bool = False) -> Any:
    """The model of ``point``; with ``first``, its parameters are counted on torch's meta device
    before (a ModelTooLargeError when this machine could not train it: a space of units = 1e9
    had allocated 22 GB here before its trial could refuse it). Shrunk candidates are smaller
    than a first point that passed."""
    spec = objective.s.space.sample(ReplayTrial(point), objective.ctx)
    objective.check_spec(spec)
    if first:
        shapes = params_before_building(objective.build, spec)
        if shapes is not None:
            check_fits_memory(count_params(shapes), "the starting point")
    return objective.build(spec)


def _size_params(
    objective: Any, point: Mapping[str, Any], lower: dict[str, list[Any]], base: int
) -> dict[str, list[Any]]:
    """The parameters of ``lower`` whose smallest value changes the model's parameter count."""
    kept = {}
    for name, values in lower.items():
        try:
            n = _params(objective, _build(objective, {**point, name: values[-1]}))
        except (NasError, SpaceError, ValueError, RuntimeError):
            n = -1  # a value the family cannot build at this size: still worth trying others
        if n != base:
            kept[name] = values
    # too many combinations: drop the farthest value of the longest list until they fit
    while math.prod(len(v) for v in kept.values()) > MAX_CANDIDATES:
        longest = max(kept, key=lambda k: len(kept[k]))
        if len(kept[longest]) <= 2:
            break
        kept[longest] = kept[longest][:-1]
    return kept


def fit_starts(
    points: list[dict[str, Any]], objective: Any
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each starting point fitted to the budget by its numbers; only when none of them then
    meets the budget are choices that carry parameters switched too (a space's only start, an
    FNN with batch norm under ``--max-params 1100``): a start whose design the search already
    has others of is not turned into another design."""
    if replace(objective.s.budget, max_latency_ms=None).is_empty:
        return [(p, None) for p in points]  # nothing to fit: nothing is built
    fitted = [fit_to_budget(p, objective, switch=False) for p in points]
    if any(_meets(p, objective) for p, _ in fitted):
        return fitted
    return [fit_to_budget(p, objective) for p in points]


def _meets(point: dict[str, Any], objective: Any) -> bool:
    """Whether ``point`` builds and meets the budget (latency aside)."""
    budget = replace(objective.s.budget, max_latency_ms=None)
    try:
        return not budget.check(objective.cost(_build(objective, point, first=True),
                                                latency=False))  # fmt: skip
    except (NasError, SpaceError, ValueError, RuntimeError):
        return False


def fit_to_budget(
    point: dict[str, Any], objective: Any, *, switch: bool = True
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``point``, or the largest version of it with lower sizing numbers that meets the
    objective's budget (latency aside), with a note when it was fitted:
    ``{"params_before": ..., "params": ..., "over": {cost: value}}`` (``over``: the costs the
    point was over, as they were).

    ``objective`` is the search kind's ``TrialObjective`` (its space, context, ``build``,
    ``cost`` and budget are what a trial of the point would use)."""
    budget = replace(objective.s.budget, max_latency_ms=None)
    if budget.is_empty:
        return point, None
    try:
        model = _build(objective, point, first=True)
        cost = objective.cost(model, latency=False)
    except (NasError, SpaceError, ValueError, RuntimeError):
        return point, None  # the trial itself will say what is wrong with it
    if not budget.check(cost):
        return point, None
    info = space_info(objective.s.space.name)
    ctx, config = objective.ctx, objective.s.space.config
    base = _params(objective, model)
    size = _size_params(objective, point, lower_values(point, info.sample, ctx, config), base)
    found = _largest_fitting(objective, point, size, budget)
    if found is None and switch:  # numbers are not enough: switch choices that carry parameters
        switches = _lighter_choices(objective, point, other_choices(point, info.sample, ctx,
                                                                    config), base)  # fmt: skip
        if switches:
            found = _largest_fitting(objective, point, {**size, **switches}, budget)
    if found is None:
        return point, None
    candidate, n = found
    kept = replayed(candidate, info.sample, ctx, config)
    # the costs the start was over, as they were: a start fitted to --max-flops can have more
    # parameters than before (an earlier pooling leaves more channels), so the note says what
    # it was fitted from in the limit's own terms
    limits = budget.to_dict()
    over = {key: float(getattr(cost, key)) for key in ("params", "flops", "memory_mb")
            if limits.get(f"max_{key}") is not None and getattr(cost, key) is not None
            and getattr(cost, key) > limits[f"max_{key}"]}  # fmt: skip
    return kept, {"params_before": int(cost.params), "params": n, "over": over}


def _lighter_choices(
    objective: Any, point: Mapping[str, Any], options: dict[str, list[Any]], base: int
) -> dict[str, list[Any]]:
    """Per choice of ``point`` (its own value first), the other values that give the point
    fewer parameters (batch norm -> none), lightest last."""
    kept = {}
    for name, values in options.items():
        lighter = []
        for v in values[1:]:
            try:
                n = _params(objective, _build(objective, {**point, name: v}))
            except (NasError, SpaceError, ValueError, RuntimeError):
                continue
            if n < base:
                lighter.append((-n, v))
        if lighter:
            kept[name] = [values[0], *(v for _, v in sorted(lighter, key=lambda t: t[0]))]
    return kept


def _largest_fitting(
    objective: Any, point: dict[str, Any], size: dict[str, list[Any]], budget: Any
) -> tuple[dict[str, Any], int] | None:
    """Of every combination of ``size``'s values, the one with the most parameters that meets
    ``budget`` (ties: the earliest), with its count; None when none does."""
    if not size:
        return None
    names = list(size)
    sized = []
    for i, values in enumerate(itertools.product(*(size[n] for n in names))):
        if i >= MAX_CANDIDATES:
            break
        candidate = {**point, **dict(zip(names, values))}
        try:
            n = _params(objective, _build(objective, candidate))
        except (NasError, SpaceError, ValueError, RuntimeError):
            continue
        if budget.max_params is None or n <= budget.max_params:
            sized.append((-n, i, candidate))
    for minus_n, _, candidate in sorted(sized, key=lambda t: (t[0], t[1])):
        fitted = _build(objective, candidate)
        if not budget.check(objective.cost(fitted, latency=False)):
            return candidate, -minus_n
    return None


def fitted_from(attrs: dict[str, Any]) -> int | None:
    """The parameter count a starting point had before it was fitted to the budget, read from
    its trial's user attributes (``fitted_to_budget``); None when it was not fitted."""
    note = attrs.get("fitted_to_budget")
    before = note.get("params_before") if isinstance(note, dict) else None
    return before if isinstance(before, int) else None


def fitted_words(attrs: dict[str, Any]) -> str | None:
    """ "fitted to the budget from 21,290 params" (or "from 1.93 MFLOPs", "from 3.1 MiB"): what
    a starting point was, in the terms of the first limit it was over, before it was fitted
    (``fitted_to_budget``); None when it was not fitted. Runs saved before the note named the
    limits (2026-12-07) say the parameters, and "grew" where the fitted start has more."""
    note = attrs.get("fitted_to_budget")
    if not isinstance(note, dict):
        return None
    over = note.get("over")
    if isinstance(over, dict):
        for key, words in (("params", lambda v: f"{v:,.0f} params"),
                           ("flops", lambda v: f"{v / 1e6:.3g} MFLOPs"),
                           ("memory_mb", lambda v: f"{v:.3g} MiB of memory")):  # fmt: skip
            value = over.get(key)
            if isinstance(value, int | float):
                return f"fitted to the budget from {words(value)}"
    before, now = note.get("params_before"), note.get("params")
    if not isinstance(before, int):
        return None
    if isinstance(now, int) and now > before:
        return f"fitted to the budget (it grew from {before:,} to {now:,} params)"
    return f"fitted to the budget from {before:,} params"


__all__ = ["fit_starts", "fit_to_budget", "fitted_from", "fitted_words"]
