"""Reproduce the parallel-scaling numbers of BENCHMARKS.md: trials per minute, --jobs 1 vs 2.

    .venv/bin/python benchmarks/parallel_scaling.py [TRIALS] [EPOCHS]

Runs the same search three times, in fresh run directories, one after the other:

    nas search --dataset digits --space <SPACE below> --trials 16 --epochs 3 --seed 0 \\
        --pruner none --no-warm-start --no-report --no-explain --jobs J [--threads 2]

with ``--jobs 1``, ``--jobs 2`` and ``--jobs 1 --threads 2``. Every trial trains the same small
CNN (only the learning rate is searched, and nothing is pruned), so the runs do the same work.
Each process has one torch thread by default, so ``--jobs 2`` over ``--jobs 1`` is the gain of
a second process; the ``--threads 2`` run shows what a second intra-op thread gives instead.

Two rates per run: the search phase (finished trials over the span from the first trial's start
to the last one's end, read from the study: process start-up and the final retraining left out)
and end to end (finished trials over the wall time of the whole command). Prints a Markdown
table and the ratios; writes benchmarks/results/parallel_scaling.json.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nas.run import is_run_dir

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
        "mean_trial_seconds": round(
            sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done) / len(done),
            2,
        ),
        "load_average_before": round(load_before, 2),
    }


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    dest = ROOT / "benchmarks" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    space = ROOT / "runs" / "bench-parallel-space.toml"
    space.parent.mkdir(parents=True, exist_ok=True)
    space.write_text(SPACE, encoding="utf-8")

    runs = [run_once(j, t, trials, epochs, space) for j, t in ((1, None), (2, None), (1, 2))]
    one, two, two_threads = runs
    one["threads_per_process"], two["threads_per_process"] = 1, 1  # the default
    result = {
        "benchmark": "parallel_scaling",
        "dataset": "digits",
        "space": SPACE,
        "trials": trials,
        "epochs": epochs,
        "runs": runs,
        # --jobs 2 over --jobs 1 (one thread each), and over one process with two threads
        "speedup_search": ratio(two, one, "search"),
        "speedup_end_to_end": ratio(two, one, "end_to_end"),
        "speedup_search_vs_two_threads": ratio(two, two_threads, "search"),
        "speedup_end_to_end_vs_two_threads": ratio(two, two_threads, "end_to_end"),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_after": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d"),
    }
    (dest / "parallel_scaling.json").write_text(json.dumps(result, indent=2) + "\n")

    print("| jobs | threads/process | trials | mean trial s | search s | trials/min (search) "
          "| wall s | trials/min (end to end) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r['jobs']} | {r['threads_per_process']} | {r['finished_trials']} | "
            f"{r['mean_trial_seconds']} | {r['search_seconds']} | "
            f"{r['trials_per_minute_search']} | {r['wall_seconds']} | "
            f"{r['trials_per_minute_end_to_end']} |"
        )
    print(
        f"\n--jobs 2 / --jobs 1: {result['speedup_search']}x trials per minute in the search "
        f"phase, {result['speedup_end_to_end']}x end to end; over --jobs 1 --threads 2: "
        f"{result['speedup_search_vs_two_threads']}x and "
        f"{result['speedup_end_to_end_vs_two_threads']}x ({os.cpu_count()} CPUs; load average "
        f"{one['load_average_before']} before the first run, {result['load_average_after']} "
        "after the last)."
    )


def ratio(a: dict[str, Any], b: dict[str, Any], rate: str) -> float:
    """How many times the trials per minute of run ``a`` that of run ``b`` is."""
    key = f"trials_per_minute_{rate}"
    return round(a[key] / b[key], 2)


if __name__ == "__main__":
    main()
