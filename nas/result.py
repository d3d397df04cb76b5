"""What a search gives back: :class:`SearchResult` (the finished or reloaded run)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from nas.cost import Cost
from nas.data import TaskData
from nas.leaderboard import status_of


@dataclass(repr=False)
class SearchResult:
    """A finished (or reloaded) search: the winner, its test metrics and cost, the record."""

    run_dir: Path
    study: optuna.Study
    leaderboard: pd.DataFrame  # one row per trial, as in leaderboard.csv
    spec: Any = None  # the winner's ArchSpec (a GanSpec for a GAN; None if no trial completed)
    model: Any = None  # retrained (a GAN: to its best epoch)
    metrics: dict[str, Any] = field(default_factory=dict)  # best/metrics.json
    cost: Cost | None = None
    pareto: list[dict[str, Any]] = field(default_factory=list)  # metrics.json of each top model
    data: TaskData | None = None
    explanations: Any = None  # explain.explanations.Explanations, when explained
    report_path: Path | None = None  # the HTML report, when written
    warnings: list[str] = field(default_factory=list)  # things that went wrong after the search
    config: Any = None  # the run's nas.config.SearchConfig
    said: int = 0  # how many of the warnings (the first ones) a live search printed as it began

    @property
    def counts(self) -> dict[str, int]:
        """Trials by status: complete, pruned, over_budget, failed, running."""
        return dict(Counter(status_of(t) for t in self.study.get_trials(deepcopy=False)))

    @property
    def test_metrics(self) -> dict[str, Any]:
        return self.metrics.get("test", {})

    def __repr__(self) -> str:
        """One screen, not the whole record: a notebook cell that ends in ``result`` had
        printed 16 KB (the space's config, every metric, the model; /tmp/oH5 F9). The fields
        hold the rest."""
        metric = getattr(self.config, "metric", None)
        test = self.test_metrics.get(metric) if metric else None
        scored = f", test {metric}={test:.4g}" if isinstance(test, int | float) else ""
        winner = self.spec.summary() if hasattr(self.spec, "summary") else None
        shown = f", winner={winner!r}" if winner else ", no winner"
        if winner and len(shown) > 140:
            shown = shown[:137] + "…'"
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items()) or "no trials"
        return f"SearchResult(run_dir={str(self.run_dir)!r}, trials: {counts}{scored}{shown})"


__all__ = ["SearchResult"]
