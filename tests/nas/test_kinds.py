"""Search kinds: a strategy per kind of search, registered by name. A new kind is its own code
plus one registration (the toy kind below), and generic modules never ask which kind they hold."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest

import nas
from nas.cost import Budget, Cost, measure_cost
from nas.errors import NasError
from nas.kinds import (
    FinalModel,
    SearchKind,
    get_kind,
    kind_for_space,
    known_kinds,
    register_kind,
    unregister_kind,
)
from nas.trial import SearchSettings, TrialObjective
from search_spaces import ArchSpec, build_model

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("restore_global_state")


# --- a toy kind: the smallest architecture wins, nothing is trained ---------------------------
class _SizeTrial(TrialObjective):
    """Scores a sampled architecture by its parameter count (the shared lifecycle does the
    rest: seeds, the budget check before "training", the outcome on the trial)."""

    def build(self, spec: ArchSpec) -> Any:
        return build_model(spec)

    def cost(self, model: Any, **kwargs: Any) -> Cost:
        return measure_cost(model, self.ctx.input_shape, **kwargs)

    def train(self, model: Any, spec: Any, trial: optuna.Trial, callbacks: list) -> Any:
        size = float(sum(p.numel() for p in model.parameters()))
        return SimpleNamespace(epochs_run=0, best_epoch=0, history=[], size=size)

    def value(self, result: Any) -> float | None:
        return result.size

    def curve_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return row


class SmallestKind(SearchKind):
    name = "toy_smallest"

    def objectives(
        self, objectives: str | Sequence[str] | None, metric: str | None, task: str
    ) -> tuple[str, list[str], list[str]]:
        return "size", ["size"], ["minimize"]

    def objective(self, data: Any, settings: SearchSettings, state: Any) -> Any:
        return _SizeTrial(data, settings)

    def finalize(self, data: Any, trial: optuna.trial.FrozenTrial, settings: SearchSettings,
                 state: Any, rank: int) -> FinalModel:  # fmt: skip
        spec = ArchSpec.from_dict(trial.user_attrs["spec"])
        model = build_model(spec)
        cost = measure_cost(model, tuple(data.input_shape), latency=False)
        metrics = {"rank": rank, "trial": trial.number, "family": spec.family, "metric": "size",
                   "test": {"size": float(cost.params)}, "val": {"size": trial.values[0]},
                   "cost": cost.to_dict(), "summary": spec.summary()}  # fmt: skip
        return FinalModel(rank, trial.number, spec, model, cost, metrics)


@pytest.fixture
def toy_kind() -> Iterator[SmallestKind]:
    kind = register_kind(SmallestKind())
    yield kind
    unregister_kind(kind.name)


def test_a_toy_kind_needs_only_its_code_and_a_registration(
    toy_kind: SmallestKind, tmp_path: Path, tiny_space: Path, cli
) -> None:
    run = tmp_path / "run"
    result = nas.search(dataset="iris", space=str(tiny_space), kind="toy_smallest", n_trials=4,
                        budget=Budget(max_params=10_000), out=run, report=True,
                        reports_dir=None)  # fmt: skip
    complete = [t for t in result.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and result.metrics["metric"] == "size"
    # the winner is the smallest completed trial: its value is its parameter count
    best = min(complete, key=lambda t: (t.values[0], t.number))
    assert result.metrics["trial"] == best.number
    assert result.metrics["test"]["size"] == best.values[0] == best.user_attrs["params"]
    assert nas.SearchConfig.read(run).kind == "toy_smallest"
    assert (run / "best" / "model.pt").is_file() and (run / "report.html").is_file()
    assert "size" in (run / "report.html").read_text(encoding="utf-8")
    shown = cli("show", run)
    assert shown.exit_code == 0 and f"winner (trial {best.number})" in shown.stdout
    with pytest.raises(NasError, match="toy_smallest search kind has no explanations"):
        nas.explain(run)


def test_the_registry_maps_spaces_to_kinds_and_names_the_known_ones() -> None:
    assert {"classifier", "gan"} <= set(known_kinds())
    assert kind_for_space("gan").name == "gan"
    assert kind_for_space("cnn").name == kind_for_space("auto").name == "classifier"
    with pytest.raises(NasError, match="Unknown search kind 'ganz'. Did you mean 'gan'"):
        get_kind("ganz")
    with pytest.raises(NasError, match="registered already"):
        register_kind(type("Other", (SmallestKind,), {"name": "gan"})())
    assert get_kind("gan").name == "gan"  # the refused one replaced nothing


# --- generic modules never ask which kind they hold ----------------------------------------------
GENERIC = [p for p in sorted((ROOT / "nas").rglob("*.py"))
           if p.relative_to(ROOT / "nas").parts[0] not in ("gan", "kinds")]  # fmt: skip
GENERIC += [ROOT / "explain" / "report" / n for n in ("render.py", "registry.py", "sections.py")]
KIND_TESTS = re.compile(
    r"""[=!]=\s*["'](gan|classifier)["']"""  # space / family / kind compared to a name
    r"""|["'](gan|classifier)["']\s*(==|!=|in\b)"""
    r"""|\bis_gan\b|isinstance\([^)]*\bGan\w*"""  # flags and type tests
    r"""|^\s*(from|import)\s+nas\.gan\b|from\s+nas\.gan\.\w+\s+import"""  # reaching into a kind
    r"""|nas\.kinds\.(classifier|_base)\b.*\bimport\b.*\b(Objective|retrain_and_test)\b""",
    re.MULTILINE,
)


def kind_tests(source: str) -> list[str]:
    return [m.group(0).strip() for m in KIND_TESTS.finditer(source)]


def test_the_scan_finds_tests_of_the_kind() -> None:
    bad = (
        'if space.name == "gan":\n    from nas.gan.search import GanObjective\n'
        "is_gan = isinstance(spec, GanSpec)\nif record.get('family') != 'gan': pass\n"
    )
    assert len(kind_tests(bad)) >= 4
    assert kind_tests("kind = get_kind(config.kind)\nprint(kind.cost_label)\n") == []


def test_no_generic_module_tests_the_search_kind() -> None:
    assert len(GENERIC) >= 20
    found = {str(p.relative_to(ROOT)): hits for p in GENERIC
             if (hits := kind_tests(p.read_text(encoding="utf-8")))}  # fmt: skip
    assert not found, f"generic modules that test the search kind: {found}"
