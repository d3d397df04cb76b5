"""How long nas's baselines take to fit (nas.baselines.fit_baselines), the gradient-boosted trees
above all, on synthetic tabular data of the shape the row cap gives: 5,000 train + validation
rows of 30 inputs (and one wide table, 5,000 x 500, where the trees' value cap takes fewer rows).

    .venv/bin/python benchmarks/baseline_time.py

The trees are fitted on one core whatever the machine (nas.baselines._fit_trees); the logistic
regression / ridge use the BLAS threads the process has. Prints, per case, the seconds
fit_baselines records for each baseline (wall time, as best/baselines.json keeps it) and the
process's CPU seconds for the trees alone; writes benchmarks/results/baseline_time.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nas.data.taskdata import TaskData

ROOT = Path(__file__).resolve().parents[1]
ROWS = 5000  # train + validation, the classical baseline's row cap

# name, task, classes or targets, inputs, metric
CASES = [
    ("2 classes", "classification", 2, 30, "accuracy"),
    ("2 classes, balanced_accuracy", "classification", 2, 30, "balanced_accuracy"),
    ("10 classes", "classification", 10, 30, "accuracy"),
    ("10 classes, balanced_accuracy", "classification", 10, 30, "balanced_accuracy"),
    ("regression", "regression", 1, 30, "rmse"),
    ("regression, mae", "regression", 1, 30, "mae"),
    ("regression, 3 targets", "regression", 3, 30, "rmse"),
    ("2 classes, 500 inputs", "classification", 2, 500, "accuracy"),
]


def data(task: str, k: int, width: int, seed: int = 0) -> TaskData:
    """ROWS rows (80 % train, 20 % validation) whose target depends on an interaction of the
    first inputs, with noise: trees have something to find."""
    import numpy as np
    import torch

    from nas.data.taskdata import Split, TaskData

    rng = np.random.default_rng(seed)
    n = ROWS + 500  # and 500 test rows
    X = rng.normal(size=(n, width)).astype(np.float32)
    signal = X[:, 0] * X[:, 1] + np.abs(X[:, 2]) + 0.5 * rng.normal(size=n)
    if task == "classification":
        edges = np.quantile(signal, np.linspace(0, 1, k + 1)[1:-1])
        y = torch.as_tensor(np.digitize(signal, edges))
    else:
        y = torch.as_tensor(np.stack([signal + j for j in range(k)], 1).astype(np.float32))
    Xt = torch.as_tensor(X)
    a, b = int(0.8 * ROWS), ROWS
    splits = [Split(Xt[s], y[s]) for s in (slice(0, a), slice(a, b), slice(b, n))]
    return TaskData("synthetic", task, "tabular", (width,), k, *splits,
                    class_names=[str(c) for c in range(k)] if task == "classification" else [],
                    preprocessing={"y_mean": [0.0] * k, "y_std": [1.0] * k})  # fmt: skip


def parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Takes no arguments. Writes (overwrites) benchmarks/results/baseline_time.json.",
    )


def main(argv: list[str] | None = None) -> None:
    parser().parse_args(argv)
    from nas.baselines import fit_baselines

    out = []
    for name, task, k, width, metric in CASES:
        td = data(task, k, width)
        fitted = fit_baselines(td, seed=0, metric=metric)
        if fitted.trees is None:  # tabular data always gets the trees: a change broke that
            raise SystemExit(f"{name}: no gradient-boosting baseline was fitted")
        row = {
            "case": name, "rows": ROWS, "inputs": width,
            "classical_s": round(fitted.classical["seconds"], 2),
            "trees_s": round(fitted.trees["seconds"], 2),
            "trees_cpu_s": round(fitted.trees["cpu_seconds"], 2),
            "trees": fitted.trees["detail"],
        }  # fmt: skip
        print(f"{name:32s} classical {row['classical_s']:6.2f} s   trees {row['trees_s']:6.2f} s "
              f"(cpu {row['trees_cpu_s']:.2f} s)", flush=True)  # fmt: skip
        out.append(row)
    path = ROOT / "benchmarks" / "results" / "baseline_time.json"
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
