"""Search science (issue 11, item 5): TPE vs random vs "warm start only", at equal wall budget.

    .venv/bin/python benchmarks/sampler_study.py [--budget 180] [--seeds 0,1,2,3,4]
        [--datasets mnist1d,digits,breast_cancer] [--parallel 1]

Per dataset, seed and arm, one real command in a fresh run directory
(``runs/study-<dataset>-<arm>-s<seed>``):

- ``tpe``: ``nas search --dataset D --space auto --timeout BUDGET --seed S --sampler tpe``
- ``random``: the same with ``--sampler random``
- ``warm``: the warm-start trials only (``--trials K``, K = the number of starting points of
  the auto space for D), which may end before the budget

Every arm starts from the same starting points (the default ``--warm-start``), so tpe and
random differ only in what they sample after them. Test accuracy is read from the run's
``best/metrics.json`` (held-out split, measured once). Prints per cell: n, mean, std and a 95 %
interval of the mean (Student t), and writes benchmarks/results/sampler_study-<BUDGET>s.json.
``--parallel 2`` runs two commands at a time (one torch thread each): every arm then shares
the machine the same way, but trials are slower than alone; the table says which was used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scipy import stats

from nas.data import load_data
from nas.run import is_run_dir
from search_spaces import Space, SpaceContext
from search_spaces.spaces import starting_points

ROOT = Path(__file__).resolve().parents[1]
ARMS = ("tpe", "random", "warm")


def n_starts(dataset: str) -> int:
    return len(starting_points(Space("auto"), SpaceContext.of(load_data(dataset=dataset))))


def run_one(dataset: str, arm: str, seed: int, budget: str, k: int) -> dict[str, Any]:
    out = ROOT / "runs" / f"study-{dataset}-{arm}-s{seed}"
    if out.exists() and not is_run_dir(out):  # only ever delete an earlier nas run
        sys.exit(f"{out} exists and is not a nas run directory; refusing to delete it.")
    shutil.rmtree(out, ignore_errors=True)
    nas = str(Path(sys.executable).with_name("nas"))
    cmd = [nas, "search", "--dataset", dataset, "--space", "auto", "--seed", str(seed),
           "--out", str(out), "--no-report", "--no-explain", "--threads", "1"]  # fmt: skip
    if arm == "warm":
        cmd += ["--trials", str(k), "--timeout", budget]
    else:
        cmd += ["--timeout", budget, "--sampler", arm]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"dataset": dataset, "arm": arm, "seed": seed, "error": done.stderr[-500:]}
    best = json.loads((out / "best" / "metrics.json").read_text())
    counts = json.loads((out / "summary.json").read_text())["counts"]
    return {"dataset": dataset, "arm": arm, "seed": seed, "test": best["test"]["accuracy"],
            "val": best["val"]["accuracy"], "trials": sum(counts.values()),
            "winner_trial": best["trial"], "family": best["family"],
            "wall_seconds": round(wall, 1)}  # fmt: skip


def interval(values: list[float]) -> tuple[float, float, float, float]:
    """Mean, std, and the 95 % Student-t interval of the mean (clipped to [0, 1])."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0, mean, mean
    sd = statistics.stdev(values)
    half = stats.t.ppf(0.975, len(values) - 1) * sd / len(values) ** 0.5
    return mean, sd, max(0.0, mean - half), min(1.0, mean + half)  # an accuracy is in [0, 1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--budget", default="180")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--datasets", default="mnist1d,digits,breast_cancer")
    p.add_argument("--parallel", type=int, default=1)
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    jobs = []
    for dataset in a.datasets.split(","):
        k = n_starts(dataset)
        jobs += [(dataset, arm, seed, a.budget, k) for seed in seeds for arm in ARMS]
    with ThreadPoolExecutor(max_workers=a.parallel) as pool:
        runs = list(pool.map(lambda j: run_one(*j), jobs))
    for r in runs:
        if "error" in r:
            print(f"failed: {r['dataset']} {r['arm']} seed {r['seed']}: {r['error']}")
    rows = []
    print(f"budget {a.budget} s per run, seeds {a.seeds}, {a.parallel} run(s) at a time")
    print("| dataset | arm | n | mean test acc | std | 95 % interval | mean trials |")
    print("|---|---|---|---|---|---|---|")
    for dataset in a.datasets.split(","):
        for arm in ARMS:
            cell = [r for r in runs if r["dataset"] == dataset and r["arm"] == arm and "test" in r]
            if not cell:
                continue
            mean, sd, lo, hi = interval([r["test"] for r in cell])
            trials = statistics.fmean(r["trials"] for r in cell)
            rows.append({"dataset": dataset, "arm": arm, "n": len(cell), "mean": mean, "std": sd,
                         "ci95": [lo, hi], "mean_trials": trials})  # fmt: skip
            print(f"| {dataset} | {arm} | {len(cell)} | {mean:.4f} | {sd:.4f} | "
                  f"[{lo:.4f}, {hi:.4f}] | {trials:.1f} |")  # fmt: skip
    out = ROOT / "benchmarks" / "results" / f"sampler_study-{float(a.budget):g}s.json"
    out.write_text(json.dumps({"budget": float(a.budget), "seeds": seeds,
                               "parallel": a.parallel, "cpus": os.cpu_count(),
                               "cells": rows, "runs": runs}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
