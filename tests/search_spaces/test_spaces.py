"""Every space x modality: seeded samples that build, train a step, round-trip and replay.

Parametrized from ``SPACES`` so a new space is tested for free. Each case asks a seeded Optuna
study for ``N_SAMPLES`` trials (ask / tell) and checks, for every sampled spec: the model builds,
runs forward and backward with finite outputs of exactly the shapes the builder predicted, the
spec's JSON round trip rebuilds the same weights layout, and ``FixedTrial(trial.params)`` replays
to the same spec.
"""

from __future__ import annotations

import json
from collections import Counter

import optuna
import pytest
import torch

from search_spaces import (
    SPACES,
    ArchSpec,
    Space,
    SpaceContext,
    SpaceError,
    build_model,
    get_space,
)
from search_spaces.build import NasModel
from search_spaces.spaces import FAMILY_SAMPLERS, auto, default_config
from search_spaces.spaces._base import Choice, Fixed, FloatRange, IntRange, Sampler

N_SAMPLES = 50
BATCH = 2

CONTEXTS = {
    "image": SpaceContext((1, 8, 8), "image", "classification", 10),
    "sequence": SpaceContext((40, 1), "sequence", "classification", 10),
    "tabular": SpaceContext((4,), "tabular", "classification", 3),
    "tabular-regression": SpaceContext((10,), "tabular", "regression", 1),
    "sequence-regression": SpaceContext((32, 1), "sequence", "regression", 1),
}
HEAD = {"classification": "classify.v1", "regression": "regress.v1"}
# Spaces that sample one ArchSpec; the "gan" space samples a GanSpec (tests/.../test_gan.py).
ARCH_SPACES = [name for name in SPACES if name != "gan"]


def study(seed: int) -> optuna.Study:
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_model(model: NasModel, ctx: SpaceContext) -> float:
    """Forward stage by stage against the predicted shapes, then backward; returns the loss."""
    assert model.output_shape == (ctx.output_size,)
    model.train()
    x = torch.randn(BATCH, *ctx.input_shape)
    modules = [*model.features.children(), model.head]
    assert len(modules) == len(model.stages)
    for stage, module in zip(model.stages, modules, strict=True):
        x = module(x)
        assert tuple(x.shape) == (BATCH, *stage.shape_out.dims), (stage.name, stage.shape_out)
        assert torch.isfinite(x).all(), stage.name
    assert tuple(x.shape) == (BATCH, *model.output_shape)
    loss = x.square().mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{model.spec.summary()}: {name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{model.spec.summary()}: {name}"
    return loss.item()


@pytest.mark.parametrize("ctx_name", list(CONTEXTS))
@pytest.mark.parametrize("space_name", ARCH_SPACES)
def test_space_samples_build_train_round_trip_and_replay(space_name: str, ctx_name: str) -> None:
    ctx = CONTEXTS[ctx_name]
    space = get_space(space_name)
    seed = list(SPACES).index(space_name) * 100 + list(CONTEXTS).index(ctx_name)
    s = study(seed)
    for _ in range(N_SAMPLES):
        trial = s.ask()
        spec = space.sample(trial, ctx)
        assert isinstance(spec, ArchSpec)
        assert (spec.task, spec.modality, spec.input_shape, spec.output_size) == (
            ctx.task,
            ctx.modality,
            ctx.input_shape,
            ctx.output_size,
        )
        assert spec.head.kind == HEAD[ctx.task]
        if space_name != "auto":
            assert spec.family == space_name

        model = build_model(spec)
        loss = check_model(model, ctx)

        again = ArchSpec.from_json(spec.to_json())
        assert again == spec
        rebuilt = build_model(again)
        assert n_params(rebuilt) == n_params(model)
        rebuilt.load_state_dict(model.state_dict())  # strict: same names and shapes

        assert space.sample(optuna.trial.FixedTrial(trial.params), ctx) == spec
        s.tell(trial, loss)
    assert len(s.trials) == N_SAMPLES


@pytest.mark.parametrize("modality", ["image", "sequence", "tabular"])
def test_auto_chooses_several_applicable_families(modality: str) -> None:
    ctx = CONTEXTS[modality]
    space = get_space("auto")
    s = study(7)
    families: Counter[str] = Counter()
    for _ in range(60):
        trial = s.ask()
        spec = space.sample(trial, ctx)
        families[spec.family] += 1
        assert spec.family == trial.params["family"]
        # An auto trial that chose a family is the same spec as that family's own trial.
        own = {k: v for k, v in trial.params.items() if k != "family"}
        assert FAMILY_SAMPLERS[spec.family](optuna.trial.FixedTrial(own), ctx, None) == spec
        s.tell(trial, 0.0)
    assert set(families) <= set(auto.APPLICABLE[modality]), families
    assert len(families) >= 3, families
    if modality == "tabular":
        assert not {"cnn_rnn", "cnn_transformer"} & set(families)


def test_auto_works_with_tpe() -> None:
    # TPE with a define-by-run space: parameters appear and disappear with the family.
    ctx = CONTEXTS["sequence"]
    space = get_space("auto")
    s = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=5))
    for i in range(12):
        trial = s.ask()
        spec = space.sample(trial, ctx)
        assert build_model(spec).output_shape == (10,)
        s.tell(trial, float(i % 3))
    assert len({t.params["family"] for t in s.trials}) >= 2


def test_auto_with_no_applicable_family_is_a_space_error() -> None:
    config = {**default_config(), "auto.families": Choice(("cnn_rnn", "cnn_transformer"))}
    with pytest.raises(SpaceError, match="no family that applies to tabular"):
        Space("auto", config).sample(optuna.trial.FixedTrial({}), CONTEXTS["tabular"])


def test_single_family_auto_asks_no_family_param() -> None:
    config = {**default_config(), "auto.families": Fixed("rnn")}
    trial = study(1).ask()
    spec = Space("auto", config).sample(trial, CONTEXTS["sequence"])
    assert spec.family == "rnn" and "family" not in trial.params


def test_parameter_names_are_stable_and_dotted() -> None:
    trial = study(0).ask()
    get_space("cnn_transformer").sample(trial, CONTEXTS["image"])
    names = set(trial.params)
    assert "cnn_transformer.stem.channels" in names
    assert "cnn_transformer.tfm.d_model" in names
    assert any(n.startswith("train.") for n in names)
    assert all("." in n for n in names)


@pytest.mark.parametrize("space_name", ARCH_SPACES)
def test_spaces_run_on_small_inputs(space_name: str) -> None:
    # Tiny inputs (a 3x3 image, 3 steps, 2 features) must still give specs that flow.
    space = get_space(space_name)
    for ctx in (
        SpaceContext((1, 3, 3), "image", "classification", 2),
        SpaceContext((3, 2), "sequence", "regression", 2),
        SpaceContext((2,), "tabular", "classification", 2),
    ):
        s = study(11)  # one study per context, as in a search: choices depend on the modality
        for _ in range(8):
            trial = s.ask()
            model = build_model(space.sample(trial, ctx))
            assert model(torch.randn(BATCH, *ctx.input_shape)).shape == (BATCH, ctx.output_size)
            s.tell(trial, 0.0)


# --- the space object, its config and the sampler ---------------------------------------------


def test_get_space_unknown_name_suggests() -> None:
    with pytest.raises(SpaceError) as e:
        get_space("transfomer")
    msg = str(e.value)
    assert "'transfomer'" in msg and "Did you mean 'transformer'" in msg and ".toml" in msg


@pytest.mark.parametrize("space_name", list(SPACES))
def test_space_to_dict_is_json(space_name: str) -> None:
    data = get_space(space_name).to_dict()
    text = json.dumps(data)
    assert json.loads(text) == data
    assert data["space"] == space_name and data["source"] == "built-in"
    assert data["dims"]["cnn.channels"] == {"choices": [16, 32, 64]}
    assert data["dims"]["train.lr"] == {"low": 3e-4, "high": 3e-2, "log": True}
    assert data["dims"]["train.l1"] == 0.0


def test_every_space_has_a_description() -> None:
    assert set(FAMILY_SAMPLERS) | {"auto", "gan"} == set(SPACES)
    assert all(desc for _, desc in SPACES.values())


def test_space_context_checks_and_converts() -> None:
    ctx = SpaceContext([4], "tabular", "classification", 3)
    assert ctx.input_shape == (4,)
    with pytest.raises(SpaceError, match="modality"):
        SpaceContext((4,), "audio", "classification", 3)
    with pytest.raises(SpaceError, match="task"):
        SpaceContext((4,), "tabular", "ranking", 3)

    class Data:
        input_shape = [1, 8, 8]
        modality = "image"
        task = "classification"
        output_size = 10

    assert SpaceContext.of(Data()) == CONTEXTS["image"]


def test_sampler_reads_each_dimension_kind() -> None:
    config = {
        "fixed": Fixed(7),
        "one": Choice(("only",)),
        "pick": Choice((1, 2)),
        "ints": IntRange(1, 4),
        "flat": IntRange(3, 3),
        "floats": FloatRange(0.1, 1.0, log=True),
    }
    trial = study(0).ask()
    s = Sampler(trial, config)
    assert s("fixed") == 7 and s("one") == "only" and s("flat") == 3
    assert s("x.pick", "pick") in (1, 2)
    assert 1 <= s("ints") <= 4
    assert 0.1 <= s("floats") <= 1.0
    # Only real choices become trial parameters, under the name asked for.
    assert set(trial.params) == {"x.pick", "ints", "floats"}
    with pytest.raises(SpaceError, match="no dimension 'missing'"):
        s("missing")
