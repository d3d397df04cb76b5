"""One way to check a parameter: its type, its range or its allowed values.

Every check raises :class:`~search_spaces.errors.SpecError` with a message that names the
owner, the parameter, what was received and what to use instead (scikit-learn's rule), e.g.
``"conv2d.v1: parameter 'kernel' is 21; use a value in [1, 15]."`` or ``"spec: parameter
'train.batch_size' must be integer, got 32.0 (float); use a value >= 1 (in [1, inf])."``.
A bool is never accepted as a number (``True`` is an ``int`` to Python, not to a spec).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NoReturn

from search_spaces.errors import SpecError

Number = int | float


def describe_range(low: Number | None, high: Number | None, low_open: bool = False) -> str:
    """The fix for a value out of range: ``"use a value in [1, 15]"``, ``"use a value >= 1
    (in [1, inf])"``, ``"use a value > 0.0 (in (0.0, inf])"``; ``""`` when unbounded."""
    if low is None and high is None:
        return ""
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else str(high)
    interval = f"{'(' if low_open else '['}{lo}, {hi}]"
    if low is not None and high is None:
        return f"use a value {'>' if low_open else '>='} {lo} (in {interval})"
    if high is not None and low is None:
        return f"use a value <= {hi} (in {interval})"
    return f"use a value in {interval}"


def describe_choices(allowed: Sequence[Any]) -> str:
    """The fix for a value not allowed: ``"choose one of ['avg', 'max']"``."""
    return f"choose one of {list(allowed)}"


def check_type(
    owner: str, name: str, value: Any, types: type | tuple[type, ...], fix: str = ""
) -> Any:
    """``value`` if it is an instance of ``types`` (a bool only where ``bool`` is listed)."""
    kinds = types if isinstance(types, tuple) else (types,)
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return value
    want = " or ".join("integer" if t is int else t.__name__ for t in kinds)
    _wrong_type(owner, name, value, want, fix)


def check_int(
    owner: str, name: str, value: Any, low: int | None = None, high: int | None = None
) -> int:
    """``value`` if it is an int (not a bool) in ``[low, high]`` (``None``: unbounded)."""
    fix = describe_range(low, high)
    check_type(owner, name, value, int, fix)
    _check_range(owner, name, value, low, high, False, fix)
    return value


def check_float(
    owner: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
) -> float:
    """``value`` as a float if it is a finite number (an int is fine, a bool is not) in
    ``[low, high]``, or ``(low, high]`` with ``low_open``."""
    fix = describe_range(low, high, low_open)
    if isinstance(value, bool) or not isinstance(value, (float, int)):
        _wrong_type(owner, name, value, "float", fix)
    value = float(value)
    if not math.isfinite(value):
        finite = fix.replace("use a value", "use a finite value") if fix else "use a finite value"
        raise SpecError(f"{owner}: parameter {name!r} is {value!r}; {finite}.")
    _check_range(owner, name, value, low, high, low_open, fix)
    return value


def check_bool(owner: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool (``0`` / ``1`` are not)."""
    return check_type(owner, name, value, bool, "use true or false")


def check_choice(owner: str, name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """The element of ``allowed`` equal to ``value`` (``True`` does not stand for ``1``)."""
    for option in allowed:
        if _same(option, value):
            return option
    raise SpecError(f"{owner}: parameter {name!r} is {value!r}; {describe_choices(allowed)}.")


def _same(option: Any, value: Any) -> bool:
    if isinstance(option, bool) != isinstance(value, bool):
        return False
    try:
        return bool(option == value)
    except (TypeError, ValueError):  # e.g. an array, whose == is elementwise
        return False


def _check_range(
    owner: str,
    name: str,
    value: Number,
    low: Number | None,
    high: Number | None,
    low_open: bool,
    fix: str,
) -> None:
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        raise SpecError(f"{owner}: parameter {name!r} is {value!r}; {fix}.")


def _wrong_type(owner: str, name: str, value: Any, want: str, fix: str) -> NoReturn:
    got = f"got {value!r} ({type(value).__name__})"
    tail = f"; {fix}" if fix else ""
    raise SpecError(f"{owner}: parameter {name!r} must be {want}, {got}{tail}.")


__all__ = [
    "check_bool",
    "check_choice",
    "check_float",
    "check_int",
    "check_type",
    "describe_choices",
    "describe_range",
]
