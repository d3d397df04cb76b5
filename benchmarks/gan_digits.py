"""Reproduce the GAN numbers of BENCHMARKS.md (issue 6): a conditional GAN for digits.

    .venv/bin/python benchmarks/gan_digits.py [TIMEOUT] [OUT]

Runs ``nas search --dataset digits --space gan --timeout TIMEOUT`` (default 600 s; conditional
GANs are allowed by default) in a fresh run directory (default runs/bench-gan-digits), without
explanations or report, times it (search + final retraining + test scoring) and prints the test
scores next to their references: conditional accuracy (target >= 0.80), FCD, the real-data
floors (two halves of the test split; as many train + val examples as the test split has), the
uniform-noise FCD, precision, recall, trials by state and the winner. The result is also
written to benchmarks/results/gan_digits.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_COND_ACCURACY = 0.80


def seconds(text: str) -> str:
    """At least 1 (second), passed on to ``nas search --timeout`` as written (an argparse type)."""
    if not float(text) >= 1:  # nas search's own minimum
        raise argparse.ArgumentTypeError(f"must be at least 1 (second), not {text}")
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Replaces the run directory OUT (only ever an earlier nas run) and writes "
        "benchmarks/results/gan_digits.json (see the module docstring).",
    )
    p.add_argument(
        "timeout",
        metavar="TIMEOUT",
        type=seconds,
        nargs="?",
        default="600",
        help="nas search --timeout, in seconds (default: 600)",
    )
    p.add_argument(
        "out",
        metavar="OUT",
        type=Path,
        nargs="?",
        default=ROOT / "runs" / "bench-gan-digits",
        help="the run directory (default: runs/bench-gan-digits)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    timeout, out = args.timeout, args.out
    from nas.run import is_run_dir

    if out.exists() and not is_run_dir(out):  # only ever delete an earlier nas run
        sys.exit(f"{out} exists and is not a nas run directory; refusing to delete it.")
    shutil.rmtree(out, ignore_errors=True)
    nas = str(Path(sys.executable).with_name("nas"))
    cmd = [nas, "search", "--dataset", "digits", "--space", "gan", "--timeout", timeout,
           "--out", str(out), "--no-explain", "--no-report"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    best = json.loads((out / "best" / "metrics.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    test = best["test"]
    result = {
        "command": " ".join(["nas", *cmd[1:]]),
        "cond_accuracy": test["cond_accuracy"],
        "target_cond_accuracy": TARGET_COND_ACCURACY,
        "meets_target": (test["cond_accuracy"] or 0.0) >= TARGET_COND_ACCURACY,
        "fcd": test["fcd"],
        "floor_fcd_two_halves": test["halves_fcd"],
        "floor_fcd_real_same_size": test["real_fcd"],
        "noise_fcd": test["noise_fcd"],
        "precision": test["precision"],
        "recall": test["recall"],
        "val_fcd": best["val"].get("fcd"),
        "classifier_test_accuracy": best["classifier"]["test_accuracy"],
        "counts": summary["counts"],
        "wall_seconds": round(wall, 1),
        "winner": best["summary"],
        "generator_params": best["cost"]["params"],
        "generator_flops": best["cost"]["flops"],
        "discriminator_params": best["cost_discriminator"]["params"],
        "retrain_epochs": best["retrain"]["epochs"],
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }
    dest = ROOT / "benchmarks" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "gan_digits.json").write_text(json.dumps(result, indent=2) + "\n")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result["counts"].items()))
    print(json.dumps(result, indent=2))
    print(
        f"| digits (gan) | cond acc {result['cond_accuracy']:.3f} | FCD {result['fcd']:.1f} "
        f"(floors {result['floor_fcd_real_same_size']:.1f} / {result['floor_fcd_two_halves']:.1f}"
        f", noise {result['noise_fcd']:.1f}) | P {result['precision']:.2f} R "
        f"{result['recall']:.2f} | {counts} | {wall:.0f} s | {result['winner']} |"
    )


if __name__ == "__main__":
    main()
