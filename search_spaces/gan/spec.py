"""GANs as data: a GanSpec holds two ordinary ArchSpecs (a generator and a discriminator) plus
what ties them together (latent size, class conditioning, output range) and how to train them
(GanTrainSpec).

The generator's ArchSpec takes the latent vector (plus a learned label embedding when
conditional) as a tabular input and ends in ``gen_out.v1``, which gives exactly one data example;
the discriminator is any classifier body with a ``regress.v1`` head of one output, and conditions
on the label by projection (Miyato & Koyama, 2018).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from search_spaces.blocks import describe_block, get_block
from search_spaces.blocks.generative import OUTPUT_ACTIVATIONS
from search_spaces.errors import SpecError
from search_spaces.spec import JSON, MODALITIES, ArchSpec

GAN_SCHEMA_VERSION = 1
GAN_LOSSES = ("ns", "hinge", "wgan_gp")  # non-saturating, hinge, Wasserstein + gradient penalty
_RANK = {"tabular": 1, "sequence": 2, "image": 3}


def _number(where: str, value: Any, low: float, high: float = math.inf) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise SpecError(f"{where} must be a number in [{low}, {high}], got {value!r}.")
    return float(value)


def _integer(where: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"{where} must be an integer >= {low}, got {value!r}.")
    return value


def _fields_of(cls: type, data: Any, what: str, required: tuple[str, ...] = ()) -> None:
    if not isinstance(data, Mapping):
        raise SpecError(f"{what} must be a JSON object, got {type(data).__name__}.")
    known = {f.name for f in fields(cls)} | ({"type"} if cls is GanSpec else set())
    extra, missing = set(data) - known, [k for k in required if k not in data]
    if extra:
        raise SpecError(f"{what} has unknown fields {sorted(extra)}; known: {sorted(known)}.")
    if missing:
        raise SpecError(f"{what} is missing {missing}; add them.")


@dataclass(frozen=True)
class GanTrainSpec:
    """How to train a GAN: the loss and the two Adam optimizers."""

    loss: str = "hinge"  # ns (non-saturating BCE) | hinge | wgan_gp (critic + gradient penalty)
    lr_g: float = 2e-4  # generator learning rate
    lr_d: float = 2e-4  # discriminator learning rate
    beta1: float = 0.5  # Adam beta1; 0.5 or 0.0 damp the oscillation of adversarial training
    beta2: float = 0.999  # Adam beta2
    critic_steps: int = 1  # discriminator steps per generator step
    gp_weight: float = 10.0  # gradient-penalty weight, used by wgan_gp only
    batch_size: int = 64  # real examples per discriminator step

    def __post_init__(self) -> None:
        if self.loss not in GAN_LOSSES:
            raise SpecError(f"train.loss must be one of {list(GAN_LOSSES)}, got {self.loss!r}.")
        for name, low, high in (("lr_g", 0, 1), ("lr_d", 0, 1), ("beta1", 0, 0.999999),
                                ("beta2", 0, 0.999999), ("gp_weight", 0, math.inf)):  # fmt: skip
            object.__setattr__(self, name, _number(f"train.{name}", getattr(self, name), low, high))
        if self.lr_g <= 0 or self.lr_d <= 0:
            raise SpecError(f"train.lr_g and train.lr_d must be > 0, got {self.lr_g}, {self.lr_d}.")
        _integer("train.critic_steps", self.critic_steps, 1)
        _integer("train.batch_size", self.batch_size, 1)

    def to_dict(self) -> dict[str, JSON]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, JSON]) -> GanTrainSpec:
        _fields_of(cls, data, "GanSpec train")
        return cls(**data)


@dataclass(frozen=True)
class GanSpec:
    """A GAN: data contract, conditioning, the two networks as ArchSpecs, and training."""

    modality: str  # of the data: tabular | image | sequence
    data_shape: tuple[int, ...]  # one example: (F,), (T, F) or (C, H, W)
    n_classes: int  # classes the GAN conditions on; 0 when unconditional
    conditional: bool  # G and D see the class label
    latent_dim: int  # size of the noise vector z ~ N(0, I)
    label_dim: int  # width of G's learned label embedding; 0 when unconditional
    output_activation: str  # G's last activation: sigmoid ([0, 1] data), tanh, none
    generator: ArchSpec  # input (latent_dim + label_dim,), head gen_out.v1 giving data_shape
    discriminator: ArchSpec  # input data_shape, head regress.v1 with one output
    train: GanTrainSpec = field(default_factory=GanTrainSpec)
    spectral_norm: bool = False  # spectral normalisation of D's linear and conv weights
    schema_version: int = GAN_SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise SpecError(f"modality must be one of {list(MODALITIES)}, got {self.modality!r}.")
        shape = tuple(self.data_shape) if isinstance(self.data_shape, (list, tuple)) else ()
        if len(shape) != _RANK[self.modality] or any(
            isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape
        ):
            raise SpecError(
                f"data_shape {self.data_shape!r} is not one {self.modality} example; use "
                "(F,) for tabular, (T, F) for sequence, (C, H, W) for image, positive integers."
            )
        object.__setattr__(self, "data_shape", shape)
        for name in ("conditional", "spectral_norm"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        _integer("latent_dim", self.latent_dim, 1)
        _integer("n_classes", self.n_classes, 0)
        _integer("label_dim", self.label_dim, 0)
        if self.conditional and (self.n_classes < 2 or self.label_dim < 1):
            raise SpecError(
                f"conditional is true but n_classes={self.n_classes} and label_dim="
                f"{self.label_dim}; a conditional GAN needs n_classes >= 2 and label_dim >= 1 "
                "(or set conditional to false)."
            )
        if not self.conditional and (self.n_classes or self.label_dim):
            raise SpecError(
                f"conditional is false but n_classes={self.n_classes} and label_dim="
                f"{self.label_dim}; an unconditional GAN has both 0."
            )
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise SpecError(
                f"output_activation must be one of {list(OUTPUT_ACTIVATIONS)}, "
                f"got {self.output_activation!r}."
            )
        if not isinstance(self.train, GanTrainSpec):
            raise SpecError(f"train must be a GanTrainSpec, got {type(self.train).__name__}.")
        self._check_generator()
        self._check_discriminator()
        if self.schema_version != GAN_SCHEMA_VERSION:
            raise SpecError(
                f"GanSpec schema_version {self.schema_version!r} is not supported (this nas "
                f"reads version {GAN_SCHEMA_VERSION}); upgrade nas or re-run the search."
            )

    def _check_generator(self) -> None:
        g = self.generator
        if not isinstance(g, ArchSpec):
            raise SpecError(f"generator must be an ArchSpec, got {type(g).__name__}.")
        width = self.latent_dim + self.label_dim
        expect = {
            "family": "gan_generator",
            "task": "generation",
            "modality": "tabular",
            "input_shape": (width,),
            "output_size": math.prod(self.data_shape),
        }
        for name, want in expect.items():
            if getattr(g, name) != want:
                raise SpecError(
                    f"generator.{name} is {getattr(g, name)!r} but must be {want!r} "
                    f"(latent_dim + label_dim = {width}, data_shape {self.data_shape})."
                )
        if g.head.kind != "gen_out.v1":
            raise SpecError(f"generator.head is {g.head.kind!r}; a generator ends in 'gen_out.v1'.")
        got = g.head.params.get("shape")
        if got != list(self.data_shape):
            raise SpecError(
                f"generator.head.params.shape is {got!r} but data_shape is "
                f"{list(self.data_shape)}; gen_out must give exactly one data example."
            )
        act = g.head.params.get("activation", "none")
        if act != self.output_activation:
            raise SpecError(
                f"generator.head.params.activation is {act!r} but output_activation is "
                f"{self.output_activation!r}; make them equal."
            )

    def _check_discriminator(self) -> None:
        d = self.discriminator
        if not isinstance(d, ArchSpec):
            raise SpecError(f"discriminator must be an ArchSpec, got {type(d).__name__}.")
        expect = {
            "family": "gan_discriminator",
            "task": "regression",
            "modality": self.modality,
            "input_shape": self.data_shape,
            "output_size": 1,
        }
        for name, want in expect.items():
            if getattr(d, name) != want:
                raise SpecError(
                    f"discriminator.{name} is {getattr(d, name)!r} but must be {want!r}; "
                    "the discriminator reads one data example and gives one logit."
                )
        if d.head.kind != "regress.v1":
            raise SpecError(
                f"discriminator.head is {d.head.kind!r}; use 'regress.v1' with outputs 1."
            )
        if self.train.loss == "wgan_gp":
            for i, b in enumerate(d.blocks):
                try:
                    p = get_block(b.kind).validate(b.params)
                except SpecError:
                    continue  # build_model reports a bad block with its position
                if p.get("batch_norm") is True or p.get("norm") == "batch":
                    raise SpecError(
                        f"discriminator.blocks[{i}] ({b.kind}) uses batch norm, which breaks "
                        "the per-example gradient penalty of wgan_gp; turn it off (layer norm "
                        "is fine) or use the hinge / ns loss."
                    )

    # --- JSON round trip -------------------------------------------------------------------
    def to_dict(self) -> dict[str, JSON]:
        return {
            "type": "gan",
            "schema_version": self.schema_version,
            "modality": self.modality,
            "data_shape": list(self.data_shape),
            "n_classes": self.n_classes,
            "conditional": self.conditional,
            "latent_dim": self.latent_dim,
            "label_dim": self.label_dim,
            "output_activation": self.output_activation,
            "spectral_norm": self.spectral_norm,
            "generator": self.generator.to_dict(),
            "discriminator": self.discriminator.to_dict(),
            "train": self.train.to_dict(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, JSON]) -> GanSpec:
        required = ("modality", "data_shape", "n_classes", "conditional", "latent_dim",
                    "label_dim", "output_activation", "generator", "discriminator")  # fmt: skip
        _fields_of(cls, data, "GanSpec", required)
        if data.get("type", "gan") != "gan":
            raise SpecError(f"GanSpec type is {data['type']!r}; a GAN spec has type 'gan'.")
        shape = data["data_shape"]
        return cls(
            modality=data["modality"],
            data_shape=tuple(shape) if isinstance(shape, list) else shape,
            n_classes=data["n_classes"],
            conditional=data["conditional"],
            latent_dim=data["latent_dim"],
            label_dim=data["label_dim"],
            output_activation=data["output_activation"],
            generator=ArchSpec.from_dict(data["generator"]),
            discriminator=ArchSpec.from_dict(data["discriminator"]),
            train=GanTrainSpec.from_dict(data.get("train") or {}),
            spectral_norm=data.get("spectral_norm", False),
            schema_version=data.get("schema_version", GAN_SCHEMA_VERSION),
        )

    @classmethod
    def from_json(cls, text: str) -> GanSpec:
        return cls.from_dict(_loads(text))

    def summary(self, details: bool = True) -> str:
        """One line: ``gan: G dense(128,relu) > ... > gen_out(sigmoid) | D ... | hinge cond``
        (``details=False``: each block's label alone, as older runs recorded it)."""

        def chain(spec: ArchSpec) -> str:
            return " > ".join(describe_block(b, details) for b in (*spec.blocks, spec.head))

        t = self.train
        flags = "".join([" cond" if self.conditional else "", " sn" if self.spectral_norm else ""])
        return (
            f"gan: G {chain(self.generator)} | D {chain(self.discriminator)} | {t.loss}{flags} "
            f"z={self.latent_dim} lr={t.lr_g:.2g}/{t.lr_d:.2g} bs={t.batch_size}"
        )


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"spec is not valid JSON ({e}); pass the text of a spec.json file.") from e


__all__ = ["GAN_LOSSES", "GAN_SCHEMA_VERSION", "GanSpec", "GanTrainSpec"]
