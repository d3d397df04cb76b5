"""Where a search's peak memory goes: resident memory before and after every trial.

    .venv/bin/python benchmarks/memory_trace.py TAG -- SEARCH_ARGS...

e.g. ``benchmarks/memory_trace.py mnist1d-s0 -- --dataset mnist1d --timeout 600 --seed 0
--no-report --no-explain`` (the arguments after ``--`` are those of ``nas search``; ``--out``
defaults to runs/bench-memory-TAG). The search runs in this process, as ``nas search`` would,
with every trial wrapped to read /proc/self/status before and after it: VmRSS, the peak so far
(VmHWM) and its anonymous and file-backed parts (RssAnon: the heap and torch's buffers;
RssFile: pages of the shared libraries touched so far). Writes
benchmarks/results/memory-trace-TAG.json: one row per trial, the trials that raised the peak
(by how much over the memory they started with: a trial's own peak is seen only when it raises
the process's; and what one training batch of theirs saves for backward), the memory after
the imports and after the first trial, the growth per trial between trials (a least-squares
slope), the peak of the whole command (the final retraining and test included), and how many
trials ran their steps in micro-batches (``nas.train.loop.STEP_MEMORY_MB``).
Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon and RssFile of this process, in MB."""
    keys = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in keys:
                out[key] = int(value.split()[0]) // 1024
    return out


def slope(xs: list[float], ys: list[float]) -> float:
    """The least-squares slope of ys over xs (0 for fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return 0.0
    return statistics.linear_regression(xs, ys).slope


def saved_for_backward_mb(spec: dict[str, Any]) -> float:
    """MB one whole training batch of ``spec`` would keep for its backward pass
    (``nas.train.loop.saved_bytes``: the activations, the weights not counted): what sets a
    trial's peak unless its steps run in micro-batches (the trial's ``micro_batch``)."""
    import torch

    from nas.train.loop import saved_bytes
    from search_spaces.build import build_model
    from search_spaces.spec import ArchSpec

    arch = ArchSpec.from_dict(spec)
    batch = int(spec["train"]["batch_size"])
    x = torch.randn(batch, *arch.input_shape)
    return round(saved_bytes(build_model(arch), x) / 2**20, 1)


def annotate(result: dict[str, Any], run_dir: Path) -> None:
    """Add to each trial that raised the peak what its training batch saves for backward."""
    import optuna

    storage = optuna.storages.RDBStorage(f"sqlite:///{run_dir / 'study.db'}")
    try:
        name = storage.get_all_studies()[0].study_name
        trials = optuna.load_study(study_name=name, storage=storage).trials
    finally:
        storage.engine.dispose()
    for row in result["raised_the_peak"]:
        spec = trials[row["trial"]].user_attrs.get("spec")
        row["saved_for_backward_mb"] = saved_for_backward_mb(spec) if spec else None
        row["micro_batch"] = trials[row["trial"]].user_attrs.get("micro_batch")
    result["trials_in_micro_batches"] = sum("micro_batch" in t.user_attrs for t in trials)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        usage="%(prog)s [-h] TAG -- SEARCH_ARGS...",
        epilog="e.g. %(prog)s mnist1d-s0 -- --dataset mnist1d --timeout 600 --seed 0 "
        "--no-report --no-explain. Writes benchmarks/results/memory-trace-TAG.json (see the "
        "module docstring).",
    )
    p.add_argument("tag", metavar="TAG", help="names the result file memory-trace-TAG.json")
    p.add_argument(
        "search_args",
        metavar="-- SEARCH_ARGS",
        nargs="*",
        help="after --: the arguments of nas search, run in this process (--out "
        "defaults to runs/bench-memory-TAG)",
    )
    return p


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """TAG from the arguments before the first ``--``, SEARCH_ARGS all those after it."""
    argv = sys.argv[1:] if argv is None else argv
    p = parser()
    cut = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:cut])
    if args.search_args:
        p.error(f"unrecognized arguments before --: {' '.join(args.search_args)}")
    if cut == len(argv):
        p.error("the arguments of nas search must follow --: TAG -- SEARCH_ARGS...")
    args.search_args = argv[cut + 1 :]
    return args


def main(argv: list[str] | None = None) -> None:
    parsed = parse(argv)
    tag, args = parsed.tag, parsed.search_args
    if "--out" not in args:
        out = ROOT / "runs" / f"bench-memory-{tag}"
        from nas.run import is_run_dir

        if out.exists() and not is_run_dir(out):  # only ever delete an earlier nas run
            sys.exit(f"{out} exists and is not a nas run directory; refusing to delete it.")
        shutil.rmtree(out, ignore_errors=True)
        args += ["--out", str(out)]
    imports = status()
    import nas.trial

    rows: list[dict[str, Any]] = []
    call = nas.trial.TrialObjective.__call__

    def traced(self: Any, trial: Any) -> Any:
        before, start = status(), time.perf_counter()
        try:
            return call(self, trial)
        finally:
            after, a = status(), trial.user_attrs
            rows.append({
                "trial": trial.number, "family": a.get("family"), "params": a.get("params"),
                "status": a.get("status"), "epochs": a.get("epochs"),
                "seconds": round(time.perf_counter() - start, 1),
                "rss_before": before["VmRSS"], "rss_after": after["VmRSS"],
                "peak_so_far": after["VmHWM"], "anon": after["RssAnon"], "file": after["RssFile"],
                "raised_peak_by": after["VmHWM"] - before["VmHWM"],
                # the trial's own peak over its start is known only when it raised the peak
                "over_start": after["VmHWM"] - before["VmRSS"]
                if after["VmHWM"] > before["VmHWM"] else None,
            })  # fmt: skip

    nas.trial.TrialObjective.__call__ = traced  # type: ignore[method-assign]
    from nas import deadline
    from nas.cli import app

    deadline.COMMAND_STARTED = deadline.process_started()  # as `nas search` counts --timeout
    code = 0
    try:
        app(["search", *args], prog_name="nas")
    except SystemExit as e:
        code = int(e.code or 0)
    end = status()
    raised = [r for r in rows if r["raised_peak_by"] > 0]
    later = [r for r in rows if r["trial"] > rows[0]["trial"]] if rows else []
    result = {
        "benchmark": "memory_trace",
        "command": "nas search " + " ".join(args).replace(str(ROOT) + "/", ""),
        "exit_code": code,
        "after_imports_mb": imports["VmRSS"],
        "after_first_trial_mb": rows[0]["rss_after"] if rows else None,
        "growth_per_trial_mb": round(
            slope([r["trial"] for r in later], [r["rss_after"] for r in later]), 2
        ),
        "anon_growth_per_trial_mb": round(
            slope([r["trial"] for r in later], [r["anon"] for r in later]), 2
        ),
        "search_peak_mb": max((r["peak_so_far"] for r in rows), default=None),
        "command_peak_mb": end["VmHWM"],
        "end": end,
        "raised_the_peak": raised,
        "trials": rows,
        "date": time.strftime("%Y-%m-%d"),
    }
    annotate(result, Path(args[args.index("--out") + 1]))  # after the peak was read
    dest = ROOT / "benchmarks" / "results" / f"memory-trace-{tag}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(f"after imports {result['after_imports_mb']} MB, after the first trial "
          f"{result['after_first_trial_mb']} MB, growth {result['growth_per_trial_mb']} MB per "
          f"trial (anonymous {result['anon_growth_per_trial_mb']}), search peak "
          f"{result['search_peak_mb']} MB, command peak "
          f"{result['command_peak_mb']} MB")  # fmt: skip
    for r in raised:
        print(
            f"  trial {r['trial']} ({r['family']}, {r['params']:,} params, {r['status']}): "
            f"{r['over_start']} MB over its start, peak now {r['peak_so_far']} MB; a whole "
            f"training batch keeps {r['saved_for_backward_mb']} MB for backward"
            + (f", its steps ran in passes of {r['micro_batch']}" if r["micro_batch"] else "")
        )
    print(f"trials whose steps ran in micro-batches: {result['trials_in_micro_batches']}")
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
