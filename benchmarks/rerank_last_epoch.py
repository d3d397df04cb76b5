"""A lever measured before building it: rank a search's completed trials by their validation
accuracy at their last epoch instead of their best epoch's, and test the winner that ranking
picks.

    .venv/bin/python benchmarks/rerank_last_epoch.py TAG RUN_DIR [RUN_DIR ...]

A trial's value is its best epoch's validation score, so on a small validation split a one-epoch
spike can win (digits seed 1: 1.000 at epoch 10 only, 0.9963 at every other epoch from 9 to 20).
For each finished classification run (e.g. the ``runs/bench-digits-r4-sS-sS`` that
``benchmarks/search_accuracy.py digits --timeout 600 --seeds S --tag digits-r4-sS`` leaves),
the completed trials are ranked by the validation accuracy of the last epoch in their recorded
curve (ties: the earlier trial, as nas breaks them); the winner is retrained exactly as
``nas search`` retrains a winner (``nas.kinds.classifier.retrain_and_test``, the run's seed) and
tested once, beside the run's own winner and test score. This re-ranks the trials the search
ran: a search scored this way would have proposed other trials after the first that scores
differently, so it indicates, it does not reproduce, such a search. Writes
benchmarks/results/rerank-last-epoch-TAG.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrain_seeds import open_run  # noqa: E402


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    tag, runs = args[0], [Path(a) for a in args[1:]]

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
        last = {t.number: t.user_attrs["curve"][-1]["val_metric"] for t in trials}
        winner = min(trials, key=lambda t: (-last[t.number], t.number))
        own = json.loads((run / "best" / "metrics.json").read_text())
        final = retrain_and_test(data, winner, settings)
        row = {
            "run": str(run), "seed": settings.seed, "n_test": len(data.test.y),
            "own_winner": own["trial"], "own_val_best_epoch": own["val"]["accuracy"],
            "own_val_last_epoch": last.get(own["trial"]),
            "own_test": round(float(own["test"]["accuracy"]), 4),
            "last_epoch_winner": winner.number, "last_epoch_val": last[winner.number],
            "tied_at_last_epoch": sorted(n for n, v in last.items() if v == last[winner.number]),
            "params": winner.user_attrs.get("params"), "summary": final.metrics["summary"],
            "retrain_epochs": final.metrics["retrain"]["epochs"],
            "last_epoch_test": round(float(final.metrics["test"]["accuracy"]), 4),
        }  # fmt: skip
        rows.append(row)
        print(f"{run.name}: the run's winner #{row['own_winner']} (val "
              f"{row['own_val_best_epoch']:.4f} at its best epoch, "
              f"{row['own_val_last_epoch']:.4f} at its last) tested "
              f"{row['own_test']}; ranked by last epoch: #{winner.number} (val "
              f"{row['last_epoch_val']:.4f}, {row['params']:,} params) tests "
              f"{row['last_epoch_test']}", flush=True)  # fmt: skip
    dest = ROOT / "benchmarks" / "results" / f"rerank-last-epoch-{tag}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "rerank_last_epoch", "command": " ".join(sys.argv), "runs": rows,
              "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    dest.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
