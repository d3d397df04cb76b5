"""Reproduce the explanation-time number of BENCHMARKS.md (issue 4).

    .venv/bin/python benchmarks/search_accuracy.py mnist1d      # makes runs/bench-mnist1d
    .venv/bin/python benchmarks/explain_time.py [RUN_DIR] [THREADS]

Explains 200 test samples of the run's winner with integrated gradients, one SHAP method (the
one nas chooses for the architecture) and every quality check, as `nas explain RUN --samples
200 --methods integrated_gradients,shap` does, and prints the wall time. Writes
benchmarks/results/explain_time.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import _cli  # benchmarks/_cli.py (a script's own folder is first on sys.path)

ROOT = Path(__file__).resolve().parents[1]


def parser() -> argparse.ArgumentParser:
    p = _cli.parser(__doc__, "explain_time.json")
    p.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        type=Path,
        nargs="?",
        default=ROOT / "runs" / "bench-mnist1d",
        help="the finished run whose winner is explained (default: runs/bench-mnist1d, "
        "which `benchmarks/search_accuracy.py mnist1d` makes)",
    )
    p.add_argument(
        "threads",
        metavar="THREADS",
        type=_cli.positive_int,
        nargs="?",
        default=None,
        help="torch threads (default: nas's, one thread)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    run_dir, threads = args.run_dir, args.threads  # threads None: nas's default, one thread
    if not (run_dir / "run.json").is_file():
        p.error(f"{run_dir} is not a nas run directory (no run.json): search first: "
                "benchmarks/search_accuracy.py mnist1d makes runs/bench-mnist1d")  # fmt: skip
    import torch

    from nas.explaining import explain_run

    start = time.perf_counter()
    exp = explain_run(
        run_dir, samples=200, methods=["integrated_gradients", "shap"], threads=threads
    )
    wall = time.perf_counter() - start
    statuses = {c.name + ":" + c.method: c.status for c in exp.checks}
    result = {
        "command": f"nas explain {run_dir.name} --samples 200 --methods integrated_gradients,shap",
        "run": run_dir.name, "samples": int(len(exp.X)), "methods": list(exp.attributions),
        "wall_seconds": round(wall, 1), "threads": torch.get_num_threads(),
        "method_seconds": {m: round(a.seconds, 2) for m, a in exp.attributions.items()},
        "checks": statuses,
    }  # fmt: skip
    dest = ROOT / "benchmarks" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "explain_time.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
