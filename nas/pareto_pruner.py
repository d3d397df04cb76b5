"""Pruning inside Pareto searches: asynchronous successive halving on non-dominated ranks.

Optuna's pruners serve single-objective studies only (``Trial.report`` and
``Trial.should_prune`` raise ``NotImplementedError`` when a study has several directions). In a
nas search of ``--objectives metric,cost...`` the costs are measured before the first epoch, so
only the metric evolves while a trial trains. This pruner is MO-ASHA's rule (Schmucker et al.,
"Multi-objective Asynchronous Successive Halving", 2021) on that structure:

- rungs at ``min_resource * reduction_factor**k`` epochs;
- at a rung, the trial is placed among every trial of the study that reached the same rung
  (complete, pruned or still running), by the point (metric at that rung, costs);
- the points are ranked by non-dominated sorting (front 1 first), ties within a front by NSGA-II's
  crowding distance (points at the ends of a front and in sparse parts of it first);
- the trial goes on when no trial at the rung dominates it (the rung's Pareto front always goes
  on: a cheap model must not be stopped for losing on the metric alone), or when it ranks in the
  top ``1 / reduction_factor`` of them (at least one trial always goes on); until ``min_trials``
  trials have reached the rung, every trial goes on.

A small model with a lower metric is not dominated by a large one with a higher metric, so cheap
models survive on their cost, as a Pareto search wants; only trials beaten on the metric *and*
every cost by many others are stopped.

Where the intermediate values live: ``Trial.report`` refuses multi-objective studies, so each
epoch's metric is a user attribute of the trial, ``intermediate`` = ``{"epoch": value}``
(:class:`ParetoPruningCallback` writes it); the costs are the user attributes every trial
already records before training (``params``, ``flops``, ``latency_ms``, ``memory_mb``), named
when the pruner is made (``nas.study.make_pruner``). The pruner is an ordinary
:class:`optuna.pruners.BasePruner`: every worker makes its own from the run's settings, and all
read the same trials from the storage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from nas.train import Callback

#: The user attribute holding a multi-objective trial's metric per epoch ({"3": 0.91, ...}).
INTERMEDIATE = "intermediate"


def nondominated_ranks(points: np.ndarray) -> np.ndarray:
    """The non-dominated front of each row of ``points`` (every column minimised): 0 for the
    rows no other row dominates, 1 for those dominated only by rank-0 rows, and so on."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    # dominated[i, j]: row j dominates row i (no worse everywhere, better somewhere)
    le = (pts[None, :, :] <= pts[:, None, :]).all(axis=2)
    lt = (pts[None, :, :] < pts[:, None, :]).any(axis=2)
    dominated = le & lt
    ranks = np.full(n, -1, dtype=int)
    left = np.ones(n, dtype=bool)
    front = 0
    while left.any():
        # rows left that no row left dominates
        current = left & ~(dominated & left[None, :]).any(axis=1)
        ranks[current] = front
        left &= ~current
        front += 1
    return ranks


def crowding_distances(points: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row among ``points`` (one front): infinite at the
    ends of every objective, else the sum over objectives of the normalised gap between its two
    neighbours."""
    pts = np.asarray(points, dtype=float)
    n, m = pts.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, math.inf)
    for j in range(m):
        order = np.argsort(pts[:, j], kind="stable")
        span = pts[order[-1], j] - pts[order[0], j]
        dist[order[0]] = dist[order[-1]] = math.inf
        if span <= 0:
            continue
        gaps = (pts[order[2:], j] - pts[order[:-2], j]) / span
        dist[order[1:-1]] += gaps
    return dist


def keep_order(points: np.ndarray) -> np.ndarray:
    """Row indices of ``points`` (minimised) best first: by front, then by crowding distance
    (larger first), then by row index (older trials first, so the order is deterministic)."""
    ranks = nondominated_ranks(points)
    crowd = np.zeros(len(points))
    for r in np.unique(ranks):
        members = np.flatnonzero(ranks == r)
        crowd[members] = crowding_distances(points[members])
    return np.array(sorted(range(len(points)), key=lambda i: (ranks[i], -crowd[i], i)), dtype=int)


class ParetoHalvingPruner(optuna.pruners.BasePruner):
    """Asynchronous successive halving for multi-objective studies (module docstring).

    ``min_resource``: the first rung, in epochs; ``reduction_factor``: a rung keeps the best
    ``1 / reduction_factor``; ``min_trials``: the trials that must reach a rung before it
    prunes anything (default ``reduction_factor``); ``cost_attrs``: the trial user attribute of
    each cost objective, in the study's objective order after the metric (e.g. ``["params"]``);
    ``max_resource``: the epochs a trial plans (no rung at or after it).
    """

    def __init__(
        self,
        min_resource: int = 1,
        reduction_factor: int = 3,
        min_trials: int | None = None,
        *,
        cost_attrs: Sequence[str] = (),
        max_resource: int | None = None,
    ) -> None:
        if min_resource < 1 or reduction_factor < 2:
            raise ValueError(
                f"ParetoHalvingPruner needs min_resource >= 1 and reduction_factor >= 2, got "
                f"{min_resource} and {reduction_factor}."
            )
        self.min_resource = int(min_resource)
        self.reduction_factor = int(reduction_factor)
        self.min_trials = int(min_trials if min_trials is not None else reduction_factor)
        self.cost_attrs = list(cost_attrs)
        self.max_resource = max_resource
        self.why = ""  # why the latest decision pruned, for the trial's reason

    def rungs(self, max_epochs: int) -> list[int]:
        """The epochs at which trials are compared, below ``max_epochs`` (a trial that ran
        all its epochs is complete, not pruned)."""
        out, r = [], self.min_resource
        while r < max_epochs:
            out.append(r)
            r *= self.reduction_factor
        return out

    def is_rung(self, step: int) -> bool:
        """Whether epoch ``step`` is a rung (below ``max_resource``, when it is set)."""
        if self.max_resource is not None and step >= self.max_resource:
            return False
        r = self.min_resource
        while r < step:
            r *= self.reduction_factor
        return r == step

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        values = intermediate_of(trial)
        if not values:
            return False
        step = max(values)
        if not self.is_rung(step):
            return False
        signs = _signs(study)
        if len(signs) != len(self.cost_attrs) + 1:
            raise ValueError(
                f"ParetoHalvingPruner was made for {len(self.cost_attrs)} cost objective(s) "
                f"({self.cost_attrs}) but the study has {len(signs)} objectives."
            )
        cost_attrs = self.cost_attrs
        mine = _point(values[step], trial.user_attrs, cost_attrs, signs)
        if mine is None:
            return False
        others = []
        for t in study.get_trials(deepcopy=False):
            if t.number == trial.number or t.state == optuna.trial.TrialState.WAITING:
                continue
            v = intermediate_of(t).get(step)
            p = None if v is None else _point(v, t.user_attrs, cost_attrs, signs)
            if p is not None:
                others.append((t.number, p))
        return not self.keeps(mine, trial.number, others)

    def keeps(
        self, mine: Sequence[float], number: int, others: Sequence[tuple[int, Sequence[float]]]
    ) -> bool:
        """Whether the trial ``number`` at point ``mine`` goes on among ``others`` at the same
        rung (points minimised in every coordinate)."""
        n = len(others) + 1
        self.why = ""
        if n < self.min_trials:
            return True
        numbers = [number] + [o[0] for o in others]
        points = np.array([list(mine)] + [list(o[1]) for o in others], dtype=float)
        # dominated by how many: no worse everywhere and better somewhere
        beaten_by = int(((points[1:] <= points[0]).all(1) & (points[1:] < points[0]).any(1)).sum())
        if beaten_by == 0:
            return True
        # rows in trial-number order, so ties go to the older trial whatever the caller's order
        by_number = np.argsort(numbers, kind="stable")
        order = by_number[keep_order(points[by_number])]
        n_keep = max(1, n // self.reduction_factor)
        if 0 in order[:n_keep].tolist():
            return True
        self.why = (
            f"dominated by {beaten_by} of the {n} trials at that rung, outside the best "
            f"{n_keep} it keeps"
        )
        return False


def intermediate_of(trial: optuna.trial.FrozenTrial) -> dict[int, float]:
    """A trial's metric per epoch: Optuna's intermediate values (single objective) or the
    ``intermediate`` user attribute (multi-objective)."""
    if trial.intermediate_values:
        return {int(k): float(v) for k, v in trial.intermediate_values.items()}
    raw = trial.user_attrs.get(INTERMEDIATE) or {}
    out = {}
    for k, v in raw.items() if isinstance(raw, dict) else ():
        try:
            out[int(k)] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def _signs(study: optuna.Study) -> list[float]:
    return [-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in study.directions]


def _point(
    metric: float, attrs: dict[str, Any], cost_attrs: list[str], signs: list[float]
) -> list[float] | None:
    """(metric, costs...) turned into minimised coordinates; None when a value is missing."""
    raw = [metric] + [attrs.get(a) for a in cost_attrs]
    if any(v is None or not math.isfinite(float(v)) for v in raw):
        return None
    return [s * float(v) for s, v in zip(signs, raw)]


class ParetoPruningCallback(Callback):
    """After each epoch of a trial in a multi-objective study: record the metric (the ``key``
    of the epoch's logs) in the trial's ``intermediate`` user attribute and ask the study's
    pruner; prune when it says so. Nothing is asked of a pruner that is not a
    :class:`ParetoHalvingPruner` (Optuna's own ones judge one objective only)."""

    def __init__(self, trial: optuna.Trial, key: str = "val_metric"):
        self.trial, self.key = trial, key
        self.values: dict[str, float] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        value = logs.get(self.key)
        if value is None or not math.isfinite(value):
            return
        self.values[str(epoch)] = float(value)
        self.trial.set_user_attr(INTERMEDIATE, dict(self.values))
        study = self.trial.study
        if not isinstance(study.pruner, ParetoHalvingPruner) or not study.pruner.is_rung(epoch):
            return
        frozen = next(
            (t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
             if t.number == self.trial.number),
            None,
        )  # fmt: skip
        if frozen is not None and study.pruner.prune(study, frozen):
            self.trial.set_user_attr("status", "pruned")
            why = study.pruner.why or "outside the trials its rung keeps"
            self.trial.set_user_attr("reason", f"pruned after epoch {epoch}: {why}")
            self.trial.set_user_attr("epochs", epoch)
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")


__all__ = [
    "INTERMEDIATE",
    "ParetoHalvingPruner",
    "ParetoPruningCallback",
    "crowding_distances",
    "intermediate_of",
    "keep_order",
    "nondominated_ranks",
]
