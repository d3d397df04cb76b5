"""Reproduce the search-accuracy numbers of BENCHMARKS.md.

    .venv/bin/python benchmarks/search_accuracy.py mnist1d [TIMEOUT]
    .venv/bin/python benchmarks/search_accuracy.py digits [TIMEOUT]

Each runs ``nas search --dataset NAME --space auto --timeout TIMEOUT`` (default 600 s).

Runs the real command in a fresh run directory, times it (search + final retraining), and
prints a Markdown row: dataset, test accuracy, trials by state, wall time, the winner.
The result is also written to benchmarks/results/<dataset>.json.
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

from nas.run import is_run_dir

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    dataset = sys.argv[1] if len(sys.argv) > 1 else "mnist1d"
    timeout = sys.argv[2] if len(sys.argv) > 2 else "600"
    out = ROOT / "runs" / f"bench-{dataset}"
    if out.exists() and not is_run_dir(out):  # only ever delete an earlier nas run
        sys.exit(f"{out} exists and is not a nas run directory; refusing to delete it.")
    shutil.rmtree(out, ignore_errors=True)
    nas = str(Path(sys.executable).with_name("nas"))
    cmd = [
        nas,
        "search",
        "--dataset",
        dataset,
        "--space",
        "auto",
        "--timeout",
        timeout,
        "--out",
        str(out),
        "--no-report",
        "--no-explain",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    best = json.loads((out / "best" / "metrics.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    result = {
        "command": " ".join(["nas", *cmd[1:]]),
        "dataset": dataset,
        "test_accuracy": best["test"]["accuracy"],
        "val_accuracy": best["val"]["accuracy"],
        "counts": summary["counts"],
        "wall_seconds": round(wall, 1),
        "winner": best["summary"],
        "params": best["cost"]["params"],
        "flops": best["cost"]["flops"],
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }
    dest = ROOT / "benchmarks" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / f"{dataset}.json").write_text(json.dumps(result, indent=2) + "\n")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result["counts"].items()))
    print(
        f"| {dataset} | {result['test_accuracy']:.4f} | {counts} | {wall:.0f} s | "
        f"{result['winner']} ({result['params']:,} params) |"
    )


if __name__ == "__main__":
    main()
