"""Define-by-run search spaces: ``sample(trial, ctx) -> ArchSpec``, one per family, plus auto.

A space is a sampler and a config of dimensions (ranges, choices, fixed values). Each space module
registers itself with its defaults (``_registry.register_space``); the defaults can be overridden
from a TOML file; see the README's "Declaring a space in TOML".
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search_spaces import extensions
from search_spaces.errors import SpaceError, UnknownSpaceError
from search_spaces.gan import GanSpec
from search_spaces.spaces._base import (
    HEAD_DEFAULTS,
    TRAIN_DEFAULTS,
    Choice,
    Dim,
    Fixed,
    FloatRange,
    IntRange,
    Sampler,
    SpaceContext,
    TrialLike,
    dim_to_json,
    parse_dim,
)
from search_spaces.spaces._registry import (
    LiveView,
    SpaceFn,
    SpaceInfo,
    check_config,
    default_config,
    family_names,
    register_space,
    registered_space,
    registered_spaces,
    space_help,
    space_info,
    space_names,
    unregister_space,
)
from search_spaces.spec import ArchSpec

# Importing a space module registers it; registration order is the listing order
# (SPACES, ``nas spaces``, ``--space``) and the order of the families (auto.families).
from search_spaces.spaces import auto, fnn, cnn, rnn, transformer, hybrid, gan  # noqa: F401  # isort: skip

# A family's sampler; a space's (SpaceFn) may give a GanSpec (callers check isinstance).
SampleFn = Callable[[TrialLike, SpaceContext, Mapping[str, Dim]], ArchSpec]

# Views of the registry, kept for the code that predates it.
FAMILY_SAMPLERS: Mapping[str, SampleFn] = LiveView(
    lambda: {i.name: i.sample for i in registered_spaces() if i.family}
)
SPACES: Mapping[str, tuple[SpaceFn, str]] = LiveView(
    lambda: {i.name: (i.sample, i.doc) for i in registered_spaces()}
)


@dataclass(frozen=True)
class Space:
    """A named space with its config; ``space.sample(trial, ctx)`` gives an ArchSpec (a GanSpec
    for the "gan" space)."""

    name: str
    config: Mapping[str, Dim] = field(default_factory=default_config)
    # or "extension <module or file>", or the TOML file it came from; where it came from, not
    # what it is: two spaces of one name and config are the same space
    source: str = field(default="built-in", compare=False)

    def sample(self, trial: TrialLike, ctx: SpaceContext) -> ArchSpec | GanSpec:
        """An ArchSpec, or a GanSpec for the "gan" space."""
        return space_info(self.name).sample(trial, ctx, self.config)

    def to_dict(self) -> dict[str, Any]:
        """The space as TOML-like data (for the run record)."""
        return {
            "space": self.name,
            "source": space_source(self.name) if self.source == "built-in" else self.source,
            "dims": {k: dim_to_json(v) for k, v in self.config.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Space:
        """The inverse of :meth:`to_dict` (how a worker on another machine rebuilds a space).

        A recorded dimension of a space this process does not register, other than the run's
        own (or, for "auto", one of its families), is left out: a search records the defaults
        of every space registered then, and a run of ``resmlp`` that had another extension's
        space loaded beside it had been unreadable without that extension (/tmp/oG5 F5)."""
        name = data.get("space")
        if name not in space_names():
            raise UnknownSpaceError(
                f"space {name!r} is unknown; known spaces: {space_names()}.",
                registry="space",
                name=str(name),
            )
        config = default_config()
        dims = data.get("dims") or {}
        used = {name} | _recorded_families(dims.get("auto.families")) if name == "auto" else {name}
        for key, value in dims.items():
            if key not in config:
                section = str(key).split(".")[0]
                if section not in used and section not in space_names():
                    continue  # another space's, never sampled by this run
                raise SpaceError(_unknown_dimension(str(key), str(name), section))
            config[key] = parse_dim(key, value, config[key])
        check_config(config)
        return cls(name, config, source=str(data.get("source", "built-in")))


def _recorded_families(value: Any) -> set[str]:
    """The families a recorded ``auto.families`` dimension names (any it may choose)."""
    if isinstance(value, Mapping):
        value = value.get("choices", value.get("value"))
    values = value if isinstance(value, list | tuple) else [value]
    return {v for v in values if isinstance(v, str)}


def _unknown_dimension(key: str, space: str, section: str) -> str:
    """Why a recorded dimension the run uses is unknown here, and the fix: a built-in's is a
    newer nas's; an extension's space's needs that extension, as the search loaded it (it had
    said to upgrade nas for those too: /tmp/oG5 F5)."""
    owner = space if section not in space_names() else section
    origin = extensions.origin("space", owner)
    if section not in space_names():
        return (
            f"space dimension {key!r} belongs to the space {section!r}, which is not registered "
            "here; load the extension that registers it, then run this again."
        )
    if origin is not None and extensions.is_extension(origin):
        return (
            f"space dimension {key!r} is unknown to the space {owner!r} of the extension "
            f"{origin!r} loaded now; the search ran with another version of it. Load the "
            "version the search used, then run this again."
        )
    return f"space dimension {key!r} is unknown to this nas version; upgrade nas on this machine."


class _Reads(dict):
    """A config that remembers which dimensions were read, and whether it was walked whole
    (copied into a view, as the GAN's discriminator is: then the reads of the copy are not
    seen, and every dimension may apply)."""

    def __init__(self, config: Mapping[str, Dim]) -> None:
        super().__init__(config)
        self.read: set[str] = set()
        self.walked = False

    def __iter__(self) -> Any:
        self.walked = True
        return super().__iter__()

    def keys(self) -> Any:
        self.walked = True
        return super().keys()

    def items(self) -> Any:
        self.walked = True
        return super().items()

    def __getitem__(self, key: str) -> Dim:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


class _RandomTrial:
    """A seeded random TrialLike: enough to walk a space's branches without Optuna."""

    def __init__(self, rng: Any) -> None:
        self.rng = rng

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:  # fmt: skip
        return int(self.rng.randrange(low, high + 1, step))

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return self.rng.uniform(low, high)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self.rng.choice(list(choices))


_SHAPES = {"tabular": (8,), "image": (1, 8, 8), "sequence": (16, 1)}


def dimensions_read(name: str, samples: int = 48) -> set[str] | None:
    """The dimensions the registered space ``name`` reads, found by sampling it (seeded) for
    each modality it applies to; None when a sample fails (then every dimension may apply)."""
    import random

    info = space_info(name)
    rng = random.Random(0)
    config = _Reads(default_config())
    try:
        for modality in info.applies_to:
            for task, outputs in (("classification", 3), ("regression", 1)):
                ctx = SpaceContext(_SHAPES[modality], modality, task, outputs)
                for _ in range(samples):
                    info.sample(_RandomTrial(rng), ctx, config)
    except Exception:  # a space this walk cannot drive: list everything
        return None
    return None if config.walked else config.read


def starting_points(space: Space, ctx: SpaceContext) -> list[dict[str, Any]]:
    """Known-good params to enqueue as a study's first trials: one per family of ``space``."""
    start = space_info(space.name).starting_points
    return start(ctx, space.config) if start else []


def get_space(name_or_path: str | Path) -> Space:
    """A built-in space by name, or a space declared in a ``.toml`` file."""
    text = str(name_or_path)
    if text.endswith(".toml"):
        return load_space_toml(text)
    space_info(text)  # an unknown name is an error that lists the known ones
    return Space(text)


def space_source(name: str) -> str:
    """Where the registered space ``name`` comes from, as run.json and the report say it:
    "built-in", or "extension <module or file>" (an extension's had said "built-in":
    /tmp/oG5 F11)."""
    origin = extensions.origin("space", name)
    if origin is None or not extensions.is_extension(origin):
        return "built-in"
    return f"extension {origin}"


def load_space_toml(path: str | Path) -> Space:
    """Read a TOML space declaration: ``space = "auto"``, ``families = [...]`` and one table
    per section (``[cnn]``, ``[train]``, ...) whose keys override dimensions."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    p = Path(path)
    if p.is_dir():
        raise SpaceError(f"Space file {str(p)!r} is a folder; give the .toml file in it.")
    if not p.is_file():
        raise SpaceError(f"Space file {str(p)!r} does not exist; check the path.")
    try:  # utf-8-sig: a byte-order mark (Windows editors write one) is not a TOML error
        doc = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpaceError(f"Space file {p.name} is not valid TOML ({e}); fix the syntax.") from e
    except RecursionError:  # thousands of nested [ [ [ ...: tomllib recurses per level
        raise SpaceError(
            f"Space file {p.name} is not valid TOML for nas (values nested too "
            "deeply to read); a dimension is a value or a list of them."
        ) from None
    base = doc.pop("space", "auto")
    if not isinstance(base, str) or base not in space_names():
        raise SpaceError(  # with how to load the extension that may register it (/tmp/oG5 F11)
            f"{p.name}: space = {base!r} is unknown; use one of {space_names()}."
            + (extensions.unknown_hint("space") if isinstance(base, str) else "")
        )
    config = default_config()
    if "families" in doc:
        if base != "auto":
            raise SpaceError(
                f'{p.name}: families lists the families space = "auto" may choose, and this '
                f'file\'s space is {base!r}; remove families, or set space = "auto".'
            )
        fams = doc.pop("families")
        fams = fams if isinstance(fams, list) else [fams]
        known = family_names()
        if not fams:
            raise SpaceError(f"{p.name}: families is empty; list at least one of {known}, or "
                             "remove the line to let the auto space choose among all.")  # fmt: skip
        unknown = [f for f in fams if not isinstance(f, str) or f not in known]
        if unknown:
            raise SpaceError(f"{p.name}: families {unknown} unknown; choose from {known}.")
        config["auto.families"] = Choice(tuple(fams))
    given: list[str] = []
    for section, table in doc.items():
        if not isinstance(table, dict):
            raise SpaceError(
                f"{p.name}: top-level key {section!r} is not a section; known "
                "top-level keys are 'space' and 'families', then [sections]."
            )
        for key, value in table.items():
            full = f"{section}.{key}"
            if full not in config:
                known = sorted(config)
                close = difflib.get_close_matches(full, known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise SpaceError(
                    f"{p.name}: unknown dimension {full!r}.{hint} Known: {', '.join(known)}."
                )
            config[full] = parse_dim(f"{p.name}: {full}", value, config[full])
            given.append(full)
    # a family's space (auto may take any family's dimensions, as families = [...] chooses)
    read = dimensions_read(base) if base != "auto" else None
    unread = sorted(set(given) - (read or set(given)))
    if unread:  # it would be taken without a word, and change nothing
        one = len(unread) == 1
        raise SpaceError(
            f"{p.name}: {', '.join(unread[:3])} {'is a dimension' if one else 'are dimensions'} "
            f"space {base!r} never reads; remove {'it' if one else 'them'}, or set space to one "
            f'that reads {"it" if one else "them"} (or "auto"); `nas spaces {base}` lists what '
            f"{base!r} reads."
        )
    check_config(config)
    return Space(base, config, source=str(p))


__all__ = [
    "FAMILY_SAMPLERS",
    "dimensions_read",
    "HEAD_DEFAULTS",
    "SPACES",
    "TRAIN_DEFAULTS",
    "Choice",
    "Dim",
    "Fixed",
    "FloatRange",
    "IntRange",
    "Sampler",
    "Space",
    "SpaceContext",
    "SpaceInfo",
    "check_config",
    "default_config",
    "family_names",
    "get_space",
    "load_space_toml",
    "register_space",
    "registered_space",
    "registered_spaces",
    "space_help",
    "space_info",
    "space_names",
    "space_source",
    "starting_points",
    "unregister_space",
]
