"""Levers measured before building them: rank a finished search's completed trials another way,
and test the winner that ranking picks.

    .venv/bin/python benchmarks/rerank.py TAG RUN_DIR [RUN_DIR ...] [--by last-epoch|val-loss]

A trial's value is its best epoch's validation score; nas ranks trials by it, and ties go to
the earlier trial. On a small validation split both can mislead: a one-epoch spike can win
(digits seed 1: 1.000 at epoch 10 only, 0.9963 at every other epoch from 9 to 20), and many
trials tie at 1.000 (digits: up to 12 of a run's completed trials).

``--by last-epoch`` (the default) ranks the completed trials by the validation accuracy of the
last epoch in their recorded curve, ties to the earlier trial. ``--by val-loss`` keeps nas's
ranking by value and breaks its ties by the validation loss at each trial's best epoch (read
from its curve), then by trial number, as ``nas.train.train_model`` breaks ties between epochs.

For each finished classification run (e.g. the ``runs/bench-digits-r4-sS-sS`` that
``benchmarks/search_accuracy.py digits --timeout 600 --seeds S --tag digits-r4-sS`` leaves), the
winner of that ranking is retrained exactly as ``nas search`` retrains a winner
(``nas.kinds.classifier.retrain_and_test``, the run's seed) and tested once, beside the run's own
winner and test score. When the ranking picks the run's own winner the run's test score is
reported and nothing is retrained (the retrain is deterministic for a seed). This re-ranks the
trials the search ran. ``val-loss`` leaves every trial's value, and so the sampler and the
pruner, as they were, but a search run with it could still stop at another trial (the deadline
estimates the retrain of the leader of the moment). ``last-epoch`` changes the values, so a search
scored that way would have proposed other trials: it indicates, it does not reproduce, such a
search. Writes benchmarks/results/rerank-BY-TAG.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _cli  # noqa: E402  (benchmarks/_cli.py: a script's own folder is first on sys.path)
from retrain_seeds import open_run  # noqa: E402

RULES = ("last-epoch", "val-loss")


def best_epoch_row(t: Any) -> dict[str, Any]:
    """The curve row of the trial's recorded best epoch (its last epoch when none is recorded)."""
    from nas.trial import recorded_best_epoch

    curve = t.user_attrs["curve"]
    best = recorded_best_epoch(t, len(curve))
    return next((r for r in curve if r.get("epoch") == best), curve[-1])


def ranking(by: str, sign: float) -> Any:
    """The sort key of a ranking ``by``: smaller first."""
    if by == "last-epoch":
        return lambda t: (-t.user_attrs["curve"][-1]["val_metric"], t.number)

    def key(t: Any) -> tuple[float, float, int]:
        loss = best_epoch_row(t).get("val_loss")
        loss = float(loss) if loss is not None and math.isfinite(loss) else math.inf
        return (sign * t.values[0], loss, t.number)

    return key


def parser() -> argparse.ArgumentParser:
    p = _cli.parser(__doc__, "rerank-BY-TAG.json")
    p.add_argument("tag", metavar="TAG", help="names the result file rerank-BY-TAG.json")
    p.add_argument(
        "runs",
        metavar="RUN_DIR",
        type=Path,
        nargs="+",
        help="a finished classification run directory (nas search)",
    )
    p.add_argument(
        "--by",
        choices=RULES,
        default="last-epoch",
        help="last-epoch: rank by the last epoch's validation accuracy; val-loss: "
        "nas's ranking, ties broken by the best epoch's validation loss "
        "(default: last-epoch)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_intermixed_args(argv)
    tag, runs, by = args.tag, args.runs, args.by

    import optuna

    from nas.kinds.classifier import retrain_and_test
    from nas.train import configure_threads

    configure_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = []
    for run in runs:
        data, settings, study = open_run(run)
        if settings.metric != "accuracy":
            sys.exit(f"{run} ranks on {settings.metric}; this reads accuracy curves.")
        done = optuna.trial.TrialState.COMPLETE
        trials = [t for t in study.trials if t.state == done and t.user_attrs.get("curve")]
        sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
        winner = min(trials, key=ranking(by, sign))
        own = json.loads((run / "best" / "metrics.json").read_text())
        own_test = round(float(own["test"]["accuracy"]), 4)
        if by == "last-epoch":
            score = {t.number: t.user_attrs["curve"][-1]["val_metric"] for t in trials}
        else:
            score = {t.number: t.values[0] for t in trials}
        tied = sorted(n for n, v in score.items() if v == score[winner.number])
        same = winner.number == own["trial"]
        final = None if same else retrain_and_test(data, winner, settings)
        row = {
            "run": str(run), "seed": settings.seed, "n_test": len(data.test.y),
            "own_winner": own["trial"], "own_val": own["val"]["accuracy"], "own_test": own_test,
            "winner": winner.number, "winner_score": score[winner.number], "tied": tied,
            "tied_val_loss": {n: best_epoch_row(study.trials[n]).get("val_loss") for n in tied},
            "params": winner.user_attrs.get("params"), "retrained": not same,
            "retrain_epochs": (final.metrics if final else own)["retrain"]["epochs"],
            "test": own_test if same else round(float(final.metrics["test"]["accuracy"]), 4),
        }  # fmt: skip
        rows.append(row)
        print(f"{run.name}: the run's winner #{row['own_winner']} tested {own_test}; by {by}: "
              f"#{winner.number} of {len(tied)} tied at {row['winner_score']:.4f} "
              f"({row['params']:,} params) tests {row['test']}"
              + ("" if row["retrained"] else " (the same trial)"), flush=True)  # fmt: skip
    dest = ROOT / "benchmarks" / "results" / f"rerank-{by}-{tag}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "rerank", "by": by, "command": " ".join(sys.argv), "runs": rows,
              "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    dest.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
