"""Every registered block kind, built from the registry and run forward and backward.

``BLOCK_CASES`` is the one declarative table of (kind -> valid input shapes and params). The
generic tests are parametrized from the registry, timm-style, so a newly registered kind is
tested for free -- and ``test_every_registered_kind_has_cases`` fails until it is in the table.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from search_spaces.blocks import (
    Shape,
    adapter_path,
    describe_block,
    get_block,
    known_kinds,
    register,
)
from search_spaces.blocks.adapters import AUTO_ADAPTERS, HEAD_FOR_TASK, head_kind
from search_spaces.errors import ShapeError, SpecError
from search_spaces.spec import BlockSpec

BATCH = 3  # > 1 so batch norm trains

VEC = Shape("vec", (6,))
SEQ = Shape("seq", (7, 3))
SIG = Shape("grid1d", (3, 10))
IMG = Shape("grid2d", (2, 8, 6))

# kind -> [(incoming shape, params)], each a valid use; cover the options that change the module.
BLOCK_CASES: dict[str, list[tuple[Shape, dict[str, Any]]]] = {
    "dense.v1": [
        (VEC, {"units": 4}),
        (VEC, {"units": 6, "residual": True, "norm": "batch", "dropout": 0.1}),
        (VEC, {"units": 3, "residual": True, "norm": "layer", "activation": "sigmoid"}),
    ],
    "conv1d.v1": [
        (SIG, {"channels": 4}),
        (
            SIG,
            {
                "channels": 5,
                "kernel": 5,
                "stride": 2,
                "residual": True,
                "pool": "avg",
                "separable": True,
                "dropout": 0.1,
                "batch_norm": False,
            },
        ),
        (SIG, {"channels": 3, "residual": True, "pool": "max", "pool_size": 3}),
    ],
    "conv2d.v1": [
        (IMG, {"channels": 4}),
        (
            IMG,
            {
                "channels": 6,
                "stride": 2,
                "residual": True,
                "pool": "max",
                "separable": True,
                "dropout": 0.2,
            },
        ),
        (
            IMG,
            {"channels": 2, "residual": True, "batch_norm": False, "pool": "avg", "pool_size": 3},
        ),
        (
            Shape("grid2d", (1, 7, 5)),
            {"channels": 3, "kernel": 5, "stride": 3, "activation": "elu"},
        ),
    ],
    "rnn.v1": [
        (SEQ, {"hidden": 5}),
        (SEQ, {"hidden": 4, "nonlinearity": "relu", "reduce": "max", "bidirectional": True}),
    ],
    "lstm.v1": [
        (SEQ, {"hidden": 5}),
        (SEQ, {"hidden": 4, "layers": 2, "bidirectional": True, "dropout": 0.1}),
        (SEQ, {"hidden": 4, "reduce": "none"}),
    ],
    "gru.v1": [
        (SEQ, {"hidden": 5, "reduce": "mean"}),
        (SEQ, {"hidden": 4, "layers": 2, "bidirectional": True, "reduce": "none"}),
    ],
    "embed_tabular.v1": [
        (VEC, {"d_model": 4}),
        (VEC, {"d_model": 5, "cls": True, "positions": "sinusoidal", "dropout": 0.1}),
    ],
    "embed_patch.v1": [
        (IMG, {"d_model": 8}),
        (IMG, {"d_model": 8, "patch": 2, "cls": True, "positions": "sinusoidal"}),
        (IMG, {"d_model": 7, "patch": 3, "positions": "none"}),
    ],
    "embed_steps.v1": [
        (SEQ, {"d_model": 8}),
        (SEQ, {"d_model": 6, "window": 3, "cls": True, "positions": "sinusoidal"}),
        (SEQ, {"d_model": 5, "window": 7, "positions": "none"}),
    ],
    "embed_patch.v2": [
        (IMG, {"d_model": 8}),
        (IMG, {"d_model": 8, "patch": 2, "cls": True, "positions": "sinusoidal"}),
        (IMG, {"d_model": 7, "patch": 5, "positions": "none"}),  # 8x6 padded to 10x10
    ],
    "embed_steps.v2": [
        (SEQ, {"d_model": 8}),
        (SEQ, {"d_model": 6, "window": 3, "cls": True, "positions": "sinusoidal"}),
        (SEQ, {"d_model": 5, "window": 7, "positions": "none"}),
    ],
    "tfm_encoder.v1": [
        (Shape("seq", (5, 8)), {"ff": 16}),
        (
            Shape("seq", (5, 6), cls=True),
            {
                "heads": 3,
                "ff": 8,
                "layers": 2,
                "norm": "post",
                "activation": "relu",
                "dropout": 0.1,
            },
        ),
    ],
    "seq_pool.v1": [
        (SEQ, {}),
        (SEQ, {"mode": "max"}),
        (SEQ, {"mode": "last"}),
        (Shape("seq", (7, 3), cls=True), {"mode": "cls"}),
    ],
    "flatten.v1": [(IMG, {}), (SIG, {}), (SEQ, {})],
    "global_pool.v1": [(IMG, {}), (SIG, {"mode": "max"}), (SEQ, {"mode": "avg"})],
    "to_steps.v1": [(SIG, {})],
    "to_channels.v1": [(SEQ, {})],
    "image_rows.v1": [(IMG, {})],
    "features_as_steps.v1": [(VEC, {})],
    "features_as_signal.v1": [(VEC, {})],
    "classify.v1": [
        (VEC, {"outputs": 3}),
        (VEC, {"outputs": 3, "hidden": 5, "activation": "gelu", "dropout": 0.1}),
    ],
    "regress.v1": [(VEC, {"outputs": 1}), (VEC, {"outputs": 2, "hidden": 4})],
    "to_grid.v1": [
        (VEC, {"channels": 3, "height": 2, "width": 3}),
        (VEC, {"channels": 4, "height": 5, "batch_norm": False, "activation": "leaky_relu"}),
    ],
    "upconv1d.v1": [
        (SIG, {"channels": 4}),
        (SIG, {"channels": 2, "mode": "upsample", "batch_norm": False, "activation": "tanh"}),
    ],
    "upconv2d.v1": [
        (IMG, {"channels": 4}),
        (IMG, {"channels": 3, "mode": "upsample", "batch_norm": False}),
    ],
    "gen_out.v1": [
        (IMG, {"shape": [1, 8, 6], "activation": "sigmoid"}),  # conv to the data's channels
        (Shape("grid2d", (3, 4, 4)), {"shape": [1, 6, 6]}),  # ... resized to its size
        (SIG, {"shape": [10, 2], "activation": "tanh"}),  # conv1d, then channels -> steps
        (SIG, {"shape": [7, 1]}),
        (SEQ, {"shape": [7, 2]}),  # a linear per step
        (SEQ, {"shape": [4, 2]}),
        (VEC, {"shape": [1, 3, 3], "activation": "sigmoid"}),  # linear + reshape
        (VEC, {"shape": [5]}),
        (IMG, {"shape": [4, 2]}),
    ],
}

CASES = [
    pytest.param(kind, shape, params, id=f"{kind}-{i}")
    for kind in known_kinds()
    for i, (shape, params) in enumerate(BLOCK_CASES.get(kind, []))
]


def test_every_registered_kind_has_cases() -> None:
    missing = sorted(set(known_kinds()) - set(BLOCK_CASES))
    assert not missing, f"add {missing} to BLOCK_CASES so the generic block tests cover them"
    stale = sorted(set(BLOCK_CASES) - set(known_kinds()))
    assert not stale, f"BLOCK_CASES names kinds that are not registered: {stale}"
    assert all(BLOCK_CASES[k] for k in known_kinds())


@pytest.mark.parametrize(("kind", "shape", "params"), CASES)
def test_block_forward_backward(kind: str, shape: Shape, params: dict[str, Any]) -> None:
    block = get_block(kind)
    assert shape.layout in block.accepts
    full = block.validate(params)
    assert set(full) == set(block.params)  # defaults filled in
    module, out = block.build(shape, full)
    module.train()

    x = torch.randn(BATCH, *shape.dims, requires_grad=True)
    y = module(x)
    assert tuple(y.shape) == (BATCH, *out.dims), f"{kind} predicted {out}, produced {y.shape}"
    assert torch.isfinite(y).all()

    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{kind}: parameter {name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{kind}: parameter {name} has a non-finite grad"


@pytest.mark.parametrize(("kind", "shape", "params"), CASES)
def test_block_describe(kind: str, shape: Shape, params: dict[str, Any]) -> None:
    text = describe_block(BlockSpec(kind, params))
    assert text and ".v1" not in text


@pytest.mark.parametrize("kind", known_kinds())
def test_registered_defaults_pass_their_own_rules(kind: str) -> None:
    block = get_block(kind)
    assert block.doc, f"{kind} has no doc"
    assert "." in kind and kind.rsplit(".", 1)[1].startswith("v")
    for name, rule in block.params.items():
        if rule.default is not ...:
            assert rule.check(kind, name, rule.default) == rule.default


@pytest.mark.parametrize(
    ("kind", "shape", "params", "read", "tokens"),
    [  # 7 steps in windows of 3: v1 reads steps 0-5, v2 pads 2 zeros first and reads all 7
        ("embed_steps.v1", SEQ, {"window": 3}, (6,), 2),
        ("embed_steps.v2", SEQ, {"window": 3}, (7,), 3),
        # 8x6 in patches of 5: v1 reads rows 0-4, columns 0-4; v2 pads to 10x10, four patches
        ("embed_patch.v1", IMG, {"patch": 5}, (5, 5), 1),
        ("embed_patch.v2", IMG, {"patch": 5}, (8, 6), 4),
    ],
)
def test_padded_embeddings_read_every_input_element(
    kind: str, shape: Shape, params: dict[str, Any], read: tuple[int, ...], tokens: int
) -> None:
    """The output's gradient with respect to each input element: v1 drops the remainder of a
    length or side that is not a multiple of the window or patch (gradient exactly 0), v2
    zero-pads it (steps at the start, images at the bottom and right) and reads all of it."""
    torch.manual_seed(0)
    block = get_block(kind)
    module, out = block.build(shape, block.validate({"d_model": 4, "positions": "none", **params}))
    assert out.dims == (tokens, 4)
    x = torch.randn(2, *shape.dims, requires_grad=True)
    module(x).sum().backward()
    assert x.grad is not None
    grad = x.grad.abs()[0] if shape.layout == "seq" else x.grad.abs()[0].amax(dim=0)
    seen = torch.zeros_like(grad, dtype=torch.bool)
    seen[tuple(slice(n) for n in read)] = True  # (steps,) or (rows, columns)
    assert (grad[seen] > 0).all() and (grad[~seen] == 0).all()


def test_embedding_marks_cls_and_pool_reads_it() -> None:
    embed = get_block("embed_steps.v1")
    _, with_cls = embed.build(SEQ, embed.validate({"d_model": 4, "cls": True}))
    _, without = embed.build(SEQ, embed.validate({"d_model": 4}))
    assert with_cls.cls and with_cls.dims == (8, 4)
    assert not without.cls and without.dims == (7, 4)
    pool = get_block("seq_pool.v1")
    mod, out = pool.build(with_cls, pool.validate({"mode": "cls"}))
    x = torch.randn(2, 8, 4)
    assert out.dims == (4,) and torch.equal(mod(x), x[:, 0])


def test_recurrent_last_uses_both_directions_final_states() -> None:
    block = get_block("gru.v1")
    params = block.validate({"hidden": 3, "bidirectional": True})
    module, out = block.build(SEQ, params)
    x = torch.randn(2, 7, 3)
    seq_out, _ = module.rnn(x)
    y = module(x)
    assert out.dims == (6,)
    # Forward direction: state after the last step; backward direction: after step 0.
    torch.testing.assert_close(y[:, :3], seq_out[:, -1, :3])
    torch.testing.assert_close(y[:, 3:], seq_out[:, 0, 3:])


# --- the registry -------------------------------------------------------------------------


def test_known_kinds_by_family() -> None:
    assert known_kinds("rnn") == ["gru.v1", "lstm.v1", "rnn.v1"]
    assert known_kinds("cnn") == ["conv1d.v1", "conv2d.v1"]
    assert known_kinds("head") == ["classify.v1", "regress.v1"]
    assert known_kinds() == sorted(known_kinds())
    assert known_kinds("no-such-family") == []


def test_unknown_kind_lists_known_and_suggests() -> None:
    with pytest.raises(SpecError) as e:
        get_block("conv2D.v1")
    msg = str(e.value)
    assert "'conv2D.v1'" in msg and "Did you mean 'conv2d.v1'" in msg
    for kind in known_kinds():
        assert kind in msg


def test_register_refuses_unversioned_and_duplicate_names() -> None:
    with pytest.raises(ValueError, match="versioned"):
        register("mystery", family="fnn", accepts=("vec",), params={})
    with pytest.raises(ValueError, match="already registered"):
        register("dense.v1", family="fnn", accepts=("vec",), params={})(lambda s, p: None)
    assert get_block("dense.v1").family == "fnn"  # the original survives


@pytest.mark.parametrize(
    ("src", "accepts", "path"),
    [
        ("vec", ("vec",), []),
        ("grid2d", ("vec",), ["flatten.v1"]),
        ("grid1d", ("vec",), ["flatten.v1"]),
        ("seq", ("vec",), ["flatten.v1"]),
        ("grid2d", ("seq",), ["image_rows.v1"]),
        ("grid1d", ("seq",), ["to_steps.v1"]),
        ("seq", ("grid1d",), ["to_channels.v1"]),
        ("vec", ("seq",), ["features_as_steps.v1"]),
        ("vec", ("grid1d",), ["features_as_signal.v1"]),
        ("grid2d", ("grid1d",), ["flatten.v1", "features_as_signal.v1"]),
        ("vec", ("grid2d",), None),
        ("seq", ("grid2d",), None),
        ("grid1d", ("grid2d",), None),
    ],
)
def test_adapter_path(src: str, accepts: tuple[str, ...], path: list[str] | None) -> None:
    assert adapter_path(src, accepts) == path


@pytest.mark.parametrize(("edge", "kind"), sorted(AUTO_ADAPTERS.items()))
def test_auto_adapter_produces_its_target_layout(edge: tuple[str, str], kind: str) -> None:
    src, dst = edge
    dims = {"vec": (5,), "seq": (4, 3), "grid1d": (3, 4), "grid2d": (2, 3, 4)}[src]
    block = get_block(kind)
    module, out = block.build(Shape(src, dims), block.validate({}))
    assert out.layout == dst
    assert module(torch.randn(2, *dims)).shape == (2, *out.dims)


def test_head_for_each_task() -> None:
    assert head_kind("classification") == "classify.v1"
    assert head_kind("regression") == "regress.v1"
    assert set(HEAD_FOR_TASK.values()) == set(known_kinds("head"))


# --- parameter rules, checked at the block level -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "params", "needles"),
    [
        ("conv2d.v1", {}, ["missing required parameter 'channels'", "output channels"]),
        ("conv2d.v1", {"channels": "32"}, ["'channels' must be int", "'32'", "(str)"]),
        ("conv2d.v1", {"channels": True}, ["'channels' must be int", "(bool)"]),
        ("conv2d.v1", {"channels": 8, "kernel": 3.0}, ["'kernel' must be int", "(float)"]),
        ("conv2d.v1", {"channels": 8, "kernel": 17}, ["'kernel' is 17", "[1, 15]"]),
        ("conv2d.v1", {"channels": 0}, ["'channels' is 0", "[1, inf]"]),
        ("conv2d.v1", {"channels": 8, "pool": "min"}, ["'pool' is 'min'", "'max'", "choose"]),
        ("conv2d.v1", {"channels": 8, "chanels": 8}, ["unknown parameter 'chanels'", "'channels'"]),
        ("conv2d.v1", {"channels": 8, "zzz": 1}, ["unknown parameter 'zzz'", "known parameters"]),
        ("conv2d.v1", {"channels": 8, "batch_norm": 1}, ["'batch_norm' must be bool"]),
        ("dense.v1", {"units": 8, "dropout": 0.95}, ["'dropout' is 0.95", "[0.0, 0.9]"]),
        ("dense.v1", {"units": 8, "dropout": "0.1"}, ["'dropout' must be float"]),
        ("dense.v1", {"units": 8, "activation": "swish"}, ["'activation'", "'silu'"]),
        ("lstm.v1", {"hidden": 8, "layers": 9}, ["'layers' is 9", "[1, 8]"]),
        ("rnn.v1", {"hidden": 8, "nonlinearity": "gelu"}, ["'nonlinearity'", "'tanh'"]),
        ("tfm_encoder.v1", {"ff": 8, "norm": "sandwich"}, ["'norm'", "'pre'"]),
        ("seq_pool.v1", {"mode": "sum"}, ["'mode' is 'sum'", "'mean'"]),
    ],
)
def test_validate_names_the_block_param_and_fix(
    kind: str, params: dict[str, Any], needles: list[str]
) -> None:
    with pytest.raises(SpecError) as e:
        get_block(kind).validate(params, where="blocks[2] ")
    msg = str(e.value)
    assert msg.startswith(f"blocks[2] {kind}: ")
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def test_int_is_accepted_where_a_float_is_expected() -> None:
    full = get_block("dense.v1").validate({"units": 4, "dropout": 0})
    assert full["dropout"] == 0.0 and isinstance(full["dropout"], float)


@pytest.mark.parametrize(
    ("kind", "shape", "params", "error", "needles"),
    [
        ("conv2d.v1", IMG, {"channels": 4, "kernel": 4}, SpecError, ["odd kernel", "3 or 5"]),
        (
            "conv1d.v1",
            Shape("grid1d", (2, 3)),
            {"channels": 4, "pool": "max", "pool_size": 4},
            ShapeError,
            ["pooling of size 4", "only 3 arrive", "pool='none'"],
        ),
        (
            "tfm_encoder.v1",
            Shape("seq", (4, 10)),
            {"heads": 4, "ff": 8},
            ShapeError,
            ["heads=4 does not divide d_model=10", "[1, 2, 5, 10]"],
        ),
        ("seq_pool.v1", SEQ, {"mode": "cls"}, ShapeError, ["CLS token", "cls=true"]),
        ("embed_patch.v1", IMG, {"d_model": 4, "patch": 7}, ShapeError, ["patch 7", "at most 6"]),
        ("embed_steps.v1", SEQ, {"d_model": 4, "window": 8}, ShapeError, ["window 8", "at most 7"]),
    ],
)
def test_build_rejects_shapes_that_cannot_flow(
    kind: str, shape: Shape, params: dict[str, Any], error: type[Exception], needles: list[str]
) -> None:
    block = get_block(kind)
    with pytest.raises(error) as e:
        block.build(shape, block.validate(params))
    msg = str(e.value)
    assert kind in msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def test_shape_rejects_wrong_rank() -> None:
    with pytest.raises(SpecError):
        Shape("grid2d", (3, 4))
    with pytest.raises(SpecError):
        Shape("matrix", (3, 4))
    assert Shape("grid2d", (2, 3, 4)).numel == 24
    assert str(Shape("seq", (5, 2))) == "seq(T,D=5,2)"
