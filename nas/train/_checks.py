"""Argument checks shared by the training modules."""

from __future__ import annotations

from typing import Any

from nas.errors import NasError


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NasError(f"{name} must be an integer >= 1, got {value!r}.")
