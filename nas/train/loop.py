"""The training loop: one model, one TaskData -> a model trained in place and its record.

Training knows nothing of Optuna. The search passes callbacks; a pruning callback reports the
epoch's logs to its trial and raises ``optuna.TrialPruned``, which propagates out of
:func:`train_model` unchanged, like any exception a callback raises except :class:`StopTraining`
(which ends training cleanly). In-memory tensors are batched by slicing with a permuted index;
there is no per-sample DataLoader. Epochs are numbered from 1.

On the CPU a step whose batch would keep more than :data:`STEP_MEMORY_MB` for its backward pass
runs as micro-batches whose gradients add up to the batch's (gradient accumulation; see
:func:`micro_batch`): the same optimizer step in less memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nas import metrics
from nas.data.taskdata import Split, TaskData
from nas.errors import DataError, NasError, ShapeError, TrainingError
from nas.train._checks import _check_positive
from nas.train.augment import AUGMENTS
from nas.train.callbacks import Callback, StopTraining
from nas.train.evaluation import EVAL_BATCH_SIZE, _outputs
from nas.train.optim import make_optimizer, make_scheduler, steps_per_epoch
from search_spaces.spec import TrainSpec

#: The most one forward/backward pass of a training step may keep for its backward pass on the
#: CPU, in MiB (the activations autograd saves; the weights not counted). The sequence models of
#: the auto space on MNIST-1D keep up to ~100 MB per batch, and one that kept 70 MB raised a
#: search's peak by 158 MB; a 200k GRU that keeps 43.7 MB, run in passes of 23, peaked 59 MB
#: over its start instead of 93 MB (benchmarks/memory_trace.py, BENCHMARKS.md "Memory").
STEP_MEMORY_MB = 16.0


@dataclass
class TrainResult:
    """What happened in :func:`train_model`; the model itself is trained in place."""

    history: list[dict[str, Any]]  # per epoch: epoch, train_loss, val_loss, val_metric, lr, seconds
    best_epoch: int  # the epoch whose weights the model holds on return
    epochs_run: int
    stopped_early: bool  # by patience or by a callback's StopTraining
    seconds: float
    steps: int  # optimizer steps taken
    best_val_loss: float | None  # at best_epoch; None when trained without validation
    best_val_metric: float | None
    metric: str  # the name of val_metric
    stop_reason: str  # completed | patience | callback
    micro_batch: int | None = None  # examples per forward/backward pass (the batch when unsplit)
    loss: str = ""  # what was minimised (loss_name): cross_entropy[_balanced], mse or l1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy."""
        return asdict(self)


def merge_train_val(data: TaskData) -> Split:
    """Train and val concatenated, for the final retrain of a chosen architecture."""
    return Split(torch.cat([data.train.X, data.val.X]), torch.cat([data.train.y, data.val.y]))


#: Metrics that weigh every class alike (macro averages, balanced accuracy): a model trained
#: for them sees each class's examples weighted by n / (k * n_class), scikit-learn's
#: class_weight="balanced", so a rare class counts in the loss as in the metric.
CLASS_BALANCED = ("balanced_accuracy", "f1", "precision", "recall")
#: The training loss per task and validation metric: what the metric scores, where it differs
#: from the default (the median error for MAE, the class-balanced loss for CLASS_BALANCED).
LOSSES = {"classification": "cross_entropy", "regression": "mse"}


def loss_name(task: str, metric: str | None) -> str:
    """The loss :func:`train_model` minimises for ``task`` scored by validation ``metric``."""
    if task == "classification" and metric in CLASS_BALANCED:
        return "cross_entropy_balanced"
    if task == "regression" and metric == "mae":
        return "l1"
    return LOSSES.get(task, "")


def _regression_loss(l1: bool) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if out.shape != y.shape:
            if out.numel() != y.numel():
                raise ShapeError(
                    f"The model outputs shape {tuple(out.shape)} but the targets have "
                    f"shape {tuple(y.shape)}; the head's output size must match."
                )
            out = out.reshape(y.shape)
        return F.l1_loss(out, y) if l1 else F.mse_loss(out, y)

    return loss


def class_weights(y: torch.Tensor, classes: int) -> torch.Tensor:
    """n / (k * n_c) per class c of the labels ``y`` (a class absent from them: weight 0). The
    weights of ``y``'s own examples average exactly 1, so a batch's mean weighted loss is on
    the scale of the plain loss, and a batch split into micro-batches sums to the same loss."""
    counts = torch.bincount(y.long().reshape(-1), minlength=classes).double()
    present = int((counts > 0).sum())
    w = torch.where(counts > 0, len(y) / (present * counts.clamp(min=1)), 0.0)
    return w.float()


def _task_loss(
    task: str, metric: str | None = None, y: torch.Tensor | None = None, classes: int = 0
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    name = loss_name(task, metric)
    if name == "cross_entropy_balanced" and y is not None:
        weights = class_weights(y, max(classes, int(y.max()) + 1))

        def balanced(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            each = F.cross_entropy(out, target, reduction="none")
            return (each * weights.to(out.device)[target]).mean()

        return balanced
    if task == "classification":
        return F.cross_entropy
    if task == "regression":
        return _regression_loss(l1=name == "l1")
    raise NasError(f"train_model trains classification and regression models, got task {task!r}.")


def _targets(y: torch.Tensor, task: str, device: torch.device) -> torch.Tensor:
    return (y.long().reshape(-1) if task == "classification" else y.float()).to(device)


def _has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes one training-mode forward pass of ``x`` keeps for its backward pass: the distinct
    storages autograd saves (``torch.autograd.graph.saved_tensors_hooks``), the model's own
    weights not counted. The CPU's random state is restored afterwards (dropout draws masks)."""
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}
    alive: list[torch.Tensor] = []  # keeps each storage's address its own until the count ends

    def pack(t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
            alive.append(t.detach())
        # Nothing goes back to autograd: a pack hook that returned ``t`` itself would tie a
        # saved output to its own graph node, a cycle Python cannot collect (~14 MB a probe).

    def unpack(_: None) -> torch.Tensor:
        raise RuntimeError("saved_bytes' probe pass has no backward pass")

    was_training = model.training
    model.train()
    try:
        hooks = torch.autograd.graph.saved_tensors_hooks(pack, unpack)
        with torch.random.fork_rng(devices=[]), hooks:
            model(x)
    finally:
        model.train(was_training)
    return sum(saved.values())


def micro_batch(
    model: nn.Module, X: torch.Tensor, batch_size: int, limit_mb: float | None = STEP_MEMORY_MB
) -> int:
    """Examples per forward/backward pass so that one pass keeps at most ``limit_mb`` MiB for
    its backward pass; ``batch_size`` when a whole batch already does, when there is no limit,
    and when the model has batch norm (its statistics are the batch's, so splitting the batch
    would change the step). At least 1.

    Two probe passes of k and 2k rows of ``X`` (k <= 8) give the bytes kept per example (their
    difference over k) and the fixed part; the largest count within the limit follows."""
    if limit_mb is None or batch_size < 2 or _has_batch_norm(model):
        return batch_size
    k = min(8, batch_size // 2, len(X) // 2)
    if k < 1:
        return batch_size
    small = saved_bytes(model, X[:k].clone())
    large = saved_bytes(model, X[: 2 * k].clone())
    per_example = (large - small) / k
    if per_example <= 0:
        return batch_size
    fits = k + math.floor((limit_mb * 2**20 - small) / per_example)
    return max(1, min(batch_size, fits))


def _diverged(
    what: str, value: float, epoch: int, batch: int, step: int, lr: float
) -> TrainingError:
    return TrainingError(
        f"The {what} became {value} at epoch {epoch} step {batch} (optimizer step {step}, "
        f"lr={lr:.3g}); lower the learning rate (train.lr), enable gradient clipping "
        "(train.grad_clip > 0), or check the inputs for NaN/inf values."
    )


#: Set by nas.cli's SIGTERM handler with the KeyboardInterrupt it raises: raised while Python
#: runs a finalizer (a SQLAlchemy weakref callback), that exception is printed as "Exception
#: ignored" and dropped, and the search ran on to exit 0 with SIGTERM ignored (/tmp/oD4 F4, 1
#: in 11 tries). Training, where a search spends its time, raises it again at the next batch.
stop_pending = False


def raise_if_stopped(*_: Any) -> None:
    """Raise the stop :data:`stop_pending` holds, if there is one: training checks it at every
    batch; the stages after the search at their start, and explanations at every forward pass
    of the winner (a forward pre-hook), so a lost SIGTERM stops them too."""
    if stop_pending:
        raise KeyboardInterrupt


def train_model(
    model: nn.Module,
    data: TaskData,
    train: TrainSpec,
    *,
    epochs: int,
    callbacks: Sequence[Callback] = (),
    patience: int | None = 5,
    device: torch.device | str | None = None,
    seed: int | None = None,
    use_val: bool = True,
    metric: str | None = None,
    monitor: str = "val_loss",
    schedule_epochs: int | None = None,
    step_memory_mb: float | None = STEP_MEMORY_MB,
) -> TrainResult:
    """Train ``model`` in place on ``data.train`` for up to ``epochs`` epochs; return the record.

    With ``use_val`` the model is scored on ``data.val`` after every epoch; training stops after
    ``patience`` epochs without improvement of ``monitor`` (``"val_loss"`` or ``"val_metric"``,
    the latter in ``metric``'s direction; ``patience=None`` never stops) and the best epoch's
    weights are restored. Epochs with the same ``monitor`` value are told apart by their
    validation loss: the best epoch of an accuracy that reaches 1.000 at epoch 7 and keeps it
    to epoch 20 is the one of those with the lowest loss, not the 7th. Patience counts epochs
    without a better ``monitor`` value, so a tie changes which epoch is kept, not when
    training stops. With ``use_val=False`` it trains on train+val for exactly
    ``epochs``.
    ``seed`` fixes batch order and dropout (the global RNG is restored afterwards); the model's
    initialisation is the caller's. A non-finite loss or gradient norm raises TrainingError.

    The learning-rate schedule is planned over ``schedule_epochs`` (default ``epochs``); a
    longer plan that stops after ``epochs`` replays the first epochs of a longer run, which is
    how a search's winner is retrained for its best epoch count under the schedule it had.

    On the CPU, a batch that would keep more than ``step_memory_mb`` MiB for its backward pass
    is fed in micro-batches whose loss gradients are summed, weighted by their share of the
    batch, before the one optimizer step (:func:`micro_batch`; ``None``: never split; models
    with batch norm and GPU training are never split).
    """
    _task_loss(data.task)  # an unknown task: refused before anything else
    _check_positive("epochs", epochs)
    if patience is not None:
        _check_positive("patience (or None)", patience)
    if step_memory_mb is not None and not (
        isinstance(step_memory_mb, (int, float))
        and not isinstance(step_memory_mb, bool)
        and math.isfinite(step_memory_mb)
        and step_memory_mb > 0
    ):
        raise NasError(f"step_memory_mb must be a number > 0 or None, got {step_memory_mb!r}.")
    if schedule_epochs is None or schedule_epochs < epochs:
        schedule_epochs = epochs
    if monitor not in ("val_loss", "val_metric"):
        raise NasError(f"monitor must be 'val_loss' or 'val_metric', got {monitor!r}.")
    metric = metrics.check_metric(metric or metrics.default_metric(data.task), data.task)
    if use_val and len(data.val) == 0:
        raise DataError(f"Dataset {data.name!r} has an empty val split; pass use_val=False.")
    if train.augment != "none" and data.modality != "image":
        raise NasError(
            f"train.augment {train.augment!r} moves images; {data.name!r} holds "
            f"{data.modality} inputs, so use augment 'none'."
        )
    fit = data.train if use_val else merge_train_val(data)
    if len(fit) == 0:
        raise DataError(f"Dataset {data.name!r} has no training examples.")
    # the loss the metric scores (loss_name); class weights from the rows trained on
    task_loss = _task_loss(data.task, metric, fit.y, len(data.class_names or []))
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with torch.random.fork_rng(
        devices=[dev] if dev.type == "cuda" else [], enabled=seed is not None
    ):
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
            torch.default_generator.manual_seed(seed)  # dropout on the CPU
            if dev.type == "cuda":
                torch.cuda.manual_seed(seed)
        model.to(dev)
        return _fit(
            model,
            data,
            fit,
            train,
            task_loss,
            dev,
            gen,
            epochs=epochs,
            schedule_epochs=schedule_epochs,
            patience=patience,
            callbacks=callbacks,
            use_val=use_val,
            metric=metric,
            monitor=monitor,
            step_memory_mb=step_memory_mb if dev.type == "cpu" else None,
        )


def _fit(
    model: nn.Module,
    data: TaskData,
    fit: Split,
    train: TrainSpec,
    task_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    dev: torch.device,
    gen: torch.Generator,
    *,
    epochs: int,
    schedule_epochs: int,
    patience: int | None,
    callbacks: Sequence[Callback],
    use_val: bool,
    metric: str,
    monitor: str,
    step_memory_mb: float | None,
) -> TrainResult:
    start = time.perf_counter()
    X, y, n = fit.X.to(dev), _targets(fit.y, data.task, dev), len(fit)
    if use_val:
        vX, vy = data.val.X.to(dev), _targets(data.val.y, data.task, dev)
    n_classes = data.output_size if data.task == "classification" else None
    bs, spe = min(train.batch_size, n), steps_per_epoch(n, train.batch_size)
    chunk = micro_batch(model, X, bs, step_memory_mb)
    split = chunk < bs  # the last batch may be longer than bs; unsplit, it stays whole
    optimizer = make_optimizer(model, train)
    scheduler = make_scheduler(optimizer, train, schedule_epochs * spe)
    # every augment a TrainSpec allows but "none" has a function; a missing one fails loudly
    move = None if train.augment == "none" else AUGMENTS[train.augment]
    # its own generator, so that the batches (gen's) are those of the same run without it
    moves = (
        None if move is None else torch.Generator().manual_seed((gen.initial_seed() + 1) % 2**63)
    )
    params = [p for p in model.parameters() if p.requires_grad]
    l1_params = [p for p in params if p.ndim >= 2] if train.l1 > 0 else []
    maximize = monitor == "val_metric" and metrics.metric_direction(metric) == "maximize"
    sign = -1.0 if maximize else 1.0
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"score": (math.inf, math.inf), "epoch": None, "row": None,
                            "state": None}  # fmt: skip
    steps, bad_epochs, stop_reason = 0, 0, "completed"
    for cb in callbacks:
        cb.on_train_begin(
            {
                "epochs": epochs,
                "steps_per_epoch": spe,
                "n_train": n,
                "metric": metric,
                "device": str(dev),
                "micro_batch": chunk,
            }
        )
    for epoch in range(1, epochs + 1):
        t0, total, lr = time.perf_counter(), torch.zeros((), device=dev), train.lr
        model.train()
        perm = torch.randperm(n, generator=gen).to(dev)
        for b in range(spe):
            raise_if_stopped()  # a stop whose KeyboardInterrupt was lost (see stop_pending)
            idx = perm[b * bs : (n if b == spe - 1 else (b + 1) * bs)]
            lr = float(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad(set_to_none=True)
            data_loss = torch.zeros((), device=dev)
            for part in torch.split(idx, chunk) if split else (idx,):
                inputs = X[part] if move is None else move(X[part], moves)
                piece = task_loss(model(inputs), y[part])
                if split:  # each part's mean loss weighted by its share of the batch
                    piece = piece * (len(part) / len(idx))
                piece.backward()
                data_loss += piece.detach()
            loss = data_loss
            if l1_params:
                penalty = train.l1 * sum(p.abs().sum() for p in l1_params)
                penalty.backward()
                loss = loss + penalty.detach()
            value = float(loss)  # one sync per step buys a precise divergence report
            if not math.isfinite(value):  # raised before the optimizer steps on it
                raise _diverged("loss", value, epoch, b + 1, steps + 1, lr)
            if train.grad_clip > 0:
                norm = float(nn.utils.clip_grad_norm_(params, train.grad_clip))
                if not math.isfinite(norm):
                    raise _diverged("gradient norm", norm, epoch, b + 1, steps + 1, lr)
            optimizer.step()
            steps += 1
            if scheduler is not None:
                scheduler.step()
            total += data_loss.detach() * len(idx)  # summed on the device: no extra sync
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": float(total) / n,
            "val_loss": None,
            "val_metric": None,
            "lr": lr,
        }
        if use_val:
            out = _outputs(model, vX, EVAL_BATCH_SIZE, dev)
            row["val_loss"] = float(task_loss(out, vy))
            if not math.isfinite(row["val_loss"]):
                raise TrainingError(
                    f"The validation loss became {row['val_loss']} after epoch {epoch} "
                    f"(lr={lr:.3g}); lower the learning rate or enable gradient clipping."
                )
            row["val_metric"] = metrics.metric_value(metric, data.task, vy, out, n_classes)
            score = row["val_loss"] if monitor == "val_loss" else row["val_metric"]
            # Epochs tied on the metric are told apart by their validation loss. A saturated
            # accuracy (1.000 from epoch 7 of 20 on digits) otherwise keeps the first of them:
            # a model in the middle of its schedule, whose retrain then stops there too.
            # Patience still counts epochs without a better score: a tie kept for its lower
            # loss changes which epoch is kept, not when training stops.
            key = (sign * score, row["val_loss"]) if score is not None else None
            better = key is not None and key[0] < best["score"][0]
            if key is not None and key < best["score"]:
                state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best.update(score=key, epoch=epoch, row=row, state=state)
            bad_epochs = 0 if better else bad_epochs + 1
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        for cb in callbacks:
            try:
                cb.on_epoch_end(epoch, {**row, "metric": metric, "steps": steps})
            except StopTraining:
                stop_reason = "callback"
        if (
            stop_reason == "completed"
            and use_val
            and patience is not None
            and bad_epochs >= patience
            and epoch < epochs
        ):
            stop_reason = "patience"
        if stop_reason != "completed":
            break
    if best["state"] is not None and best["epoch"] != len(history):
        model.load_state_dict(best["state"])
    row = best["row"] or {}
    return TrainResult(
        history=history,
        best_epoch=best["epoch"] or len(history),
        epochs_run=len(history),
        stopped_early=stop_reason != "completed",
        seconds=time.perf_counter() - start,
        steps=steps,
        best_val_loss=row.get("val_loss"),
        best_val_metric=row.get("val_metric"),
        metric=metric,
        stop_reason=stop_reason,
        micro_batch=chunk,
        loss=loss_name(data.task, metric),
    )


__all__ = [
    "CLASS_BALANCED",
    "STEP_MEMORY_MB",
    "TrainResult",
    "class_weights",
    "loss_name",
    "merge_train_val",
    "micro_batch",
    "saved_bytes",
    "train_model",
]
