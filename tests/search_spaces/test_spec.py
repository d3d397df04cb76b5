"""ArchSpec / BlockSpec / TrainSpec: frozen JSON-only data, round trips, and input validation."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
from typing import Any

import numpy as np
import pytest

from search_spaces import SCHEMA_VERSION, ArchSpec, BlockSpec, SpecError, TrainSpec


def fnn_spec(**changes: Any) -> ArchSpec:
    fields: dict[str, Any] = {
        "family": "fnn",
        "task": "classification",
        "modality": "tabular",
        "input_shape": (4,),
        "output_size": 3,
        "blocks": (BlockSpec("dense.v1", {"units": 8, "dropout": 0.1}),),
        "head": BlockSpec("classify.v1", {"outputs": 3}),
        "train": TrainSpec(optimizer="sgd", lr=0.01, batch_size=16),
    }
    fields.update(changes)
    return ArchSpec(**fields)


def spec_dict(**changes: Any) -> dict[str, Any]:
    data = fnn_spec().to_dict()
    data.update(changes)
    return data


# --- round trip and immutability -----------------------------------------------------------


def test_json_round_trip_is_exact() -> None:
    spec = fnn_spec(
        blocks=(
            BlockSpec("dense.v1", {"units": 8, "norm": "layer", "residual": True}),
            BlockSpec("dense.v1", {"units": 4, "dropout": 0.25}),
        )
    )
    text = spec.to_json()
    again = ArchSpec.from_json(text)
    assert again == spec
    assert hash(again) == hash(spec)
    assert again.to_json() == text
    assert ArchSpec.from_json(spec.to_json(indent=None)) == spec
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["input_shape"] == [4]
    assert data["blocks"][0] == {
        "kind": "dense.v1",
        "params": {"units": 8, "norm": "layer", "residual": True},
    }


def test_sequences_are_normalised_to_tuples_and_lists() -> None:
    spec = fnn_spec(input_shape=[4], blocks=[BlockSpec("dense.v1", {"units": 8})])
    assert spec.input_shape == (4,) and isinstance(spec.blocks, tuple)
    block = BlockSpec("dense.v1", {"units": 8, "extra": (1, (2, 3))})
    assert block.params["extra"] == [1, [2, 3]]


def test_spec_is_frozen() -> None:
    spec = fnn_spec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.family = "cnn"  # type: ignore[misc]
    params = spec.blocks[0].params
    with pytest.raises(TypeError, match="read-only"):
        params["units"] = 9  # type: ignore[index]
    for mutate in (
        lambda: params.update(units=9),
        lambda: params.pop("units"),
        lambda: params.setdefault("norm", "batch"),
        params.clear,
        params.popitem,
    ):
        with pytest.raises(TypeError, match="read-only"):
            mutate()
    with pytest.raises(TypeError, match="read-only"):
        params |= {"units": 9}  # type: ignore[operator]
    assert spec.blocks[0].params == {"units": 8, "dropout": 0.1}


def test_spec_survives_copy_and_pickle() -> None:
    # The spec rides along on every NasModel; deepcopy(model) and worker processes need this.
    spec = fnn_spec()
    for other in (copy.copy(spec), copy.deepcopy(spec), pickle.loads(pickle.dumps(spec))):
        assert other == spec
        with pytest.raises(TypeError, match="read-only"):
            other.blocks[0].params["units"] = 1  # type: ignore[index]


def test_equal_specs_hash_equal_and_differ_by_params() -> None:
    a = BlockSpec("dense.v1", {"units": 8, "norm": "none"})
    b = BlockSpec("dense.v1", {"norm": "none", "units": 8})
    assert a == b and hash(a) == hash(b)
    assert a != BlockSpec("dense.v1", {"units": 9, "norm": "none"})
    assert len({fnn_spec(), fnn_spec()}) == 1


def test_with_train_and_replace_revalidate() -> None:
    spec = fnn_spec()
    faster = spec.with_train(lr=0.1)
    assert faster.train.lr == 0.1 and spec.train.lr == 0.01
    assert faster.blocks == spec.blocks
    with pytest.raises(SpecError, match="train.lr"):
        spec.with_train(lr=-1.0)
    with pytest.raises(SpecError, match="tabular"):
        dataclasses.replace(spec, input_shape=(4, 4))


def test_summary_reads_like_the_model() -> None:
    text = fnn_spec().summary()
    assert text.startswith("fnn: dense(8,relu,drop0.1) > classify(3) | sgd lr=0.01 bs=16")
    assert fnn_spec().summary(details=False).startswith("fnn: dense(8,relu) > classify(3) | sgd")
    # a head with a hidden layer says so: its parts add up to the model's parameters
    # (4x8+8, 8x64+64, 64x3+3 = 811; the summary had read as 4x8+8 + 8x3+3 = 67)
    from search_spaces import build_model

    head = BlockSpec("classify.v1", {"outputs": 3, "hidden": 64, "activation": "gelu"})
    spec = fnn_spec(head=head)
    assert spec.summary().startswith(
        "fnn: dense(8,relu,drop0.1) > dense(64,gelu) > classify(3) | sgd"
    )
    assert sum(p.numel() for p in build_model(spec).parameters()) == 40 + 576 + 195 == 811


def test_train_spec_defaults_round_trip() -> None:
    t = TrainSpec()
    assert TrainSpec.from_dict(t.to_dict()) == t
    assert TrainSpec(lr=1).lr == 1.0 and isinstance(TrainSpec(lr=1).lr, float)
    assert ArchSpec.from_dict({k: v for k, v in spec_dict().items() if k != "train"}).train == t


# --- validation: every bad input is a SpecError naming the problem and the fix -------------


@pytest.mark.parametrize(
    ("value", "needles"),
    [
        (np.array([1, 2]), ["ndarray", "JSON values only"]),
        ({1, 2}, ["set", "JSON values only"]),
        (np.int64(3), ["int64", "JSON values only"]),
        (object(), ["object", "JSON values only"]),
        (float("nan"), ["nan", "finite"]),
        (float("inf"), ["inf", "finite"]),
        ([1.0, float("-inf")], ["params.extra[1]", "finite"]),
        ({"deep": {1, 2}}, ["params.extra.deep", "set"]),
    ],
)
def test_block_params_hold_json_values_only(value: Any, needles: list[str]) -> None:
    with pytest.raises(SpecError) as e:
        BlockSpec("dense.v1", {"units": 8, "extra": value})
    msg = str(e.value)
    assert "'dense.v1'" in msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


@pytest.mark.parametrize("kind", ["", None, 3])
def test_block_kind_must_be_a_string(kind: Any) -> None:
    with pytest.raises(SpecError, match="non-empty string"):
        BlockSpec(kind)


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"task": "ranking"}, ["task", "'ranking'", "classification"]),
        ({"modality": "audio"}, ["modality", "'audio'", "tabular"]),
        ({"input_shape": (4, 4)}, ["tabular", "(4, 4)", "(F,)"]),
        ({"modality": "image", "input_shape": (8, 8)}, ["image", "3 dims", "(C, H, W)"]),
        ({"modality": "sequence", "input_shape": (40,)}, ["sequence", "(T, F)"]),
        ({"input_shape": ()}, ["input_shape", "positive integers"]),
        ({"input_shape": (0,)}, ["input_shape", "positive integers"]),
        ({"input_shape": (4.0,)}, ["input_shape", "positive integers"]),
        ({"input_shape": (True,)}, ["input_shape", "positive integers"]),
        ({"input_shape": 4}, ["input_shape", "positive integers"]),
        ({"output_size": 0}, ["output_size", ">= 1"]),
        ({"output_size": True}, ["output_size", ">= 1"]),
        ({"output_size": "3"}, ["output_size", "'3'"]),
        ({"blocks": ({"kind": "dense.v1"},)}, ["blocks[0]", "BlockSpec", "dict"]),
        ({"head": "classify.v1"}, ["head", "BlockSpec", "str"]),
        ({"schema_version": 2}, ["schema_version 2", "version 1", "upgrade"]),
    ],
)
def test_arch_spec_rejects(changes: dict[str, Any], needles: list[str]) -> None:
    with pytest.raises(SpecError) as e:
        fnn_spec(**changes)
    msg = str(e.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"optimizer": "rmsprop"}, ["train.optimizer", "'rmsprop'", "adamw"]),
        ({"schedule": "step"}, ["train.schedule", "'step'", "cosine"]),
        ({"lr": 0.0}, ["train.lr", "> 0"]),
        ({"lr": float("nan")}, ["train.lr", "finite"]),
        ({"weight_decay": -0.1}, ["train.weight_decay", ">= 0"]),
        ({"momentum": True}, ["train.momentum"]),
        ({"grad_clip": "1"}, ["train.grad_clip"]),
        ({"batch_size": 0}, ["train.batch_size", ">= 1"]),
        ({"batch_size": 32.0}, ["train.batch_size", "integer"]),
        ({"batch_size": True}, ["train.batch_size", "integer"]),
    ],
)
def test_train_spec_rejects(changes: dict[str, Any], needles: list[str]) -> None:
    with pytest.raises(SpecError) as e:
        TrainSpec(**changes)
    msg = str(e.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        (spec_dict(extra=1), ["unknown fields ['extra']", "known"]),
        ({k: v for k, v in spec_dict().items() if k != "head"}, ["missing ['head']"]),
        (spec_dict(schema_version=2), ["schema_version 2", "upgrade"]),
        (spec_dict(schema_version="1"), ["schema_version '1'"]),
        (spec_dict(input_shape=4), ["input_shape", "positive integers"]),
        (spec_dict(blocks=3), ["'blocks' must be a list"]),
        (spec_dict(blocks=["dense.v1"]), ["must be an object with a 'kind'"]),
        (
            spec_dict(blocks=[{"kind": "dense.v1", "params": {}, "name": "x"}]),
            ["'dense.v1'", "unknown fields ['name']", "'kind' and 'params'"],
        ),
        (spec_dict(train={"lr": 0.1, "epochs": 3}), ["train", "unknown fields ['epochs']"]),
        ([1, 2], ["JSON object", "list"]),
    ],
)
def test_from_dict_rejects(data: Any, needles: list[str]) -> None:
    with pytest.raises(SpecError) as e:
        ArchSpec.from_dict(data)
    msg = str(e.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def test_from_json_rejects_malformed_text() -> None:
    with pytest.raises(SpecError, match="not valid JSON.*spec.json"):
        ArchSpec.from_json('{"family": "fnn",')
    with pytest.raises(SpecError, match="JSON object"):
        ArchSpec.from_json("[]")


def test_from_json_rejects_non_finite_numbers() -> None:
    # Python's json module reads NaN / Infinity literals; the spec must refuse them.
    text = fnn_spec().to_json().replace('"dropout": 0.1', '"dropout": NaN')
    assert "NaN" in text
    with pytest.raises(SpecError, match="finite"):
        ArchSpec.from_json(text)
    text = fnn_spec().to_json().replace('"lr": 0.01', '"lr": Infinity')
    with pytest.raises(SpecError, match="train.lr"):
        ArchSpec.from_json(text)


def test_to_json_is_strict_json() -> None:
    text = fnn_spec().to_json()

    def refuse(name: str) -> float:
        raise AssertionError(f"non-standard JSON constant {name}")

    data = json.loads(text, parse_constant=refuse)
    assert all(math.isfinite(v) for v in data["train"].values() if isinstance(v, float))


@pytest.mark.parametrize(
    ("kind", "params", "label"),
    [
        # what a reader rebuilding the model by hand needs: norm, activation, dropout
        ("dense.v1", {"units": 256, "norm": "batch"}, "dense(256,relu,bn)"),
        ("dense.v1", {"units": 16, "norm": "layer", "dropout": 0.25}, "dense(16,relu,ln,drop0.25)"),
        ("dense.v1", {"units": 16, "activation": "gelu", "residual": True}, "dense(16,gelu,res)"),
        ("conv2d.v1", {"channels": 32, "kernel": 3}, "conv2d(32,k3,relu,bn)"),
        ("conv1d.v1", {"channels": 8, "kernel": 5, "batch_norm": False, "activation": "elu",
                       "pool": "max", "dropout": 0.1234}, "conv1d(8,k5,maxpool,elu,drop0.12)"),
        ("lstm.v1", {"hidden": 64, "layers": 2, "dropout": 0.3}, "lstm(64x2,last,drop0.3)"),
        ("lstm.v1", {"hidden": 64}, "lstm(64,last)"),
        # a head without a hidden layer has no activation to name; its dropout is named
        ("classify.v1", {"outputs": 3, "dropout": 0.5}, "classify(3,drop0.5)"),
        ("classify.v1", {"outputs": 3, "hidden": 8, "activation": "gelu"},
         "dense(8,gelu) > classify(3)"),
    ],
)  # fmt: skip
def test_block_labels_name_norm_activation_and_dropout(kind: str, params: dict, label: str) -> None:
    from search_spaces.blocks import describe_block

    assert describe_block(BlockSpec(kind, params)) == label
