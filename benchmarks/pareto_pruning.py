"""Pareto searches with and without nas's Pareto pruner, at equal wall time (issue 16, part 1).

    .venv/bin/python benchmarks/pareto_pruning.py DATASET [--timeout 600] [--seeds 0,1,2]
        [--top 4] [--pair]

For each seed, runs the real command twice in fresh run directories, once per arm:

    nas search --dataset DATASET --space auto --objectives accuracy,params --timeout TIMEOUT
        --top TOP --seed SEED --pruner hyperband|none --no-report --no-explain

(``hyperband`` in a multi-objective study is nas's Pareto halving, nas/pareto_pruner.py;
``none`` trains every trial to the end, as nas did before.) ``--pair`` runs the two arms of a
seed side by side (one torch thread each, the default), so that they share the machine's load
equally; without it they run one after the other.

The measure is the hypervolume of the *test-set* Pareto front: the --top K models nas keeps
(the validation Pareto front, each retrained and tested once; ``--timeout`` keeps the time for
all K retrains, so a large K leaves little time to search) as points (test error,
log10 parameters), the non-dominated ones among them, against the reference point
(error 1.0, log10 params 7.0, i.e. 10 M parameters); larger is better. Prints one row per run
and the mean per arm; writes benchmarks/results/pareto-pruning-<DATASET>-<TIMEOUT>.json.

A kept model no better than always answering the majority class still adds area along the
parameter axis (a 227-parameter model at 12 % on digits' ten classes did, /tmp/oA4 F1), so each
row also gives ``hypervolume_above_chance``: the same measure over the kept models whose test
accuracy beats the majority class's share of the test split (the training split's most frequent
class) by a one-sided exact binomial test at p < 0.05. ``--rescore FILE`` adds it to a results
file written before it was measured (the splits are rebuilt from the dataset and seed).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna

from nas.run import is_run_dir

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = (1.0, 7.0)  # (test error, log10 parameters)


def hypervolume_2d(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """The area dominated by ``points`` (both coordinates minimised) inside ``ref``."""
    inside = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    area, best_y = 0.0, ref[1]
    for x, y in inside:  # sweep by the first coordinate; keep the running minimum of the second
        if y < best_y:
            area += (ref[0] - x) * (best_y - y)
            best_y = y
    return area


def chance(dataset: str, seed: int) -> tuple[int, float]:
    """The test split's size and the share of it that the majority class (the training
    split's most frequent) makes up: what always answering that class scores."""
    import numpy as np

    from nas.data import load_data

    data = load_data(dataset=dataset, seed=seed)
    train_y, test_y = data.train.y.numpy(), data.test.y.numpy()
    values, counts = np.unique(train_y, return_counts=True)
    return len(test_y), float(np.mean(test_y == values[np.argmax(counts)]))


def above_chance(front: list[dict[str, Any]], n_test: int, share: float) -> float:
    """The hypervolume of the kept models that beat the majority class (exact binomial test,
    one-sided, p < 0.05)."""
    from scipy.stats import binomtest

    kept = [f for f in front
            if binomtest(round(f["accuracy"] * n_test), n_test, share,
                         alternative="greater").pvalue < 0.05]  # fmt: skip
    points = [(1.0 - f["accuracy"], math.log10(f["params"])) for f in kept]
    return round(hypervolume_2d(points, REFERENCE), 5)


def rescore(path: Path) -> None:
    """Add ``hypervolume_above_chance`` to each row of a results file, and print the rows."""
    record = json.loads(path.read_text())
    dataset = path.name.removeprefix("pareto-pruning-").rsplit("-", 1)[0]
    for r in record["rows"]:
        r["hypervolume_above_chance"] = above_chance(r["front"], *chance(dataset, r["seed"]))
        print(f"| {dataset} | {r['seed']} | {r['pruner']} | {r['hypervolume']:.3f} | "
              f"{r['hypervolume_above_chance']:.3f} |")  # fmt: skip
    record["summary_above_chance"] = {
        p: statistics.mean(r["hypervolume_above_chance"] for r in record["rows"]
                           if r["pruner"] == p)
        for p in ("hyperband", "none")
    }  # fmt: skip
    path.write_text(json.dumps(record, indent=2))


def test_front(run: Path) -> list[dict[str, Any]]:
    """The kept models' test accuracy and size (top/<k>/metrics.json)."""
    out = []
    for path in sorted((run / "top").glob("*/metrics.json"), key=lambda p: int(p.parent.name)):
        m = json.loads(path.read_text())
        out.append({"trial": m["trial"], "accuracy": m["test"]["accuracy"],
                    "params": m["cost"]["params"]})  # fmt: skip
    return out


def trial_counts(run: Path) -> dict[str, int]:
    storage = f"sqlite:///{run / 'study.db'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    st = optuna.load_study(study_name=summary.study_name, storage=storage)
    counts: dict[str, int] = {}
    for t in st.get_trials(deepcopy=False):
        s = str(t.user_attrs.get("status") or t.state.name.lower())
        counts[s] = counts.get(s, 0) + 1
    return counts


def start(
    args: argparse.Namespace, seed: int, pruner: str
) -> tuple[Path, subprocess.Popen[bytes], float]:
    run = ROOT / "runs" / f"bench-pareto-{args.dataset}-{pruner}-s{seed}"
    if run.exists():
        if not is_run_dir(run):
            sys.exit(f"{run} exists and is not a nas run directory; move it away first.")
        shutil.rmtree(run)
    cmd = [sys.executable, "-m", "nas.cli", "search", "--dataset", args.dataset, "--space",
           "auto", "--objectives", "accuracy,params", "--timeout", str(args.timeout), "--top",
           str(args.top), "--seed", str(seed), "--pruner", pruner, "--no-report",
           "--no-explain", "--out", str(run)]  # fmt: skip
    return run, subprocess.Popen(cmd, stdout=subprocess.DEVNULL), time.time()


def result(
    run: Path, proc: subprocess.Popen[bytes], t0: float, seed: int, pruner: str, dataset: str
) -> dict:
    if proc.wait() != 0:
        sys.exit(f"the search into {run} failed (exit {proc.returncode}).")
    wall = time.time() - t0
    front = test_front(run)
    points = [(1.0 - f["accuracy"], math.log10(f["params"])) for f in front]
    return {"seed": seed, "pruner": pruner, "wall_s": round(wall, 1),
            "hypervolume": round(hypervolume_2d(points, REFERENCE), 5),
            "hypervolume_above_chance": above_chance(front, *chance(dataset, seed)), "front": front,
            "trials": trial_counts(run)}  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--rescore"]:
        for name in sys.argv[2:]:
            rescore(Path(name))
        return
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("dataset")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--top", type=int, default=4)
    ap.add_argument("--pair", action="store_true")
    args = ap.parse_args()
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        if args.pair:
            started = [start(args, seed, p) for p in ("hyperband", "none")]
            rows += [result(*s, seed, p, args.dataset)
                     for s, p in zip(started, ("hyperband", "none"))]  # fmt: skip
        else:
            for p in ("hyperband", "none"):
                rows.append(result(*start(args, seed, p), seed, p, args.dataset))
        for r in rows[-2:]:
            cells = [args.dataset, r["seed"], r["pruner"], f"{r['hypervolume']:.4f}",
                     f"{r['hypervolume_above_chance']:.4f}", len(r["front"]), r["trials"],
                     f"{r['wall_s']:.0f}"]  # fmt: skip
            print("| " + " | ".join(map(str, cells)) + " |", flush=True)
    summary = {}
    for p in ("hyperband", "none"):
        hv = [r["hypervolume"] for r in rows if r["pruner"] == p]
        summary[p] = {"mean": statistics.mean(hv), "values": hv}
        print(f"{p}: mean hypervolume {statistics.mean(hv):.4f} over {len(hv)} seeds")
    out = ROOT / "benchmarks" / "results" / f"pareto-pruning-{args.dataset}-{args.timeout:g}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": " ".join(["benchmarks/pareto_pruning.py", *sys.argv[1:]]),
        "reference_point": {"test_error": REFERENCE[0], "log10_params": REFERENCE[1]},
        "machine": platform.platform(), "rows": rows, "summary": summary,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
