"""A lever for digits item 3, measured before building it: the final retrain's weights averaged
over its last epochs (stochastic weight averaging, ``torch.optim.swa_utils``), with batch-norm
statistics recomputed on the training data, against the retrain's last weights.

    .venv/bin/python benchmarks/retrain_average.py TAG [--seeds 8] [--splits 0,1,2]
        [--last 0.25]

The three CNNs of ``benchmarks/augment_digits.py`` (no shifting) are retrained exactly as
``nas search`` retrains a winner (``nas.kinds.classifier.retrain_and_test``) on the splits of
seeds SPLITS, under SEEDS retrain seeds (the split + 1000 k, as augment_digits.py). During each
retrain the weights at the end of each of the last LAST share of its epochs are averaged; the
averaging only reads the weights, so the retrain runs exactly as without it and each averaged
model is paired with the retrain's own last weights: both are tested once on the same split.
Nothing is selected on these scores, and nas itself does not average. Writes
benchmarks/results/retrain-average-TAG.json.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _cli  # noqa: E402  (benchmarks/_cli.py: a script's own folder is first on sys.path)
from augment_digits import ARCHITECTURES  # noqa: E402


def splits_list(text: str) -> list[int]:
    """Comma-separated split seeds, e.g. ``0,1,2`` (an argparse type)."""
    return [int(s) for s in text.split(",")]


def share(text: str) -> float:
    """A share of the epochs, above 0 and at most 1 (an argparse type)."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = _cli.parser(__doc__, "retrain-average-TAG.json")
    p.add_argument("tag", metavar="TAG", help="names the result file retrain-average-TAG.json")
    p.add_argument(
        "--seeds",
        type=_cli.positive_int,
        default=8,
        help="retrain seeds per architecture and split (default: 8)",
    )
    p.add_argument(
        "--splits",
        type=splits_list,
        default="0,1,2",
        metavar="S[,S...]",
        help="the digits splits (nas search --seed S), comma-separated (default: 0,1,2)",
    )
    p.add_argument(
        "--last",
        type=share,
        default=0.25,
        help="the share of each retrain's last epochs whose weights are averaged (default: 0.25)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    tag, seeds, splits, last = args.tag, args.seeds, args.splits, args.last

    import optuna
    import torch
    from torch.optim.swa_utils import AveragedModel, update_bn

    import nas.kinds.classifier as classifier
    from nas.config import SearchConfig
    from nas.train import configure_threads, predict
    from nas.train.callbacks import Callback
    from nas.train.loop import merge_train_val

    configure_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    plain_train = classifier.train_model
    averaged: dict[str, Any] = {}

    def averaging_train_model(model: Any, data: Any, train: Any, **kw: Any) -> Any:
        """nas's train_model, with the weights of the last epochs averaged on the side."""
        swa = AveragedModel(model)
        epochs = kw["epochs"]
        first = epochs - max(1, round(last * epochs)) + 1

        class Average(Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
                if epoch >= first:
                    swa.update_parameters(model)

        result = plain_train(model, data, train, **{**kw, "callbacks": [
            *kw.get("callbacks", ()), Average()]})  # fmt: skip
        fit = merge_train_val(data) if not kw.get("use_val", True) else data.train
        update_bn([fit.X[i : i + 256] for i in range(0, len(fit.X), 256)], swa.module)
        averaged["model"], averaged["epochs"] = swa.module.eval(), epochs - first + 1
        return result

    classifier.train_model = averaging_train_model
    rows = []
    for split in splits:
        config = SearchConfig.create("digits", seed=split, epochs=20)
        data = config.load_data()
        settings = config.resolve(data).settings()
        y = torch.as_tensor(data.test.y).long()
        for name, (arch, best_epoch) in ARCHITECTURES.items():
            trial = optuna.trial.create_trial(
                value=0.0, user_attrs={"spec": arch, "best_epoch": best_epoch}
            )
            plain, swa = [], []
            for k in range(seeds):
                final = classifier.retrain_and_test(
                    data, trial, replace(settings, seed=split + 1000 * k)
                )
                plain.append(round(float(final.metrics["test"]["accuracy"]), 4))
                outputs = predict(averaged["model"], data.test.X)
                swa.append(round(float((outputs.argmax(1) == y).float().mean()), 4))
            row = {"split": split, "architecture": name, "last_epochs": averaged["epochs"],
                   "test_last_weights": plain, "test_averaged": swa,
                   "mean_last_weights": round(statistics.mean(plain), 4),
                   "mean_averaged": round(statistics.mean(swa), 4)}  # fmt: skip
            rows.append(row)
            print(f"split {split} {name}: last weights {plain} mean {row['mean_last_weights']}; "
                  f"averaged over the last {averaged['epochs']} epochs {swa} mean "
                  f"{row['mean_averaged']}", flush=True)  # fmt: skip
    dest = ROOT / "benchmarks" / "results" / f"retrain-average-{tag}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps({"benchmark": "retrain_average", "command": " ".join(sys.argv),
                                "retrain_seeds": seeds, "last": last, "rows": rows,
                                "date": time.strftime("%Y-%m-%d")}, indent=2) + "\n")  # fmt: skip
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
