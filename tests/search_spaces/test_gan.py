"""GANs as data: the gan space's samples build, generate exactly the data's shape, discriminate,
train a step with their own loss, round-trip through JSON and replay; GanSpec errors name the
field; GanModel's API (conditioning, projection, sampling, reloading) does what it says."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
import torch.nn.functional as F

from search_spaces import ArchSpec, BlockSpec, ShapeError, SpaceError, SpecError, build_model
from search_spaces.blocks import get_block, known_kinds
from search_spaces.gan import (
    GanModel,
    GanSpec,
    GanTrainSpec,
    build_gan,
    spec_from_dict,
    spec_from_json,
)
from search_spaces.spaces import SpaceContext, get_space, load_space_toml, starting_points
from search_spaces.spaces.gan import DEFAULTS

N_SAMPLES = 50
BATCH = 4

CONTEXTS = {
    "digits": SpaceContext((1, 8, 8), "image", "classification", 10),
    "mnist1d": SpaceContext((40, 1), "sequence", "classification", 10),
    "tabular": SpaceContext((30,), "tabular", "classification", 2),
    "regression": SpaceContext((10,), "tabular", "regression", 1),
}


def study(seed: int) -> optuna.Study:
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def labels(model: GanModel, n: int = BATCH) -> torch.Tensor | None:
    return torch.arange(n) % model.n_classes if model.conditional else None


def d_loss(model: GanModel, real: torch.Tensor, fake: torch.Tensor, y: Any) -> torch.Tensor:
    """The discriminator loss of the spec's recipe (what a GAN trainer computes)."""
    t = model.spec.train
    d_real, d_fake = model.discriminate(real, y), model.discriminate(fake, y)
    assert d_real.shape == d_fake.shape == (real.shape[0],)
    assert torch.isfinite(d_real).all() and torch.isfinite(d_fake).all()
    if t.loss == "ns":
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    if t.loss == "hinge":
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1))
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(model.discriminate(mix, y).sum(), mix, create_graph=True)
    penalty = (grad.flatten(1).norm(dim=1) - 1).square().mean()
    return d_fake.mean() - d_real.mean() + t.gp_weight * penalty


def g_loss(model: GanModel, fake: torch.Tensor, y: Any) -> torch.Tensor:
    out = model.discriminate(fake, y)
    return F.softplus(-out).mean() if model.spec.train.loss == "ns" else -out.mean()


def check_grads(params: list[tuple[str, torch.nn.Parameter]], summary: str) -> None:
    for name, p in params:
        assert p.grad is not None, f"{summary}: {name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{summary}: {name} has a non-finite gradient"


def train_step(model: GanModel) -> None:
    """One discriminator step and one generator step, each with its own Adam."""
    t, summary = model.spec.train, model.spec.summary()
    named = list(model.named_parameters())
    of_g = ("generator.", "label_embed_g.")
    g_named = [(n, p) for n, p in named if n.startswith(of_g)]
    d_named = [(n, p) for n, p in named if not n.startswith(of_g)]
    betas = (t.beta1, t.beta2)
    opt_g = torch.optim.Adam([p for _, p in g_named], lr=t.lr_g, betas=betas)
    opt_d = torch.optim.Adam([p for _, p in d_named], lr=t.lr_d, betas=betas)
    model.train()
    y = labels(model)
    real = torch.rand(BATCH, *model.data_shape)

    opt_d.zero_grad()
    d_loss(model, real, model.sample(BATCH, y).detach(), y).backward()
    check_grads(d_named, summary)
    opt_d.step()

    opt_g.zero_grad()
    g_loss(model, model.sample(BATCH, y), y).backward()
    check_grads(g_named, summary)
    opt_g.step()


def check_spec(spec: GanSpec, ctx: SpaceContext) -> None:
    assert isinstance(spec, GanSpec)
    assert spec.data_shape == ctx.input_shape and spec.modality == ctx.modality
    classes = ctx.task == "classification"
    assert spec.n_classes == (ctx.output_size if spec.conditional else 0)
    assert spec.conditional <= classes  # never conditional on regression data
    assert spec.generator.input_shape == (spec.latent_dim + spec.label_dim,)
    assert spec.output_activation == ("sigmoid" if ctx.modality == "image" else "none")
    if spec.train.loss == "wgan_gp":
        for b in spec.discriminator.blocks:
            p = get_block(b.kind).validate(b.params)
            assert p.get("batch_norm") is not True and p.get("norm") != "batch", spec.summary()


@pytest.mark.parametrize("ctx_name", list(CONTEXTS))
def test_gan_samples_build_generate_train_round_trip_and_replay(ctx_name: str) -> None:
    ctx, space = CONTEXTS[ctx_name], get_space("gan")
    s = study(list(CONTEXTS).index(ctx_name))
    seen: set[tuple[str, ...]] = set()
    for _ in range(N_SAMPLES):
        trial = s.ask()
        spec = space.sample(trial, ctx)
        check_spec(spec, ctx)
        assert all(name.startswith("gan.") for name in trial.params)
        seen.add((spec.train.loss, spec.discriminator.blocks[0].kind, str(spec.conditional)))

        model = build_gan(spec)
        assert model.generator.output_shape == ctx.input_shape
        if spec.generator.blocks and spec.generator.blocks[-1].kind.startswith("upconv"):
            assert model.generator.head.resize is None  # the upsampling lands on the data size
        model.eval()
        with torch.no_grad():
            x = model.generate(torch.randn(BATCH, spec.latent_dim), labels(model))
            assert x.shape == (BATCH, *ctx.input_shape) and torch.isfinite(x).all()
            if spec.output_activation == "sigmoid":
                assert x.min() >= 0 and x.max() <= 1
            logits = model.discriminate(x, labels(model))
            assert logits.shape == (BATCH,) and torch.isfinite(logits).all()
        train_step(model)

        again = GanSpec.from_json(spec.to_json())
        assert again == spec and spec_from_json(spec.to_json()) == spec
        rebuilt = build_gan(again)
        assert n_params(rebuilt) == n_params(model)
        rebuilt.load_state_dict(model.state_dict())  # strict: same names and shapes

        assert space.sample(optuna.trial.FixedTrial(trial.params), ctx) == spec
        s.tell(trial, 0.0)
    assert len({loss for loss, _, _ in seen}) == 3  # every loss was drawn
    assert len({kind for _, kind, _ in seen}) >= 2  # and several discriminator families


def test_gan_space_runs_on_small_inputs() -> None:
    space = get_space("gan")
    for ctx in (
        SpaceContext((1, 3, 3), "image", "classification", 2),
        SpaceContext((3, 2), "sequence", "regression", 2),
        SpaceContext((2,), "tabular", "classification", 2),
        SpaceContext((3, 6, 4), "image", "regression", 1),  # halves once: 3x2 -> 6x4
    ):
        s = study(11)
        for _ in range(8):
            trial = s.ask()
            model = build_gan(space.sample(trial, ctx))
            model.eval()
            x = model.sample(2)
            assert x.shape == (2, *ctx.input_shape)
            assert model.discriminate(x, labels(model, 2)).shape == (2,)
            s.tell(trial, 0.0)


def test_conditional_is_asked_only_for_classification() -> None:
    trial = study(0).ask()
    spec = get_space("gan").sample(trial, CONTEXTS["regression"])
    assert "gan.conditional" not in trial.params and "gan.label_dim" not in trial.params
    assert not spec.conditional and spec.n_classes == 0 and spec.label_dim == 0
    assert build_gan(spec).label_embed_g is None


# --- starting points --------------------------------------------------------------------------


@pytest.mark.parametrize("ctx_name", ["digits", "mnist1d", "tabular"])
def test_starting_point_is_a_dcgan_like_design(ctx_name: str) -> None:
    ctx, space = CONTEXTS[ctx_name], get_space("gan")
    (point,) = starting_points(space, ctx)
    s = study(0)
    s.enqueue_trial(point)
    trial = s.ask()
    spec = space.sample(trial, ctx)
    assert {k: trial.params[k] for k in point} == point  # every enqueued value was used
    lr = (6.5e-4, 1.7e-3) if ctx_name == "digits" else (2e-4, 2e-4)  # the D learns faster
    assert spec.train == GanTrainSpec("hinge", *lr, 0.5, 0.999, 1, 10.0, 64)
    assert spec.conditional and spec.spectral_norm
    text = spec.summary()
    expected = {
        # batch norm in the generator, none in the discriminator: the summary says so
        "digits": "G to_grid(64,4x4,relu,bn) > upconv2d(32,up,relu,bn) > gen_out(sigmoid) | "
        "D conv2d(32,k5,leaky_relu) > conv2d(64,k5,avgpool,leaky_relu) > regress(1)",
        "mnist1d": "G dense(256,relu,bn) > to_grid(64,L5,relu,bn) > upconv1d(32,relu,bn) > "
        "upconv1d(16,relu,bn) > upconv1d(8,relu,bn) > gen_out(none) | "
        "D conv1d(32,k5,leaky_relu) > conv1d(64,k5,avgpool,leaky_relu) > regress(1)",
        "tabular": "G dense(256,relu,bn) > dense(256,relu,bn) > gen_out(none) | "
        "D dense(256,leaky_relu) > dense(128,leaky_relu) > regress(1)",
    }[ctx_name]
    assert expected in text, text
    assert all(b.params.get("batch_norm") is not True for b in spec.discriminator.blocks)
    train_step(build_gan(spec))


def test_starting_point_drops_what_the_config_fixes(tmp_path: Path) -> None:
    path = tmp_path / "gan.toml"
    path.write_text('space = "gan"\n[gan]\nloss = "ns"\nlatent_dim = { choices = [8, 16] }\n')
    space = load_space_toml(path)
    (point,) = starting_points(space, CONTEXTS["digits"])
    assert "gan.train.loss" not in point  # fixed: not a trial parameter
    assert point["gan.latent_dim"] == 16  # narrowed under the start's 32: the nearest below
    assert point["gan.g.channels"] == 64


def test_image_starting_point_is_the_design_that_did_not_collapse_on_digits() -> None:
    """Pins the image start's key settings. The earlier one (dense(256) stem > to_grid(128,2x2)
    > two transposed upconvs, k3 critic, lr 2e-4 / 2e-4) collapsed to one template per class on
    digits in seeds 0-2 (validation recall 0.00, diversity ~0.12 of real data's); this one kept
    recall 0.29-0.57 and diversity 0.64-0.79 (BENCHMARKS.md, GAN search)."""
    (point,) = starting_points(get_space("gan"), CONTEXTS["digits"])
    assert point["gan.g.stem_blocks"] == 0 and "gan.g.b0.units" not in point
    assert (point["gan.g.upsamples"], point["gan.g.channels"]) == (1, 64)
    assert point["gan.g.mode"] == "upsample" and point["gan.g.batch_norm"] is True
    assert point["gan.d.cnn.kernel"] == 5 and point["gan.d.cnn.channels"] == 32
    assert (point["gan.train.lr_g"], point["gan.train.lr_d"]) == (6.5e-4, 1.7e-3)
    assert point["gan.train.loss"] == "hinge" and point["gan.d.spectral_norm"] is True
    assert point["gan.conditional"] is True and point["gan.latent_dim"] == 32


# --- TOML ---------------------------------------------------------------------------------------


def test_toml_gan_section_overrides_and_wgan_never_gets_batch_norm(tmp_path: Path) -> None:
    path = tmp_path / "gan.toml"
    path.write_text(
        'space = "gan"\n[gan]\nloss = "wgan_gp"\nd_families = { choices = ["cnn"] }\n'
        "d_batch_norm = true\nlatent_dim = 8\nwgan_critic_steps = 5\n"
        'output_activation = "tanh"\n[cnn]\nchannels = { choices = [8] }\ngrowth = 1.0\n'
    )
    space = get_space(str(path))
    s = study(3)
    for _ in range(10):
        trial = s.ask()
        spec = space.sample(trial, CONTEXTS["digits"])
        assert spec.train.loss == "wgan_gp" and spec.train.critic_steps == 5
        assert spec.latent_dim == 8 and spec.output_activation == "tanh"
        assert all(b.kind == "conv2d.v1" for b in spec.discriminator.blocks)
        assert all(b.params["batch_norm"] is False for b in spec.discriminator.blocks)
        assert all(b.params["channels"] == 8 for b in spec.discriminator.blocks)
        assert not any(k.endswith((".batch_norm", ".family", "loss")) and ".d." in k
                       for k in trial.params)  # fmt: skip
        s.tell(trial, 0.0)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('[gan]\nloss = "lsgan"\n', ["gan.loss has 'lsgan'", "'wgan_gp'"]),
        ('[gan]\nd_families = { choices = ["mlp"] }\n', ["gan.d_families has 'mlp'", "'fnn'"]),
        ('[gan]\noutput_activation = "relu"\n', ["gan.output_activation", "'sigmoid'"]),
    ],
)
def test_toml_bad_gan_values(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = tmp_path / "gan.toml"
    path.write_text('space = "gan"\n' + text)
    with pytest.raises(SpaceError) as e:
        load_space_toml(path)
    for needle in needles:
        assert needle in str(e.value)


def test_no_applicable_discriminator_family_is_a_space_error(tmp_path: Path) -> None:
    path = tmp_path / "gan.toml"
    path.write_text('space = "gan"\n[gan]\nd_families = { choices = ["cnn", "rnn"] }\n')
    with pytest.raises(SpaceError, match="no family that applies to tabular"):
        get_space(str(path)).sample(study(0).ask(), CONTEXTS["tabular"])


def test_every_gan_dimension_is_in_the_gan_section() -> None:
    assert all(k.startswith("gan.") and k.count(".") == 1 for k in DEFAULTS)


# --- GanModel -------------------------------------------------------------------------------


def digits_spec(**changes: Any) -> GanSpec:
    (point,) = starting_points(get_space("gan"), CONTEXTS["digits"])
    spec = get_space("gan").sample(optuna.trial.FixedTrial(point), CONTEXTS["digits"])
    return dataclasses.replace(spec, **changes)


def test_gan_model_surface_and_projection() -> None:
    model = build_gan(digits_spec(spectral_norm=False))
    assert (model.latent_dim, model.conditional, model.n_classes) == (32, True, 10)
    assert model.data_shape == (1, 8, 8) and model.spec.conditional
    width = model.discriminator.stages[-1].shape_in.dims[0]
    assert model.label_embed_g.weight.shape == (10, 16)
    assert model.label_embed_d.weight.shape == (10, width)
    model.eval()
    z, y = torch.randn(3, 32), torch.tensor([0, 4, 9])
    x = model(z, y)
    assert torch.equal(x, model.generate(z, y))
    h = torch.cat([z, model.label_embed_g(y)], dim=1)
    torch.testing.assert_close(x, model.generator(h))
    f = model.discriminator.forward_features(x)
    manual = model.discriminator.forward_head(f)[:, 0] + (model.label_embed_d(y) * f).sum(1)
    torch.testing.assert_close(model.discriminate(x, y), manual)
    with pytest.raises(SpecError, match="conditional: pass the class labels y"):
        model.generate(z)
    with pytest.raises(SpecError, match=r"z must have shape \(N, 32\)"):
        model.generate(torch.randn(3, 5), y)


def test_sample_draws_normal_noise_and_cycles_the_classes() -> None:
    model = build_gan(digits_spec())
    model.eval()
    a = model.sample(12, generator=torch.Generator().manual_seed(1))
    b = model.sample(12, generator=torch.Generator().manual_seed(1))
    assert a.shape == (12, 1, 8, 8) and torch.equal(a, b)
    z = torch.randn(12, 32, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, model.generate(z, torch.arange(12) % 10))


def test_state_dict_reloads_into_a_rebuild_from_json(tmp_path: Path) -> None:
    spec = digits_spec()  # spectral norm: parametrized weights reload too
    model = build_gan(spec)
    train_step(model)
    (tmp_path / "spec.json").write_text(spec.to_json())
    torch.save(model.state_dict(), tmp_path / "model.pt")
    again = build_gan(GanSpec.from_json((tmp_path / "spec.json").read_text()))
    again.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    model.eval(), again.eval()
    z = torch.randn(4, 32)
    y = torch.arange(4)
    torch.testing.assert_close(again.generate(z, y), model.generate(z, y))
    x = model.generate(z, y)
    torch.testing.assert_close(again.discriminate(x, y), model.discriminate(x, y))


def test_spec_from_dict_tells_the_two_specs_apart() -> None:
    gan = digits_spec()
    assert spec_from_dict(json.loads(gan.to_json())) == gan
    assert spec_from_dict(gan.generator.to_dict()) == gan.generator
    assert isinstance(spec_from_json(gan.discriminator.to_json()), ArchSpec)


def test_summary_is_one_line() -> None:
    text = digits_spec().summary()
    assert "\n" not in text and text.startswith("gan: G to_grid(64,4x4,relu,bn) > upconv2d(32,up,")
    short = digits_spec().summary(details=False)  # as runs before 2026-12-07 recorded it
    assert short.startswith("gan: G to_grid(64,4x4) > upconv2d(32,up) > gen_out(sigmoid)")
    assert "| hinge cond sn z=32 lr=0.00065/0.0017 bs=64" in text


# --- GanSpec validation -----------------------------------------------------------------------


def _head(spec: ArchSpec, **params: Any) -> ArchSpec:
    return dataclasses.replace(spec, head=BlockSpec(spec.head.kind, {**spec.head.params, **params}))


def _bad(field: str) -> Any:
    base = digits_spec()
    g, d = base.generator, base.discriminator
    return {
        "generator.head.params.shape": lambda: {"generator": _head(g, shape=[1, 8, 4])},
        "generator.head.params.activation": lambda: {"generator": _head(g, activation="tanh")},
        "conditional": lambda: {"n_classes": 0},
        "n_classes": lambda: {"conditional": False},
        "generator.input_shape": lambda: {"latent_dim": 31},
        "generator.family": lambda: {"generator": dataclasses.replace(g, family="cnn")},
        "generator.head": lambda: {"generator": dataclasses.replace(
            g, head=BlockSpec("regress.v1", {}))},
        "discriminator.output_size": lambda: {"discriminator": dataclasses.replace(
            d, output_size=2, head=BlockSpec("regress.v1", {"outputs": 2}))},
        "discriminator.input_shape": lambda: {"discriminator": dataclasses.replace(
            d, input_shape=(1, 8, 6))},
        "discriminator.blocks[0]": lambda: {"train": GanTrainSpec(loss="wgan_gp"),
            "discriminator": dataclasses.replace(d, blocks=(BlockSpec(
                "conv2d.v1", {"channels": 4}),))},
        "data_shape": lambda: {"data_shape": (8, 8)},
        "output_activation": lambda: {"output_activation": "relu"},
        "latent_dim": lambda: {"latent_dim": 0},
    }[field]()  # fmt: skip


@pytest.mark.parametrize(
    "field",
    [
        "generator.head.params.shape",
        "generator.head.params.activation",
        "conditional",
        "n_classes",
        "generator.input_shape",
        "generator.family",
        "generator.head",
        "discriminator.output_size",
        "discriminator.input_shape",
        "discriminator.blocks[0]",
        "data_shape",
        "output_activation",
        "latent_dim",
    ],
)
def test_bad_gan_specs_name_the_field(field: str) -> None:
    with pytest.raises(SpecError) as e:
        digits_spec(**_bad(field))
    assert field in str(e.value), str(e.value)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"loss": "lsgan"}, "train.loss must be one of ['ns', 'hinge', 'wgan_gp']"),
        ({"critic_steps": 0}, "train.critic_steps must be an integer >= 1"),
        ({"beta1": 1.0}, "train.beta1"),
        ({"lr_g": 0.0}, "train.lr_g"),
        ({"batch_size": 2.5}, "train.batch_size"),
        ({"gp_weight": -1}, "train.gp_weight"),
    ],
)
def test_bad_train_specs_name_the_field(changes: dict[str, Any], needle: str) -> None:
    with pytest.raises(SpecError) as e:
        GanTrainSpec(**changes)
    assert needle in str(e.value)


def test_bad_json_names_the_problem() -> None:
    data = digits_spec().to_dict()
    with pytest.raises(SpecError, match="unknown fields \\['colour'\\]"):
        GanSpec.from_dict({**data, "colour": 1})
    with pytest.raises(SpecError, match="missing \\['latent_dim'\\]"):
        GanSpec.from_dict({k: v for k, v in data.items() if k != "latent_dim"})
    with pytest.raises(SpecError, match="schema_version 9"):
        GanSpec.from_dict({**data, "schema_version": 9})
    with pytest.raises(SpecError, match="train has unknown fields"):
        GanSpec.from_dict({**data, "train": {"lr": 0.1}})
    with pytest.raises(SpecError, match="not valid JSON"):
        GanSpec.from_json("{")


def test_build_gan_names_the_network() -> None:
    spec = digits_spec()
    g = dataclasses.replace(spec.generator, blocks=(BlockSpec("upconv2d.v1", {"channels": 4}),))
    with pytest.raises(ShapeError, match="^generator: blocks\\[0\\] upconv2d.v1 needs a grid2d"):
        build_gan(dataclasses.replace(spec, generator=g))


# --- the generator blocks and the builder's generation head -------------------------------------


def test_gan_block_kinds() -> None:
    assert known_kinds("gan") == ["gen_out.v1", "to_grid.v1", "upconv1d.v1", "upconv2d.v1"]


@pytest.mark.parametrize("shape", [[], [1, 2, 3, 4], [0, 3], [2.0], [True]])
def test_gen_out_rejects_bad_shapes(shape: list[Any]) -> None:
    spec = ArchSpec("g", "generation", "tabular", (4,), max(1, int(math.prod(shape or [1]))), (),
                    BlockSpec("gen_out.v1", {"shape": shape}))  # fmt: skip
    with pytest.raises(SpecError, match="gen_out.v1: parameter 'shape'"):
        build_model(spec)


def test_generation_head_changes_layout_and_must_give_output_size() -> None:
    blocks = (BlockSpec("to_grid.v1", {"channels": 4, "height": 4, "width": 4}),)
    head = BlockSpec("gen_out.v1", {"shape": [1, 8, 8], "activation": "sigmoid"})
    model = build_model(ArchSpec("g", "generation", "tabular", (6,), 64, blocks, head))
    assert model.output_shape == (1, 8, 8) and model.stages[-1].shape_out.layout == "grid2d"
    assert model.head.resize == (8, 8)  # a 4x4 map is resized to the data's 8x8
    assert model(torch.randn(2, 6)).shape == (2, 1, 8, 8)
    with pytest.raises(ShapeError, match="output_size is 63; make them equal"):
        build_model(ArchSpec("g", "generation", "tabular", (6,), 63, blocks, head))
