"""How much a search's process grows from oneDNN's cache of compiled CPU kernels, and what the cap
``nas search`` sets costs in time.

    .venv/bin/python benchmarks/kernel_cache.py [N]

Samples N (default 40) random architectures of the ``cnn`` space for MNIST-1D (Optuna's
RandomSampler, seed 3; those over 300k parameters skipped) and, in a fresh process per setting
of ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` (oneDNN's default of 1,024, nas's 64, and 0: no cache),
does what a trial does with each in turn: measure its cost (FLOPs, latency at batch 1 and 256),
train it one epoch on 600 training rows with validation on 200, free it and hand the heap back
(``malloc_trim``). Reports the resident memory after the first model and after the last, the
growth per model and the wall time. One torch thread; Linux only (it reads /proc). Writes
benchmarks/results/kernel_cache.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _cli  # benchmarks/_cli.py (a script's own folder is first on sys.path)

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"1024 (oneDNN's default)": "1024", "64 (nas)": "64", "0 (no cache)": "0"}


def child(n: int) -> None:
    """Train the N sampled models in turn; print one JSON line."""
    import ctypes
    import gc
    from dataclasses import replace

    import optuna

    from nas.cost import measure_cost
    from nas.data import load_dataset
    from nas.data.taskdata import Split
    from nas.train import configure_threads, train_model
    from search_spaces.build import build_model
    from search_spaces.spaces import SpaceContext, get_space

    def rss() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) // 1024

    configure_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trim = ctypes.CDLL("libc.so.6").malloc_trim
    data = load_dataset("mnist1d")
    data = replace(data, train=Split(data.train.X[:600], data.train.y[:600]),
                   val=Split(data.val.X[:200], data.val.y[:200]))  # fmt: skip
    ctx = SpaceContext.of(data)
    space = get_space("cnn")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    rows, start = [], time.perf_counter()
    for _ in range(n):
        trial = study.ask()
        spec = space.sample(trial, ctx)
        study.tell(trial, 0.0)
        model = build_model(spec)
        if sum(p.numel() for p in model.parameters()) > 300_000:
            continue
        measure_cost(model, tuple(data.input_shape), latency=True, repeats=3)
        train_model(model, data, spec.train, epochs=1, seed=0)
        del model
        gc.collect()
        trim(0)
        rows.append(rss())
    print(json.dumps({"models": len(rows), "rss_mb": rows,
                      "seconds": round(time.perf_counter() - start, 1)}))  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = _cli.parser(__doc__, "kernel_cache.json")
    p.add_argument(
        "n",
        metavar="N",
        type=_cli.positive_int,
        nargs="?",
        default=40,
        help="random cnn architectures sampled for MNIST-1D (default: 40)",
    )
    # internal: main() runs this script again with --child N, once per cache setting
    p.add_argument("--child", type=_cli.positive_int, metavar="N", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.child is not None:  # one setting's models, in the process main() started for it
        child(args.child)
        return
    n = args.n
    results = {}
    for label, value in SETTINGS.items():
        env = {**os.environ, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": value}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], env=env,
                             capture_output=True, text=True, check=True)  # fmt: skip
        row = json.loads(out.stdout.strip().splitlines()[-1])
        mb = row["rss_mb"]
        growth = round((mb[-1] - mb[0]) / max(1, len(mb) - 1), 2)
        row.update(first_mb=mb[0], last_mb=mb[-1], growth_per_model_mb=growth)
        results[label] = row
        print(f"cache {label}: {row['models']} models, {mb[0]} -> {mb[-1]} MB "
              f"({growth} MB per model), {row['seconds']} s", flush=True)  # fmt: skip
    dest = ROOT / "benchmarks" / "results" / "kernel_cache.json"
    dest.write_text(json.dumps({"benchmark": "kernel_cache", "sampled": n, "results": results,
                                "date": time.strftime("%Y-%m-%d")}, indent=2) + "\n")  # fmt: skip
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
