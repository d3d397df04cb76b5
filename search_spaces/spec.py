"""ArchSpec: an architecture (and how to train it) described as JSON-able data.

A trial produces an ArchSpec; :func:`search_spaces.build.build_model` turns it into a module;
the run directory stores it as ``spec.json`` beside the weights. Everything here is frozen and
holds JSON values only, so ``ArchSpec.from_json(spec.to_json()) == spec`` always holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from search_spaces.errors import SpecError
from search_spaces.validation import check_choice, check_float, check_int, check_type

SCHEMA_VERSION = 1
TASKS = ("classification", "regression", "generation")
MODALITIES = ("tabular", "image", "sequence")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "onecycle")
AUGMENTS = ("none", "shift")  # shift: images moved by up to 1/8 of a side while training

JSON = Any  # str | int | float | bool | None | list[JSON] | dict[str, JSON]


def _check_json(value: JSON, where: str) -> JSON:
    """Return ``value`` with tuples turned into lists, or raise if it is not plain JSON."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"{where} is {value!r}; specs hold finite numbers only.")
        return value
    if isinstance(value, (list, tuple)):
        return [_check_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _check_json(v, f"{where}.{k}") for k, v in value.items()}
    raise SpecError(
        f"{where} is a {type(value).__name__} ({value!r}); specs hold JSON values only "
        "(str, int, float, bool, None, lists and dicts of them)."
    )


class _FrozenDict(dict):
    """A dict that refuses mutation, so a frozen spec stays frozen (and stays a dict for JSON)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("spec params are read-only; use dataclasses.replace to make a new spec")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle / copy.deepcopy would refill the dict item by item through __setitem__.
        return (type(self), (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True))


@dataclass(frozen=True)
class BlockSpec:
    """One block: a registered, versioned kind (``"conv2d.v1"``) and its parameters."""

    kind: str  # registry name with version, e.g. "lstm.v1"; see search_spaces.blocks.known_kinds()
    params: Mapping[str, JSON] = field(default_factory=dict)  # the block's own parameters

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind:
            raise SpecError(f"A block kind must be a non-empty string, got {self.kind!r}.")
        checked = _check_json(dict(self.params), f"block {self.kind!r} params")
        object.__setattr__(self, "params", _FrozenDict(checked))

    def to_dict(self) -> dict[str, JSON]:
        return {"kind": self.kind, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, JSON]) -> BlockSpec:
        if not isinstance(data, Mapping) or "kind" not in data:
            raise SpecError(f"A block must be an object with a 'kind', got {data!r}.")
        extra = set(data) - {"kind", "params"}
        if extra:
            raise SpecError(
                f"Block {data['kind']!r} has unknown fields {sorted(extra)}; "
                "a block holds only 'kind' and 'params'."
            )
        return cls(kind=data["kind"], params=data.get("params") or {})


@dataclass(frozen=True)
class TrainSpec:
    """How to train the architecture: the hyperparameters the search tunes beside it."""

    optimizer: str = "adamw"  # sgd (with momentum), adam or adamw
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw)
    l1: float = 0.0  # optional L1 penalty on weights, added to the loss
    batch_size: int = 64  # examples per step
    schedule: str = "cosine"  # learning-rate schedule over the epochs: none, cosine or onecycle
    momentum: float = 0.9  # only used by sgd
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    # Training inputs only (never validation, test or prediction): "shift" moves each image
    # by a random whole number of pixels, up to 1/8 of its height and width (nas.train.augment).
    augment: str = "none"

    def __post_init__(self) -> None:
        check_choice("spec", "train.optimizer", self.optimizer, OPTIMIZERS)
        check_choice("spec", "train.schedule", self.schedule, SCHEDULES)
        check_choice("spec", "train.augment", self.augment, AUGMENTS)
        for name in ("lr", "weight_decay", "l1", "momentum", "grad_clip"):
            value = check_float(
                "spec", f"train.{name}", getattr(self, name), 0.0, low_open=name == "lr"
            )
            object.__setattr__(self, name, value)
        check_int("spec", "train.batch_size", self.batch_size, 1)

    def to_dict(self) -> dict[str, JSON]:
        """Every field; ``augment`` only when it is not "none", so that a spec without it
        reads and writes as it did before the field existed."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.augment == "none":
            del out["augment"]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, JSON]) -> TrainSpec:
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise SpecError(f"train has unknown fields {sorted(extra)}; known: {sorted(known)}.")
        return cls(**data)


@dataclass(frozen=True)
class ArchSpec:
    """A whole model: input contract, a stack of blocks, a head, and its training recipe.

    ``input_shape`` is per example: ``(F,)`` tabular, ``(T, F)`` sequence (steps first),
    ``(C, H, W)`` image. The builder inserts adapters (flatten, steps <-> channels, image ->
    sequence) between blocks of different families, so ``blocks`` lists only real layers.
    """

    family: str  # the space family that produced it: fnn, cnn, rnn, transformer, or a hybrid
    task: str  # classification | regression | generation
    modality: str  # tabular | image | sequence
    input_shape: tuple[int, ...]  # one example's shape, without the batch dimension
    output_size: int  # classes, regression targets, or values per generated example
    blocks: tuple[BlockSpec, ...]  # the body, in order
    head: BlockSpec  # the output layer(s): "classify.v1", "regress.v1" or "gen_out.v1"
    train: TrainSpec = field(default_factory=TrainSpec)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        check_choice("spec", "task", self.task, TASKS)
        check_choice("spec", "modality", self.modality, MODALITIES)
        shape = tuple(self.input_shape) if isinstance(self.input_shape, (list, tuple)) else ()
        if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
            raise SpecError(f"input_shape must be positive integers, got {self.input_shape!r}.")
        expected_rank = {"tabular": 1, "sequence": 2, "image": 3}[self.modality]
        if len(shape) != expected_rank:
            raise SpecError(
                f"A {self.modality} input has {expected_rank} dims per example, got {shape}; "
                "use (F,) for tabular, (T, F) for sequence, (C, H, W) for image."
            )
        object.__setattr__(self, "input_shape", shape)
        check_int("spec", "output_size", self.output_size, 1)
        blocks = tuple(self.blocks)
        for i, b in enumerate(blocks):
            check_type("spec", f"blocks[{i}]", b, BlockSpec)
        object.__setattr__(self, "blocks", blocks)
        check_type("spec", "head", self.head, BlockSpec)
        if self.train.augment == "shift" and self.modality != "image":
            raise SpecError(
                f"train.augment 'shift' moves images; this is a {self.modality} model, "
                "so use augment 'none'."
            )
        if self.schema_version != SCHEMA_VERSION:
            raise SpecError(
                f"spec schema_version {self.schema_version!r} is not supported by this nas "
                f"(it reads version {SCHEMA_VERSION}); upgrade nas or re-run the search."
            )

    # --- JSON round trip -------------------------------------------------------------------
    def to_dict(self) -> dict[str, JSON]:
        return {
            "schema_version": self.schema_version,
            "family": self.family,
            "task": self.task,
            "modality": self.modality,
            "input_shape": list(self.input_shape),
            "output_size": self.output_size,
            "blocks": [b.to_dict() for b in self.blocks],
            "head": self.head.to_dict(),
            "train": self.train.to_dict(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, JSON]) -> ArchSpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"A spec must be a JSON object, got {type(data).__name__}.")
        required = ("family", "task", "modality", "input_shape", "output_size", "blocks", "head")
        missing = [k for k in required if k not in data]
        if missing:
            raise SpecError(f"spec is missing {missing}; a spec needs {list(required)}.")
        known = set(required) | {"train", "schema_version"}
        extra = set(data) - known
        if extra:
            raise SpecError(f"spec has unknown fields {sorted(extra)}; known: {sorted(known)}.")
        if not isinstance(data["blocks"], (list, tuple)):
            raise SpecError(f"spec 'blocks' must be a list of blocks, got {data['blocks']!r}.")
        shape = data["input_shape"]
        return cls(
            family=data["family"],
            task=data["task"],
            modality=data["modality"],
            input_shape=tuple(shape) if isinstance(shape, (list, tuple)) else shape,
            output_size=data["output_size"],
            blocks=tuple(BlockSpec.from_dict(b) for b in data["blocks"]),
            head=BlockSpec.from_dict(data["head"]),
            train=TrainSpec.from_dict(data.get("train") or {}),
            schema_version=data.get("schema_version", SCHEMA_VERSION),
        )

    @classmethod
    def from_json(cls, text: str) -> ArchSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(
                f"spec is not valid JSON ({e}); pass the text of a spec.json file."
            ) from e
        return cls.from_dict(data)

    def with_train(self, **changes: Any) -> ArchSpec:
        """A copy with some training hyperparameters changed."""
        return replace(self, train=replace(self.train, **changes))

    def summary(self, details: bool = True) -> str:
        """One line, e.g. ``cnn: conv2d(32,k3,relu,bn) > classify(10) | adamw lr=0.001 bs=64``
        (``details=False``: each block's label alone, as older runs recorded it)."""
        from search_spaces.blocks import describe_block  # local: blocks import spec

        parts = [describe_block(b, details) for b in (*self.blocks, self.head)]
        t = self.train
        moved = "" if t.augment == "none" else f" {t.augment}"
        return (
            f"{self.family}: {' > '.join(parts)} | {t.optimizer} lr={t.lr:.2g} "
            f"bs={t.batch_size}{moved}"
        )
