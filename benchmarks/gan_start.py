"""The GAN space's starting design (trial 0) on digits, trained as `nas search` trains a trial.

One trial per seed: the space's starting point enqueued on ``load_data("digits", seed=S)``,
search seed S, 20 epochs at most, patience 5 (the search's defaults), the search's own scoring
classifier. Reports the scores of the trial's best epoch, all on the VALIDATION split (nothing
here reads the test split): FCD, k-NN manifold precision / recall, within-class diversity
(share of real data's) and conditional accuracy. Run at a commit to measure its start:

    .venv/bin/python benchmarks/gan_start.py --seeds 0,1,2 --tag new
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import optuna
import torch

from nas.data import load_data
from nas.gan.search import GanObjective, search_classifier
from nas.trial import SearchSettings
from search_spaces import Space
from search_spaces.spaces import SpaceContext, default_config, get_space, starting_points

RESULTS = Path(__file__).parent / "results"


def one_trial(seed: int, epochs: int) -> dict:
    data = load_data(dataset="digits", seed=seed)
    space = Space("gan", default_config())
    settings = SearchSettings(space=space, metric="fcd", objectives=("fcd",), seed=seed,
                              epochs=epochs)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        scorer = search_classifier(data, seed, Path(tmp) / "scorer.pt")
        objective = GanObjective(data, settings, classifier=scorer)
        (point,) = starting_points(get_space("gan"), SpaceContext.of(data))
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed),
                                    pruner=optuna.pruners.NopPruner())  # fmt: skip
        study.enqueue_trial(point, skip_if_exists=False)
        start = time.perf_counter()
        study.optimize(objective, n_trials=1, catch=(Exception,))
    trial = study.trials[0]
    attrs = trial.user_attrs
    curve = attrs.get("curve") or []
    best = next((r for r in curve if r.get("epoch") == attrs.get("best_epoch")),
                curve[-1] if curve else {})  # fmt: skip
    return {
        "seed": seed, "state": trial.state.name, "reason": attrs.get("reason"),
        "params": attrs.get("params"), "best_epoch": attrs.get("best_epoch"),
        "epochs": attrs.get("epochs"), "seconds": round(time.perf_counter() - start, 1),
        "val_fcd": best.get("score"), "val_precision": best.get("precision"),
        "val_recall": best.get("recall"), "val_diversity": best.get("diversity"),
        "val_cond_accuracy": best.get("cond_accuracy"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tag", default="run")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        row = one_trial(seed, args.epochs)
        rows.append(row)
        print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"gan-start-{args.tag}.json"
    command = f"benchmarks/gan_start.py --seeds {args.seeds} --tag {args.tag}"
    out.write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
