"""How much of a run's test score is its final retrain's seed: the winner retrained under other
seeds, on the same split, each tested once.

    .venv/bin/python benchmarks/retrain_seeds.py TAG RUN_DIR [RUN_DIR ...] [--seeds 5]
        [--ensemble E] [--best-epoch-from-curve]

For each run directory (a finished ``nas search``, e.g. the ``runs/bench-digits-r2-sS-sS`` that
``benchmarks/search_accuracy.py digits --timeout 600 --seeds S --tag digits-r2-sS`` leaves), the
winner the run picked is retrained exactly as ``nas search`` retrains it
(``nas.kinds.classifier.retrain_and_test``: train + validation, 2x its best epoch), with the
run's seed + 1000 k for k = 0 .. SEEDS-1 (k = 0 is the run's own retrain and reproduces its
score). The data split does not move: it is seeded when the data is loaded. Nothing is selected
on these scores; they measure the spread a single retrain carries. With ``--ensemble E`` the
retrains are also taken E at a time (seeds 0..E-1, E..2E-1, ...) and each group is scored as
an ensemble (classifiers only), the average of its members' class probabilities: what shipping
an average of E retrains instead of one would have scored. Writes
benchmarks/results/retrain-seeds-TAG.json and prints one line per run.

With ``--best-epoch-from-curve`` the winner's best epoch is read again from its recorded
learning curve under today's rule (the highest validation accuracy, and among epochs tied on
it the lowest validation loss; ``nas.train.train_model``) instead of the one its run recorded:
what the same trial records now, for a run searched before ties were told apart (classifiers
searched on accuracy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import _cli  # benchmarks/_cli.py (a script's own folder is first on sys.path)

ROOT = Path(__file__).resolve().parents[1]


def count(minimum: int) -> Any:
    """An argparse type: an integer of at least ``minimum``."""

    def integer(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    integer.__name__ = "int"  # argparse names the type in its "invalid int value" error
    return integer


def parser() -> argparse.ArgumentParser:
    p = _cli.parser(__doc__, "retrain-seeds-TAG.json")
    p.add_argument("tag", metavar="TAG", help="names the result file retrain-seeds-TAG.json")
    p.add_argument(
        "runs", metavar="RUN_DIR", type=Path, nargs="+", help="a finished nas search run directory"
    )
    p.add_argument(
        "--seeds",
        type=count(1),
        default=5,
        help="retrains per run, seeds the run's + 1000 k (default: 5)",
    )
    p.add_argument(
        "--ensemble",
        type=count(0),
        default=0,
        metavar="E",
        help="also score the retrains E at a time as ensembles (classifiers only; "
        "default: 0, none)",
    )
    p.add_argument(
        "--best-epoch-from-curve",
        action="store_true",
        help="read the winner's best epoch again from its learning curve under "
        "today's rule instead of the recorded one",
    )
    return p


def best_epoch_from_curve(curve: list[dict]) -> int:
    """The epoch train_model keeps now: the highest val_metric (accuracy), ties to the lowest
    val_loss, then the earliest."""
    return min(curve, key=lambda r: (-r["val_metric"], r["val_loss"], r["epoch"]))["epoch"]


def open_run(run: Path) -> tuple[Any, Any, Any]:
    """A finished run directory's (data, settings, study): the same split, the resolved
    settings its retrain obeys, and its study read from the run's own storage."""
    from nas.config import SearchConfig
    from nas.study import read_study

    config = SearchConfig.read(run)
    data = config.load_data()
    settings = config.resolve(data).settings()
    study, recorded = SearchConfig.study_location(run)
    return data, settings, read_study(run, study, None, recorded)


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_intermixed_args(argv)
    tag, runs, seeds, ensemble = args.tag, args.runs, args.seeds, args.ensemble
    from_curve = args.best_epoch_from_curve

    import optuna
    import torch

    from nas.kinds.classifier import retrain_and_test
    from nas.leaderboard import pick_winners
    from nas.train import configure_threads

    configure_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    results = []
    for run in runs:
        data, settings, study = open_run(run)
        if ensemble and data.task != "classification":
            sys.exit(f"--ensemble scores classifiers; {run} is a {data.task} run.")
        winner = pick_winners(study, 1)[0]
        recorded_best = winner.user_attrs.get("best_epoch")
        if from_curve:
            if settings.metric != "accuracy":
                sys.exit(f"--best-epoch-from-curve reads accuracy curves; {run} ranks on "
                         f"{settings.metric}.")  # fmt: skip
            winner.user_attrs = {
                **winner.user_attrs,
                "best_epoch": best_epoch_from_curve(winner.user_attrs["curve"]),
            }
        scores, probabilities = [], []
        for k in range(seeds):
            final = retrain_and_test(data, winner, replace(settings, seed=settings.seed + 1000 * k))
            scores.append(round(float(final.metrics["test"][settings.metric]), 4))
            if ensemble:  # a classifier's logits -> class probabilities
                outputs = torch.as_tensor(final.predictions["outputs"])
                probabilities.append(torch.softmax(outputs, 1))
        row = {
            "run": str(run), "seed": settings.seed, "trial": winner.number,
            "family": winner.user_attrs.get("family"), "params": winner.user_attrs.get("params"),
            "metric": settings.metric, "n_test": len(data.test.y), "retrain_seeds": seeds,
            "best_epoch_recorded": recorded_best, "best_epoch": winner.user_attrs["best_epoch"],
            "retrain_epochs": final.metrics["retrain"]["epochs"],
            "test": scores, "mean": round(statistics.mean(scores), 4),
            "min": min(scores), "max": max(scores),
        }  # fmt: skip
        if ensemble:
            y = torch.as_tensor(data.test.y).long()
            groups = [probabilities[i : i + ensemble]
                      for i in range(0, seeds - ensemble + 1, ensemble)]  # fmt: skip
            row["ensemble"] = ensemble
            row["ensemble_test"] = [
                round(float((torch.stack(g).mean(0).argmax(1) == y).float().mean()), 4)
                for g in groups
            ]
        results.append(row)
        print(f"{run.name}: trial {winner.number} ({row['family']}, {row['params']:,} params, "
              f"best epoch {row['best_epoch']}, retrained {row['retrain_epochs']} epochs): "
              f"test {settings.metric} {scores} (the run's own: {scores[0]}), mean "
              f"{row['mean']}"
              + (f"; ensembles of {ensemble}: {row['ensemble_test']}" if ensemble else ""),
              flush=True)  # fmt: skip
    dest = ROOT / "benchmarks" / "results" / f"retrain-seeds-{tag}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps({"benchmark": "retrain_seeds", "runs": results,
                                "date": time.strftime("%Y-%m-%d")}, indent=2) + "\n")  # fmt: skip
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
