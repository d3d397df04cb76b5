"""What a study's trials add up to: each trial's status as nas reports it, the leaderboard rows,
the winners, and the impossible-budget stop. Kind-agnostic: it reads only what every kind's
trials record (state, user attributes, values)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import optuna

from nas.errors import BudgetError
from nas.trial import SearchSettings

# Trial states as nas reports them (Optuna's PRUNED covers both "pruned" and "over_budget").
STATUSES = ("complete", "pruned", "over_budget", "failed", "running")


#: The study user attribute holding the kind's ``metric_scale`` (set by the search): what turns
#: a trial's value into the units the test metrics are shown in (a regression's target units).
SCALE_ATTR = "nas_metric_scale"


def metric_scale(study: optuna.Study) -> float:
    """The study's ``SCALE_ATTR``; 1 when absent (a run from before it, a classification) or
    not a positive finite number (a damaged study)."""
    value = study.user_attrs.get(SCALE_ATTR, 1.0)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) and value > 0 else 1.0


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


def queued_retries(study: optuna.Study) -> list[str]:
    """A line for each retry of a dead worker's trial still queued (it did not run: the study
    reached its trial total first), saying how to run it."""
    lines = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        history = t.system_attrs.get("retry_history")
        if history:
            lines.append(
                f"trial {t.number}, the retry of trial {history[-1]} (its worker died), is still "
                "queued: the search reached its --trials total first; run the same command "
                "with a larger --trials to run it."
            )
    return lines


def leaderboard_rows(study: optuna.Study, objectives: Sequence[str]) -> list[dict[str, Any]]:
    """One dict per trial, in trial order (the rows of leaderboard.csv); ``metric`` in the
    units the test metrics are shown in (``metric_scale``)."""
    rows = []
    scale = metric_scale(study)
    waiting = optuna.trial.TrialState.WAITING
    trials = study.get_trials(deepcopy=False)
    # Optuna's RetryFailedTrialCallback: a dead worker's trial -> the trial that re-runs it
    retried_as = {t.system_attrs["retry_history"][-1]: t.number for t in trials
                  if t.system_attrs.get("retry_history")}  # fmt: skip
    # an architecture Ctrl-C interrupted -> the trial of the re-run that ran it again
    run_again = {t.user_attrs["retry_of"]: t.number for t in trials
                 if isinstance(t.user_attrs.get("retry_of"), int)}  # fmt: skip
    queued = {t.number for t in trials if t.state == waiting}
    for t in trials:
        if t.state == waiting:
            continue
        a = t.user_attrs
        values = t.values or []
        reason = a.get("reason")
        if t.state == optuna.trial.TrialState.FAIL and not reason and t.number in retried_as:
            k = retried_as[t.number]
            reason = (f"worker died (no heartbeat); its retry, trial {k}, is queued and has not "
                      "run (the search's trial total was reached first)" if k in queued
                      else f"worker died (no heartbeat); retried as trial {k}")  # fmt: skip
        elif reason and t.number in run_again and str(reason).startswith("interrupted"):
            how = str(reason).split(";")[0]  # "interrupted (Ctrl-C)" or "(SIGTERM)"
            reason = f"{how}; run again as trial {run_again[t.number]}"
        elif t.state == optuna.trial.TrialState.FAIL and not reason:
            # (/tmp/oG5 F1: an exception of the trial's own code now records its reason, and
            # there was no "Optuna log" to see)
            reason = "failed (its worker died before recording why: killed, or out of memory)"
        row = {
            "number": t.number, "state": status_of(t), "family": a.get("family"),
            "params": a.get("params"), "flops": a.get("flops"),
            "latency_ms": _round(a.get("latency_ms")), "memory_mb": _round(a.get("memory_mb")),
            "metric": _round(values[0] * scale, 6) if values else None,
            "seconds": _round(a.get("seconds"), 2), "epochs": a.get("epochs"),
            # examples per forward/backward pass when the trial's steps were split to stay
            # within the step memory limit (nas.train.loop.micro_batch); empty when unsplit
            "micro_batch": a.get("micro_batch"), "reason": reason,
        }  # fmt: skip
        for name, v in zip(objectives[1:], values[1:]):
            row[f"objective_{name}"] = v
        if "faithfulness" in a:  # scored: an objective or a constraint (nas.faithfulness)
            row["faithfulness"] = _round(a["faithfulness"])
        if t.constraints:
            row["feasible"] = is_feasible(t)
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
    limits = settings.budget.to_dict()
    named, hints = [], []
    for key, option, _ in _COSTS:
        limit = limits.get(f"max_{key}")
        seen = [t for t in over if _number(t.user_attrs.get(key))]
        if limit is None or not seen:
            continue
        low = min(seen, key=lambda t: (t.user_attrs[key], t.number))
        value = low.user_attrs[key]
        if value <= limit:
            continue  # some sample met this limit: another limit turned them away
        costs = ", ".join(f"{k} {s(low.user_attrs[k])}" for k, _, s in _COSTS
                          if _number(low.user_attrs.get(k)))  # fmt: skip
        named.append(f"the smallest by {key} was trial {low.number} ({costs})")
        up = _round_up(value)
        hints.append(f"{option} >= {up:,.0f}" if float(up).is_integer() else f"{option} >= {up:g}")
    name = settings.space.name
    raise BudgetError(
        f"No architecture met the budget in {len(over)} samples of space {name!r}: "
        + ("; ".join(named) or "every sample was over a limit")
        + f". These are the smallest of {len(over)} random samples, not the space's smallest "
        f"design (`nas spaces {name} --sample 50` with your --dataset or --data samples "
        f"more); raise the limits ({', '.join(hints) or 'see the leaderboard'}), or declare a "
        "smaller space in a TOML file (fewer blocks, narrower layers: README, 'Declaring a "
        "space in TOML')."
    )


# a cost a budget limits -> the option that limits it, and how a value of it is written
_COSTS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("params", "--max-params", lambda v: f"{v:,.0f}"),
    ("flops", "--max-flops", lambda v: f"{v:,.0f}"),
    ("latency_ms", "--max-latency-ms", lambda v: f"{v:.3g} ms"),
    ("memory_mb", "--max-memory-mb", lambda v: f"{v:.3g} MiB"),
)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _round_up(v: float) -> float:
    """``v`` itself when whole (a count: 51,594, never 5.159e+04, which is under it), else
    rounded UP to 3 significant digits, so that the hint it gives admits the value."""
    if float(v).is_integer() or v <= 0:
        return v
    step = 10.0 ** (math.floor(math.log10(v)) - 2)
    up = math.ceil(round(v / step, 9)) * step
    return float(f"{up:.3g}") if float(f"{up:.3g}") >= v else up


def make_stop_on_impossible(settings: SearchSettings) -> Callable[[optuna.Study, Any], None]:
    """A study callback that stops the study once the budget is shown impossible."""

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if status_of(trial) == "over_budget":
            try:
                check_impossible_budget(study, settings)
            except BudgetError:
                study.stop()

    return callback


def pick_winners(study: optuna.Study, top: int) -> list[optuna.trial.FrozenTrial]:
    """The best trial, or the ``top`` Pareto-optimal trials ordered by the first objective,
    each spec once (a trial that sampled the winner's spec again is not another model).

    Under a constraint (``--min-faithfulness``) only the feasible trials compete, when there
    are any (Optuna's ``best_trials`` already keeps to them); with none feasible, all do, and
    the run's record says so (:func:`feasible_count`)."""
    done = [
        t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE
    ]
    if not done:
        return []
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    # best_trials keeps to the front of the feasible trials; [] when none is feasible
    front = study.best_trials if len(study.directions) > 1 else None
    pool = front or [t for t in done if is_feasible(t)] or done
    ranked = sorted(pool, key=lambda t: (sign * t.values[0], t.number))
    kept, seen = [], set()
    for t in ranked:  # one model per spec: a trial that sampled the same one again is a copy
        spec = t.user_attrs.get("spec")
        key = json.dumps(spec, sort_keys=True) if spec is not None else f"trial {t.number}"
        if key not in seen:
            seen.add(key)
            kept.append(t)
    return kept[: max(1, top)]


def board_front(board: Any, directions: Sequence[str]) -> set[int]:
    """The trial numbers of a leaderboard's Pareto front (a search of several objectives; {}
    for one): the complete trials (the feasible ones, when a constraint left any) no other is
    at least as good on every objective and better on one (``metric``, then each
    ``objective_<name>`` column, in ``directions``), as Optuna's ``best_trials``."""
    if len(directions) < 2 or not len(board):
        return set()
    done = board[board["state"] == "complete"]
    if "feasible" in done and done["feasible"].astype(str).str.lower().eq("true").any():
        done = done[done["feasible"].astype(str).str.lower() == "true"]
    names = [c for c in board.columns if str(c).startswith("objective_")]
    if len(names) != len(directions) - 1:
        return set()
    signs = [1.0 if str(d).lower().endswith("maximize") else -1.0 for d in directions]
    points = [(int(r["number"]), [sign * float(r[c]) for sign, c in zip(signs,
              ["metric", *names])]) for _, r in done.iterrows()]  # fmt: skip
    return {n for n, p in points if not any(
        all(a >= b for a, b in zip(q, p)) and any(a > b for a, b in zip(q, p))
        for m, q in points if m != n)}  # fmt: skip


def is_feasible(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether the trial met its constraints (Trial.set_constraint; none: feasible)."""
    return all(v <= 0 for v in trial.constraints.values())


def constraint_price(
    study: optuna.Study,
) -> tuple[optuna.trial.FrozenTrial, optuna.trial.FrozenTrial] | None:
    """(winner, best) when a one-objective study's constraint changed its winner: the best
    feasible trial and the better trial that misses the constraint; None when the constraint
    cost nothing (the best trial is feasible, or none is)."""
    if len(study.directions) > 1:
        return None
    winners = pick_winners(study, 1)
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not winners or not is_feasible(winners[0]):
        return None
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    best = min(done, key=lambda t: (sign * t.values[0], t.number))
    return None if best.number == winners[0].number else (winners[0], best)


def feasible_count(study: optuna.Study) -> tuple[int, int]:
    """(feasible, complete) trials of the study."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return sum(is_feasible(t) for t in done), len(done)


__all__ = [
    "SCALE_ATTR",
    "board_front",
    "STATUSES",
    "constraint_price",
    "feasible_count",
    "is_feasible",
    "check_impossible_budget",
    "leaderboard_rows",
    "queued_retries",
    "metric_scale",
    "make_stop_on_impossible",
    "pick_winners",
    "status_of",
]
