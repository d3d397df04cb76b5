"""build_model: known-answer parameter counts, stage names and adapters, hybrids, reloading
weights, and errors that name the block and the fix."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
import torch
from torch import nn

from search_spaces import ArchSpec, BlockSpec, ShapeError, SpecError, build_model
from search_spaces.build import NasModel, input_shape_of
from search_spaces.errors import UnknownBlockError

MODALITY_OF_RANK = {1: "tabular", 2: "sequence", 3: "image"}


def make_spec(
    input_shape: tuple[int, ...],
    blocks: list[tuple[str, dict[str, Any]]],
    output_size: int = 3,
    task: str = "classification",
    head: tuple[str, dict[str, Any]] | None = None,
    family: str = "test",
) -> ArchSpec:
    head_kind = "classify.v1" if task == "classification" else "regress.v1"
    head_kind, head_params = head or (head_kind, {})
    return ArchSpec(
        family=family,
        task=task,
        modality=MODALITY_OF_RANK[len(input_shape)],
        input_shape=input_shape,
        output_size=output_size,
        blocks=tuple(BlockSpec(k, p) for k, p in blocks),
        head=BlockSpec(head_kind, head_params),
    )


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def run_stages(model: NasModel, batch: int = 2) -> torch.Tensor:
    """Forward stage by stage, checking each stage's output against the builder's prediction."""
    x = torch.randn(batch, *model.spec.input_shape)
    names = [name for name, _ in model.features.named_children()] + ["head"]
    assert names == [s.name for s in model.stages]
    modules = [*model.features.children(), model.head]
    for stage, module in zip(model.stages, modules, strict=True):
        assert tuple(x.shape[1:]) == stage.shape_in.dims, stage.name
        x = module(x)
        assert tuple(x.shape) == (batch, *stage.shape_out.dims), stage.name
    return x


# --- known-answer parameter counts, computed by hand ----------------------------------------


def _encoder_layer(d: int, ff: int) -> int:
    attention = 3 * d * d + 3 * d + d * d + d  # in_proj (q, k, v) + out_proj, with biases
    feed_forward = d * ff + ff + ff * d + d
    norms = 2 * 2 * d  # two LayerNorms, weight + bias
    return attention + feed_forward + norms


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # FNN on (4,): dense 8 (no norm) + classify 3.
        (make_spec((4,), [("dense.v1", {"units": 8})]), 4 * 8 + 8 + 8 * 3 + 3),
        # Batch norm adds a scale and a shift per unit; a residual projects 4 -> 8 without bias.
        (
            make_spec((4,), [("dense.v1", {"units": 8, "norm": "batch", "residual": True})]),
            (4 * 8 + 8) + 2 * 8 + 4 * 8 + (8 * 3 + 3),
        ),
        # A head with a hidden layer: 4 -> 5 -> 3.
        (
            make_spec((4,), [], head=("classify.v1", {"hidden": 5})),
            (4 * 5 + 5) + (5 * 3 + 3),
        ),
        # conv2d without batch norm on (1, 8, 8): 3x3 kernel + bias, then flatten 4*8*8 -> 10.
        (
            make_spec((1, 8, 8), [("conv2d.v1", {"channels": 4, "batch_norm": False})], 10),
            (1 * 4 * 9 + 4) + (4 * 8 * 8 * 10 + 10),
        ),
        # With batch norm the conv has no bias; max pooling halves 8x8 -> 4x4 before flatten.
        (
            make_spec((1, 8, 8), [("conv2d.v1", {"channels": 4, "pool": "max"})], 10),
            (1 * 4 * 9) + 2 * 4 + (4 * 4 * 4 * 10 + 10),
        ),
        # Separable conv1d on a 1-channel signal of 6 tabular features: depthwise 1x3 (no
        # bias) + pointwise 1 -> 4 with bias; a residual projection 1 -> 4 (1x1, no bias).
        (
            make_spec(
                (6,),
                [
                    (
                        "conv1d.v1",
                        {
                            "channels": 4,
                            "separable": True,
                            "batch_norm": False,
                            "residual": True,
                        },
                    )
                ],
            ),
            (1 * 3) + (1 * 4 + 4) + (1 * 4) + (4 * 6 * 3 + 3),
        ),
        # GRU over (40, 1) with 8 hidden: 3 gates x (W_ih + W_hh + b_ih + b_hh), then 8 -> 10.
        (
            make_spec((40, 1), [("gru.v1", {"hidden": 8})], 10),
            3 * (8 * 1 + 8 * 8 + 8 + 8) + (8 * 10 + 10),
        ),
        # LSTM: 4 gates; two bidirectional layers (layer 2 reads 2 x 8 features).
        (
            make_spec((40, 1), [("lstm.v1", {"hidden": 8, "layers": 2, "bidirectional": True})]),
            2 * 4 * (8 * 1 + 8 * 8 + 16) + 2 * 4 * (8 * 16 + 8 * 8 + 16) + (16 * 3 + 3),
        ),
        # FT-Transformer style: one token per feature (w and b per feature), an encoder layer,
        # mean pooling (no params), classify 3.
        (
            make_spec(
                (4,),
                [
                    ("embed_tabular.v1", {"d_model": 8, "positions": "none"}),
                    ("tfm_encoder.v1", {"heads": 2, "ff": 16}),
                    ("seq_pool.v1", {"mode": "mean"}),
                ],
            ),
            (2 * 4 * 8) + 600 + (8 * 3 + 3),
        ),
        # The same with a CLS token and learned positions for the 4 + 1 tokens.
        (
            make_spec(
                (4,),
                [
                    ("embed_tabular.v1", {"d_model": 8, "cls": True}),
                    ("tfm_encoder.v1", {"heads": 2, "ff": 16, "layers": 2}),
                    ("seq_pool.v1", {"mode": "cls"}),
                ],
            ),
            (2 * 4 * 8) + 8 + 5 * 8 + 2 * _encoder_layer(8, 16) + (8 * 3 + 3),
        ),
        # ViT-style patches on (1, 8, 8): a 2x2 stride-2 conv to d=4 gives 16 tokens; sinusoidal
        # positions are a buffer, not parameters.
        (
            make_spec(
                (1, 8, 8),
                [
                    ("embed_patch.v1", {"d_model": 4, "patch": 2, "positions": "sinusoidal"}),
                    ("seq_pool.v1", {}),
                ],
            ),
            (1 * 4 * 2 * 2 + 4) + (4 * 3 + 3),
        ),
    ],
)
def test_known_parameter_counts(spec: ArchSpec, expected: int) -> None:
    assert n_params(build_model(spec)) == expected


def test_encoder_layer_formula_matches_torch() -> None:
    assert _encoder_layer(8, 16) == 600
    assert n_params(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)) == 600


def test_counts_match_hand_built_torch_modules() -> None:
    gru = build_model(make_spec((40, 1), [("gru.v1", {"hidden": 8, "bidirectional": True})]))
    assert n_params(gru) == n_params(nn.GRU(1, 8, bidirectional=True)) + n_params(nn.Linear(16, 3))
    conv = build_model(
        make_spec((3, 8, 8), [("conv2d.v1", {"channels": 5, "kernel": 5, "stride": 2})])
    )
    assert n_params(conv) == (
        n_params(nn.Conv2d(3, 5, 5, bias=False))
        + n_params(nn.BatchNorm2d(5))
        + n_params(nn.Linear(5 * 4 * 4, 3))
    )
    tab = build_model(
        make_spec(
            (4,),
            [
                ("embed_tabular.v1", {"d_model": 8}),
                ("tfm_encoder.v1", {"heads": 4, "ff": 32, "layers": 3}),
                ("seq_pool.v1", {}),
            ],
        )
    )
    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 4, 32, batch_first=True), 3, enable_nested_tensor=False
    )
    tokens = 2 * 4 * 8 + 4 * 8  # per-feature weight and bias, learned positions
    assert n_params(tab) == tokens + n_params(encoder) + n_params(nn.Linear(8, 3))


# --- stages, adapters and print(model) ------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "stages"),
    [
        # cnn -> dense: flatten in between.
        (
            make_spec((1, 8, 8), [("conv2d.v1", {"channels": 4}), ("dense.v1", {"units": 8})]),
            ["b0_conv2d", "a1_flatten", "b1_dense", "head"],
        ),
        # conv2d -> gru: image rows become steps.
        (
            make_spec((1, 8, 8), [("conv2d.v1", {"channels": 4}), ("gru.v1", {"hidden": 8})]),
            ["b0_conv2d", "a1_image_rows", "b1_gru", "head"],
        ),
        # sequence -> conv1d -> transformer: to channels, then back to steps.
        (
            make_spec(
                (40, 1),
                [
                    ("conv1d.v1", {"channels": 8, "pool": "max"}),
                    ("tfm_encoder.v1", {"heads": 2, "ff": 16}),
                    ("seq_pool.v1", {}),
                ],
            ),
            ["a0_to_channels", "b0_conv1d", "a1_to_steps", "b1_tfm_encoder", "b2_seq_pool", "head"],
        ),
        # tabular -> conv1d: the features become a one-channel signal; the head flattens.
        (
            make_spec((4,), [("conv1d.v1", {"channels": 4})]),
            ["a0_features_as_signal", "b0_conv1d", "ah_flatten", "head"],
        ),
        # tabular -> lstm: each feature is a step.
        (
            make_spec((4,), [("lstm.v1", {"hidden": 4})]),
            ["a0_features_as_steps", "b0_lstm", "head"],
        ),
        # image -> dense, and image straight into the head: flatten.
        (
            make_spec((1, 8, 8), [("dense.v1", {"units": 8})]),
            ["a0_flatten", "b0_dense", "head"],
        ),
        (make_spec((1, 8, 8), []), ["ah_flatten", "head"]),
        # A recurrent block that keeps the sequence, pooled by global pooling.
        (
            make_spec(
                (10, 2), [("rnn.v1", {"hidden": 4, "reduce": "none"}), ("global_pool.v1", {})]
            ),
            ["b0_rnn", "b1_global_pool", "head"],
        ),
        # Two adapters in a row get numbered names.
        (
            make_spec((1, 8, 8), [("conv1d.v1", {"channels": 2})]),
            ["a0_flatten", "a0_1_features_as_signal", "b0_conv1d", "ah_flatten", "head"],
        ),
    ],
)
def test_stages_and_adapters(spec: ArchSpec, stages: list[str]) -> None:
    model = build_model(spec)
    assert [s.name for s in model.stages] == stages
    # Adapters are marked as inserted; real blocks keep the spec's kinds in order.
    real = [s.kind for s in model.stages if not s.inserted]
    assert real == [b.kind for b in spec.blocks] + [spec.head.kind]
    assert all(s.name.startswith("a") for s in model.stages if s.inserted)
    # Shapes chain from the input to the output size.
    assert model.stages[0].shape_in == input_shape_of(spec)
    for before, after in zip(model.stages, model.stages[1:]):
        assert before.shape_out == after.shape_in
    assert model.output_shape == (spec.output_size,)
    # print(model) shows every stage, in spec order.
    text = repr(model)
    positions = [text.find(f"({name}): ") for name in stages]
    assert -1 not in positions, text
    assert positions == sorted(positions)
    assert f"family={spec.family}" in text
    # The forward pass produces exactly the predicted shapes.
    assert run_stages(model).shape == (2, spec.output_size)


@pytest.mark.parametrize(
    ("spec", "adapters"),
    [
        (
            make_spec(
                (1, 8, 8),
                [("conv2d.v1", {"channels": 4, "pool": "avg"}), ("gru.v1", {"hidden": 6})],
                family="cnn_rnn",
            ),
            ["image_rows.v1"],
        ),
        (
            make_spec(
                (1, 8, 8),
                [
                    ("conv2d.v1", {"channels": 4, "pool": "max"}),
                    ("embed_patch.v1", {"d_model": 8, "patch": 1, "cls": True}),
                    ("tfm_encoder.v1", {"heads": 2, "ff": 16}),
                    ("seq_pool.v1", {"mode": "cls"}),
                ],
                family="cnn_transformer",
            ),
            [],  # the patch embedding reads the feature map itself
        ),
        (
            make_spec(
                (40, 1),
                [
                    ("conv1d.v1", {"channels": 4, "stride": 2}),
                    ("lstm.v1", {"hidden": 6, "bidirectional": True, "reduce": "mean"}),
                ],
                output_size=1,
                task="regression",
                family="cnn_rnn",
            ),
            ["to_channels.v1", "to_steps.v1"],
        ),
        (
            make_spec(
                (40, 1),
                [
                    ("conv1d.v1", {"channels": 8, "pool": "max"}),
                    ("embed_steps.v1", {"d_model": 8, "window": 2}),
                    ("tfm_encoder.v1", {"heads": 4, "ff": 16, "norm": "post"}),
                    ("seq_pool.v1", {"mode": "max"}),
                ],
                family="cnn_transformer",
            ),
            ["to_channels.v1", "to_steps.v1"],
        ),
    ],
    ids=["conv2d-gru", "conv2d-attention", "conv1d-lstm-regression", "conv1d-attention"],
)
def test_hybrids_build_and_train(spec: ArchSpec, adapters: list[str]) -> None:
    model = build_model(spec)
    model.train()
    y = run_stages(model, batch=3)
    assert y.shape == (3, spec.output_size) and torch.isfinite(y).all()
    y.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert [s.kind for s in model.stages if s.inserted] == adapters


def test_forward_is_features_then_head() -> None:
    model = build_model(make_spec((40, 1), [("gru.v1", {"hidden": 4})]))
    x = torch.randn(2, 40, 1)
    torch.testing.assert_close(model(x), model.forward_head(model.forward_features(x)))


def test_weights_reload_into_a_rebuilt_model() -> None:
    spec = make_spec(
        (1, 8, 8),
        [
            ("conv2d.v1", {"channels": 4, "pool": "max"}),
            ("embed_patch.v1", {"d_model": 8, "patch": 2, "positions": "sinusoidal"}),
            ("tfm_encoder.v1", {"heads": 2, "ff": 16}),
            ("seq_pool.v1", {}),
        ],
    )
    model = build_model(spec).eval()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert not any(k.startswith(("spec", "stages")) for k in state)
    assert not any(k.endswith(".pos") for k in state)  # sinusoidal table is not persistent
    again = build_model(ArchSpec.from_json(spec.to_json()))
    again.load_state_dict(state)  # strict: same names, same shapes
    again.eval()
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(again(x), model(x))


def test_model_deep_copies() -> None:
    model = build_model(make_spec((4,), [("dense.v1", {"units": 8})]))
    clone = copy.deepcopy(model)
    assert clone.spec == model.spec and clone.stages == model.stages
    x = torch.randn(2, 4)
    torch.testing.assert_close(clone(x), model(x))


def test_activations_are_not_shared_between_blocks() -> None:
    # A reused activation module breaks DeepLift / SHAP hooks; each block gets its own.
    model = build_model(
        make_spec((4,), [("dense.v1", {"units": 8}), ("dense.v1", {"units": 8})], head=None)
    )
    acts = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(acts) == len({id(m) for m in acts}) == 2


# --- bad specs: the project's own errors, naming the block and the fix ----------------------

IMAGE = (1, 8, 8)
CONV4 = ("conv2d.v1", {"channels": 4})


@pytest.mark.parametrize(
    ("spec_args", "error", "needles"),
    [
        pytest.param(
            (IMAGE, [CONV4, ("conv2D.v1", {"channels": 4})]),
            UnknownBlockError,
            [
                "blocks[1]",
                "'conv2D.v1'",
                "Did you mean 'conv2d.v1'",
                "Known kinds",
                "gru.v1",
                "If an extension registers this block kind",
            ],  # fmt: skip
            id="unknown-kind",
        ),
        pytest.param(
            (IMAGE, [CONV4, ("conv2d.v1", {})]),
            SpecError,
            ["blocks[1]", "conv2d.v1", "missing required parameter 'channels'"],
            id="missing-param",
        ),
        pytest.param(
            (IMAGE, [CONV4, ("conv2d.v1", {"channels": "32"})]),
            SpecError,
            ["blocks[1]", "conv2d.v1", "'channels' must be int", "'32'"],
            id="str-for-int",
        ),
        pytest.param(
            (IMAGE, [CONV4, ("conv2d.v1", {"channels": True})]),
            SpecError,
            ["blocks[1]", "conv2d.v1", "'channels' must be int", "bool"],
            id="bool-for-int",
        ),
        pytest.param(
            (IMAGE, [CONV4, ("conv2d.v1", {"channels": 4, "kernel": 21})]),
            SpecError,
            ["blocks[1]", "conv2d.v1", "'kernel' is 21", "use a value in [1, 15]"],
            id="out-of-range",
        ),
        pytest.param(
            (IMAGE, [CONV4, ("conv2d.v1", {"channels": 4, "activation": "relu6"})]),
            SpecError,
            ["blocks[1]", "conv2d.v1", "'activation' is 'relu6'", "choose one of", "'gelu'"],
            id="invalid-choice",
        ),
        pytest.param(
            (IMAGE, [CONV4, ("conv2d.v1", {"channels": 4, "kernal": 3})]),
            SpecError,
            ["blocks[1]", "conv2d.v1", "unknown parameter 'kernal'", "did you mean 'kernel'"],
            id="unknown-param",
        ),
        pytest.param(
            (IMAGE, [CONV4, ("conv2d.v1", {"channels": 4, "kernel": 4})]),
            SpecError,
            ["blocks[1]", "conv2d.v1", "'kernel' is 4", "odd kernel"],
            id="even-kernel",
        ),
        pytest.param(
            ((40, 1), [("lstm.v1", {"hidden": 8}), CONV4]),
            ShapeError,
            ["blocks[1]", "conv2d.v1", "grid2d", "vec(F=8)", "no adapter", "earlier"],
            id="conv2d-after-lstm",
        ),
        pytest.param(
            ((40, 1), [("lstm.v1", {"hidden": 8, "reduce": "none"}), CONV4]),
            ShapeError,
            ["blocks[1]", "conv2d.v1", "seq(T,D=40,8)", "no adapter"],
            id="conv2d-after-lstm-sequence",
        ),
        pytest.param(
            (
                IMAGE,
                [("conv2d.v1", {"channels": 4, "pool": "max"})] * 3
                + [("conv2d.v1", {"channels": 4, "pool": "avg"})],
            ),
            ShapeError,
            ["blocks[3]", "conv2d.v1", "pooling of size 2", "only 1 arrive", "pool='none'"],
            id="pool-beyond-size",
        ),
        pytest.param(
            (
                (40, 1),
                [
                    ("embed_steps.v1", {"d_model": 10}),
                    ("tfm_encoder.v1", {"heads": 4, "ff": 16}),
                    ("seq_pool.v1", {}),
                ],
            ),
            ShapeError,
            ["blocks[1]", "tfm_encoder.v1", "heads=4 does not divide d_model=10", "choose heads"],
            id="heads-not-dividing",
        ),
        pytest.param(
            (
                (40, 1),
                [
                    ("embed_steps.v1", {"d_model": 8}),
                    ("tfm_encoder.v1", {"heads": 2, "ff": 16}),
                    ("seq_pool.v1", {"mode": "cls"}),
                ],
            ),
            ShapeError,
            ["blocks[2]", "seq_pool.v1", "CLS token", "cls=true"],
            id="cls-pool-without-cls",
        ),
        pytest.param(
            (IMAGE, [("embed_patch.v1", {"d_model": 8, "patch": 16})]),
            ShapeError,
            ["blocks[0]", "embed_patch.v1", "patch 16", "at most 8"],
            id="patch-too-large",
        ),
        pytest.param(
            (IMAGE, [], 10, "classification", ("regress.v1", {})),
            SpecError,
            ["head", "'regress.v1'", "classification", "use 'classify.v1'"],
            id="wrong-head-for-task",
        ),
        pytest.param(
            ((10,), [], 1, "regression", ("classify.v1", {"outputs": 1})),
            SpecError,
            ["head", "'classify.v1'", "regression", "use 'regress.v1'"],
            id="wrong-head-for-regression",
        ),
        pytest.param(
            (IMAGE, [], 10, "classification", ("classify.v1", {"outputs": 5})),
            SpecError,
            ["head outputs=5", "output_size is 10", "make them equal"],
            id="head-outputs-mismatch",
        ),
        pytest.param(
            (IMAGE, [], 10, "classification", ("classify.v1", {"outputs": "10"})),
            SpecError,
            ["head outputs='10'", "output_size is 10"],
            id="head-outputs-mistyped",
        ),
        pytest.param(
            (IMAGE, [], 10, "classification", ("classify.v1", {"hiden": 8})),
            SpecError,
            ["head classify.v1", "unknown parameter 'hiden'", "did you mean 'hidden'"],
            id="head-unknown-param",
        ),
        pytest.param(
            (IMAGE, [], 10, "classification", ("clasify.v1", {})),
            SpecError,
            ["'clasify.v1'", "use 'classify.v1'"],
            id="head-unknown-kind",
        ),
    ],
)
def test_bad_specs_name_the_block_and_the_fix(
    spec_args: tuple[Any, ...], error: type[Exception], needles: list[str]
) -> None:
    spec = make_spec(*spec_args)
    with pytest.raises(SpecError) as e:
        build_model(spec)
    assert type(e.value) is error, f"{type(e.value).__name__}: {e.value}"
    msg = str(e.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def test_generation_task_takes_any_head() -> None:
    spec = make_spec((4,), [], task="generation", head=("regress.v1", {}), output_size=2)
    assert build_model(spec).output_shape == (2,)
