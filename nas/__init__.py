"""nas: neural architecture search under accuracy and compute budgets, explained.

import nas
result = nas.search(dataset="digits", space="auto", budget=nas.Budget(max_params=50_000),
                    n_trials=30, epochs=15)
print(result.metrics["test"]["accuracy"], result.spec.summary())
"""

from __future__ import annotations

__version__ = "0.1.0"

# The module nas/report.py shares its name with the function nas.report: import the module
# first, so that the function is bound last and a later `from nas.report import ...` (the API
# does one per report) never replaces it with the module.
from nas import report as _report_module  # noqa: E402, F401
from nas.api import (  # noqa: E402
    SearchResult,
    explain,
    load_model,
    load_run,
    report,
    search,
    show,
)
from nas.cost import Budget, Cost, measure_cost  # noqa: E402
from nas.data import TaskData, list_datasets, load_data  # noqa: E402
from nas.errors import NasError  # noqa: E402
from search_spaces import ArchSpec, BlockSpec, build_model, get_space  # noqa: E402

__all__ = [
    "ArchSpec",
    "BlockSpec",
    "Budget",
    "Cost",
    "NasError",
    "SearchResult",
    "TaskData",
    "__version__",
    "build_model",
    "explain",
    "get_space",
    "list_datasets",
    "load_data",
    "load_model",
    "load_run",
    "measure_cost",
    "report",
    "search",
    "show",
]
