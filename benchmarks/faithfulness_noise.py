"""Is the faithfulness score (nas/faithfulness.py) a usable objective? (issue 16, part 2)

    .venv/bin/python benchmarks/faithfulness_noise.py DATASET [--archs 6] [--seeds 3]
        [--epochs 10]

Samples ``--archs`` architectures from the ``auto`` space (Optuna's random sampler, seed 0),
trains each ``--seeds`` times (weights and batch order from the seed; the same data split) for
``--epochs`` epochs as a trial does, and scores every trained model with the score a search
uses (the same 64 validation rows). Prints per architecture the mean and std over seeds of
the score and of validation accuracy, the training time and the scoring time, then:

- the share of the score's variance that lies *between* architectures (one-way ANOVA's
  intra-class correlation; near 0: the seed decides the score, not the architecture, and the
  score should be a constraint rather than an objective);
- the scoring time over the training time (the extra cost per trial; target <= 15 %).

Writes benchmarks/results/faithfulness-noise-<DATASET>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import optuna

from nas.data import load_data
from nas.faithfulness import faithfulness_score
from nas.train import configure_threads, train_model
from nas.trial import seeded
from search_spaces import SpaceContext, build_model, get_space

ROOT = Path(__file__).resolve().parents[1]


def icc(groups: list[list[float]]) -> float:
    """One-way random-effects intra-class correlation ICC(1) of equal-sized groups."""
    k = len(groups[0])
    means = [statistics.mean(g) for g in groups]
    grand = statistics.mean(means)
    msb = k * sum((m - grand) ** 2 for m in means) / (len(groups) - 1)
    msw = sum((x - m) ** 2 for g, m in zip(groups, means) for x in g) / (len(groups) * (k - 1))
    return (msb - msw) / (msb + (k - 1) * msw) if msb + (k - 1) * msw > 0 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--archs", type=int, default=6)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    configure_threads(None)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = load_data(dataset=args.dataset, seed=0)
    space, ctx = get_space("auto"), SpaceContext.of(data)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    rows = []
    for a in range(args.archs):
        spec = space.sample(study.ask(), ctx)
        scores, accs, train_s, score_s = [], [], [], []
        for seed in range(args.seeds):
            model = seeded(build_model, spec, 1000 * a + seed)
            t0 = time.perf_counter()
            res = train_model(model, data, spec.train, epochs=args.epochs, seed=seed,
                              metric="accuracy", monitor="val_metric", patience=None)  # fmt: skip
            train_s.append(time.perf_counter() - t0)
            s = faithfulness_score(model, data, seed=0)
            scores.append(s["faithfulness"])
            score_s.append(s["faithfulness_seconds"])
            accs.append(res.best_val_metric)
        row = {"arch": a, "family": spec.family, "summary": spec.summary(), "scores": scores,
               "val_accuracy": accs, "train_s": train_s, "score_s": score_s}  # fmt: skip
        rows.append(row)
        sd = {"ddof": 1}
        print(f"{a} {spec.family:<16} score {np.mean(scores):.3f} ± {np.std(scores, **sd):.3f}"
              f"  val acc {np.mean(accs):.3f} ± {np.std(accs, **sd):.3f}  train "
              f"{np.mean(train_s):.1f} s  score {np.mean(score_s):.2f} s", flush=True)  # fmt: skip
    share = icc([r["scores"] for r in rows])
    overhead = sum(sum(r["score_s"]) for r in rows) / sum(sum(r["train_s"]) for r in rows)
    print(f"between-architecture share of the score's variance (ICC): {share:.2f}")
    print(f"scoring time / training time: {overhead:.1%}")
    out = ROOT / "benchmarks" / "results" / f"faithfulness-noise-{args.dataset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": f"benchmarks/faithfulness_noise.py {args.dataset} --archs {args.archs} "
                   f"--seeds {args.seeds} --epochs {args.epochs}",
        "machine": platform.platform(), "icc": share, "overhead": overhead, "rows": rows,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
