"""The search-kind strategy: what differs between searching a classifier (or regressor) and a
GAN — the objectives and their directions, the data a kind accepts, the state its trials share,
the trial function, the final retraining and test, the explanations, and the report's extra
data. Generic modules (API, CLI, worker, report) hold a :class:`SearchKind` and never ask which.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import optuna
import torch

from nas.cost import Cost
from nas.data.taskdata import TaskData
from nas.errors import NasError
from nas.trial import SearchSettings

TrialFunction = Callable[[optuna.Trial], "float | tuple[float, ...]"]


@dataclass
class FinalModel:
    """A winner retrained and scored once on the test split."""

    rank: int
    trial: int
    spec: Any  # the ArchSpec (or a kind's own spec, e.g. a GanSpec)
    model: torch.nn.Module
    cost: Cost
    metrics: dict[str, Any]  # the content of metrics.json
    predictions: dict[str, Any] = field(default_factory=dict)  # y_true, outputs on the test split
    arrays: dict[str, dict[str, Any]] = field(default_factory=dict)  # more .npz files to save


if TYPE_CHECKING:
    from nas.config import SearchConfig


class SearchKind(ABC):
    """A kind of search, registered by name (``nas.kinds.register_kind``)."""

    name: ClassVar[str]
    spaces: ClassVar[tuple[str, ...]] = ()  # spaces that imply this kind (the default: others)
    cost_label: ClassVar[str] = ""  # what the measured cost is of, e.g. " (generator)"
    # the final retrain's length over the winner's best epochs (what --timeout keeps for it)
    retrain_factor: ClassVar[float] = 1.0
    #: Whether its trials can score their explanations (``--objectives ...,faithfulness``,
    #: ``--min-faithfulness``): its trial function implements ``quality``.
    scores_faithfulness: ClassVar[bool] = False
    #: Whether its trials train with the space's ``train.augment`` (an ArchSpec's TrainSpec).
    uses_augment: ClassVar[bool] = False
    explain_errors: ClassVar[tuple[type[BaseException], ...]] = (NasError, RuntimeError,
                                                                 ValueError)  # fmt: skip

    # --- the search ------------------------------------------------------------------------
    @abstractmethod
    def objectives(
        self, objectives: str | Sequence[str] | None, metric: str | None, task: str
    ) -> tuple[str, list[str], list[str]]:
        """The metric, the objective names (metric first) and their directions."""

    def check_data(self, data: TaskData) -> None:
        """Raise NasError when this kind cannot search ``data``."""
        return None

    def record_extras(self, run_dir: Path) -> dict[str, Any]:
        """What the run record keeps for this kind's workers (``SearchConfig.extras``)."""
        return {}

    def prepare(
        self, data: TaskData, settings: SearchSettings, extras: Mapping[str, Any], *, leader: bool
    ) -> Any:
        """The state every trial of this process shares (e.g. a GAN's scorer); ``leader`` is
        the process that started the search, the others are workers."""
        return None

    @abstractmethod
    def objective(self, data: TaskData, settings: SearchSettings, state: Any) -> TrialFunction:
        """The function Optuna calls per trial."""

    @abstractmethod
    def finalize(
        self,
        data: TaskData,
        trial: optuna.trial.FrozenTrial,
        settings: SearchSettings,
        state: Any,
        rank: int,
    ) -> FinalModel:
        """Retrain the trial's architecture and score it once on the test split."""

    def family_of(self, spec: Any) -> str:
        """The family a spec of this kind is listed under."""
        return str(spec.family)

    def build_of(self, spec: Any) -> torch.nn.Module:
        """The untrained model of ``spec``."""
        from search_spaces import build_model

        return build_model(spec)

    def cost_of(self, spec: Any, input_shape: Sequence[int], **kwargs: Any) -> Cost:
        """The cost of the deployable part of ``spec`` (``measure_cost`` keywords pass on)."""
        from nas.cost import measure_cost

        return measure_cost(self.build_of(spec), tuple(input_shape), **kwargs)

    def exportable(self, model: torch.nn.Module, rows: Any = None, *, seed: int = 0) -> Any:
        """What ``nas export`` writes of this kind's model (an ``Exportable``), checked on
        ``rows`` (validation inputs; a callable gives them when needed)."""
        from nas.exporting._target import exportable

        return exportable(model, rows, seed=seed)

    def metric_scale(self, data: TaskData, metric: str) -> float:
        """What turns a trial's validation ``metric`` into the units the test metrics are
        shown in (the leaderboard, the live view and the report multiply by it; the study
        keeps the value the sampler optimized); 1 when they agree."""
        return 1.0

    def baselines(
        self, data: TaskData, settings: SearchSettings, state: Any = None
    ) -> dict[str, Any] | None:
        """Baselines scored on the test split beside the winner (``best/baselines.json``),
        from what :meth:`prepare` fitted into ``state`` when it did; None when this kind has
        none."""
        return None

    # --- after the search ----------------------------------------------------------------
    def explain(
        self,
        run_dir: Path,
        config: SearchConfig,
        *,
        data: TaskData | None = None,
        model: torch.nn.Module | None = None,
        trial: int | None = None,
        samples: int = 200,
        methods: Sequence[str] | None = None,
        checks: bool = True,
    ) -> Any:
        """Explain the run's winner and store the result in ``RUN/explain/``."""
        raise NasError(f"The {self.name} search kind has no explanations.")

    def explain_failed(self, error: BaseException, run_dir: Path) -> str:
        """The warning shown when explaining after a search failed (the search is kept)."""
        return f"explanations failed ({error}); run `nas explain {run_dir}` to retry."

    def report_data(self, run_dir: Path, best: Mapping[str, Any] | None) -> dict[str, Any]:
        """Extra top-level keys of the report's data (explain/report/SCHEMA.md)."""
        return {}

    def verdict(self, data: Mapping[str, Any]) -> str | None:
        """The report's one-paragraph verdict, when this kind words it its own way."""
        return None

    def architecture(self, spec: Any) -> Any:
        """The ArchSpec whose layers the report tabulates (the deployable part)."""
        return spec

    def show_lines(self, best: Mapping[str, Any]) -> list[str]:
        """More lines for ``nas show`` about the winner."""
        return []

    def metric_label(self, name: str) -> str:
        """A test metric's name as the terminal shows it (``macro recall`` for a classifier's
        macro average)."""
        from explain.report.decision import metric_label

        return metric_label(name)

    def alerts(self, data: Mapping[str, Any]) -> list[dict[str, str]]:
        """This kind's own alerts on the winner (the report's data, or as much of it as the
        terminal has: ``run`` and ``best``), each ``{"level", "text"}``: the report shows them
        on its first screen, ``nas search`` and ``nas show`` print them."""
        return []


__all__ = ["FinalModel", "SearchKind", "TrialFunction"]
