"""What a model costs before it trains: params, FLOPs, latency, memory, energy; and the Budget.

- :mod:`nas.cost.budget`: :class:`Cost` (one model's measured cost) and :class:`Budget` (the
  limits a trial must stay within, and the check).
- :mod:`nas.cost.measure`: :func:`measure_cost` (everything at once), :func:`count_params` and
  the energy estimate :data:`ENERGY_PJ_PER_FLOP`.
- :mod:`nas.cost.flops`: :func:`count_flops`, analytic for the fused kernels the counter misses.
- :mod:`nas.cost.runtime`: latency and memory of a forward pass.
"""

from __future__ import annotations

from nas.cost.budget import Budget, Cost
from nas.cost.flops import count_flops
from nas.cost.measure import (
    ENERGY_PJ_PER_FLOP,
    check_fits_memory,
    count_params,
    measure_cost,
    params_before_building,
)

__all__ = [
    "ENERGY_PJ_PER_FLOP",
    "Budget",
    "Cost",
    "check_fits_memory",
    "count_flops",
    "count_params",
    "measure_cost",
    "params_before_building",
]
