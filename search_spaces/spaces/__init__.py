"""Define-by-run search spaces: ``sample(trial, ctx) -> ArchSpec``, one per family, plus auto.

A space is a sampler and a config of dimensions (ranges, choices, fixed values). The defaults
below can be overridden from a TOML file; see the README's "Declaring a space in TOML".
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search_spaces.errors import SpaceError
from search_spaces.gan import GanSpec
from search_spaces.spaces import auto, cnn, fnn, gan, hybrid, rnn, transformer
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
from search_spaces.spec import ArchSpec

SampleFn = Callable[[TrialLike, SpaceContext, Mapping[str, Dim]], ArchSpec]
# A space's sampler; the "gan" space's gives a GanSpec (callers check isinstance(spec, GanSpec)).
SpaceFn = Callable[[TrialLike, SpaceContext, Mapping[str, Dim]], ArchSpec | GanSpec]

FAMILY_SAMPLERS: dict[str, SampleFn] = {
    "fnn": fnn.sample,
    "cnn": cnn.sample,
    "rnn": rnn.sample,
    "transformer": transformer.sample,
    "cnn_rnn": hybrid.sample_cnn_rnn,
    "cnn_transformer": hybrid.sample_cnn_transformer,
}
SPACES: dict[str, tuple[SpaceFn, str]] = {
    "auto": (auto.sample, "the sampler chooses the family per trial, hybrids included"),
    "fnn": (fnn.sample, "stacks of dense blocks (norm, activation, dropout, residual)"),
    "cnn": (cnn.sample, "conv2d (images) / conv1d (sequences, tabular) blocks + pooling"),
    "rnn": (rnn.sample, "rnn / lstm / gru over steps, image rows or features"),
    "transformer": (transformer.sample, "token embedding + encoder layers + CLS/mean pooling"),
    "cnn_rnn": (hybrid.sample_cnn_rnn, "conv stem feeding a recurrent block"),
    "cnn_transformer": (hybrid.sample_cnn_transformer, "conv stem feeding a transformer"),
    "gan": (
        gan.sample,
        "GAN: upconv / recurrent / dense generator vs a discriminator of any family",
    ),
}


def default_config() -> dict[str, Dim]:
    """Every dimension of every space, at its default."""
    return {
        **fnn.DEFAULTS,
        **cnn.DEFAULTS,
        **rnn.DEFAULTS,
        **transformer.DEFAULTS,
        **hybrid.DEFAULTS,
        **auto.DEFAULTS,
        **gan.DEFAULTS,
        **HEAD_DEFAULTS,
        **TRAIN_DEFAULTS,
    }


def check_config(config: Mapping[str, Dim]) -> None:
    """Cross-dimension rules a single range cannot express."""

    def values(key: str) -> list[Any]:
        d = config[key]
        if isinstance(d, Choice):
            return list(d.values)
        if isinstance(d, Fixed):
            return [d.value]
        return list(range(d.low, d.high + 1)) if isinstance(d, IntRange) else []

    gan.check_config(config)
    bad = [
        (h, d) for h in values("transformer.heads") for d in values("transformer.d_model") if d % h
    ]
    if bad:
        h, d = bad[0]
        raise SpaceError(
            f"transformer.heads {h} does not divide transformer.d_model {d}; "
            "every heads choice must divide every d_model choice."
        )


@dataclass(frozen=True)
class Space:
    """A named space with its config; ``space.sample(trial, ctx)`` gives an ArchSpec (a GanSpec
    for the "gan" space)."""

    name: str
    config: Mapping[str, Dim] = field(default_factory=default_config)
    source: str = "built-in"  # or the TOML file it came from

    def sample(self, trial: TrialLike, ctx: SpaceContext) -> ArchSpec | GanSpec:
        """An ArchSpec, or a GanSpec for the "gan" space."""
        return SPACES[self.name][0](trial, ctx, self.config)

    def to_dict(self) -> dict[str, Any]:
        """The space as TOML-like data (for the run record)."""
        return {
            "space": self.name,
            "source": self.source,
            "dims": {k: dim_to_json(v) for k, v in self.config.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Space:
        """The inverse of :meth:`to_dict` (how a worker on another machine rebuilds a space)."""
        name = data.get("space")
        if name not in SPACES:
            raise SpaceError(f"space {name!r} is unknown; known spaces: {list(SPACES)}.")
        config = default_config()
        for key, value in (data.get("dims") or {}).items():
            if key not in config:
                raise SpaceError(f"space dimension {key!r} is unknown to this nas version; "
                                 "upgrade nas on this machine.")
            config[key] = parse_dim(key, value, config[key])
        check_config(config)
        return cls(name, config, source=str(data.get("source", "built-in")))


def starting_points(space: Space, ctx: SpaceContext) -> list[dict[str, Any]]:
    """Known-good params to enqueue as a study's first trials: one per family of ``space``."""
    from search_spaces.spaces import starts

    families = auto.families_for(ctx, space.config) if space.name == "auto" else None
    return starts.starting_points(space.name, ctx, space.config, families)


def get_space(name_or_path: str | Path) -> Space:
    """A built-in space by name, or a space declared in a ``.toml`` file."""
    text = str(name_or_path)
    if text.endswith(".toml"):
        return load_space_toml(text)
    if text not in SPACES:
        close = difflib.get_close_matches(text, list(SPACES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpaceError(
            f"Unknown space {text!r}.{hint} Known spaces: {', '.join(SPACES)}; "
            "or pass a .toml file that declares one."
        )
    return Space(text)


def load_space_toml(path: str | Path) -> Space:
    """Read a TOML space declaration: ``space = "auto"``, ``families = [...]`` and one table
    per section (``[cnn]``, ``[train]``, ...) whose keys override dimensions."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    p = Path(path)
    if not p.is_file():
        raise SpaceError(f"Space file {str(p)!r} does not exist; check the path.")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpaceError(f"Space file {p.name} is not valid TOML ({e}); fix the syntax.") from e
    base = doc.pop("space", "auto")
    if not isinstance(base, str) or base not in SPACES:
        raise SpaceError(f"{p.name}: space = {base!r} is unknown; use one of {list(SPACES)}.")
    config = default_config()
    if "families" in doc:
        fams = doc.pop("families")
        fams = fams if isinstance(fams, list) else [fams]
        unknown = [f for f in fams if not isinstance(f, str) or f not in FAMILY_SAMPLERS]
        if unknown or not fams:
            raise SpaceError(
                f"{p.name}: families {unknown or fams} unknown; choose from "
                f"{list(FAMILY_SAMPLERS)}."
            )
        config["auto.families"] = Choice(tuple(fams))
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
    check_config(config)
    return Space(base, config, source=str(p))


__all__ = [
    "FAMILY_SAMPLERS",
    "SPACES",
    "Choice",
    "Dim",
    "Fixed",
    "FloatRange",
    "IntRange",
    "Sampler",
    "Space",
    "SpaceContext",
    "default_config",
    "get_space",
    "load_space_toml",
    "starting_points",
]
