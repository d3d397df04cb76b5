"""Reproduce the parallel-scaling numbers of BENCHMARKS.md: trials per minute, --jobs 1 vs 2.

    .venv/bin/python benchmarks/parallel_scaling.py [TRIALS] [EPOCHS] [REPEATS]

Runs the same search, in fresh run directories, one after the other:

    nas search --dataset digits --space <SPACE below> --trials 16 --epochs 3 --seed 0 \\
        --pruner none --no-warm-start --no-report --no-explain --jobs J [--threads 2]

with ``--jobs 1`` and ``--jobs 2`` in turn, REPEATS times (default 3: a shared machine's speed
drifts by more than the effect measured, so each pair is compared within itself and the median
pair ratio is the result), then ``--jobs 1 --threads 2`` once. Every trial trains the same small
CNN (only the learning rate is searched, and nothing is pruned), so the runs do the same work.
Each process has one torch thread by default, so ``--jobs 2`` over ``--jobs 1`` is the gain of
a second process; the ``--threads 2`` run shows what a second intra-op thread gives instead.

Two rates per run: the search phase (finished trials over the span from the first trial's start
to the last one's end, read from the study: process start-up and the final retraining left out)
and end to end (finished trials over the wall time of the whole command); and, with two
processes, the worker's lag (from the first trial's start to the first start of a trial by the
second process: its start-up). Prints a Markdown table and the ratios; writes
benchmarks/results/parallel_scaling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _cli  # benchmarks/_cli.py (a script's own folder is first on sys.path)

ROOT = Path(__file__).resolve().parents[1]

#: A fixed two-block CNN for 8x8 digits; only the learning rate varies between trials.
SPACE = """\
space = "cnn"
[cnn]
n_blocks = 2
channels = 16
kernel = 3
batch_norm = true
activation = "relu"
residual = false
pool = "max"
pool_every = 1
growth = 1.0
separable = false
dropout = 0.0
reduce = "avg"
[head]
hidden = 0
[train]
optimizer = "adamw"
lr = { low = 1e-3, high = 1e-2, log = true }
batch_size = 32
"""


def run_once(
    jobs: int, threads: int | None, trials: int, epochs: int, space: Path
) -> dict[str, Any]:
    """One ``nas search --jobs JOBS [--threads THREADS]`` in a fresh run directory; its rates."""
    import optuna

    from nas.run import is_run_dir

    study = f"bench-parallel-jobs{jobs}" + (f"-threads{threads}" if threads else "")
    out = ROOT / "runs" / study
    if out.exists() and not is_run_dir(out):  # only ever delete an earlier nas run
        sys.exit(f"{out} exists and is not a nas run directory; refusing to delete it.")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        str(Path(sys.executable).with_name("nas")), "search", "--dataset", "digits",
        "--space", str(space), "--trials", str(trials), "--epochs", str(epochs), "--seed", "0",
        "--pruner", "none", "--no-warm-start", "--no-report", "--no-explain",
        "--study", study, "--out", str(out), "--jobs", str(jobs),
    ]  # fmt: skip
    if threads:
        cmd += ["--threads", str(threads)]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / 'study.db'}")
    try:
        done = [t for t in optuna.load_study(study_name=study, storage=storage).get_trials()
                if t.state.is_finished()]  # fmt: skip
    finally:
        storage.engine.dispose()
    first = min(t.datetime_start for t in done)
    last = max(t.datetime_complete for t in done)
    span = (last - first).total_seconds()
    workers = {t.user_attrs.get("worker") for t in done}
    first_by = {}
    for t in sorted(done, key=lambda t: t.datetime_start):
        first_by.setdefault(t.user_attrs.get("worker"), t.datetime_start)
    lag = (max(first_by.values()) - first).total_seconds() if len(first_by) > 1 else None
    return {
        "jobs": jobs,
        "threads_per_process": threads,
        "command": " ".join(["nas", *cmd[1:]]).replace(str(ROOT) + "/", ""),
        "finished_trials": len(done),
        "processes_that_ran_trials": len(workers),
        "search_seconds": round(span, 1),
        "wall_seconds": round(wall, 1),
        "trials_per_minute_search": round(60 * len(done) / span, 2),
        "trials_per_minute_end_to_end": round(60 * len(done) / wall, 2),
        "worker_lag_seconds": None if lag is None else round(lag, 2),
        "mean_trial_seconds": round(
            sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done) / len(done),
            2,
        ),
        "load_average_before": round(load_before, 2),
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Replaces the run directories runs/bench-parallel-* and writes "
        "benchmarks/results/parallel_scaling.json (see the module docstring).",
    )
    p.add_argument(
        "trials",
        metavar="TRIALS",
        type=_cli.positive_int,
        nargs="?",
        default=16,
        help="nas search --trials of every run (default: 16)",
    )
    p.add_argument(
        "epochs",
        metavar="EPOCHS",
        type=_cli.positive_int,
        nargs="?",
        default=3,
        help="nas search --epochs of every run (default: 3)",
    )
    p.add_argument(
        "repeats",
        metavar="REPEATS",
        type=_cli.positive_int,
        nargs="?",
        default=3,
        help="--jobs 1 / --jobs 2 pairs; the median pair ratio is the result (default: 3)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    trials, epochs, repeats = args.trials, args.epochs, args.repeats
    dest = ROOT / "benchmarks" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    space = ROOT / "runs" / "bench-parallel-space.toml"
    space.parent.mkdir(parents=True, exist_ok=True)
    space.write_text(SPACE, encoding="utf-8")

    load_before = round(os.getloadavg()[0], 2)
    pairs = []
    for r in range(repeats):
        one, two = (run_once(j, None, trials, epochs, space) for j in (1, 2))
        one["threads_per_process"] = two["threads_per_process"] = 1  # the default
        one["repeat"] = two["repeat"] = r
        pairs.append((one, two))
    two_threads = run_once(1, 2, trials, epochs, space)
    runs = [run for pair in pairs for run in pair] + [two_threads]
    search = [ratio(two, one, "search") for one, two in pairs]
    end = [ratio(two, one, "end_to_end") for one, two in pairs]
    two_median = sorted((two for _, two in pairs), key=lambda r: r["trials_per_minute_search"])
    two = two_median[len(two_median) // 2]
    result = {
        "benchmark": "parallel_scaling",
        "dataset": "digits",
        "space": SPACE,
        "trials": trials,
        "epochs": epochs,
        "repeats": repeats,
        "runs": runs,
        # --jobs 2 over --jobs 1 (one thread each) per pair, and their medians
        "speedup_search_per_pair": search,
        "speedup_end_to_end_per_pair": end,
        "speedup_search": statistics.median(search),
        "speedup_end_to_end": statistics.median(end),
        "worker_lag_seconds": [two["worker_lag_seconds"] for _, two in pairs],
        # the median --jobs 2 run over one process with two threads
        "speedup_search_vs_two_threads": ratio(two, two_threads, "search"),
        "speedup_end_to_end_vs_two_threads": ratio(two, two_threads, "end_to_end"),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_after": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d"),
    }
    (dest / "parallel_scaling.json").write_text(json.dumps(result, indent=2) + "\n")

    print("| run | jobs | threads/process | trials | mean trial s | worker lag s | search s "
          "| trials/min (search) | wall s | trials/min (end to end) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        lag = r["worker_lag_seconds"]
        print(
            f"| {r.get('repeat', '-')} | {r['jobs']} | {r['threads_per_process']} | "
            f"{r['finished_trials']} | {r['mean_trial_seconds']} | "
            f"{'-' if lag is None else lag} | {r['search_seconds']} | "
            f"{r['trials_per_minute_search']} | {r['wall_seconds']} | "
            f"{r['trials_per_minute_end_to_end']} |"
        )
    print(
        f"\n--jobs 2 / --jobs 1 per pair: {search} in the search phase (median "
        f"{result['speedup_search']}x), {end} end to end (median {result['speedup_end_to_end']}x);"
        f" the median --jobs 2 run over --jobs 1 --threads 2: "
        f"{result['speedup_search_vs_two_threads']}x and "
        f"{result['speedup_end_to_end_vs_two_threads']}x ({os.cpu_count()} CPUs; load average "
        f"{load_before} before the first run, {result['load_average_after']} after the last)."
    )


def ratio(a: dict[str, Any], b: dict[str, Any], rate: str) -> float:
    """How many times the trials per minute of run ``a`` that of run ``b`` is."""
    key = f"trials_per_minute_{rate}"
    return round(a[key] / b[key], 2)


if __name__ == "__main__":
    main()
