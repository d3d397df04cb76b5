"""The cost of one model as a record (:class:`Cost`) and the limits it must stay within
(:class:`Budget`), with their JSON round trips and the budget check."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from nas.errors import BudgetError


@dataclass(frozen=True)
class Cost:
    """The measured cost of one model. ``latency_ms*`` are ``None`` when latency was skipped."""

    params: int  # all parameters, shared ones once
    trainable_params: int  # those with requires_grad
    flops: int  # one example's forward pass, eval mode
    latency_ms: float | None  # lower quartile of timed runs at batch 1
    latency_ms_batch: float | None  # the same at ``batch_size``
    batch_size: int
    memory_mb: float  # peak inference memory at batch 1, MiB
    energy_mj: float  # flops x ENERGY_PJ_PER_FLOP, millijoules per example
    device: str
    threads: int | None = None  # torch threads the latencies were timed on (None: not timed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``None`` stays ``null``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cost:
        """Rebuild from :meth:`to_dict`; missing or unknown keys raise :class:`BudgetError`."""
        return cls(**_checked_keys(cls, data))


@dataclass(frozen=True)
class Budget:
    """Upper limits on a model's cost, inclusive (a cost equal to its limit fits); ``None`` means
    unlimited. Every limit must be > 0. ``max_flops`` is per example (one forward pass)."""

    max_params: int | None = None
    max_flops: int | None = None
    max_latency_ms: float | None = None
    max_memory_mb: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            whole = f.name in ("max_params", "max_flops")
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value) and value > 0 and (not whole or value == int(value))
            if not ok:
                kind = "positive whole number" if whole else "positive number"
                shown = f"{value:g}" if isinstance(value, float) else repr(value)  # -1, not -1.0
                raise BudgetError(f"Budget {f.name} must be a {kind} or None, got {shown}.")
            # 1e6 from a TOML file or the CLI is a fine max_params; store it as the int it means,
            # while a float holds it exactly (1e30 stays 1e+30, not 1000000000000000019884624838656)
            exact = whole and abs(value) <= 2**53
            object.__setattr__(self, f.name, int(value) if exact else float(value))

    @property
    def is_empty(self) -> bool:
        """True when no limit is set."""
        return all(getattr(self, f.name) is None for f in fields(self))

    @property
    def needs_latency(self) -> bool:
        """True when checking needs a measured latency (``measure_cost(..., latency=True)``)."""
        return self.max_latency_ms is not None

    def check(self, cost: Cost) -> list[str]:
        """Human-readable violations of this budget by ``cost``; empty when within budget.

        Raises :class:`BudgetError` when a latency limit is set but ``cost`` has no latency: a
        silent pass would let an over-budget model train.
        """
        if self.needs_latency and cost.latency_ms is None:
            raise BudgetError(
                f"Budget max_latency_ms={self.max_latency_ms:g} needs a measured latency, but the "
                "cost has latency_ms=None; measure it with measure_cost(..., latency=True)."
            )
        pairs = [
            ("params", cost.params, self.max_params),
            ("flops", cost.flops, self.max_flops),
            ("latency_ms", cost.latency_ms, self.max_latency_ms),
            ("memory_mb", cost.memory_mb, self.max_memory_mb),
        ]
        return [
            f"{name} {_fmt(value)} > max_{name} {_fmt(limit)}"
            for name, value, limit in pairs
            if limit is not None and value is not None and value > limit
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the four limits."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Budget:
        """Rebuild from :meth:`to_dict`; absent limits are ``None``, unknown keys an error."""
        return cls(**_checked_keys(cls, data, required=False))


def _checked_keys(cls: type, data: Mapping[str, Any], required: bool = True) -> dict[str, Any]:
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(known))
    optional = {f.name for f in fields(cls) if f.default is not MISSING}  # added since: older
    missing = [k for k in known if k not in data and k not in optional] if required else []
    if unknown or missing:
        raise BudgetError(
            f"{cls.__name__}.from_dict got unknown keys {unknown} and lacks keys {missing}; "
            f"the keys are {known}."
        )
    return dict(data)


def _fmt(value: float) -> str:  # "1,234,567" for counts, "3.5" for measurements
    return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"


__all__ = ["Budget", "Cost"]
