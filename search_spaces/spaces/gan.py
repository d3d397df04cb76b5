"""GAN space: ``sample(trial, ctx) -> GanSpec``, a generator and a discriminator searched together.

Generators by modality: images ``dense stem -> to_grid -> upconv2d x k -> gen_out`` with the
starting map sized so that k doublings land exactly on the image (8x8: 1x1, 2x2 or 4x4); sequences
the same in 1-D, or ``to_grid (one vector per step) -> gru / lstm -> gen_out``; any modality a
plain dense stack. Discriminators reuse the family samplers (cnn, fnn, rnn, transformer) under
``gan.d.*`` names; their depth, activation, norm and dropout come from the ``gan.d_*``
dimensions, everything else from the family's own (``cnn.channels``, ``rnn.hidden``, ...).
wgan_gp never gets batch norm in the discriminator. Parameters are ``gan.g.*``, ``gan.d.*``,
``gan.train.*`` plus ``gan.conditional`` / ``gan.latent_dim`` / ``gan.label_dim``; config keys
are ``gan.<dim>`` so a TOML ``[gan]`` table overrides them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from search_spaces.blocks.generative import OUTPUT_ACTIVATIONS
from search_spaces.errors import SpaceError
from search_spaces.gan import GAN_LOSSES, GanSpec, GanTrainSpec
from search_spaces.spaces import cnn, fnn, rnn, starts, transformer
from search_spaces.spaces._base import (
    Choice,
    Dim,
    Fixed,
    FloatRange,
    IntRange,
    Sampler,
    SpaceContext,
    TrialLike,
)
from search_spaces.spaces._registry import default_config, register_space
from search_spaces.spec import ArchSpec, BlockSpec

DEFAULTS: dict[str, Dim] = {
    "gan.conditional": Choice((True, False)),  # asked only for classification data
    "gan.latent_dim": Choice((16, 32, 64)),
    "gan.label_dim": Choice((8, 16)),
    "gan.output_activation": Fixed("auto"),  # auto: sigmoid for images (in [0, 1]), else none
    # generator
    "gan.g_families": Choice(("upconv", "rnn", "dense")),
    "gan.g_stem_blocks": IntRange(0, 1),  # dense blocks before to_grid
    "gan.g_blocks": IntRange(1, 3),  # depth of a dense generator
    "gan.g_units": Choice((64, 128, 256)),
    "gan.g_activation": Choice(("relu", "leaky_relu", "gelu")),
    "gan.g_batch_norm": Choice((True, False)),
    "gan.g_upsamples": IntRange(1, 3),  # x2 upconvs (fewer if the data size does not halve)
    "gan.g_channels": Choice((32, 64, 128)),  # of to_grid's map; each upconv halves it (min 8)
    "gan.g_upconv_mode": Choice(("transposed", "upsample")),
    "gan.g_cell": Choice(("gru", "lstm")),
    "gan.g_hidden": Choice((32, 64, 128)),
    "gan.g_rnn_layers": IntRange(1, 2),
    # discriminator
    "gan.d_families": Choice(("cnn", "fnn", "rnn", "transformer")),
    "gan.d_blocks": IntRange(1, 3),
    "gan.d_activation": Choice(("leaky_relu", "relu", "gelu")),
    "gan.d_batch_norm": Choice((False, True)),  # conv blocks; never with wgan_gp
    "gan.d_norm": Choice(("none", "layer")),  # dense blocks
    "gan.d_dropout": FloatRange(0.0, 0.3),
    "gan.d_spectral_norm": Choice((False, True)),
    # training
    "gan.loss": Choice(GAN_LOSSES),
    "gan.lr_g": FloatRange(1e-4, 2e-3, log=True),
    "gan.lr_d": FloatRange(1e-4, 2e-3, log=True),
    "gan.beta1": Choice((0.0, 0.5)),
    "gan.beta2": Choice((0.9, 0.999)),
    "gan.critic_steps": IntRange(1, 3),  # ns and hinge
    "gan.wgan_critic_steps": IntRange(1, 5),  # wgan_gp: the critic usually trains more
    "gan.gp_weight": Fixed(10.0),
    "gan.batch_size": Choice((32, 64, 128)),
}

G_FAMILIES = {"image": ("upconv", "dense"), "sequence": ("upconv", "rnn", "dense"),
              "tabular": ("dense",)}  # fmt: skip
D_FAMILIES = {"image": ("cnn", "fnn", "transformer"),
              "sequence": ("cnn", "rnn", "transformer", "fnn"),
              "tabular": ("fnn", "transformer")}  # fmt: skip
_ALLOWED = {"gan.loss": GAN_LOSSES, "gan.output_activation": ("auto", *OUTPUT_ACTIVATIONS),
            "gan.g_families": ("upconv", "rnn", "dense"),
            "gan.d_families": ("cnn", "fnn", "rnn", "transformer"),
            "gan.g_cell": ("gru", "lstm", "rnn"), "gan.g_upconv_mode": ("transposed", "upsample"),
            "gan.d_norm": ("none", "layer", "batch")}  # fmt: skip


def _values(dim: Dim) -> list[Any]:
    if isinstance(dim, Choice):
        return list(dim.values)
    return [dim.value] if isinstance(dim, Fixed) else []


def check_config(config: Mapping[str, Dim]) -> None:
    """The GAN dimensions whose values are names: each must be a known one."""
    for key, allowed in _ALLOWED.items():
        bad = [v for v in _values(config[key]) if v not in allowed]
        if bad:
            raise SpaceError(f"{key} has {bad[0]!r}; choose from {list(allowed)}.")


def _family(s: Sampler, name: str, key: str, applicable: Sequence[str], ctx: SpaceContext) -> str:
    ok = [f for f in _values(s.config[key]) if f in applicable]
    if not ok:
        raise SpaceError(
            f"{key} {_values(s.config[key])} has no family that applies to {ctx.modality} data; "
            f"choose from {list(applicable)}."
        )
    return ok[0] if len(ok) == 1 else s.trial.suggest_categorical(name, ok)


def _halvings(sizes: Sequence[int]) -> int:
    """How many times every size halves exactly (so k x2 upconvs from ``size >> k`` land on it)."""
    k = 0
    while all(n % (2 ** (k + 1)) == 0 for n in sizes):
        k += 1
    return k


def sample_generator(s: Sampler, ctx: SpaceContext, width: int, out_act: str) -> ArchSpec:
    """The generator: input ``(width,)`` (latent + label embedding), output one data example."""
    family = _family(s, "gan.g.family", "gan.g_families", G_FAMILIES[ctx.modality], ctx)
    act = s("gan.g.activation", "gan.g_activation")
    bn = bool(s("gan.g.batch_norm", "gan.g_batch_norm"))
    n_dense = int(
        s("gan.g.n_blocks", "gan.g_blocks")
        if family == "dense"
        else s("gan.g.stem_blocks", "gan.g_stem_blocks")
    )
    dense = {"norm": "batch" if bn else "none", "activation": act}
    blocks = [
        BlockSpec("dense.v1", {"units": int(s(f"gan.g.b{i}.units", "gan.g_units")), **dense})
        for i in range(n_dense)
    ]
    shape, conv = ctx.input_shape, {"batch_norm": bn, "activation": act}
    if family == "upconv":
        sizes = shape[1:] if ctx.modality == "image" else shape[:1]
        k = min(int(s("gan.g.upsamples", "gan.g_upsamples")), _halvings(sizes))
        c0 = int(s("gan.g.channels", "gan.g_channels"))
        mode = s("gan.g.mode", "gan.g_upconv_mode")
        start = [n >> k for n in sizes]
        side = start[1] if len(start) > 1 else 0
        grid = {"channels": c0, "height": start[0], "width": side, **conv}
        blocks.append(BlockSpec("to_grid.v1", grid))
        kind = "upconv2d.v1" if ctx.modality == "image" else "upconv1d.v1"
        for i in range(k):
            blocks.append(
                BlockSpec(kind, {"channels": max(8, c0 >> (i + 1)), "mode": mode, **conv})
            )
    elif family == "rnn":
        # One vector per step from the latent, then a recurrent pass over the steps.
        c0 = int(s("gan.g.channels", "gan.g_channels"))
        grid = {"channels": c0, "height": shape[0], "width": 0, **conv}
        blocks.append(BlockSpec("to_grid.v1", grid))
        cell = s("gan.g.cell", "gan.g_cell")
        hidden = int(s("gan.g.hidden", "gan.g_hidden"))
        layers = int(s("gan.g.layers", "gan.g_rnn_layers"))
        params = {"hidden": hidden, "layers": layers, "reduce": "none"}
        blocks.append(BlockSpec(f"{cell}.v1", params))
    head = BlockSpec("gen_out.v1", {"shape": list(shape), "activation": out_act})
    return ArchSpec(
        "gan_generator", "generation", "tabular", (width,), math.prod(shape), tuple(blocks), head
    )


def _discriminator_view(config: Mapping[str, Dim], loss: str) -> dict[str, Dim]:
    """The config the family samplers read for a discriminator: ``gan.d_*`` take over depth,
    activation, norm and dropout; wgan_gp fixes batch norm off."""
    d = {k: config[f"gan.d_{k}"] for k in ("blocks", "activation", "dropout", "norm")}
    return {
        **config,
        "fnn.n_blocks": d["blocks"],
        "cnn.activation": d["activation"],
        "fnn.activation": d["activation"],
        "cnn.dropout": d["dropout"],
        "fnn.dropout": d["dropout"],
        "fnn.norm": d["norm"],
        "cnn.batch_norm": Fixed(False) if loss == "wgan_gp" else config["gan.d_batch_norm"],
    }


def _without_batch_norm(block: BlockSpec) -> BlockSpec:
    params = dict(block.params)
    if params.get("batch_norm") is True:
        params["batch_norm"] = False
    if params.get("norm") == "batch":
        params["norm"] = "layer"
    return replace(block, params=params)


def sample_discriminator(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim], loss: str
) -> ArchSpec:
    """The discriminator: any classifier family over one data example, one logit out."""
    s = Sampler(trial, _discriminator_view(config, loss))
    family = _family(s, "gan.d.family", "gan.d_families", D_FAMILIES[ctx.modality], ctx)
    if family == "cnn":
        blocks, _ = cnn.sample_blocks(s, ctx, prefix="gan.d.cnn", n_key="gan.d_blocks")
    elif family == "fnn":
        blocks = fnn.sample_blocks(s, prefix="gan.d.fnn")
    elif family == "rnn":
        blocks = [rnn.sample_block(s, prefix="gan.d.rnn")]
    else:
        pre, shape = "gan.d.tfm", ctx.input_shape
        d = int(s(f"{pre}.d_model", "transformer.d_model"))
        pool = s(f"{pre}.pool", "transformer.pool")
        min_side = min(shape[1:]) if ctx.modality == "image" else 0
        embed = transformer.embedding(s, ctx.modality, shape[0], min_side, d, pool == "cls", pre)
        blocks = [embed, *transformer.encoder_blocks(s, pool, prefix=pre)]
    if loss == "wgan_gp":  # also when a TOML config allows batch norm
        blocks = [_without_batch_norm(b) for b in blocks]
    head = BlockSpec("regress.v1", {"outputs": 1, "hidden": 0})
    return ArchSpec(
        "gan_discriminator", "regression", ctx.modality, ctx.input_shape, 1, tuple(blocks), head
    )


def sample_train(s: Sampler) -> GanTrainSpec:
    """The GAN training recipe, under ``gan.train.*`` names."""
    loss = s("gan.train.loss", "gan.loss")
    if loss == "wgan_gp":
        steps = s("gan.train.wgan_critic_steps", "gan.wgan_critic_steps")
    else:
        steps = s("gan.train.critic_steps", "gan.critic_steps")
    return GanTrainSpec(
        loss=loss,
        lr_g=float(s("gan.train.lr_g", "gan.lr_g")),
        lr_d=float(s("gan.train.lr_d", "gan.lr_d")),
        beta1=float(s("gan.train.beta1", "gan.beta1")),
        beta2=float(s("gan.train.beta2", "gan.beta2")),
        critic_steps=int(steps),
        gp_weight=float(s("gan.train.gp_weight", "gan.gp_weight")),
        batch_size=int(s("gan.train.batch_size", "gan.batch_size")),
    )


def start(ctx: SpaceContext) -> dict[str, Any]:
    """A DCGAN-like design per modality: hinge loss, spectral norm, projection.

    Images: no dense stem, one x2 nearest-upsample + conv from a 4x4 map, k5 discriminator
    convs, and a discriminator that learns faster than the generator (lr 6.5e-4 / 1.7e-3).
    The earlier image start (dense(256) stem > to_grid(128,2x2) > two transposed upconvs,
    k3 critic, lr 2e-4 / 2e-4) collapsed to one template per class on digits in seeds 0-2
    (validation recall 0.00, within-class diversity 0.12-0.14 of the real data's), and in
    seed 0 also with lr 1e-3 / 1e-3, 1e-3 / 4e-4, 2e-4 / 1e-3 or 5e-4 / 2e-3; this one kept
    recall 0.29-0.57 in seeds 0-2 (BENCHMARKS.md, GAN). Measured on digits only.
    """
    common = {"gan.train.loss": "hinge", "gan.train.lr_g": 2e-4, "gan.train.lr_d": 2e-4,
              "gan.train.beta1": 0.5, "gan.train.beta2": 0.999, "gan.train.critic_steps": 1,
              "gan.train.batch_size": 64, "gan.conditional": True, "gan.latent_dim": 32,
              "gan.label_dim": 16, "gan.g.activation": "relu", "gan.g.batch_norm": True,
              "gan.g.stem_blocks": 1, "gan.g.b0.units": 256, "gan.g.mode": "transposed",
              "gan.d.spectral_norm": True}  # fmt: skip
    if ctx.modality == "tabular":
        dense = {"norm": "none", "activation": "leaky_relu", "dropout": 0.0, "residual": False}
        d_blocks = {f"gan.d.fnn.b{i}.{k}": v for i in range(2) for k, v in dense.items()}
        return {**common, "gan.g.family": "dense", "gan.g.n_blocks": 2, "gan.g.b1.units": 256,
                "gan.d.family": "fnn", "gan.d.fnn.n_blocks": 2, "gan.d.fnn.b0.units": 256,
                "gan.d.fnn.b1.units": 128, **d_blocks}  # fmt: skip
    # images: 4x4 -> 8x8 (digits); sequences: 5 -> 10 -> 20 -> 40 (mnist1d)
    d_blocks = {f"gan.d.cnn.{k}": v for k, v in {
        "channels": 32, "growth": 2.0, "kernel": 5, "batch_norm": False,
        "activation": "leaky_relu", "residual": False, "pool": "avg", "pool_every": 2,
        "separable": False, "dropout": 0.0}.items()}  # fmt: skip
    cnn_d = {"gan.d.family": "cnn", "gan.d.cnn.n_blocks": 2, **d_blocks}
    if ctx.modality == "sequence":
        return {**common, "gan.g.family": "upconv", "gan.g.upsamples": 3,
                "gan.g.channels": 64, **cnn_d}  # fmt: skip
    # No dense stem, a 4x4 start and nearest upsampling: the dense(256) stem > 2x2 > two
    # transposed upconvs ignored the noise (one template per class; see the docstring).
    image = {"gan.train.lr_g": 6.5e-4, "gan.train.lr_d": 1.7e-3, "gan.g.stem_blocks": 0,
             "gan.g.upsamples": 1, "gan.g.channels": 64, "gan.g.mode": "upsample"}  # fmt: skip
    without_stem = {k: v for k, v in common.items() if k != "gan.g.b0.units"}
    return {**without_stem, **image, "gan.g.family": "upconv", **cnn_d}


def starting_points(ctx: SpaceContext, config: Mapping[str, Dim]) -> list[dict[str, Any]]:
    """The part of :func:`start` that the space under ``config`` asks for and allows."""
    return [starts.replayed(start(ctx), sample, ctx, config)]


@register_space(
    "gan",
    doc="GAN: upconv / recurrent / dense generator vs a discriminator of any family",
    defaults=DEFAULTS,
    starting_points=starting_points,
    check=check_config,
)
def sample(trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None) -> GanSpec:
    """A GanSpec for data described by ``ctx`` (``ctx.output_size``: the number of classes)."""
    config = config or default_config()
    s = Sampler(trial, config)
    train = sample_train(s)
    conditional = (
        ctx.task == "classification" and ctx.output_size >= 2 and bool(s("gan.conditional"))
    )
    latent = int(s("gan.latent_dim"))
    label = int(s("gan.label_dim")) if conditional else 0
    out_act = s("gan.output_activation")
    if out_act == "auto":
        out_act = "sigmoid" if ctx.modality == "image" else "none"
    return GanSpec(
        modality=ctx.modality,
        data_shape=ctx.input_shape,
        n_classes=ctx.output_size if conditional else 0,
        conditional=conditional,
        latent_dim=latent,
        label_dim=label,
        output_activation=out_act,
        generator=sample_generator(s, ctx, latent + label, out_act),
        discriminator=sample_discriminator(trial, ctx, config, train.loss),
        train=train,
        spectral_norm=bool(s("gan.d.spectral_norm", "gan.d_spectral_norm")),
    )
