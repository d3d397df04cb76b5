"""The GAN search kind: generators scored by the Fréchet classifier distance (FCD) of a
classifier of the real data, trained once per search and kept in ``RUN/scorer/``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import torch

from nas import run as rundir
from nas.cost import Cost
from nas.data.taskdata import TaskData
from nas.errors import NasError
from nas.gan import finalize
from nas.gan.health import collapse_alert
from nas.gan.search import (
    GanObjective,
    check_gan_data,
    gan_objectives,
    generator_cost,
    scorer_path,
    search_classifier,
)
from nas.kinds._base import FinalModel, SearchKind, TrialFunction
from nas.kinds.registry import register_kind
from nas.trial import SearchSettings
from search_spaces.gan import build_gan

if TYPE_CHECKING:
    from nas.config import SearchConfig


class GanKind(SearchKind):
    """A GAN search: the ``gan`` space; the first objective is the validation FCD."""

    name = "gan"
    spaces = ("gan",)
    cost_label = " (generator)"
    explain_errors = (NasError, RuntimeError, ValueError, TypeError, KeyError)

    def objectives(
        self, objectives: str | Sequence[str] | None, metric: str | None, task: str
    ) -> tuple[str, list[str], list[str]]:
        return gan_objectives(objectives, metric)  # type: ignore[arg-type]

    def check_data(self, data: TaskData) -> None:
        check_gan_data(data)

    def record_extras(self, run_dir: Path) -> dict[str, Any]:
        return {"scorer": str(scorer_path(run_dir).resolve())}

    def prepare(
        self, data: TaskData, settings: SearchSettings, extras: Mapping[str, Any], *, leader: bool
    ) -> Any:
        """The scorer's classifier: the leader trains (or reloads) and saves it; a worker
        loads the leader's when this machine can read it, else trains the same one."""
        path = extras.get("scorer")
        if not leader and not (path is not None and os.path.isfile(path)):
            path = None
        return search_classifier(data, settings.seed, Path(path) if path else None)

    def objective(self, data: TaskData, settings: SearchSettings, state: Any) -> TrialFunction:
        return GanObjective(data, settings, classifier=state)

    def finalize(
        self,
        data: TaskData,
        trial: optuna.trial.FrozenTrial,
        settings: SearchSettings,
        state: Any,
        rank: int,
    ) -> FinalModel:
        final, grid = finalize.retrain_and_score(data, trial, settings, state, rank=rank)
        final.arrays["samples.npz"] = grid
        return final

    def family_of(self, spec: Any) -> str:
        return "gan"

    def build_of(self, spec: Any) -> torch.nn.Module:
        return build_gan(spec)

    def cost_of(self, spec: Any, input_shape: Sequence[int], **kwargs: Any) -> Cost:
        """The generator's cost, the deployable part."""
        return generator_cost(self.build_of(spec), **kwargs)

    def exportable(self, model: torch.nn.Module, rows: Any = None, *, seed: int = 0) -> Any:
        """The generator, fed ``z`` and a one-hot label: no data rows needed."""
        from nas.gan.export import generator_exportable

        return generator_exportable(model, seed)  # type: ignore[arg-type]

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
        """Generated vs real per class, latent traversals and discriminator attributions, in
        ``RUN/explain/gan.json``; returns that path."""
        if data is None or model is None or trial is None:
            data = config.load_data()
            model = rundir.load_model(run_dir)
            trial = rundir.read_json(Path(run_dir) / "best" / "metrics.json")["trial"]
        path = finalize.explain_gan_run(run_dir, model, data, trial)  # type: ignore[arg-type]
        if path is None:
            raise NasError("GAN explanations need explain.gan, which this nas lacks; upgrade.")
        return path

    def explain_failed(self, error: BaseException, run_dir: Path) -> str:
        return f"GAN explanations failed ({error!r}); the report omits them."

    def report_data(self, run_dir: Path, best: Mapping[str, Any] | None) -> dict[str, Any]:
        from explain.report.decision import MANIFOLD_LABELS

        return {
            "gan": finalize.report_data(run_dir, best),  # type: ignore[arg-type]
            "metric_labels": dict(MANIFOLD_LABELS),  # k-NN manifold scores, not class averages
        }

    def architecture(self, spec: Any) -> Any:
        return spec.generator  # the deployable part

    def metric_label(self, name: str) -> str:
        """Precision and recall as the k-NN manifold scores they are (not class averages)."""
        from explain.report.decision import gan_metric_label

        return gan_metric_label(name)

    def alerts(self, data: Mapping[str, Any]) -> list[dict[str, str]]:
        """A winner that has collapsed (recall ~0, or samples that ignore the noise); a
        ``best/samples.npz`` that cannot be read."""
        alert = collapse_alert(data.get("best"))
        damaged = (data.get("gan") or {}).get("samples_damaged")  # best/samples.npz unreadable
        return ([alert] if alert is not None else []) + (
            [{"level": "warn", "text": damaged}] if damaged else [])  # fmt: skip

    def verdict(self, data: Mapping[str, Any]) -> str | None:
        best, run = data.get("best"), data["run"]
        if not best:
            return None
        n = len(data.get("trials", []))
        t, cost = best.get("test", {}), best.get("cost", {})
        test = t.get(run["metric"])
        test_txt = f"{test:.4g}" if isinstance(test, (int, float)) else "n/a"
        from nas.findings import budget_sentence

        within = budget_sentence(data)  # the final cost against each limit
        refs = [f"{name} {t[k]:.4g}" for name, k in (("real data", "real_fcd"),
                ("uniform noise", "noise_fcd")) if isinstance(t.get(k), (int, float))]  # fmt: skip
        cond = t.get("cond_accuracy")
        cond_txt = ""
        if isinstance(cond, (int, float)):
            cond_txt = (
                f" The real-data classifier labels {cond:.1%} of its samples with the class "
                "they were generated for."
            )
        collapsed = ""
        if collapse_alert(best) is not None:  # the alert above the verdict says what and why
            collapsed = (" But it has collapsed (see the warning above): its samples miss most "
                         "of the real data's variety, which these scores do not show.")  # fmt: skip
        return (
            f"Of {n} trials, the best is a GAN whose generator has {cost.get('params', 0):,} "
            f"parameters and {cost.get('flops', 0) / 1e6:.3g} MFLOPs per sample; it scores test "
            f"FCD {test_txt} on {run['data_info']['sizes']['test']} held-out examples (lower is "
            f"better; for reference: {', '.join(refs) or 'n/a'}).{cond_txt}{collapsed}{within}"
        )

    def show_lines(self, best: Mapping[str, Any]) -> list[str]:
        t, clf = best["test"], best.get("classifier") or {}
        return [
            f"GAN: test FCD {t.get('fcd', float('nan')):.4g} (real-data floor "
            f"{t.get('real_fcd', float('nan')):.4g}, two halves "
            f"{t.get('halves_fcd', float('nan')):.4g}, uniform noise "
            f"{t.get('noise_fcd', float('nan')):.4g}); scorer classifier test accuracy "
            f"{clf.get('test_accuracy') or float('nan'):.4f}"
        ]


GAN = register_kind(GanKind())

__all__ = ["GAN", "GanKind"]
