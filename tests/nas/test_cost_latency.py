"""Latency under load: a fake clock makes most timed runs slow, as a busy machine does; the
estimate must still be the model's own time, so the budget admits a model under its limit and
rejects one over it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nas.cost.runtime as runtime
from nas.cost import Budget, measure_cost


class FakeClock:
    """Seconds that only the model's forward advances: ``own`` ms per run, plus ``extra`` ms on
    each run whose number is in ``busy`` (counted over every run, untimed ones too)."""

    def __init__(self, own: float, busy: set[int], extra: float = 3.0) -> None:
        self.now, self.own, self.busy, self.extra, self.runs = 0.0, own, busy, extra, 0

    def __call__(self) -> float:
        return self.now

    def run(self) -> None:
        self.now += (self.own + (self.extra if self.runs in self.busy else 0.0)) / 1e3
        self.runs += 1


class Timed(nn.Module):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.lin, self.clock = nn.Linear(4, 2), clock

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.clock.run()
        return self.lin(x)


def latency(own: float, busy: set[int], monkeypatch: pytest.MonkeyPatch, repeats: int) -> float:
    clock = FakeClock(own, busy)
    monkeypatch.setattr(runtime, "_clock", clock)
    cost = measure_cost(Timed(clock), (4,), batch_size=2, warmup=2, repeats=repeats)
    assert cost.latency_ms is not None
    return cost.latency_ms


# 3 of every 5 runs slowed by 3 ms: the median of any 5 runs is a slowed one
BUSY = {i for i in range(200) if i % 5 in (0, 2, 4)}


@pytest.mark.parametrize("repeats", [5, 20])  # a trial's and the winner's
def test_busy_machine_measures_the_models_own_latency(
    monkeypatch: pytest.MonkeyPatch, repeats: int
) -> None:
    assert latency(0.08, BUSY, monkeypatch, repeats) == pytest.approx(0.08)
    assert latency(0.08, set(), monkeypatch, repeats) == pytest.approx(0.08)
    budget = Budget(max_latency_ms=0.09)
    clock = FakeClock(0.08, BUSY)
    monkeypatch.setattr(runtime, "_clock", clock)
    fits = measure_cost(Timed(clock), (4,), batch_size=2, warmup=2, repeats=repeats)
    assert budget.check(fits) == []  # admitted though most of its runs took 3.08 ms
    clock = FakeClock(0.2, BUSY)
    monkeypatch.setattr(runtime, "_clock", clock)
    over = measure_cost(Timed(clock), (4,), batch_size=2, warmup=2, repeats=repeats)
    assert budget.check(over) == ["latency_ms 0.2 > max_latency_ms 0.09"]
    # and a model over the limit on every run is rejected even when the clock is quiet
    monkeypatch.setattr(runtime, "_clock", clock := FakeClock(0.1, set()))
    assert Budget(max_latency_ms=0.09).check(
        measure_cost(Timed(clock), (4,), batch_size=2, warmup=2, repeats=repeats)
    ) == ["latency_ms 0.1 > max_latency_ms 0.09"]


def test_runs_are_bounded_in_number_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(0.1, set())
    monkeypatch.setattr(runtime, "_clock", clock)
    measure_cost(Timed(clock), (4,), batch_size=2, warmup=2, repeats=5)
    # FLOPs and memory take a forward pass each; then per batch 2 untimed and 20 timed runs
    assert clock.runs == 2 + 2 * (2 + runtime.LATENCY_RUNS)
    clock = FakeClock(30.0, set())  # slow: 30 ms a run, so 2 timed runs pass the 50 ms
    monkeypatch.setattr(runtime, "_clock", clock)
    measure_cost(Timed(clock), (4,), batch_size=2, warmup=2, repeats=5)
    assert clock.runs == 2 + 2 * (2 + 5)  # the caller's 5, no more


def test_limit_is_inclusive() -> None:
    from tests.nas.test_cost import make_cost

    assert Budget(max_latency_ms=3.5, max_params=1_234_567).check(make_cost()) == []


@pytest.mark.parametrize(
    ("first", "second", "calls", "admitted"),
    [
        (0.10, 0.08, 2, True),  # 11 % over 0.09: measured again, under the limit
        (0.11, 0.10, 2, False),  # again, still over
        (0.20, 0.08, 1, False),  # far over: refused on one measurement
        (0.08, 0.50, 1, True),  # within: one measurement
    ],
)
def test_a_latency_just_over_the_limit_is_measured_once_more(
    first: float, second: float, calls: int, admitted: bool
) -> None:
    from dataclasses import replace

    from nas.cost import Cost
    from tests.nas.test_warm_start import _objective

    obj = _objective("cnn", Budget(max_latency_ms=0.09))
    base = Cost(
        params=100,
        trainable_params=100,
        flops=1000,
        latency_ms=None,
        latency_ms_batch=None,
        batch_size=1,
        memory_mb=0.1,
        energy_mj=0.0,
        device="cpu",
    )
    timed = iter([first, second])
    seen = []

    def cost(model: nn.Module, latency: bool = False, **kwargs: object) -> Cost:
        if not latency:
            return base
        seen.append(next(timed))
        return replace(base, latency_ms=seen[-1])

    obj.cost = cost  # type: ignore[method-assign]
    got, violations = obj.measure(nn.Linear(2, 2))
    assert len(seen) == calls and (violations == []) == admitted
    assert got.latency_ms == min(seen)
