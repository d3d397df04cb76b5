"""How many threads torch computes with in this process."""

from __future__ import annotations

import torch

from nas.train._checks import _check_positive


def configure_threads(n: int | None = None, *, workers: int = 1) -> int:
    """Set torch's intra-op thread count deliberately and return it; call once per process.

    ``n`` wins when given. Otherwise every process gets ONE thread and parallelism comes from
    processes (``nas search --jobs N``): the small models of a search gain at most ~2x from a
    second intra-op thread, but lose badly whenever a core is busy with anything else, because
    an OpenMP region waits for its slowest (preempted) thread. Measured here on 2 cores under
    load, two epochs of the MNIST-1D CNN took 1.0 s with 1 thread and 1.0-39 s with 2, and
    benchmarks/parallel_scaling.py measured 56 vs 10 trials/min (BENCHMARKS.md). Large
    models on an idle machine can ask for more with ``--threads``. ``workers`` is validated and
    kept for callers that size threads by worker count.
    """
    _check_positive("workers", workers)
    if n is None:
        n = 1
    _check_positive("the thread count", n)
    torch.set_num_threads(n)
    return n


__all__ = ["configure_threads"]
