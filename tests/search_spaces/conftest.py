"""Shared set-up of the model-side tests: deterministic torch, one thread, quiet Optuna."""

from __future__ import annotations

from collections.abc import Iterator

import optuna
import pytest
import torch


@pytest.fixture(autouse=True)
def _seeded_single_threaded_and_quiet() -> Iterator[None]:
    """Every test starts from the same torch seed, with Optuna's per-trial logging off.

    The models here are tiny: a second intra-op thread buys nothing, and on a busy 2-core
    machine spinning OpenMP workers slow the recurrent blocks down by orders of magnitude.
    """
    torch.manual_seed(0)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
