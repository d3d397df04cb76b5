"""The search: an Optuna study whose trials sample an ArchSpec, measure its cost before any
training, reject it if over budget, train it with a pruning callback and report the validation
metric (plus cost objectives for a Pareto search). Then the winners are retrained on
train + validation and tested once on the held-out test split.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import optuna
import torch

from nas.cost import Budget, Cost, measure_cost
from nas.data.taskdata import TaskData
from nas.errors import BudgetError, NasError, TrainingError, TrialTimeoutError
from nas.metrics import compute_metrics
from nas.study import COST_OBJECTIVES
from nas.train import Callback, evaluate, predict, train_model
from search_spaces import ArchSpec, NasModel, Space, SpaceContext, build_model

# Trial states as nas reports them (Optuna's PRUNED covers both "pruned" and "over_budget").
STATUSES = ("complete", "pruned", "over_budget", "failed", "running")


@dataclass(frozen=True)
class SearchSettings:
    """Everything that decides what a trial does."""

    space: Space
    metric: str  # the validation metric optimised (first objective)
    objectives: tuple[str, ...]  # metric first, then cost names: params, flops, latency, memory
    budget: Budget = field(default_factory=Budget)
    epochs: int = 20  # the most epochs a trial may train
    patience: int = 5  # early stopping on the validation loss
    seed: int = 0
    max_rejects: int = 50  # over-budget samples in a row (with no feasible one) before giving up
    latency_repeats: int = 5  # timed runs per latency measurement
    trial_timeout: float | None = None  # seconds a trial may take before it is ended as failed


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial ``number``: weights and batch order depend on it alone."""
    return (seed * 100_003 + number) % (2**31 - 1)


class PruningCallback(Callback):
    """Reports the validation metric (the ``key`` of the epoch's logs: ``val_metric``, or a
    GAN's ``score``) to the trial after each epoch; prunes when Optuna says so."""

    def __init__(self, trial: optuna.Trial, key: str = "val_metric"):
        self.trial, self.key = trial, key

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        value = logs.get(self.key)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            self.trial.set_user_attr("status", "pruned")
            self.trial.set_user_attr("reason", f"pruned by the pruner after epoch {epoch}")
            self.trial.set_user_attr("epochs", epoch)
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")


class DeadlineCallback(Callback):
    """Ends training after the epoch in which the trial's time limit passed."""

    def __init__(self, start: float, limit: float):
        self.start, self.limit = start, limit

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if time.perf_counter() - self.start > self.limit:
            raise TrialTimeoutError(
                f"the trial ran past its {self.limit:g} s limit at epoch {epoch}; raise "
                "--trial-timeout or lower --epochs."
            )


@contextlib.contextmanager
def time_limit(limit: float | None, start: float) -> Iterator[None]:
    """Interrupt a trial that hangs inside an epoch: SIGALRM raises TrialTimeoutError at the
    limit (main thread on POSIX only; elsewhere the per-epoch DeadlineCallback still applies)."""
    usable = (
        limit
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise TrialTimeoutError(
            f"the trial hung past its {limit:g} s limit; raise --trial-timeout or lower --epochs."
        )

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, limit - (time.perf_counter() - start)))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def trial_outcome(trial: optuna.Trial, start: float) -> Iterator[None]:
    """Record on the trial how it ended when it ends by an exception (which goes on up):
    interrupted, pruned, or failed with the reason (diverged, time limit, ...)."""
    try:
        yield
    except KeyboardInterrupt:
        trial.set_user_attr("status", "failed")
        trial.set_user_attr("reason", "interrupted (Ctrl-C); a re-run continues the study")
        trial.set_user_attr("seconds", time.perf_counter() - start)
        raise
    except optuna.TrialPruned:
        trial.set_user_attr("seconds", time.perf_counter() - start)
        raise
    except (NasError, RuntimeError, ValueError) as e:
        if isinstance(e, TrainingError):
            kind = "diverged"
        elif isinstance(e, TrialTimeoutError):
            kind = "time limit"
        else:
            kind = type(e).__name__
        history = getattr(e, "history", None)  # GAN training keeps the epochs it ran
        if history:
            trial.set_user_attr("curve", [dict(h) for h in history])
            trial.set_user_attr("epochs", len(history))
        trial.set_user_attr("status", "failed")
        trial.set_user_attr("reason", f"{kind}: {str(e).splitlines()[0][:300]}")
        trial.set_user_attr("seconds", time.perf_counter() - start)
        raise


class Objective:
    """The function Optuna calls per trial; it knows the data, the space and the budget."""

    def __init__(self, data: TaskData, settings: SearchSettings, device: str | None = None):
        self.data = data
        self.s = settings
        self.ctx = SpaceContext.of(data)
        self.device = device
        self.prune = len(settings.objectives) == 1

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        start = time.perf_counter()
        trial.set_user_attr("status", "running")
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # who ran it
        with trial_outcome(trial, start):
            spec = self.s.space.sample(trial, self.ctx)
            trial.set_user_attr("family", spec.family)
            trial.set_user_attr("spec", spec.to_dict())
            model = self._build(spec, trial.number)
            cost, violations = self._measure(model)
            _record_cost(trial, cost)
            if violations:  # stopped before a single optimizer step
                reason = "over budget: " + "; ".join(violations)
                trial.set_user_attr("status", "over_budget")
                trial.set_user_attr("reason", reason)
                trial.set_user_attr("seconds", time.perf_counter() - start)
                raise optuna.TrialPruned(reason)
            callbacks: list[Callback] = [PruningCallback(trial)] if self.prune else []
            if self.s.trial_timeout:
                callbacks.append(DeadlineCallback(start, self.s.trial_timeout))
            with time_limit(self.s.trial_timeout, start):
                result = train_model(
                    model,
                    self.data,
                    spec.train,
                    epochs=self.s.epochs,
                    callbacks=callbacks,
                    patience=self.s.patience,
                    seed=trial_seed(self.s.seed, trial.number),
                    metric=self.s.metric,
                    monitor="val_metric",
                    device=self.device,
                )
        trial.set_user_attr("seconds", time.perf_counter() - start)
        trial.set_user_attr("epochs", result.epochs_run)
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("curve", [_curve_row(h) for h in result.history])
        value = result.best_val_metric
        if value is None or not math.isfinite(value):
            reason = f"undefined: validation {self.s.metric} is {value}"
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("reason", reason)
            raise TrainingError(f"{reason}; the trial cannot be ranked.")
        trial.set_user_attr("status", "complete")
        extra = [float(trial.user_attrs[COST_OBJECTIVES[o]]) for o in self.s.objectives[1:]]
        return float(value) if not extra else (float(value), *extra)

    def _measure(self, model: NasModel) -> tuple[Cost, list[str]]:
        """The model's cost and budget violations; latency is timed only for a model that
        meets every other limit, so that rejecting a sample costs no timed forward passes."""
        cost = measure_cost(model, self.ctx.input_shape, latency=False, device=self.device)
        violations = replace(self.s.budget, max_latency_ms=None).check(cost)
        if violations:
            return cost, violations
        cost = measure_cost(
            model,
            self.ctx.input_shape,
            latency=True,
            warmup=2,
            repeats=self.s.latency_repeats,
            device=self.device,
        )
        return cost, self.s.budget.check(cost)

    def _build(self, spec: ArchSpec, number: int) -> NasModel:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(trial_seed(self.s.seed, number))
            return build_model(spec)


def make_objective(
    data: TaskData, settings: SearchSettings, classifier: Any = None
) -> Callable[[optuna.Trial], float | tuple[float, ...]]:
    """The trial function for ``settings.space``: :class:`Objective`, or for the ``gan`` space
    :class:`nas.gan.search.GanObjective` (scored with ``classifier``, a FeatureClassifier)."""
    if settings.space.name == "gan":
        from nas.gan.search import GanObjective

        return GanObjective(data, settings, classifier=classifier)
    return Objective(data, settings)


def _record_cost(trial: optuna.Trial, cost: Cost) -> None:
    for key in ("params", "flops", "latency_ms", "latency_ms_batch", "memory_mb", "energy_mj"):
        trial.set_user_attr(key, getattr(cost, key))


def _curve_row(h: dict[str, Any]) -> dict[str, Any]:
    keys = ("epoch", "train_loss", "val_loss", "val_metric", "lr", "seconds")
    return {k: h.get(k) for k in keys}


def status_of(t: optuna.trial.FrozenTrial) -> str:
    """complete / pruned / over_budget / failed / running / queued, from state and attrs."""
    if t.state == optuna.trial.TrialState.COMPLETE:
        return "complete"
    if t.state == optuna.trial.TrialState.PRUNED:
        return "over_budget" if t.user_attrs.get("status") == "over_budget" else "pruned"
    if t.state == optuna.trial.TrialState.FAIL:
        return "failed"
    if t.state == optuna.trial.TrialState.WAITING:
        return "queued"  # enqueued (warm start), not started yet
    return "running"


def leaderboard_rows(study: optuna.Study, objectives: Sequence[str]) -> list[dict[str, Any]]:
    """One dict per trial, in trial order (the rows of leaderboard.csv)."""
    rows = []
    waiting = optuna.trial.TrialState.WAITING
    trials = study.get_trials(deepcopy=False)
    # Optuna's RetryFailedTrialCallback: a dead worker's trial -> the trial that re-runs it
    retried_as = {t.system_attrs["retry_history"][-1]: t.number for t in trials
                  if t.system_attrs.get("retry_history")}  # fmt: skip
    for t in trials:
        if t.state == waiting:
            continue
        a = t.user_attrs
        values = t.values or []
        reason = a.get("reason")
        if t.state == optuna.trial.TrialState.FAIL and not reason and t.number in retried_as:
            reason = f"worker died (no heartbeat); retried as trial {retried_as[t.number]}"
        elif t.state == optuna.trial.TrialState.FAIL and not reason:
            reason = "failed (worker died or an unexpected error; see the Optuna log)"
        row = {
            "number": t.number, "state": status_of(t), "family": a.get("family"),
            "params": a.get("params"), "flops": a.get("flops"),
            "latency_ms": _round(a.get("latency_ms")), "memory_mb": _round(a.get("memory_mb")),
            "metric": _round(values[0], 6) if values else None,
            "seconds": _round(a.get("seconds"), 2), "epochs": a.get("epochs"), "reason": reason,
        }  # fmt: skip
        for name, v in zip(objectives[1:], values[1:]):
            row[f"objective_{name}"] = v
        rows.append(row)
    return rows


def _round(x: Any, digits: int = 4) -> Any:
    return round(x, digits) if isinstance(x, float) and math.isfinite(x) else x


def check_impossible_budget(study: optuna.Study, settings: SearchSettings) -> None:
    """Raise BudgetError when ``max_rejects`` samples were all over budget and none fit."""
    trials = study.get_trials(deepcopy=False)
    statuses = [status_of(t) for t in trials]
    if any(s in ("complete", "pruned") for s in statuses):
        return
    over = [t for t, s in zip(trials, statuses) if s == "over_budget"]
    if len(over) < settings.max_rejects:
        return
    smallest = {
        k: min((t.user_attrs.get(k) for t in over if t.user_attrs.get(k) is not None), default=None)
        for k in ("params", "flops", "latency_ms", "memory_mb")
    }
    limits = settings.budget.to_dict()
    hints = [f"{k} >= {smallest[k]:,.4g}" for k in smallest
             if limits.get(f"max_{k}") is not None and smallest[k] is not None
             and smallest[k] > limits[f"max_{k}"]]  # fmt: skip
    raise BudgetError(
        f"No architecture met the budget in {len(over)} samples of space "
        f"{settings.space.name!r} (the smallest seen had "
        + ", ".join(f"{k}={v:,.4g}" for k, v in smallest.items() if v is not None)
        + f"); raise the limits ({', '.join(hints) or 'see above'}) or use a smaller space."
    )


def make_stop_on_impossible(settings: SearchSettings) -> Callable[[optuna.Study, Any], None]:
    """A study callback that stops the study once the budget is shown impossible."""

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if status_of(trial) == "over_budget":
            try:
                check_impossible_budget(study, settings)
            except BudgetError:
                study.stop()

    return callback


@dataclass
class FinalModel:
    """A winner retrained on train + validation and scored once on the test split."""

    rank: int
    trial: int
    spec: ArchSpec
    model: NasModel
    cost: Cost
    metrics: dict[str, Any]  # the content of metrics.json
    predictions: dict[str, Any] = field(default_factory=dict)  # y_true, outputs on the test split


def retrain_and_test(
    data: TaskData,
    trial: optuna.trial.FrozenTrial,
    settings: SearchSettings,
    rank: int = 1,
    device: str | None = None,
) -> FinalModel:
    """Retrain trial's architecture on train + val for its best epoch count; test it once."""
    spec = ArchSpec.from_dict(trial.user_attrs["spec"])
    seed = trial_seed(settings.seed, trial.number)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(spec)
    epochs = max(1, int(trial.user_attrs.get("best_epoch") or settings.epochs))
    result = train_model(
        model,
        data,
        spec.train,
        epochs=epochs,
        patience=None,
        seed=seed,
        use_val=False,
        metric=settings.metric,
        device=device,
    )
    model.cpu().eval()
    cost = measure_cost(model, tuple(data.input_shape), latency=True, warmup=3, repeats=20)
    n_classes = data.output_size if data.task == "classification" else None
    test = evaluate(model, data.test, data.task, n_classes)
    outputs = predict(model, data.test.X).numpy()
    predictions = {"y_true": data.test.y.numpy(), "outputs": outputs}
    if data.task == "classification":
        test["per_class"] = per_class_metrics(
            data.test.y.numpy(), outputs.argmax(1), n_classes, list(data.class_names)
        )
    metrics = {
        "rank": rank,
        "trial": trial.number,
        "family": spec.family,
        "metric": settings.metric,
        "test": test,
        "val": {settings.metric: trial.values[0] if trial.values else None},
        "objectives": dict(zip(settings.objectives, trial.values or [])),
        "cost": cost.to_dict(),
        "retrain": {
            "epochs": epochs,
            "seconds": result.seconds,
            "history": [_curve_row(h) for h in result.history],
        },
        "search_curve": trial.user_attrs.get("curve", []),
        "summary": spec.summary(),
    }
    return FinalModel(rank, trial.number, spec, model, cost, metrics, predictions)


def per_class_metrics(
    y_true: Any, y_pred: Any, n_classes: int | None, names: list[str]
) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class (scikit-learn's), as JSON-able rows."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(range(n_classes or 0))
    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return [
        {
            "class": names[i] if i < len(names) else str(i),
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(n[i]),
        }
        for i in labels
    ]


def pick_winners(study: optuna.Study, top: int) -> list[optuna.trial.FrozenTrial]:
    """The best trial, or the ``top`` Pareto-optimal trials ordered by the first objective."""
    done = [
        t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE
    ]
    if not done:
        return []
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    pool = study.best_trials if len(study.directions) > 1 else done
    return sorted(pool, key=lambda t: (sign * t.values[0], t.number))[: max(1, top)]


__all__ = [
    "Objective",
    "SearchSettings",
    "compute_metrics",
    "leaderboard_rows",
    "make_objective",
    "pick_winners",
]
