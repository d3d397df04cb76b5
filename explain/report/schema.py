"""The report data (SCHEMA.md) as types: TypedDicts for the renderer's input and its parts
(``explanations`` and ``gan``, what explain computes, in :mod:`schema_explain`).

Only ``run`` is required; every other key may be missing or null, so the dicts are
``total=False`` and their values may be None. These are static types only: the renderer reads
the data defensively and turns what it cannot read into notes, it never validates against them.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from explain.report.schema_explain import Explanations, GanData

TrialState = Literal["complete", "pruned", "over_budget", "failed", "running"]

# --- run.json -------------------------------------------------------------------------------


class SpaceRecord(TypedDict, total=False):
    """``run.space``: which search space, where it came from, its dimensions."""

    space: str
    source: str
    dims: dict[str, Any]


class Budget(TypedDict, total=False):
    """``run.budget``: the cost limits; None is no limit."""

    max_params: int | None
    max_flops: int | None
    max_latency_ms: float | None
    max_memory_mb: float | None


class DataInfo(TypedDict, total=False):
    """``run.data_info``: what the search saw of the data."""

    name: str
    task: str
    modality: str
    input_shape: list[int]
    output_size: int
    sizes: dict[str, int]  # train, val, test
    feature_names: list[str]
    class_names: list[str]
    target_name: str | None
    preprocessing: dict[str, Any] | None


class RunRecord(TypedDict, total=False):
    """``run``: run.json, the search configuration (the one required key)."""

    study: str
    dataset: str | None
    data: str | None  # a file path when the data is the user's
    target: str | None
    task: str
    seed: int | None
    space_name: str
    space: SpaceRecord | None
    budget: Budget | None
    metric: str
    objectives: list[str]
    directions: list[Literal["maximize", "minimize"]]
    epochs: int
    sampler: str
    pruner: str
    command: str | None
    versions: dict[str, str]  # nas, python, torch, optuna
    data_info: DataInfo


# --- the search -----------------------------------------------------------------------------


class Counts(TypedDict, total=False):
    """``counts``: trials per state."""

    complete: int
    pruned: int
    over_budget: int
    failed: int
    running: int


class TrialRow(TypedDict, total=False):
    """One of ``trials``: a leaderboard row."""

    number: int
    state: TrialState
    family: str | None
    params: int | None
    flops: int | None
    latency_ms: float | None
    memory_mb: float | None
    metric: float | None
    values: list[float]
    seconds: float | None
    epochs: int | None
    reason: str | None
    start_s: float | None  # seconds since the first trial started
    end_s: float | None
    last_value: float | None  # the last intermediate value it reported (pruned: where it stopped)
    last_step: int | None  # the step (epoch) of last_value
    hparams: dict[str, Any]  # the searched parameters as Optuna sampled them (t.params)
    depth: int | None  # blocks in its architecture (a GAN's generator); None: no spec recorded
    faithfulness: float | None  # its score (nas.faithfulness), when scored
    feasible: bool | None  # met --min-faithfulness; None: no constraint


# --- the winner -----------------------------------------------------------------------------

PerClassRow = TypedDict(
    "PerClassRow",
    {"class": str, "precision": float, "recall": float, "f1": float, "support": int},
    total=False,
)


class TestMetrics(TypedDict, total=False):
    """``best.test``: classification, regression or GAN scores (whichever the task has)."""

    accuracy: float
    balanced_accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float | None
    log_loss: float | None
    confusion_matrix: list[list[int]]
    per_class: list[PerClassRow]
    mae: float
    mse: float
    rmse: float
    r2: float
    fcd: float
    cond_accuracy: float


class Cost(TypedDict, total=False):
    """``best.cost``: what the winner costs, measured before training."""

    params: int
    trainable_params: int
    flops: int
    latency_ms: float
    latency_ms_batch: float
    batch_size: int
    memory_mb: float
    energy_mj: float | None
    device: str


class HistoryRow(TypedDict, total=False):
    """One epoch of a learning curve."""

    epoch: int
    train_loss: float
    val_loss: float | None
    val_metric: float | None
    lr: float
    seconds: float


class Retrain(TypedDict, total=False):
    """``best.retrain``: the final retraining on train + val."""

    epochs: int
    schedule_epochs: int  # the length of the schedule those epochs are the start of
    best_epoch: int  # the search's best epoch of the winner (epochs = 2 x best_epoch)
    seconds: float
    history: list[HistoryRow]


class BestMetrics(TypedDict, total=False):
    """``best`` (best/metrics.json; also each of ``top``)."""

    rank: int
    trial: int
    family: str
    metric: str
    summary: str
    test: TestMetrics
    val: dict[str, float]
    objectives: dict[str, float]
    cost: Cost
    retrain: Retrain
    search_curve: list[HistoryRow]


class Stage(TypedDict, total=False):
    """One of ``stages``: the architecture, layer by layer."""

    name: str
    kind: str
    inserted: bool  # an adapter the builder inserted
    shape_in: str  # e.g. "seq(T,D=40,1)"
    shape_out: str
    params: dict[str, Any]
    n_params: int


RocCurve = TypedDict(
    "RocCurve", {"class": str, "fpr": list[float], "tpr": list[float], "auc": float}, total=False
)


class Residuals(TypedDict, total=False):
    """``residuals``: regression test predictions, in the target's units."""

    y_true: list[float]
    y_pred: list[float]


class Baseline(TypedDict, total=False):
    """One of ``baselines.baselines``: a reference model scored on the winner's test split."""

    name: str  # "majority class", "logistic regression", "mean predictor", "ridge regression",
    # "gradient boosting" ("median predictor" for MAE; "logistic regression (class-balanced)" and
    # "gradient boosting (class-balanced)" for balanced metrics)
    # trivial: a constant; classical: a linear model; trees: gradient-boosted trees
    # (HistGradientBoosting*), tabular runs only, since nas fitted them (absent before)
    kind: Literal["trivial", "classical", "trees"]
    detail: str  # what was fitted (the estimator and its non-default arguments), on what
    metrics: dict[str, float | None]  # the run's test metrics of this baseline
    seconds: float  # fitting and scoring it
    params: int  # the classical one's coefficients and intercepts (since nas recorded them)


class Baselines(TypedDict, total=False):
    """``baselines``: best/baselines.json, measured once by the search's finalize step."""

    metric: str
    split: str  # "test"
    n_test: int
    fitted_on: str  # "train+val", as the final retrain
    baselines: list[Baseline]


class TestInterval(TypedDict, total=False):
    """``test_interval``: the winner's test metric's 95% interval from its predictions."""

    metric: str
    lo: float
    hi: float
    n: int
    method: str  # e.g. "percentile bootstrap, 1000 resamples"
    largest: dict[str, Any]  # rmse/mse/mae: {rows, of, share} of the largest 1 % of errors


class Alert(TypedDict, total=False):
    """One of ``alerts``."""

    level: Literal["info", "warn", "error"]
    text: str


# One of ``comparison.models``: a Pareto-optimal model explained like the others (functional
# form: "global" is a Python keyword).
ComparedModel = TypedDict(
    "ComparedModel",
    {
        "rank": int,
        "folder": str,  # "top/<k>"
        "trial": int | None,
        "family": str,
        "params": int | None,
        "metric": str,
        "test": float | None,  # the test metric
        "fingerprint": str,  # sha256 of its spec.json + model.pt
        "checks": dict[str, str],  # method -> pass | warn | fail | unchecked
        "global": list[float],  # mean |attribution| per unit, flattened
    },
    total=False,
)


class Comparison(TypedDict, total=False):
    """``comparison``: RUN/explain-top/comparison.json, or only ``note`` when stale."""

    note: str
    method: str
    methods: list[str]
    unit: str  # feature | step | pixel
    modality: str
    input_shape: list[int]
    feature_names: list[str]
    n_examples: int
    samples: int
    sample_indices: list[int]
    seed: int
    checked: bool
    dropped: dict[str, str]
    models: list[ComparedModel]
    agreement: dict[str, list[list[float | None]]]  # global, local: K x K weighted Spearman's rho
    families: dict[str, Any]  # names, global, local, pairs: F x F


class UnseenBaseline(TypedDict):
    name: str
    value: float | None


class Unseen(TypedDict):
    """``unseen``: the run's metric on the test rows that repeat no training or validation row
    (nas.baselines.unseen_scores), when the data notes counted some that do."""

    n: int  # rows that repeat none
    of: int  # all test rows
    winner: float
    baselines: list[UnseenBaseline]


# --- the whole report -----------------------------------------------------------------------


class _ReportRun(TypedDict):
    run: RunRecord


class ReportData(_ReportRun, total=False):
    """The renderer's input: ``run`` is required, every other key may be missing or null."""

    title: str | None
    generated: str | None  # ISO time; the page shows it, so the same data gives the same page
    counts: Counts | None
    trials: list[TrialRow] | None
    importances: dict[str, float] | None  # param name -> importance in [0, 1]
    pareto: list[int] | None  # trial numbers on the Pareto front (multi-objective only)
    best: BestMetrics | None
    spec: dict[str, Any] | None  # the winner's ArchSpec.to_dict()
    stages: list[Stage] | None
    model_repr: str | None
    roc: list[RocCurve] | None  # classification, one-vs-rest, test set
    residuals: Residuals | None
    baselines: Baselines | None  # null: not measured (a run made before nas measured them)
    test_interval: TestInterval | None  # null: accuracy (Wilson's, from the data) or unknown
    unseen: Unseen | None  # null: no test row repeats a training row (or no predictions)
    top: list[BestMetrics] | None  # metrics.json of each --top K model
    warnings: list[str] | None  # what the search warned of as it ended (summary.json)
    alerts: list[Alert] | None
    verdict: str | None
    explanations: Explanations | None
    gan: GanData | None  # null when the run is not a GAN
    metric_labels: dict[str, str] | None  # best.test key -> its name, where the kind names it
    comparison: Comparison | None  # null without `nas explain RUN --top K`
