"""What shifted training images (``train.augment = "shift"``) do to a digits model's test score,
architecture by architecture, with the search out of the picture.

    .venv/bin/python benchmarks/augment_digits.py TAG [--seeds 8] [--augment none,shift]

Three fixed digits architectures (below: the space's starting CNN and the two CNNs that won
digits searches of issue 11) are each retrained exactly as ``nas search`` retrains a winner
(``nas.kinds.classifier.retrain_and_test``: train + validation, 2x the trial's best epoch of a
schedule twice the search's 20 epochs) on the three splits of seeds 0, 1, 2 (the split
``nas search --seed S`` makes), under SEEDS retrain seeds each, once with each augment setting,
and tested once. Nothing is selected on these scores. Prints the mean test accuracy per
architecture, split and setting; writes benchmarks/results/augment-digits-TAG.json. Two
processes (``--augment none`` and ``--augment shift``) can share a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import _cli  # benchmarks/_cli.py (a script's own folder is first on sys.path)

ROOT = Path(__file__).resolve().parents[1]


def conv(channels: int, kernel: int, pool: str, dropout: float, residual: bool = False) -> dict:
    return {"kind": "conv2d.v1", "params": {
        "channels": channels, "kernel": kernel, "batch_norm": True, "activation": "gelu",
        "residual": residual, "separable": False, "dropout": dropout, "pool": pool}}  # fmt: skip


def spec(blocks: list, reduce: str | None, train: dict) -> dict:
    tail = [{"kind": "global_pool.v1", "params": {"mode": reduce}}] if reduce else []
    return {"schema_version": 1, "family": "cnn", "task": "classification", "modality": "image",
            "input_shape": [1, 8, 8], "output_size": 10, "blocks": blocks + tail,
            "head": {"kind": "classify.v1", "params": {"outputs": 10, "hidden": 0}},
            "train": {"l1": 0.0, "momentum": 0.9, "grad_clip": 1.0, **train}}  # fmt: skip


ADAMW = {"optimizer": "adamw", "batch_size": 64, "schedule": "onecycle"}
# name -> (spec without augment, the trial's best epoch of 20)
ARCHITECTURES = {
    # the cnn space's starting point for 8x8 images (trial 0 of every digits search)
    "start-cnn-103k": (spec([conv(32, 5, p, 0.0) for p in ("none", "max", "none", "max", "none")],
                            "avg", {**ADAMW, "lr": 3e-3, "weight_decay": 1e-4}), 14),
    # trial 113 of `nas search --dataset digits --timeout 600 --seed 0` (issue 11, round 2)
    "r2-s0-cnn-45k": (spec([conv(c, 3, p, 0.11303219788098395) for c, p in
                            ((16, "none"), (16, "none"), (32, "avg"), (32, "none"), (32, "none"),
                             (64, "avg"))], "max",
                           {"optimizer": "adamw", "lr": 0.005388564387477928,
                            "weight_decay": 0.0025701445400412998, "batch_size": 32,
                            "schedule": "onecycle"}), 16),
    # trial 14 of the same search's seed 1, once images could be shifted (it was not)
    "aug-s1-cnn-103k": (spec([conv(c, 3, p, 0.027641296621101406) for c, p in
                              ((32, "none"), (32, "none"), (64, "max"), (64, "none"),
                               (64, "none"))], "avg",
                             {**ADAMW, "lr": 0.002122164778702695,
                              "weight_decay": 0.002849478797265337}), 7),
}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = _cli.parser(__doc__, "augment-digits-TAG.json")
    p.add_argument("tag", metavar="TAG", help="names the result file augment-digits-TAG.json")
    p.add_argument(
        "--seeds",
        type=_cli.positive_int,
        default=8,
        metavar="SEEDS",
        help="retrain seeds per architecture, split and setting (default: 8)",
    )
    p.add_argument(
        "--augment",
        default="none,shift",
        metavar="A[,A...]",
        help="the train.augment settings to compare, comma-separated (default: none,shift)",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    seeds, tag = args.seeds, args.tag
    augments = args.augment.split(",")
    from search_spaces.spec import AUGMENTS

    unknown = [a for a in augments if a not in AUGMENTS]
    if unknown:
        p.error(f"argument --augment: {', '.join(map(repr, unknown))} not among {AUGMENTS}")

    import optuna

    from nas.config import SearchConfig
    from nas.kinds.classifier import retrain_and_test
    from nas.train import configure_threads

    configure_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = []
    for split in (0, 1, 2):
        config = SearchConfig.create("digits", seed=split, epochs=20)
        data = config.load_data()
        settings = config.resolve(data).settings()
        for name, (arch, best_epoch) in ARCHITECTURES.items():
            for augment in augments:
                moved = {**arch, "train": {**arch["train"], "augment": augment}}
                trial = optuna.trial.create_trial(
                    value=0.0, user_attrs={"spec": moved, "best_epoch": best_epoch}
                )  # the retrain seed follows settings.seed (the split + 1000 k) alone
                scores = []
                for k in range(seeds):
                    final = retrain_and_test(data, trial, replace(settings, seed=split + 1000 * k))
                    scores.append(round(float(final.metrics["test"]["accuracy"]), 4))
                row = {"split": split, "architecture": name, "augment": augment,
                       "params": final.metrics["cost"]["params"], "test": scores,
                       "mean": round(statistics.mean(scores), 4),
                       "n_test": len(data.test.y)}  # fmt: skip
                rows.append(row)
                print(f"split {split} {name} augment={augment}: test {scores} mean {row['mean']}",
                      flush=True)  # fmt: skip
    dest = ROOT / "benchmarks" / "results" / f"augment-digits-{tag}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps({"benchmark": "augment_digits", "command": " ".join(sys.argv),
                                "retrain_seeds": seeds, "rows": rows,
                                "date": time.strftime("%Y-%m-%d")}, indent=2) + "\n")  # fmt: skip
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
