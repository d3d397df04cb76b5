"""Exploring spaces without searching: list them, show their dimensions, sample architectures
for a dataset's shape and measure each one's cost (what ``nas spaces`` prints)."""

from __future__ import annotations

from os import PathLike
from typing import Any

import optuna
import torch

from nas.cost import check_fits_memory, count_params, params_before_building
from nas.data import load_data
from nas.kinds import kind_for_space
from nas.train import configure_threads
from search_spaces import SpaceContext, get_space
from search_spaces.spaces import dimensions_read, registered_spaces


def space_list() -> list[tuple[str, str]]:
    """(name, description) of every registered space, in registration order."""
    return [(info.name, info.doc) for info in registered_spaces()]


def space_dimensions(space: str) -> dict[str, Any]:
    """A space's dimensions as TOML-like data: those it reads (``dimensions_read``), or all of
    them when that cannot be told (a space that reads a copy of its config, as "gan" does)."""
    out = get_space(space).to_dict()
    read = dimensions_read(out["space"])
    if read is not None:
        out["dims"] = {k: v for k, v in out["dims"].items() if k in read}
    return out


def sample_architectures(
    space: str,
    *,
    dataset: str | None = None,
    data: str | PathLike[str] | None = None,
    target: str | None = None,
    n: int = 5,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """``n`` random architectures of ``space`` for the data's shape, each with its cost; latency
    is measured as a search measures it, at batch 1 with 1 torch thread (the process's thread
    count is restored after)."""
    sp = get_space(space)
    kind = kind_for_space(sp.name)
    td = load_data(dataset=dataset, data=data, target=target, seed=seed)
    ctx = SpaceContext.of(td)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    threads = torch.get_num_threads()
    configure_threads(1)  # as a search measures: batch 1, one thread (nas.train.configure_threads)
    try:
        return _sample(study, sp, kind, ctx, space, n)
    finally:
        torch.set_num_threads(threads)


def _sample(study: Any, sp: Any, kind: Any, ctx: Any, space: str, n: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        trial = study.ask()
        spec = sp.sample(trial, ctx)
        shapes = params_before_building(kind.build_of, spec)
        if shapes is not None:  # before the weights are allocated: a huge sample is named
            check_fits_memory(count_params(shapes), f"sample {trial.number} of space {space!r}")
        cost = kind.cost_of(spec, ctx.input_shape, warmup=2, repeats=5)  # the deployable part
        study.tell(trial, 0.0)
        rows.append(
            {
                "family": kind.family_of(spec),
                "summary": spec.summary(),
                "params": cost.params,
                "flops": cost.flops,
                "latency_ms": cost.latency_ms,  # batch 1, 1 thread
                "latency_threads": 1,
                "memory_mb": cost.memory_mb,
                "params_sampled": trial.params,
                "spec": spec.to_dict(),
            }
        )
    return rows
