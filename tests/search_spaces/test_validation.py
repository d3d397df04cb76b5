"""The one parameter-validation helper: what each check accepts, and its exact messages."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from search_spaces.errors import SpecError
from search_spaces.validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_type,
    describe_range,
)


def raises(message: str) -> Any:
    """pytest.raises for a SpecError with exactly ``message``."""
    return pytest.raises(SpecError, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize("value", [1, 7, 4096])
def test_check_int_accepts_ints_in_range(value: int) -> None:
    assert check_int("conv2d.v1", "channels", value, 1, 4096) == value


def test_check_int_without_bounds_accepts_any_int() -> None:
    assert check_int("x", "n", -(10**12)) == -(10**12)


def test_check_int_messages() -> None:
    with raises("conv2d.v1: parameter 'channels' is 0; use a value in [1, 4096]."):
        check_int("conv2d.v1", "channels", 0, 1, 4096)
    with raises("conv2d.v1: parameter 'channels' is 5000; use a value in [1, 4096]."):
        check_int("conv2d.v1", "channels", 5000, 1, 4096)
    with raises("spec: parameter 'output_size' is 0; use a value >= 1 (in [1, inf])."):
        check_int("spec", "output_size", 0, 1)
    with raises(
        "conv2d.v1: parameter 'channels' must be integer, got '32' (str); use a value in [1, 4096]."
    ):
        check_int("conv2d.v1", "channels", "32", 1, 4096)
    with raises("x: parameter 'n' must be integer, got 2.0 (float)."):
        check_int("x", "n", 2.0)


@pytest.mark.parametrize("value", [True, False])
def test_a_bool_is_not_an_int(value: bool) -> None:
    with raises(
        f"spec: parameter 'train.batch_size' must be integer, got {value} (bool); "
        "use a value >= 1 (in [1, inf])."
    ):
        check_int("spec", "train.batch_size", value, 1)


def test_check_float_accepts_floats_and_ints_as_floats() -> None:
    assert check_float("dense.v1", "dropout", 0.5, 0.0, 0.9) == 0.5
    out = check_float("dense.v1", "dropout", 0, 0.0, 0.9)
    assert out == 0.0 and isinstance(out, float)
    assert check_float("spec", "train.lr", 1e-3, 0.0, low_open=True) == 1e-3


def test_check_float_messages() -> None:
    with raises("dense.v1: parameter 'dropout' is 0.95; use a value in [0.0, 0.9]."):
        check_float("dense.v1", "dropout", 0.95, 0.0, 0.9)
    with raises("spec: parameter 'train.lr' is 0.0; use a value > 0.0 (in (0.0, inf])."):
        check_float("spec", "train.lr", 0, 0.0, low_open=True)
    with raises("spec: parameter 'train.lr' is nan; use a finite value > 0.0 (in (0.0, inf])."):
        check_float("spec", "train.lr", float("nan"), 0.0, low_open=True)
    with raises("x: parameter 'scale' is inf; use a finite value."):
        check_float("x", "scale", float("inf"))
    with raises("x: parameter 'scale' is -2.0; use a value >= 0.0 (in [0.0, inf])."):
        check_float("x", "scale", -2.0, 0.0)
    with raises(
        "dense.v1: parameter 'dropout' must be float, got '0.1' (str); use a value in [0.0, 0.9]."
    ):
        check_float("dense.v1", "dropout", "0.1", 0.0, 0.9)
    with raises("x: parameter 'scale' must be float, got True (bool); use a value <= 1.0 (in "
                "[-inf, 1.0])."):  # fmt: skip
        check_float("x", "scale", True, high=1.0)


def test_check_choice_returns_the_allowed_value() -> None:
    assert check_choice("global_pool.v1", "mode", "max", ("avg", "max")) == "max"
    assert check_choice("x", "k", 2, (1.0, 2.0)) == 2.0
    assert check_choice("x", "flag", True, (True, "auto")) is True


def test_check_choice_messages() -> None:
    with raises("global_pool.v1: parameter 'mode' is 'min'; choose one of ['avg', 'max']."):
        check_choice("global_pool.v1", "mode", "min", ("avg", "max"))
    with raises("x: parameter 'k' is True; choose one of [1, 2]."):
        check_choice("x", "k", True, (1, 2))  # a bool is not the int 1
    with raises("x: parameter 'k' is 1; choose one of [True, False]."):
        check_choice("x", "k", 1, (True, False))
    with raises("x: parameter 'k' is ['a']; choose one of ['a']."):
        check_choice("x", "k", ["a"], ("a",))


def test_check_choice_survives_values_with_elementwise_equality() -> None:
    with pytest.raises(SpecError, match="choose one of"):
        check_choice("x", "k", np.array([1, 2]), (1, 2))


def test_check_bool() -> None:
    assert check_bool("conv2d.v1", "batch_norm", True) is True
    assert check_bool("conv2d.v1", "batch_norm", False) is False
    with raises("conv2d.v1: parameter 'batch_norm' must be bool, got 1 (int); use true or false."):
        check_bool("conv2d.v1", "batch_norm", 1)
    with raises(
        "conv2d.v1: parameter 'batch_norm' must be bool, got 'yes' (str); use true or false."
    ):
        check_bool("conv2d.v1", "batch_norm", "yes")


def test_check_type() -> None:
    assert check_type("gen_out.v1", "shape", [1, 2], list) == [1, 2]
    with raises("spec: parameter 'head' must be BlockSpec, got 'classify.v1' (str)."):
        check_type("spec", "head", "classify.v1", type("BlockSpec", (), {}))
    with raises("x: parameter 'n' must be integer or float, got True (bool)."):
        check_type("x", "n", True, (int, float))
    assert check_type("x", "flag", True, (bool, str)) is True


@pytest.mark.parametrize(
    ("bounds", "text"),
    [
        ((1, 15, False), "use a value in [1, 15]"),
        ((1, None, False), "use a value >= 1 (in [1, inf])"),
        ((0.0, None, True), "use a value > 0.0 (in (0.0, inf])"),
        ((None, 5, False), "use a value <= 5 (in [-inf, 5])"),
        ((None, None, False), ""),
    ],
)
def test_describe_range(bounds: tuple[Any, Any, bool], text: str) -> None:
    assert describe_range(*bounds) == text
