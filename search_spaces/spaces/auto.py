"""The auto space: the sampler chooses the family (hybrids included) per trial, within one study.

The family is the categorical parameter ``family``; the chosen family's sampler then runs with
its own parameter names, so an auto trial that chose ``cnn`` is the same spec as a cnn trial.
The families are the registered ones (``register_space(..., family=True)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search_spaces.errors import SpaceError
from search_spaces.spaces._base import Choice, Dim, Fixed, SpaceContext, TrialLike
from search_spaces.spaces._registry import (
    LiveView,
    applicable,
    default_config,
    family_names,
    register_space,
    space_info,
)
from search_spaces.spec import MODALITIES, ArchSpec

# Every registered family, by default.
DEFAULTS: Mapping[str, Dim] = LiveView(lambda: {"auto.families": Choice(tuple(family_names()))})

# Families that make sense per modality (a conv stem on 1-D tabular features rarely does),
# in the order their starting points are tried.
APPLICABLE: Mapping[str, tuple[str, ...]] = LiveView(
    lambda: {m: tuple(applicable(m)) for m in MODALITIES}
)


def families_for(ctx: SpaceContext, config: Mapping[str, Dim]) -> list[str]:
    """The families auto may choose for this modality under ``config``."""
    dim = config["auto.families"]
    wanted = (
        list(dim.values)
        if isinstance(dim, Choice)
        else [dim.value]
        if isinstance(dim, Fixed)
        else []
    )
    ok_here = applicable(ctx.modality)
    ok = [f for f in wanted if f in ok_here]
    if not ok:
        raise SpaceError(
            f"auto.families {wanted} has no family that applies to {ctx.modality} "
            f"data; choose from {ok_here}."
        )
    return ok


def starting_points(ctx: SpaceContext, config: Mapping[str, Dim]) -> list[dict[str, Any]]:
    """Each chosen family's starting points, in the modality's order (tagged with ``family``
    when the trial chooses one)."""
    families = families_for(ctx, config)
    order = [f for f in applicable(ctx.modality) if f in families]
    out = []
    for family in order:
        start = space_info(family).starting_points
        for point in start(ctx, config) if start else []:
            if len(order) > 1:
                point["family"] = family
            out.append(point)
    return out


@register_space(
    "auto",
    doc="the sampler chooses the family per trial, hybrids included",
    defaults=DEFAULTS,
    starting_points=starting_points,
)
def sample(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """An ArchSpec of a family the trial chooses."""
    config = config or default_config()
    families = families_for(ctx, config)
    family = families[0] if len(families) == 1 else trial.suggest_categorical("family", families)
    return space_info(family).sample(trial, ctx, config)
