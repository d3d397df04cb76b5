"""The space registry: every search space registers itself where it is defined.

``@register_space("cnn", doc=..., defaults=DEFAULTS, family=True, applies_to={...})`` on a
space's ``sample`` function is all it takes to add a space: the config defaults, the auto space's
families, the starting points, the TOML validation, the CLI's choices and ``nas spaces`` all read
this registry. This module is a leaf: it imports no space module, so a space module may import
:func:`default_config` from here without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from search_spaces import extensions
from search_spaces.errors import SpaceError, UnknownSpaceError
from search_spaces.gan import GanSpec
from search_spaces.spaces._base import HEAD_DEFAULTS, TRAIN_DEFAULTS, Dim, SpaceContext, TrialLike
from search_spaces.spec import MODALITIES, ArchSpec

# A space's sampler: ``sample(trial, ctx, config)``; the "gan" space's gives a GanSpec.
SpaceFn = Callable[[TrialLike, SpaceContext, Mapping[str, Dim] | None], ArchSpec | GanSpec]
# Params to enqueue as a study's first trials, for this data and this config.
StartFn = Callable[[SpaceContext, Mapping[str, Dim]], list[dict[str, Any]]]
# A cross-dimension rule; raises SpaceError when the config breaks it.
CheckFn = Callable[[Mapping[str, Dim]], None]
F = TypeVar("F", bound=Callable[..., Any])
V = TypeVar("V")

# Families without a rank for a modality follow the ranked ones, in registration order.
UNRANKED = 1000


@dataclass(frozen=True)
class SpaceInfo:
    """What the registry knows of one space."""

    name: str
    sample: SpaceFn
    doc: str  # one line, shown by ``nas spaces``
    defaults: Mapping[str, Dim]  # the dimensions this space adds to the config
    family: bool  # a family: a space the auto space may choose
    # modality -> rank: where it applies, and how early its starting point is tried there
    applies_to: Mapping[str, int]
    starting_points: StartFn | None = field(default=None, compare=False)
    check: CheckFn | None = field(default=None, compare=False)


_SPACES: dict[str, SpaceInfo] = {}


def register_space(
    name: str,
    *,
    doc: str,
    defaults: Mapping[str, Dim] | None = None,
    family: bool = False,
    applies_to: Mapping[str, int] | Iterable[str] = MODALITIES,
    starting_points: StartFn | None = None,
    check: CheckFn | None = None,
) -> Callable[[F], F]:
    """Register the decorated ``sample(trial, ctx, config=None)`` as the space ``name``.

    ``applies_to`` names the modalities a family applies to, or maps each to a rank (lower
    first) that orders the auto space's families and starting points for that modality.
    """

    def decorate(sample: F) -> F:
        if name in _SPACES:
            raise SpaceError(
                f"space {name!r} is already registered; choose another name or "
                "unregister_space() the old one first."
            )
        if not isinstance(applies_to, Mapping):
            ranks = {m: UNRANKED for m in applies_to}
        else:
            ranks = dict(applies_to)
        unknown = [m for m in ranks if m not in MODALITIES]
        if unknown:
            raise SpaceError(
                f"space {name!r}: applies_to has unknown modality {unknown[0]!r}; "
                f"use some of {list(MODALITIES)}."
            )
        _SPACES[name] = SpaceInfo(
            name,
            sample,
            doc,
            defaults if defaults is not None else {},
            family,
            MappingProxyType(ranks),
            starting_points,
            check,
        )
        extensions.note("space", name, sample)
        return sample

    return decorate


def unregister_space(name: str) -> SpaceInfo:
    """Remove a space (tests add toy spaces and take them away again); returns its info."""
    space_info(name)
    extensions.forget("space", name)
    return _SPACES.pop(name)


@contextmanager
def registered_space(name: str, sample: SpaceFn, **kwargs: Any) -> Iterator[SpaceInfo]:
    """Register ``sample`` as ``name`` (keywords as :func:`register_space`) for a ``with`` block."""
    register_space(name, **kwargs)(sample)
    try:
        yield _SPACES[name]
    finally:
        _SPACES.pop(name, None)
        extensions.forget("space", name)


def space_info(name: str) -> SpaceInfo:
    """The registered space ``name``; an unknown name is an error that lists the known ones."""
    known = f"Known spaces: {', '.join(_SPACES)}; or pass a .toml file that declares one."
    return extensions.look_up(_SPACES, name, "space", UnknownSpaceError, known)


def registered_spaces() -> list[SpaceInfo]:
    """Every registered space, in registration order."""
    return list(_SPACES.values())


def space_names() -> list[str]:
    """The names of the registered spaces (the CLI's ``--space`` choices besides a .toml file)."""
    return list(_SPACES)


def space_help() -> str:
    """One line for ``--space`` help: the registered spaces, or a .toml file."""
    return f"{', '.join(_SPACES)}, or a .toml file."


def family_names() -> list[str]:
    """The families (spaces the auto space may choose), in registration order."""
    return [s.name for s in _SPACES.values() if s.family]


def applicable(modality: str) -> list[str]:
    """The families that apply to ``modality``, by rank (their starting points' order too)."""
    fams = [s for s in _SPACES.values() if s.family and modality in s.applies_to]
    return [s.name for s in sorted(fams, key=lambda s: s.applies_to[modality])]


def default_config() -> dict[str, Dim]:
    """Every dimension of every space at its default: the families' first, then the other
    spaces', then the head's and the training's."""
    config: dict[str, Dim] = {}
    for info in [*_families(), *_others()]:
        config.update(info.defaults)
    return {**config, **HEAD_DEFAULTS, **TRAIN_DEFAULTS}


def check_config(config: Mapping[str, Dim]) -> None:
    """Run every space's cross-dimension rules (the spaces that compose families first)."""
    for info in [*_others(), *_families()]:
        if info.check is not None:
            info.check(config)


def _families() -> list[SpaceInfo]:
    return [s for s in _SPACES.values() if s.family]


def _others() -> list[SpaceInfo]:
    return [s for s in _SPACES.values() if not s.family]


class LiveView(Mapping[str, V]):
    """A read-only mapping recomputed from the registry on every access, so the names that
    predate the registry (``SPACES``, ``FAMILY_SAMPLERS``, ``APPLICABLE``) stay current."""

    def __init__(self, build: Callable[[], Mapping[str, V]]):
        self._build = build

    def __getitem__(self, key: str) -> V:
        return self._build()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __repr__(self) -> str:
        return repr(dict(self._build()))


__all__ = [
    "LiveView",
    "SpaceInfo",
    "applicable",
    "check_config",
    "default_config",
    "family_names",
    "register_space",
    "registered_space",
    "registered_spaces",
    "space_help",
    "space_info",
    "space_names",
    "unregister_space",
]
