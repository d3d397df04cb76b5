"""Explaining a run's winner: load it and its data, call ``explain`` (which knows nothing of
the search), and store the result in ``RUN/explain/``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explain.explanations import Explanations, explain_model
from explain.explanations import report_view as _report_view
from nas import run as rundir
from nas.data import load_data


def explain_run(
    run_dir: str | Path,
    *,
    samples: int = 200,
    methods: Sequence[str] | None = None,
    checks: bool = True,
    seed: int = 0,
) -> Explanations:
    """Explain the winner of ``run_dir`` on ``samples`` test examples; save to ``explain/``."""
    run_dir = Path(run_dir)
    record = rundir.read_json(run_dir / "run.json")
    model = rundir.load_model(run_dir)
    data = load_data(
        dataset=record["dataset"],
        data=record["data"],
        target=record["target"],
        task=record["task"],
        seed=record["seed"],
        drop=record.get("drop") or (),
    )
    exp = explain_model(model, data, samples=samples, methods=methods, checks=checks, seed=seed)
    exp.save(run_dir / "explain")
    return exp


def report_view(explain_dir: str | Path) -> dict[str, Any]:
    """The explanations of a run, as the report's data."""
    return _report_view(Explanations.load(explain_dir))
