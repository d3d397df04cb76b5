"""nas.train on tiny synthetic problems whose outcome is known in advance."""

from __future__ import annotations

import json
import math
from typing import Any

import optuna
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from nas.data.taskdata import Split, TaskData
from nas.errors import NasError, ShapeError, TrainingError
from nas.train import (
    Callback,
    LambdaCallback,
    StopTraining,
    configure_threads,
    evaluate,
    make_optimizer,
    merge_train_val,
    predict,
    steps_per_epoch,
    train_model,
)
from search_spaces.spec import TrainSpec


def blobs(n: int, seed: int, flip: bool = False) -> Split:
    """Two well-separated Gaussian blobs in 4-D; ``flip`` swaps the labels."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    X = torch.randn(n, 4, generator=g) * 0.5 + (y.float() * 2 - 1)[:, None] * 1.5
    return Split(X, 1 - y if flip else y)


def blob_data(n_train: int = 200, flip_val: bool = False) -> TaskData:
    return TaskData(
        name="blobs",
        task="classification",
        modality="tabular",
        input_shape=(4,),
        output_size=2,
        train=blobs(n_train, 1),
        val=blobs(100, 2, flip=flip_val),
        test=blobs(100, 3),
    )


def linear_data() -> TaskData:
    """y = X @ w + small noise, two targets."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(5, 2, generator=g)

    def split(n: int) -> Split:
        X = torch.randn(n, 5, generator=g)
        return Split(X, X @ w + 0.05 * torch.randn(n, 2, generator=g))

    return TaskData(
        name="linear",
        task="regression",
        modality="tabular",
        input_shape=(5,),
        output_size=2,
        train=split(256),
        val=split(128),
        test=split(128),
    )


def mlp(n_in: int = 4, n_out: int = 2, seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, n_out))


def val_loss(model: nn.Module, data: TaskData) -> float:
    return float(F.cross_entropy(predict(model, data.val.X), data.val.y))


def weight_l1(model: nn.Module) -> float:
    return float(sum(p.detach().abs().sum() for p in model.parameters() if p.ndim >= 2))


@pytest.mark.parametrize("schedule", ["none", "cosine", "onecycle"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_separable_problem_is_learned(optimizer: str, schedule: str) -> None:
    data = blob_data()
    lr = 0.1 if optimizer == "sgd" else 0.02
    spec = TrainSpec(optimizer=optimizer, lr=lr, schedule=schedule, batch_size=32)
    result = train_model(mlp(), data, spec, epochs=5, seed=0, device="cpu")
    assert result.best_val_metric is not None and result.best_val_metric > 0.95
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_evaluate_reports_all_metrics() -> None:
    data, model = blob_data(), mlp()
    train_model(model, data, TrainSpec(lr=0.02, batch_size=32), epochs=5, seed=0)
    metrics = evaluate(model, data.test, "classification", 2)
    assert metrics["accuracy"] > 0.95 and metrics["roc_auc"] > 0.95
    assert sum(map(sum, metrics["confusion_matrix"])) == len(data.test)


def test_regression_mse_falls() -> None:
    data = linear_data()
    model = mlp(5, 2)
    result = train_model(
        model,
        data,
        TrainSpec(lr=0.01, batch_size=32, schedule="none"),
        epochs=20,
        seed=0,
        patience=None,
    )
    assert result.metric == "rmse"
    losses = [row["val_loss"] for row in result.history]
    assert losses[-1] < 0.1 * losses[0]
    # the MSE loss averages over both targets, as sklearn's mse does
    assert evaluate(model, data.val, "regression")["mse"] == pytest.approx(
        result.best_val_loss, rel=1e-4
    )


def test_l1_penalty_shrinks_weights() -> None:
    data = blob_data()
    plain, sparse = mlp(seed=5), mlp(seed=5)
    base = TrainSpec(optimizer="adam", lr=0.02, schedule="none", batch_size=32)
    train_model(plain, data, base, epochs=8, seed=0, patience=None)
    train_model(
        sparse, data, TrainSpec(**{**base.to_dict(), "l1": 0.01}), epochs=8, seed=0, patience=None
    )
    assert weight_l1(sparse) < 0.8 * weight_l1(plain)


def test_weight_decay_spares_biases() -> None:
    optimizer = make_optimizer(mlp(), TrainSpec(optimizer="sgd", weight_decay=0.1))
    groups = optimizer.param_groups
    decays = {tuple(p.shape): g["weight_decay"] for g in groups for p in g["params"]}
    assert decays[(16, 4)] == 0.1 and decays[(16,)] == 0.0
    assert optimizer.param_groups[0]["momentum"] == 0.9


def test_early_stopping_restores_best_weights() -> None:
    data = blob_data(flip_val=True)  # learning the train labels only makes val worse
    model = mlp()
    result = train_model(
        model,
        data,
        TrainSpec(optimizer="adam", lr=0.02, batch_size=32),
        epochs=30,
        patience=3,
        seed=0,
    )
    assert result.stopped_early and result.stop_reason == "patience"
    assert result.epochs_run == result.best_epoch + 3 < 30
    assert result.best_val_loss == min(row["val_loss"] for row in result.history)
    assert result.history[-1]["val_loss"] > result.best_val_loss
    assert val_loss(model, data) == pytest.approx(result.best_val_loss, abs=1e-6)


def test_early_stopping_on_a_maximized_metric() -> None:
    data = blob_data(flip_val=True)
    result = train_model(
        mlp(),
        data,
        TrainSpec(lr=0.02, batch_size=32),
        epochs=30,
        patience=2,
        seed=0,
        monitor="val_metric",
        metric="balanced_accuracy",
    )
    assert result.stopped_early
    assert result.best_val_metric == max(row["val_metric"] for row in result.history)


class InfModel(nn.Module):
    """Outputs infinite logits, so the loss is NaN on the first step."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * math.inf


def test_non_finite_model_output_raises_training_error() -> None:
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1 step 1"):
        train_model(InfModel(), blob_data(), TrainSpec(), epochs=2)


def test_huge_learning_rate_raises_training_error() -> None:
    spec = TrainSpec(optimizer="sgd", lr=1e6, grad_clip=0.0, schedule="none", batch_size=16)
    with pytest.raises(TrainingError, match=r"(nan|inf).*lower the learning rate") as info:
        train_model(mlp(5, 2), linear_data(), spec, epochs=5, seed=0)
    assert isinstance(info.value, NasError)


class Boom(Exception):
    pass


class RaiseAt(Callback):
    def __init__(self, epoch: int, exc: BaseException) -> None:
        self.epoch, self.exc, self.began = epoch, exc, None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.began = logs

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if epoch == self.epoch:
            raise self.exc


@pytest.mark.parametrize("exc", [Boom("from a callback"), optuna.TrialPruned("pruned")])
def test_callback_exceptions_propagate_unchanged(exc: BaseException) -> None:
    callback = RaiseAt(2, exc)
    with pytest.raises(type(exc)) as info:
        train_model(mlp(), blob_data(), TrainSpec(batch_size=50), epochs=5, callbacks=[callback])
    assert info.value is exc
    assert callback.began == {
        "epochs": 5,
        "steps_per_epoch": 4,
        "n_train": 200,
        "metric": "accuracy",
        "device": "cpu",
        "micro_batch": 50,
    }


def test_stop_training_ends_cleanly_and_callbacks_see_logs() -> None:
    seen: list[dict[str, Any]] = []
    callbacks = [LambdaCallback(lambda epoch, logs: seen.append(logs)), RaiseAt(2, StopTraining())]
    result = train_model(
        mlp(), blob_data(), TrainSpec(batch_size=50), epochs=5, callbacks=callbacks, seed=0
    )
    assert result.stopped_early and result.stop_reason == "callback"
    assert result.epochs_run == 2 and [logs["epoch"] for logs in seen] == [1, 2]
    assert set(seen[0]) >= {"train_loss", "val_loss", "val_metric", "lr", "metric", "steps"}
    assert seen[1]["steps"] == 8


def test_same_seed_same_history_and_rng_restored() -> None:
    def run(seed: int) -> tuple[list[tuple[float, float]], nn.Module]:
        model = mlp(dropout=0.3)
        result = train_model(model, blob_data(), TrainSpec(batch_size=16), epochs=3, seed=seed)
        return [(row["train_loss"], row["val_loss"]) for row in result.history], model

    (h1, m1), (h2, m2), (h3, _) = run(7), run(7), run(8)
    assert h1 == h2 and h1 != h3
    assert all(
        torch.equal(a, b)
        for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True)
    )
    model = mlp(dropout=0.3)
    state = torch.get_rng_state()  # the caller's RNG stream is left where it was
    train_model(model, blob_data(), TrainSpec(), epochs=1, seed=1)
    assert torch.equal(torch.get_rng_state(), state)


def test_step_count_without_early_stopping() -> None:
    result = train_model(mlp(), blob_data(), TrainSpec(batch_size=32), epochs=4, patience=None)
    assert result.steps == 4 * math.ceil(200 / 32) and result.epochs_run == 4
    assert not result.stopped_early and result.stop_reason == "completed"
    huge = train_model(mlp(), blob_data(), TrainSpec(batch_size=10_000), epochs=3, patience=None)
    assert huge.steps == 3  # batch size capped at the number of examples


def test_single_example_tail_batch_is_folded_for_batchnorm() -> None:
    assert steps_per_epoch(200, 32) == 7 and steps_per_epoch(65, 32) == 2
    assert steps_per_epoch(1, 32) == 1 and steps_per_epoch(64, 64) == 1
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    result = train_model(model, blob_data(n_train=65), TrainSpec(batch_size=32), epochs=2)
    assert result.steps == 4


def test_final_retrain_on_train_and_val() -> None:
    data = blob_data()
    merged = merge_train_val(data)
    assert len(merged) == 300 and torch.equal(merged.X[200:], data.val.X)
    callback = RaiseAt(99, Boom())
    result = train_model(
        mlp(), data, TrainSpec(batch_size=100), epochs=4, use_val=False, callbacks=[callback]
    )
    assert callback.began["n_train"] == 300
    assert result.epochs_run == 4 and result.steps == 12 and result.best_epoch == 4
    assert result.best_val_loss is None and all(r["val_loss"] is None for r in result.history)
    json.dumps(result.to_dict(), allow_nan=False)


def test_result_is_json_able() -> None:
    result = train_model(mlp(), blob_data(), TrainSpec(), epochs=2)
    record = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert record["epochs_run"] == 2 and len(record["history"]) == 2
    assert set(record["history"][0]) == {
        "epoch",
        "train_loss",
        "val_loss",
        "val_metric",
        "lr",
        "seconds",
    }


def test_predict_is_batched_and_keeps_mode() -> None:
    model, X = mlp(dropout=0.5), torch.randn(23, 4)
    model.train()
    full = predict(model, X)
    assert torch.allclose(predict(model, X, batch_size=7), full, atol=1e-6) and model.training
    assert not full.requires_grad and full.shape == (23, 2)


def test_bad_arguments_raise_nas_errors() -> None:
    with pytest.raises(NasError, match="epochs"):
        train_model(mlp(), blob_data(), TrainSpec(), epochs=0)
    with pytest.raises(NasError, match="not a classification metric"):
        train_model(mlp(), blob_data(), TrainSpec(), epochs=1, metric="rmse")
    with pytest.raises(ShapeError, match="output"):
        train_model(mlp(5, 3), linear_data(), TrainSpec(), epochs=1)
    gen = TaskData(
        name="g",
        task="generation",
        modality="tabular",
        input_shape=(4,),
        output_size=4,
        train=blobs(8, 0),
        val=blobs(8, 1),
        test=blobs(8, 2),
    )
    with pytest.raises(NasError, match="generation"):
        train_model(mlp(), gen, TrainSpec(), epochs=1)


def test_configure_threads() -> None:
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1 and torch.get_num_threads() == 1
        assert configure_threads(workers=4) == 1
        assert configure_threads() == 1 and torch.get_num_threads() == 1
        with pytest.raises(NasError, match="workers"):
            configure_threads(workers=0)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_a_longer_schedule_plan_replays_the_first_epochs_of_the_longer_run(schedule: str) -> None:
    # The final retrain of a search's winner: its best epoch (3) of the trial's 10-epoch plan.
    data = blob_data()
    spec = TrainSpec(optimizer="adamw", lr=0.05, batch_size=32, schedule=schedule)
    full, part = mlp(seed=1), mlp(seed=1)
    long = train_model(full, data, spec, epochs=10, patience=None, seed=3)
    short = train_model(part, data, spec, epochs=3, schedule_epochs=10, patience=None, seed=3)
    assert [h["lr"] for h in short.history] == [h["lr"] for h in long.history[:3]]
    assert [h["train_loss"] for h in short.history] == pytest.approx(
        [h["train_loss"] for h in long.history[:3]], rel=1e-6
    )
    # a 3-epoch plan anneals within those 3 epochs: another learning rate by epoch 2
    squeezed = train_model(mlp(seed=1), data, spec, epochs=3, patience=None, seed=3)
    assert squeezed.history[1]["lr"] != pytest.approx(long.history[1]["lr"])
    # a plan shorter than the epochs is the epochs' own
    again = train_model(mlp(seed=1), data, spec, epochs=3, schedule_epochs=2, patience=None, seed=3)
    assert [h["lr"] for h in again.history] == [h["lr"] for h in squeezed.history]


def test_epochs_tied_on_the_metric_are_told_apart_by_validation_loss() -> None:
    """Accuracy on two far-apart blobs is 1.000 after the first epochs and stays there while
    the loss keeps falling: the best epoch is the tied epoch of lowest loss (found here from
    the history), not the first to reach 1.000, and its weights are the ones returned."""
    data = blob_data()
    model = mlp()
    result = train_model(model, data, TrainSpec(lr=0.02, batch_size=32), epochs=12,
                         patience=None, seed=0, monitor="val_metric")  # fmt: skip
    accs = [row["val_metric"] for row in result.history]
    top = max(accs)
    tied = [row for row in result.history if row["val_metric"] == top]
    first = tied[0]["epoch"]
    lowest = min(tied, key=lambda row: row["val_loss"])["epoch"]
    assert top == 1.0 and len(tied) >= 3 and lowest > first  # the case this is about
    assert result.best_epoch == lowest and result.best_val_metric == 1.0
    assert result.best_val_loss == tied[[r["epoch"] for r in tied].index(lowest)]["val_loss"]
    assert val_loss(model, data) == pytest.approx(result.best_val_loss, abs=1e-6)


def test_patience_counts_epochs_without_a_better_metric_and_keeps_the_tie_of_lowest_loss() -> None:
    """On saturated accuracy a falling loss is not progress for patience: training stops
    where it stopped before ties were told apart (the stop replayed from the history by hand,
    on the metric alone), and the epoch kept is the tied one of lowest loss seen by then."""
    data = blob_data()
    result = train_model(mlp(), data, TrainSpec(lr=0.02, batch_size=32), epochs=30,
                         patience=3, seed=0, monitor="val_metric")  # fmt: skip
    best, bad, stop = -1.0, 0, None
    for row in result.history:
        bad = 0 if row["val_metric"] > best else bad + 1
        best = max(best, row["val_metric"])
        if bad >= 3:
            stop = row["epoch"]
            break
    assert result.stop_reason == "patience" and result.epochs_run == stop
    tied = [r for r in result.history if r["val_metric"] == best]
    assert len(tied) >= 2  # the case this is about: the first tied epoch is not the kept one
    assert result.best_epoch == min(tied, key=lambda r: r["val_loss"])["epoch"] != tied[0]["epoch"]


def test_a_lost_stop_is_raised_again_at_the_next_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """/tmp/oD4 F4: SIGTERM's KeyboardInterrupt, raised while Python ran a finalizer, was
    dropped ("Exception ignored"), and the search ran on to exit 0 with SIGTERM ignored. The
    handler also sets ``stop_pending``; training raises it at its next batch."""
    import nas.train.loop as loop

    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    monkeypatch.setattr(loop, "stop_pending", True)
    with pytest.raises(KeyboardInterrupt):
        train_model(model, blob_data(), TrainSpec(lr=0.02, batch_size=32), epochs=5, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # no step taken


def test_sigterm_sets_the_stop_that_training_raises_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import os
    import signal

    import nas.train.loop as loop
    import nas.trial
    from nas.cli import stop_on_sigterm

    monkeypatch.setattr(loop, "stop_pending", False)
    monkeypatch.setattr(nas.trial, "STOPPED_BY", "Ctrl-C")
    db_log = logging.getLogger("sqlalchemy")
    monkeypatch.setattr(db_log, "level", logging.NOTSET)
    old, old_int = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        # as a terminal starts it (a background job, `nohup`, may start with SIGINT ignored:
        # nas then leaves it ignored)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop_on_sigterm()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.5)  # let the handler run if not yet
        assert loop.stop_pending is True and nas.trial.STOPPED_BY == "SIGTERM"
        # SQLAlchemy's "Error closing cursor" traceback of a read the stop cut short had
        # reached a stopped search's stderr (test_scale, SIGTERM 3 s in): quiet once stopping
        assert db_log.level == logging.CRITICAL
        db_log.setLevel(logging.NOTSET)
        with pytest.raises(KeyboardInterrupt):  # Ctrl-C: Python's KeyboardInterrupt, as quiet
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0.5)
        assert db_log.level == logging.CRITICAL
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, old_int)


def test_a_trials_time_limit_gives_the_caller_its_own_timer_back() -> None:
    """/tmp/oH5 F1: a search with a trial time limit cancelled the caller's pending
    signal.alarm / ITIMER_REAL; it now comes back with what is left of it."""
    import signal
    import time

    from nas.errors import TrialTimeoutError
    from nas.trial import time_limit

    rang: list[int] = []
    before = signal.signal(signal.SIGALRM, lambda *_: rang.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        with time_limit(5.0, time.perf_counter()):
            assert 4.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 5.0  # the trial's, now
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 29.0 < left <= 30.0 and not rang  # the caller's, with what is left of it
        with pytest.raises(TrialTimeoutError), time_limit(0.05, time.perf_counter()):
            time.sleep(1.0)  # the trial's limit still works
        assert 28.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
