"""`nas spaces --sample` times latency as a search does (1 thread) and restores the process's."""

from __future__ import annotations

import pytest
import torch

import nas.explore as explore
from nas.cost import measure_cost


def test_sample_measures_with_one_thread_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(torch.get_num_threads())
        return measure_cost(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("nas.cost.measure_cost", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        rows = explore.sample_architectures("fnn", dataset="iris", n=2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {1}
    assert all(r["latency_threads"] == 1 and r["latency_ms"] > 0 for r in rows)
