"""How many threads torch computes with in this process, and how many compiled CPU kernels it
keeps."""

from __future__ import annotations

import os

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


#: oneDNN (torch's CPU convolution and matmul library) keeps the kernels it compiled, one per
#: layer, shape and pass, up to 1,024 of them by default. A search compiles new ones for every
#: architecture, so the cache grew a search by ~0.8 MB a trial. 64 holds a trial's own: over 38
#: random CNNs of the search space trained in turn, the process grew 30 MB instead of 59 MB in
#: the same time (16.6 vs 16.5 s); with no cache at all, 22 % slower (benchmarks/kernel_cache.py).
KERNEL_CACHE = 64
KERNEL_CACHE_VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"


def limit_kernel_cache(capacity: int = KERNEL_CACHE) -> bool:
    """Cap oneDNN's kernel cache at ``capacity`` for this process and the workers it starts,
    unless ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` is set already (the user's choice wins); True
    when it was set here. oneDNN reads the variable when it builds its first kernel, so call
    this before anything in the process runs a convolution (``nas search`` and ``nas worker``
    do, first thing)."""
    _check_positive("the kernel cache capacity", capacity)
    if KERNEL_CACHE_VARIABLE in os.environ:
        return False
    os.environ[KERNEL_CACHE_VARIABLE] = str(capacity)
    return True


__all__ = ["KERNEL_CACHE", "configure_threads", "limit_kernel_cache"]
