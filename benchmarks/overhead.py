"""Reproduce the trial-overhead numbers of BENCHMARKS.md (issue 11, item 6).

    .venv/bin/python benchmarks/overhead.py [EPOCHS] [REPEATS]

For several model sizes on MNIST-1D (one torch thread), times in the same process, alternating:

- **nas trial**: one Optuna trial of ``nas.kinds.classifier.Objective`` on a fixed space (one
  architecture), from the sampler's first question to the reported value: sampling, building,
  the cost measurement (params, FLOPs, latency), training with the pruning callback (the
  pruner never prunes here: ``NopPruner``), validation after every epoch, the user attributes;
- **bare loop**: the same model (same seed), the same tensors, the same recipe (AdamW with the
  same parameter groups, one-cycle, gradient clipping at 1.0, the same batch order) written as
  a plain PyTorch loop, with one validation pass per epoch; nothing else.

Reports the median of REPEATS (default 3) of each and their ratio, plus the time nas takes to
reject an over-budget architecture (sample, build, count params and FLOPs, refuse). Writes
benchmarks/results/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import _cli  # benchmarks/_cli.py (a script's own folder is first on sys.path)
import optuna
import torch
from torch.nn import functional as F

from nas.cost import Budget
from nas.data import load_data
from nas.kinds.classifier import Objective
from nas.train.optim import make_optimizer, make_scheduler, steps_per_epoch
from nas.trial import SearchSettings, trial_seed
from search_spaces import Space
from search_spaces.build import build_model
from search_spaces.spaces import Fixed, default_config
from search_spaces.spec import ArchSpec

ROOT = Path(__file__).resolve().parents[1]

#: (label, depth, first width, growth): small to large conv1d nets on MNIST-1D (kernel 5,
#: batch norm, GELU, max pooling after every second block, AdamW one-cycle, batch 64).
SIZES = [("small", 3, 8, 2.0), ("medium", 5, 32, 1.0), ("large", 5, 48, 2.0)]


def space_for(depth: int, width: int, growth: float) -> Space:
    """The cnn space with every dimension fixed: one architecture, nothing to sample."""
    config = default_config()
    fixed: dict[str, Any] = {
        "cnn.n_blocks": depth, "cnn.channels": width, "cnn.growth": growth, "cnn.kernel": 5,
        "cnn.batch_norm": True, "cnn.activation": "gelu", "cnn.residual": False,
        "cnn.pool": "max", "cnn.pool_every": 2, "cnn.separable": False, "cnn.dropout": 0.0,
        "cnn.reduce": "avg", "head.hidden": 0, "train.optimizer": "adamw", "train.lr": 3e-3,
        "train.weight_decay": 1e-4, "train.batch_size": 64, "train.schedule": "onecycle",
    }  # fmt: skip
    config.update({k: Fixed(v) for k, v in fixed.items()})
    return Space("cnn", config)


def nas_trial(data: Any, space: Space, epochs: int) -> tuple[float, Any]:
    """One trial of the classifier objective, timed from the sampler to the reported value."""
    settings = SearchSettings(space=space, metric="accuracy", objectives=("accuracy",),
                              epochs=epochs, patience=epochs)  # fmt: skip
    objective = Objective(data, settings)
    st = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    t0 = time.perf_counter()
    st.optimize(objective, n_trials=1)
    return time.perf_counter() - t0, st.trials[0]


def bare_loop(data: Any, spec: ArchSpec, epochs: int, seed: int) -> float:
    torch.manual_seed(seed)
    model = build_model(spec)
    t0 = time.perf_counter()
    X, y = data.train.X, data.train.y.long()
    vX, vy = data.val.X, data.val.y.long()
    n, bs = len(X), spec.train.batch_size
    spe = steps_per_epoch(n, bs)
    opt = make_optimizer(model, spec.train)
    sched = make_scheduler(opt, spec.train, epochs * spe)
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for b in range(spe):
            idx = perm[b * bs : (n if b == spe - 1 else (b + 1) * bs)]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            (model(vX).argmax(1) == vy).float().mean().item()
    return time.perf_counter() - t0


def reject_time(data: Any, space: Space) -> float:
    """Seconds from the sampler to an over-budget refusal (max 100 parameters)."""
    settings = SearchSettings(space=space, metric="accuracy", objectives=("accuracy",),
                              budget=Budget(max_params=100))  # fmt: skip
    objective = Objective(data, settings)
    st = optuna.create_study(direction="maximize")
    t0 = time.perf_counter()
    st.optimize(objective, n_trials=1)
    seconds = time.perf_counter() - t0
    if st.trials[0].user_attrs["status"] != "over_budget":
        raise SystemExit("the over-budget trial was not rejected; the timing would be wrong")
    return seconds


def parser() -> argparse.ArgumentParser:
    p = _cli.parser(__doc__, "overhead.json")
    p.add_argument(
        "epochs",
        metavar="EPOCHS",
        type=_cli.positive_int,
        nargs="?",
        default=10,
        help="training epochs of each timed run (default: 10)",
    )
    p.add_argument(
        "repeats",
        metavar="REPEATS",
        type=_cli.positive_int,
        nargs="?",
        default=3,
        help="timed runs of each kind per model size; the median is reported (default: 3)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    epochs, repeats = args.epochs, args.repeats
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = load_data(dataset="mnist1d", seed=0)
    rows = []
    for label, depth, width, growth in SIZES:
        space = space_for(depth, width, growth)
        nas_s, bare_s, trial = [], [], None
        for _ in range(repeats):  # alternating, so that a slow spell hits both
            s, trial = nas_trial(data, space, epochs)
            nas_s.append(s)
            spec = ArchSpec.from_dict(trial.user_attrs["spec"])
            bare_s.append(bare_loop(data, spec, epochs, trial_seed(0, trial.number)))
        reject = statistics.median(reject_time(data, space) for _ in range(5))
        row = {
            "model": label, "params": trial.user_attrs["params"], "epochs": epochs,
            "nas_trial_s": statistics.median(nas_s), "bare_loop_s": statistics.median(bare_s),
            "nas_runs_s": nas_s, "bare_runs_s": bare_s, "reject_ms": 1000 * reject,
            "summary": ArchSpec.from_dict(trial.user_attrs["spec"]).summary(),
        }  # fmt: skip
        row["ratio"] = row["nas_trial_s"] / row["bare_loop_s"]
        rows.append(row)
        print(f"{label:>6} {row['params']:>8,} params  nas {row['nas_trial_s']:.2f} s  "
              f"bare {row['bare_loop_s']:.2f} s  ratio {row['ratio']:.3f}  "
              f"reject {row['reject_ms']:.0f} ms", flush=True)  # fmt: skip
    out = ROOT / "benchmarks" / "results" / "overhead.json"
    out.write_text(json.dumps({"machine": platform.machine(), "threads": 1, "rows": rows},
                              indent=2) + "\n")  # fmt: skip
    print("| model | params | epochs | nas trial s | bare loop s | ratio | reject ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [
            r["model"],
            f"{r['params']:,}",
            r["epochs"],
            f"{r['nas_trial_s']:.2f}",
            f"{r['bare_loop_s']:.2f}",
            f"**{r['ratio']:.3f}**",
            f"{r['reject_ms']:.0f}",
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
