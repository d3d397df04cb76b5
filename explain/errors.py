"""The error explain raises on purpose: a :class:`~search_spaces.errors.NasError`, so the CLI
prints it as one line; the message names the problem and the fix."""

from __future__ import annotations

from search_spaces.errors import NasError


class ExplainError(NasError, ValueError):
    """An explanation that cannot be given (soundly) for this model or these arguments."""
