"""The explain side of the report data as types: ``explanations`` (explain.explanations) and
``gan`` (explain.gan plus the search's GAN scores); see SCHEMA.md and :mod:`schema`."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

#: Samples and attributions: nested lists in the data's shape (images (C, H, W), sequences
#: (T, F), tabular (F,)).
Nested = list[Any]
CheckStatus = Literal["pass", "warn", "fail", "skipped"]

# --- explanations ---------------------------------------------------------------------------


class MethodRow(TypedDict, total=False):
    """One of ``explanations.methods``."""

    method: str
    chosen: bool
    reason: str


class GlobalMap(TypedDict, total=False):
    """``explanations.global[method]``: mean attributions, in the input's shape."""

    overall: Nested
    per_class: dict[str, Nested]


class LocalExample(TypedDict, total=False):
    """One of ``explanations.local``: an explained test example."""

    index: int
    category: str  # correct | misclassified | confident | uncertain | low_error | high_error
    label: Any
    predicted: Any
    probability: float | None
    input: Nested
    attributions: dict[str, Nested]
    # added by nas.explaining.report_view (older data lacks them; the report then says less):
    output: ExplainedOutput  # the output the attributions explain
    base_values: dict[str, float]  # per method: its output at the baseline / SHAP's E[f(bg)]
    output_value: float | None  # the explained output f(x) of this example


class ExplainedOutput(TypedDict, total=False):
    """``local[].output``: which output a local example's attributions explain."""

    kind: Literal["logit", "output"]  # a classifier's logit (before softmax), or regression
    target: int  # the output's index
    label: str  # its class name


class Attention(TypedDict, total=False):
    """``explanations.attention``: per layer, heads x tokens x tokens."""

    method: str  # the method whose checks judge the maps ("attention"; absent in older data)
    layers: list[Nested]
    tokens: list[str]


class ShapValues(TypedDict, total=False):
    """``explanations.shap``: N x F values and inputs (tabular, for a beeswarm)."""

    method: str
    base_value: float
    values: list[list[float]]  # each row explains its own target (the predicted class)
    inputs: list[list[float]]
    # added by nas.explaining.report_view:
    targets: list[int]  # the output each row of ``values`` explains
    base_values: list[float]  # per row, the base value of its target
    output_names: list[str]  # the outputs' labels (class names)
    output_kind: Literal["logit", "output"]
    per_output: ShapPerOutput  # every output on the first rows (tabular classifiers)


class ShapPerOutput(TypedDict, total=False):
    """``shap.per_output``: SHAP values of EVERY output (K <= 10) for the first n rows, so a
    beeswarm can show one output for all examples."""

    values: list[list[list[float]]]  # K x n x F
    base_values: list[list[float]]  # K x n
    inputs: list[list[float]]  # n x F


class Check(TypedDict, total=False):
    """One of ``explanations.checks`` (and ``agreement``, name "agreement", method "a vs b")."""

    name: str
    method: str
    value: float | None
    threshold: float | None
    status: CheckStatus
    detail: str
    extra: dict[str, Any]


#: ``explanations``: what explain computed for the winner (``global`` is a keyword, hence the
#: call form): ``global`` maps each method to its mean attributions.
Explanations = TypedDict(
    "Explanations",
    {
        "modality": str,
        "input_shape": list[int],
        "feature_names": list[str],
        "class_names": list[str],
        "methods": list[MethodRow],
        "global": dict[str, GlobalMap],
        "local": list[LocalExample],
        "attention": Attention | None,
        "shap": ShapValues | None,
        "checks": list[Check],
        "agreement": list[Check],
        "timing": dict[str, float],
    },
    total=False,
)


# --- gan ------------------------------------------------------------------------------------


class GanTestScores(TypedDict, total=False):
    """``gan.scores.test`` (also ``best.test`` of a GAN run)."""

    fcd: float
    precision: float
    recall: float
    cond_accuracy: float


class GanScores(TypedDict, total=False):
    """``gan.scores``: the generator's scores with the references that make them readable."""

    test: GanTestScores
    floor_fcd: float  # FCD of as many real examples as generated ones: the best reachable
    noise_fcd: float  # FCD of random inputs
    classifier_accuracy: float  # the feature classifier on real test data


class GanCurveRow(TypedDict, total=False):
    """One epoch of ``gan.curves``."""

    epoch: int
    d_loss: float
    g_loss: float
    score: float  # validation FCD
    diversity: float


class GanGrid(TypedDict, total=False):
    """``gan.grid``: per class, generated and real samples."""

    classes: list[str]  # ["all"] when unconditional
    generated: list[list[Nested]]
    real: list[list[Nested]]


class Traversal(TypedDict, total=False):
    """One of ``gan.traversals``: one latent dim swept over ``values``."""

    dim: int
    label: str | None
    values: list[float]  # steps in -2.5..2.5
    samples: list[Nested]
    change: Nested  # mean |output change| between neighbouring steps
    mean_change: float


class DiscriminatorExample(TypedDict, total=False):
    """One attributed example of a discriminator side."""

    input: Nested
    attribution: Nested
    logit: float
    label: str | None


class DiscriminatorSide(TypedDict, total=False):
    """``gan.discriminator.real`` or ``.fake``."""

    mean_abs: Nested
    mean_logit: float
    examples: list[DiscriminatorExample]


class Completeness(TypedDict, total=False):
    """``gan.discriminator.completeness``: how well IG's attributions sum to the logit."""

    max_abs_delta: float
    mean_abs_delta: float
    relative: float  # to mean |logit|


class Discriminator(TypedDict, total=False):
    """``gan.discriminator``: integrated gradients of D's logit on real and generated data."""

    method: str
    baseline: str
    n_steps: int
    target: Any
    real: DiscriminatorSide
    fake: DiscriminatorSide
    completeness: Completeness


class GanData(TypedDict, total=False):
    """``gan``: a GAN run's scores and curves, and explain.gan.explain_gan's results."""

    scores: GanScores
    curves: list[GanCurveRow]
    summary: str
    modality: str
    data_shape: list[int]
    conditional: bool
    latent_dim: int
    seed: int
    grid: GanGrid
    traversals: list[Traversal]
    latent_change: list[float]  # mean |output change| of every latent dim, by index
    discriminator: Discriminator
