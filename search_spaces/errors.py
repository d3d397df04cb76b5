"""The project's exceptions. Every user-facing error is a :class:`NasError` whose message names
the problem and the fix; the CLI prints it as one line and exits with code 2.

They live in the lowest layer (``search_spaces`` imports nothing of the project) so that every
layer can raise them; ``nas.errors`` re-exports them with the search side's own additions.
"""

from __future__ import annotations


class NasError(Exception):
    """Base of every error nas raises on purpose (bad input, impossible requests)."""


class SpecError(NasError, ValueError):
    """An architecture spec is malformed: unknown block kind, missing or mistyped parameter."""


class ShapeError(SpecError):
    """A spec is well-formed but a tensor shape cannot flow from one block to the next."""


class ExtensionBlockError(SpecError):
    """A block kind an extension registers failed as it was built: its parameters refused, its
    builder raising or returning no (module, Shape), or its declared output shape not what its
    forward gives. ``kind`` names the block kind and ``origin`` the extension (its module name
    or file), so that reading a run blames that extension, not the run's spec.json, which is as
    the search wrote it (/tmp/oG5 F2, F3)."""

    def __init__(self, message: str, *, kind: str | None = None, origin: str | None = None,
                 problem: str | None = None):  # fmt: skip
        super().__init__(message)
        self.kind = kind
        self.origin = origin
        self.problem = problem or message  # what failed, without the advice


class ExtensionShapeError(ExtensionBlockError, ShapeError):
    """An extension's block declares an output shape its module does not produce."""


class SpaceError(NasError, ValueError):
    """A search space or its TOML declaration is malformed."""


class UnknownNameError(NasError):
    """A block kind, space or search kind that is not registered in this process: a typo, or
    the name of an extension that was not loaded (``registry`` says which, ``name`` what)."""

    def __init__(self, message: str, *, registry: str, name: str) -> None:
        super().__init__(message)
        self.registry = registry
        self.name = name


class UnknownBlockError(UnknownNameError, SpecError):
    """A spec names a block kind that is not registered."""


class UnknownSpaceError(UnknownNameError, SpaceError):
    """A space name that is not registered."""
