"""Micro-batches: a training step whose batch would keep too much for backward is split, and the
step is the same step (known answers: bytes counted by hand, weights compared with one pass)."""

from __future__ import annotations

import gc
import math
import os
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from nas.data.taskdata import Split, TaskData
from nas.train import train_model
from nas.train.loop import STEP_MEMORY_MB, micro_batch, saved_bytes
from search_spaces.spec import TrainSpec

MIB = 2**20


def wide(seed: int = 0) -> nn.Module:
    """10 -> 1000 -> 2: one example keeps 40 B (the first layer's input) + 4,000 B (the ReLU's
    output, which the second layer also saves: one storage) for backward."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 1000), nn.ReLU(), nn.Linear(1000, 2))


def data(task: str = "classification", n: int = 96) -> TaskData:
    g = torch.Generator().manual_seed(0)

    def split(m: int) -> Split:
        X = torch.randn(m, 10, generator=g)
        if task == "classification":
            return Split(X, (X[:, 0] > 0).long())
        return Split(X, X[:, :2] * 2.0 + 0.1 * torch.randn(m, 2, generator=g))

    return TaskData(name="t", task=task, modality="tabular", input_shape=(10,), output_size=2,
                    train=split(n), val=split(32), test=split(32))  # fmt: skip


def test_saved_bytes_is_counted_by_hand() -> None:
    model, X = wide(), torch.randn(8, 10)
    for k in (1, 3, 8):
        assert saved_bytes(model, X[:k].clone()) == k * (10 * 4 + 1000 * 4)


def test_saved_bytes_leaves_the_random_state_and_the_mode_alone() -> None:
    model, X = nn.Sequential(nn.Dropout(0.5), wide()).eval(), torch.randn(4, 10)
    state = torch.get_rng_state()
    assert saved_bytes(model, X) > 0
    assert torch.equal(state, torch.get_rng_state())
    assert not model.training


def test_micro_batch_is_the_largest_count_within_the_limit() -> None:
    model, X = wide(), torch.randn(200, 10)
    per_example = 4040
    assert micro_batch(model, X, 64, 10 * per_example / MIB) == 10
    assert micro_batch(model, X, 64, 10.5 * per_example / MIB) == 10
    assert micro_batch(model, X, 64, 0.5 * per_example / MIB) == 1  # never fewer than one
    assert micro_batch(model, X, 64, 1.0) == 64  # 64 x 4,040 B fit in 1 MiB
    assert micro_batch(model, X, 64, None) == 64


def test_batch_norm_models_are_never_split() -> None:
    model = nn.Sequential(nn.Linear(10, 1000), nn.BatchNorm1d(1000), nn.ReLU(), nn.Linear(1000, 2))
    assert micro_batch(model, torch.randn(200, 10), 64, 1e-3) == 64


def test_a_sequence_model_of_the_search_space_keeps_what_one_batch_needs_within_the_limit() -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=256, batch_first=True)
    model = nn.Sequential(nn.TransformerEncoder(layer, 3), nn.Flatten(), nn.Linear(40 * 16, 10))
    X = torch.randn(256, 40, 16)
    whole = saved_bytes(model, X[:128].clone())
    assert whole > 2 * MIB  # a batch of 128 keeps several MiB
    chunk = micro_batch(model, X, 128, whole / 3 / MIB)
    assert 1 <= chunk < 128
    assert saved_bytes(model, X[:chunk].clone()) <= whole / 3
    assert saved_bytes(model, X[: chunk + 1].clone()) > whole / 3 * 0.9  # not needlessly small


@pytest.mark.parametrize(
    ("task", "metric"),
    [("classification", None), ("classification", "balanced_accuracy"), ("regression", None),
     ("regression", "mae")],  # the class-weighted and the L1 losses too
)  # fmt: skip
@pytest.mark.parametrize("l1", [0.0, 1e-3])
def test_a_split_step_is_the_same_step(task: str, metric: str | None, l1: float) -> None:
    spec = TrainSpec(optimizer="sgd", lr=0.05, batch_size=32, schedule="none", l1=l1)
    runs = {}
    d = data(task)
    if task == "classification":  # classes 3:1, so the balanced loss weighs them unlike
        d.train.y[: len(d.train.y) // 2] = 0
    for limit in (None, 5 * 4040 / MIB):  # whole batches, and passes of 5 examples
        model = wide()
        result = train_model(model, d, spec, epochs=3, seed=0, patience=None, metric=metric,
                             step_memory_mb=limit)  # fmt: skip
        runs[limit] = (model, result)
    (m1, r1), (m2, r2) = runs.values()
    assert r1.micro_batch == 32 and r2.micro_batch == 5
    for p, q in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    for a, b in zip(r1.history, r2.history):
        assert math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-4)
        assert math.isclose(a["val_loss"], b["val_loss"], rel_tol=1e-4)


def test_the_default_limit_applies_and_divergence_is_still_reported() -> None:
    from nas.errors import TrainingError

    assert STEP_MEMORY_MB == 16.0
    d = data()
    d.train.X[7, 0] = float("nan")
    spec = TrainSpec(optimizer="sgd", lr=0.05, batch_size=32, schedule="none")
    with pytest.raises(TrainingError, match="loss became nan at epoch 1"):
        train_model(wide(), d, spec, epochs=1, seed=0, step_memory_mb=5 * 4040 / MIB)


@pytest.mark.parametrize("limit", [0, -1.0, float("nan"), True, "16"])
def test_a_bad_limit_is_refused(limit: object) -> None:
    from nas.errors import NasError

    spec = TrainSpec(batch_size=32)
    with pytest.raises(NasError, match="step_memory_mb must be a number > 0 or None"):
        train_model(wide(), data(), spec, epochs=1, step_memory_mb=limit)  # type: ignore[arg-type]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_probe_frees_what_it_saved() -> None:
    """Each probe of this model saves 20 MB (256 rows x 20,000 ReLU outputs); twenty probes that
    leaked their graphs (a pack hook that hands a saved output back to autograd ties it to its
    own node) would hold 400 MB more. The first probes warm the allocator, which keeps some."""
    model = nn.Sequential(nn.Linear(10, 20_000), nn.ReLU())
    x = torch.randn(256, 10)
    assert saved_bytes(model, x) == 256 * (10 + 20_000) * 4
    for _ in range(5):
        saved_bytes(model, x)
    gc.collect()
    before = _rss_mb()
    for _ in range(20):
        saved_bytes(model, x)
    gc.collect()
    assert _rss_mb() - before < 100


def test_a_trial_records_that_its_steps_were_split() -> None:
    import optuna

    from nas.trial import MicroBatchRecord

    study = optuna.create_study()
    for split, batch, n, recorded in [(25, 128, 3250, 25), (128, 128, 3250, None),
                                      (40, 64, 40, None), (10, 64, 40, 10)]:  # fmt: skip
        trial = study.ask()
        trial.set_user_attr("spec", {"train": {"batch_size": batch}})
        MicroBatchRecord(trial).on_train_begin({"micro_batch": split, "n_train": n})
        assert trial.user_attrs.get("micro_batch") == recorded


def test_the_kernel_cache_is_capped_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nas.train import limit_kernel_cache
    from nas.train.threads import KERNEL_CACHE

    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    assert limit_kernel_cache() is True
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(KERNEL_CACHE) == "64"
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "512")
    assert limit_kernel_cache() is False
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "512"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_search_process_caps_the_kernel_cache(tmp_path: Path) -> None:
    """`nas search` sets the cap before its first convolution; its workers inherit it."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    code = (
        "import os, sys\n"
        "from nas.config import SearchConfig\n"
        "from nas.cli import app\n"
        "def spy(self):\n"  # the first thing after the cap: loading the data
        "    cap = os.environ.get('ONEDNN_PRIMITIVE_CACHE_CAPACITY')\n"
        "    os._exit(0 if cap == '64' else 1)\n"
        "SearchConfig.load_data = spy\n"
        f"app(['search', '--dataset', 'iris', '--trials', '1', '--out', {str(tmp_path / 'r')!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_passes_of_one_make_the_step_plain_autograd_makes_on_the_whole_batch() -> None:
    """Known answer outside the training loop: one SGD step, w - lr * (gradient of the batch's
    mean cross-entropy), from torch.autograd.grad on all 32 rows at once."""
    d = data(n=32)
    spec = TrainSpec(optimizer="sgd", lr=0.1, batch_size=32, schedule="none", grad_clip=0.0)
    reference = wide()
    loss = nn.functional.cross_entropy(reference(d.train.X), d.train.y)
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    expected = [p.detach() - 0.1 * g for p, g in zip(reference.parameters(), grads)]
    model = wide()
    result = train_model(model, d, spec, epochs=1, seed=0, patience=None,
                         step_memory_mb=4040 / MIB)  # fmt: skip
    assert result.micro_batch == 1 and result.steps == 1
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e, rtol=1e-5, atol=1e-6)
