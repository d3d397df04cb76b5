"""The auto space: the sampler chooses the family (hybrids included) per trial, within one study.

The family is the categorical parameter ``family``; the chosen family's sampler then runs with
its own parameter names, so an auto trial that chose ``cnn`` is the same spec as a cnn trial.
"""

from __future__ import annotations

from collections.abc import Mapping

from search_spaces.errors import SpaceError
from search_spaces.spaces._base import Choice, Dim, Fixed, SpaceContext, TrialLike
from search_spaces.spec import ArchSpec

DEFAULTS: dict[str, Dim] = {
    "auto.families": Choice(("fnn", "cnn", "rnn", "transformer", "cnn_rnn", "cnn_transformer")),
}

# Families that make sense per modality (a conv stem on 1-D tabular features rarely does).
APPLICABLE = {
    "tabular": ("fnn", "transformer", "cnn", "rnn"),
    "image": ("fnn", "cnn", "rnn", "transformer", "cnn_rnn", "cnn_transformer"),
    "sequence": ("fnn", "cnn", "rnn", "transformer", "cnn_rnn", "cnn_transformer"),
}


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
    ok = [f for f in wanted if f in APPLICABLE[ctx.modality]]
    if not ok:
        raise SpaceError(
            f"auto.families {wanted} has no family that applies to {ctx.modality} "
            f"data; choose from {list(APPLICABLE[ctx.modality])}."
        )
    return ok


def sample(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """An ArchSpec of a family the trial chooses."""
    from search_spaces.spaces import FAMILY_SAMPLERS, default_config

    config = config or default_config()
    families = families_for(ctx, config)
    family = families[0] if len(families) == 1 else trial.suggest_categorical("family", families)
    return FAMILY_SAMPLERS[family](trial, ctx, config)
