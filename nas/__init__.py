"""nas: neural architecture search under accuracy and compute budgets, explained.

import nas
result = nas.search(dataset="digits", space="auto", budget=nas.Budget(max_params=50_000),
                    n_trials=30, epochs=15)
print(result.metrics["test"]["accuracy"], result.spec.summary())
"""

from __future__ import annotations

from nas._version import __version__
from nas.api import (
    SearchResult,
    explain,
    load_model,
    load_run,
    report,
    search,
    show,
)
from nas.config import SearchConfig
from nas.cost import Budget, Cost, measure_cost
from nas.data import TaskData, list_datasets, load_data, register_dataset
from nas.errors import NasError
from nas.estimators import NASClassifier, NASRegressor
from nas.exporting import export
from nas.kinds import SearchKind, get_kind, register_kind
from nas.predict import load_predictor
from search_spaces import ArchSpec, BlockSpec, build_model, get_space
from search_spaces.extensions import load_extensions

__all__ = [
    "ArchSpec",
    "BlockSpec",
    "Budget",
    "Cost",
    "NASClassifier",
    "NASRegressor",
    "NasError",
    "SearchConfig",
    "SearchKind",
    "SearchResult",
    "TaskData",
    "__version__",
    "build_model",
    "explain",
    "export",
    "get_kind",
    "get_space",
    "list_datasets",
    "load_extensions",
    "load_data",
    "load_model",
    "load_predictor",
    "load_run",
    "measure_cost",
    "register_dataset",
    "register_kind",
    "report",
    "search",
    "show",
]
