"""The reference a search must beat (issue 11): a hand-written CNN on MNIST-1D, plain PyTorch.

    .venv/bin/python benchmarks/handwritten_cnn.py [--seeds 0,1,2] [--epochs 40]

Five conv1d layers (32 channels, kernel 5, BatchNorm, GELU, max pooling after the 2nd and 4th),
global average pooling, a linear classifier (21,290 parameters); AdamW (lr 3e-3, weight decay
1e-2) with one-cycle over EPOCHS epochs, batch 64, one torch thread. Trained on the same
train + validation rows that nas retrains its winner on (``nas.load_data("mnist1d", seed=S)``:
the package's 4,000 training examples) and tested once on the package's 1,000 test examples.
A second, small variant (8-8-16-16-16 channels, 3,858 parameters) is the reference for
``--max-params 5000``. Prints one row per seed and variant with test accuracy and seconds;
writes benchmarks/results/handwritten_cnn.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from nas.data import load_data

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"21k": (32, 32, 32, 32, 32), "4k": (8, 8, 16, 16, 16)}


def net(channels: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = 1
    for i, c in enumerate(channels):
        layers += [nn.Conv1d(c_in, c, 5, padding=2, bias=False), nn.BatchNorm1d(c), nn.GELU()]
        if i in (1, 3):
            layers.append(nn.MaxPool1d(2))
        c_in = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(c_in, 10))


def fit_one_cycle(model: nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int,
                  bs: int = 64) -> float:  # fmt: skip
    """Train ``model`` in place: AdamW (lr 3e-3, weight decay 1e-2), one-cycle over ``epochs``
    epochs of shuffled batches of ``bs`` (torch's global RNG); the seconds it took."""
    n = len(X)
    steps = (n + bs - 1) // bs
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n)
        for b in range(steps):
            idx = perm[b * bs : (b + 1) * bs]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return time.perf_counter() - start


def run(channels: tuple[int, ...], seed: int, epochs: int) -> dict[str, float]:
    data = load_data(dataset="mnist1d", seed=seed)
    X = torch.cat([data.train.X, data.val.X]).transpose(1, 2)  # (N, 1, 40)
    y = torch.cat([data.train.y, data.val.y]).long()
    torch.manual_seed(seed)
    model = net(channels)
    seconds = fit_one_cycle(model, X, y, epochs)
    model.eval()
    with torch.no_grad():
        pred = model(data.test.X.transpose(1, 2)).argmax(1)
    accuracy = (pred == data.test.y.long()).float().mean().item()
    params = sum(p.numel() for p in model.parameters())
    return {"seed": seed, "params": params, "test_accuracy": accuracy, "seconds": seconds}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=40)
    a = p.parse_args()
    torch.set_num_threads(1)
    results: dict[str, list[dict[str, float]]] = {}
    for name, channels in VARIANTS.items():
        for seed in (int(s) for s in a.seeds.split(",")):
            r = run(channels, seed, a.epochs)
            results.setdefault(name, []).append(r)
            print(f"{name} seed {seed}: {r['params']:,} params, test {r['test_accuracy']:.4f}, "
                  f"{r['seconds']:.1f} s", flush=True)  # fmt: skip
    for name, rows in results.items():
        accs = [r["test_accuracy"] for r in rows]
        print(f"{name}: median test accuracy {statistics.median(accs):.4f} "
              f"(min {min(accs):.4f}, max {max(accs):.4f})")  # fmt: skip
    out = ROOT / "benchmarks" / "results" / "handwritten_cnn.json"
    out.write_text(json.dumps({"epochs": a.epochs, "variants": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
