"""Attribution methods against answers known in advance: a linear model's exact attributions,
integrated-gradients completeness on trained models, planted signals every family must find,
and every family x modality the search can produce explained by every method chosen for it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Any

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from explain.attribution import (
    METHODS,
    ExplainError,
    attribute,
    choose_methods,
    gradient_context,
    needs_cudnn_off,
)
from explain.views import global_importance
from search_spaces import ArchSpec, BlockSpec, SpaceContext, build_model, get_space
from search_spaces.spaces.auto import APPLICABLE


@pytest.fixture(autouse=True)
def _one_thread_seeded() -> Iterator[None]:
    """Tiny models gain nothing from a second thread on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def no_hooks(model: nn.Module) -> bool:
    names = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return all(not getattr(m, a, None) for m in model.modules() for a in names)


def chosen(model: nn.Module, modality: str) -> dict[str, Any]:
    return {c.method: c for c in choose_methods(model, modality)}


def spec(modality: str, shape: tuple[int, ...], blocks: list[BlockSpec], out: int = 3) -> Any:
    head = BlockSpec("classify.v1", {"outputs": out})
    return build_model(
        ArchSpec("hand", "classification", modality, shape, out, tuple(blocks), head)
    )


RELU_CNN = [
    BlockSpec("conv2d.v1", {"channels": 4, "activation": "relu", "pool": "max"}),
    BlockSpec("conv2d.v1", {"channels": 4, "activation": "relu", "batch_norm": False}),
]
TFM = [
    BlockSpec("tfm_encoder.v1", {"heads": 2, "ff": 16, "layers": 2, "dropout": 0.0}),
    BlockSpec("seq_pool.v1", {"mode": "mean"}),
]


# --- a linear model: every method's exact answer is w * (x - x') ---------------------------

W = torch.tensor(
    [[2.0, 0.0, -1.5, 0.5], [-1.0, 0.0, 3.0, 1.0], [0.5, 0.0, 0.25, -2.0]], dtype=torch.float64
)


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("method", ["integrated_gradients", "deeplift", "occlusion"])
@pytest.mark.parametrize("reference", ["zeros", "tensor"])
def test_linear_model_gets_exact_attributions(outputs: int, method: str, reference: str) -> None:
    lin = nn.Linear(4, outputs).double()
    with torch.no_grad():
        lin.weight.copy_(W[:outputs])
        lin.bias.fill_(0.3)
    X = torch.randn(6, 4, dtype=torch.float64)
    ref = torch.tensor([0.5, -1.0, 2.0, 0.1], dtype=torch.float64)
    baseline = ref if reference == "tensor" else "zeros"
    kw = {"window": 1} if method == "occlusion" else {}
    a = attribute(lin, X, method, baseline=baseline, **kw)
    want_t = lin(X).argmax(1) if outputs > 1 else torch.zeros(6, dtype=torch.long)
    assert np.array_equal(a.targets, want_t.numpy())
    x0 = ref if reference == "tensor" else torch.zeros(4, dtype=torch.float64)
    expected = W[want_t] * (X - x0)
    assert a.values.dtype == np.float32 and a.values.shape == (6, 4)
    np.testing.assert_allclose(a.values, expected.numpy(), atol=1e-5)
    assert (a.values[:, 1] == 0).all()  # the ignored feature gets exactly nothing
    f0 = lin(x0[None]).detach()[0, want_t].numpy()
    np.testing.assert_allclose(a.base_values, f0, atol=1e-9)
    if a.delta is not None:
        assert np.abs(a.delta).max() < 1e-5


def test_explicit_targets_explain_that_output() -> None:
    lin = nn.Linear(4, 3).double()
    with torch.no_grad():
        lin.weight.copy_(W)
    X = torch.randn(3, 4, dtype=torch.float64)
    a = attribute(lin, X, "integrated_gradients", targets=[2, 0, 1])
    want = W[[2, 0, 1]] * X
    np.testing.assert_allclose(a.values, want.numpy(), atol=1e-5)
    b = attribute(lin, X, "saliency", targets=2)
    np.testing.assert_allclose(b.values, W[2].abs().expand(3, 4).numpy(), atol=1e-6)


# --- trained models ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "modality"), [("fnn", "tabular"), ("cnn", "image"), ("rnn", "sequence")]
)
def test_integrated_gradients_is_complete_on_trained_models(
    trained: Callable, family: str, modality: str
) -> None:
    t = trained(family, modality)  # a ReLU MLP, a ReLU + max-pool CNN, an LSTM
    a = attribute(t.model, t.X, "integrated_gradients", n_steps=50)
    with torch.no_grad():
        f_x = t.model(t.X).gather(1, torch.as_tensor(a.targets)[:, None])[:, 0]
        f_0 = t.model(torch.zeros_like(t.X)).gather(1, torch.as_tensor(a.targets)[:, None])[:, 0]
    gap = (f_x - f_0).double().numpy()
    err = np.abs(a.values.reshape(len(t.X), -1).sum(1) - gap)
    assert err.sum() / np.abs(gap).sum() < 0.01
    assert np.median(err / np.abs(gap)) < 0.01
    np.testing.assert_allclose(np.abs(a.delta), err, atol=1e-3)  # its own delta says the same


@pytest.mark.parametrize("family", ["fnn", "cnn", "rnn", "transformer"])
def test_planted_tabular_features_rank_first(trained: Callable, planted: Any, family: str) -> None:
    t = trained(family, "tabular")
    assert t.accuracy > 0.9, "the model did not learn the planted task"
    gi = global_importance(attribute(t.model, t.X, "integrated_gradients"))
    assert set(gi["ranking"][:2].tolist()) == set(planted.tab_features)


_HYBRIDS = [pytest.param(f, marks=pytest.mark.slow) for f in ("cnn_rnn", "cnn_transformer")]


@pytest.mark.parametrize("family", ["fnn", "cnn", "rnn", "transformer", *_HYBRIDS])
def test_planted_image_quadrant_holds_the_positive_mass(
    trained: Callable, planted: Any, family: str
) -> None:
    t = trained(family, "image")
    assert t.accuracy > 0.9, "the model did not learn the planted task"
    a = attribute(t.model, t.X[t.y == 1], "integrated_gradients", targets=1)
    pos = np.clip(a.values, 0, None)
    rows, cols = planted.quadrant
    assert pos[:, :, rows, cols].sum() / pos.sum() >= 0.8


@pytest.mark.parametrize("family", ["fnn", "cnn", "rnn", "transformer", *_HYBRIDS])
def test_planted_sequence_step_ranks_first(trained: Callable, planted: Any, family: str) -> None:
    t = trained(family, "sequence")
    assert t.accuracy > 0.85, "the model did not learn the planted task"
    gi = global_importance(attribute(t.model, t.X, "integrated_gradients"))
    assert gi["unit"] == "step" and gi["ranking"][0] == planted.seq_step


def test_deeplift_is_chosen_and_exact_on_a_relu_mlp(trained: Callable, planted: Any) -> None:
    t = trained("fnn", "tabular")
    assert chosen(t.model, "tabular")["deeplift"].chosen
    a = attribute(t.model, t.X, "deeplift")
    assert set(global_importance(a)["ranking"][:2].tolist()) == set(planted.tab_features)
    gap = np.abs(a.values.reshape(len(t.X), -1).sum(1) - a.delta)
    assert np.abs(a.delta).max() < 1e-3 * max(1.0, float(gap.max()))  # summation-to-delta


def test_layer_ig_on_the_embedding_finds_planted_features(trained: Callable, planted: Any) -> None:
    t = trained("transformer", "tabular")
    a = attribute(t.model, t.X, "layer_integrated_gradients")
    assert a.arrays["token_attribution"].shape == (len(t.X), 6)
    assert set(global_importance(a)["ranking"][:2].tolist()) == set(planted.tab_features)
    gap = np.abs(a.values.reshape(len(t.X), -1).sum(1) - a.delta)
    assert np.abs(a.delta).sum() / gap.sum() < 0.01


# --- DeepLift where it does not apply ---------------------------------------------------


@pytest.mark.parametrize(
    ("family", "modality", "module"),
    [("rnn", "sequence", "LSTM"), ("transformer", "tabular", "TransformerEncoderLayer")],
)
def test_deeplift_refused_with_the_module_named(
    trained: Callable, family: str, modality: str, module: str
) -> None:
    t = trained(family, modality)
    dl = chosen(t.model, modality)["deeplift"]
    assert not dl.chosen and f"{module} has no DeepLift rule" in dl.reason
    assert "fall back to gradients" in dl.reason
    with pytest.raises(ExplainError, match=module):
        attribute(t.model, t.X[:4], "deeplift")
    forced = attribute(t.model, t.X[:4], "deeplift", force=True)
    assert module in forced.note and np.isfinite(forced.values).all()


class _ReusedRelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.act = nn.Linear(4, 8), nn.Linear(8, 2), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.b(self.act(self.a(x))))


def test_a_reused_nonlinearity_rules_deeplift_out() -> None:
    model = _ReusedRelu()
    dl = {c.method: c for c in choose_methods(model, "tabular", example=torch.zeros(1, 4))}
    assert not dl["deeplift"].chosen and "act runs 2 times" in dl["deeplift"].reason
    unchecked = chosen(model, "tabular")["deeplift"]
    assert unchecked.chosen and "unchecked" in unchecked.reason
    with pytest.raises(ExplainError, match="runs 2 times"):
        attribute(model, torch.randn(3, 4), "deeplift")


def test_method_choice_follows_the_architecture() -> None:
    cnn = spec("image", (3, 8, 8), RELU_CNN)
    c = chosen(cnn, "image")
    assert set(c) == set(METHODS)
    assert c["deeplift"].chosen and c["smoothgrad"].chosen
    # a flatten head reads the map position by position: Grad-CAM cannot localise (issue #12)
    assert not c["layer_gradcam"].chosen and "by position" in c["layer_gradcam"].reason
    pooled = spec("image", (3, 8, 8), [*RELU_CNN, BlockSpec("global_pool.v1", {})])
    assert chosen(pooled, "image")["layer_gradcam"].chosen
    assert not c["attention"].chosen and not c["input_x_gradient"].chosen
    embed = BlockSpec("embed_tabular.v1", {"d_model": 8, "positions": "none"})
    tab = chosen(spec("tabular", (5,), [embed, *TFM]), "tabular")
    assert tab["attention"].chosen and tab["layer_integrated_gradients"].chosen
    assert not tab["layer_gradcam"].chosen and not tab["smoothgrad"].chosen
    gelu = spec("tabular", (5,), [BlockSpec("dense.v1", {"units": 4, "activation": "gelu"})])
    g = chosen(gelu, "tabular")
    assert not g["deeplift"].chosen and "b0_dense.act: GELU" in g["deeplift"].reason
    assert g["input_x_gradient"].chosen


# --- every family x modality the search produces ------------------------------------------

_SHAPES = {"tabular": (6,), "image": (3, 8, 8), "sequence": (12, 3)}
_CASES = [
    (fam, mod, task)
    for mod, fams in APPLICABLE.items()
    for fam in fams
    for task in ("classification", "regression")
]
_FAST = {
    "integrated_gradients": {"n_steps": 8},
    "layer_integrated_gradients": {"n_steps": 8},
    "smoothgrad": {"nt_samples": 3},
    "gradient_shap": {"n_samples": 3},
}


@pytest.mark.parametrize(("family", "modality", "task"), _CASES)
def test_every_sampled_architecture_explains(family: str, modality: str, task: str) -> None:
    ctx = SpaceContext(_SHAPES[modality], modality, task, 3 if task == "classification" else 2)
    seed = _CASES.index((family, modality, task))
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
    model = build_model(get_space(family).sample(trial, ctx))
    X = torch.randn(3, *_SHAPES[modality])
    picks = [c.method for c in choose_methods(model, modality) if c.chosen]
    assert "integrated_gradients" in picks
    for m in picks:
        a = attribute(model, X, m, **_FAST.get(m, {}))
        assert a.values.shape == X.shape and np.isfinite(a.values).all(), m
        assert a.targets.shape == (3,) and (METHODS[m].complete == (a.delta is not None)), m
        json.dumps(a.meta())


@pytest.mark.parametrize(
    ("modality", "shape", "blocks"),
    [
        (
            "image",
            (3, 8, 8),
            [BlockSpec("embed_patch.v1", {"d_model": 8, "patch": 4, "cls": True})],
        ),
        ("image", (1, 6, 5), [BlockSpec("embed_patch.v1", {"d_model": 8, "patch": 0})]),
        ("sequence", (12, 2), [BlockSpec("embed_steps.v1", {"d_model": 8, "window": 5})]),
        ("sequence", (12, 2), [BlockSpec("embed_steps.v2", {"d_model": 8, "window": 5})]),
        ("image", (1, 7, 6), [BlockSpec("embed_patch.v2", {"d_model": 8, "patch": 4})]),
        (
            "image",
            (1, 8, 8),
            [RELU_CNN[0], BlockSpec("embed_patch.v1", {"d_model": 8, "patch": 1})],
        ),
    ],
    ids=["patches+cls", "rows", "windows", "padded_windows", "padded_patches", "cnn_stem"],
)
def test_token_attributions_map_back_to_the_input(
    modality: str, shape: tuple[int, ...], blocks: list[BlockSpec]
) -> None:
    model = spec(modality, shape, [*blocks, *TFM])
    X = torch.randn(4, *shape)
    a = attribute(model, X, "layer_integrated_gradients")
    tokens = a.arrays["token_attribution"]
    # the mapping keeps each example's total: the tokens' sum is the input elements' sum
    np.testing.assert_allclose(a.values.reshape(4, -1).sum(1), tokens.sum(1), atol=1e-4)
    v = a.values
    if blocks[0].params.get("patch") == 4:  # one value per 4x4 patch, over all channels
        assert np.allclose(v[:, :, :4, :4], v[:, :1, :1, :1])
    if blocks[0].kind == "embed_steps.v1":  # steps 10 and 11 feed no token
        assert (v[:, 10:] == 0).all() and np.allclose(v[:, :5], v[:, :1, :1])
    if blocks[0].kind == "embed_steps.v2":  # 3 zeros first: tokens read steps 0-1, 2-6, 7-11
        assert np.allclose(v[:, :2], v[:, :1, :1]) and np.allclose(v[:, 7:], v[:, 7:8, :1])
        assert np.allclose(v[:, 2:7], v[:, 2:3, :1]) and not np.allclose(v[:, 6], v[:, 7])
        assert (v[:, 10:] != 0).all()  # the last steps are seen
    if blocks[0].kind == "embed_patch.v2":  # 7x6 padded to 8x8: 4 patches, every pixel seen
        assert tokens.shape[1] == 4 and (v != 0).all()
        assert np.allclose(v[:, :, 4:, 4:], v[:, :, 4:5, 4:5])  # the bottom-right patch
    att = attribute(model, X, "attention")
    assert att.values.shape == X.shape and np.isfinite(att.values).all()


def test_attention_maps_known_answer() -> None:
    """Zero query/key projections make every attention weight 1/T, on the fast path too."""
    embed = BlockSpec("embed_tabular.v1", {"d_model": 8, "positions": "none"})
    model = spec("tabular", (5,), [embed, *TFM])
    for layer in model.features.b1_tfm_encoder.layers:
        with torch.no_grad():
            layer.self_attn.in_proj_weight[:16].zero_()
            layer.self_attn.in_proj_bias[:16].zero_()
    assert torch.backends.mha.get_fastpath_enabled()
    a = attribute(model, torch.randn(20, 5), "attention", keep_maps=4)
    assert a.arrays["attention"].shape == (4, 2, 2, 5, 5)  # examples, layers, heads, T, T
    np.testing.assert_allclose(a.arrays["attention"], 0.2, atol=1e-6)
    np.testing.assert_allclose(a.values, 0.2, atol=1e-6)
    assert a.params["layers"] == 2 and "rollout" in a.arrays


def test_gradcam_is_upsampled_and_broadcast() -> None:
    cnn = spec("image", (3, 8, 8), RELU_CNN)
    a = attribute(cnn, torch.rand(5, 3, 8, 8), "layer_gradcam")
    assert a.values.shape == (5, 3, 8, 8) and (a.values >= 0).all()
    assert np.array_equal(a.values[:, 0], a.values[:, 2]) and a.params["layer"] == "b1_conv2d"
    conv1d = BlockSpec("conv1d.v1", {"channels": 4, "pool": "max"})
    seq = spec("sequence", (12, 3), [conv1d])
    s = attribute(seq, torch.randn(5, 12, 3), "layer_gradcam")
    assert np.array_equal(s.values[:, :, 0], s.values[:, :, 2])


# --- the call's contract --------------------------------------------------------------------


def test_mode_restored_and_no_hooks_left_even_on_error() -> None:
    cnn = spec("image", (3, 8, 8), RELU_CNN)
    embed = BlockSpec("embed_tabular.v1", {"d_model": 8, "positions": "none"})
    tfm = spec("tabular", (5,), [embed, *TFM])
    runs = [(cnn, (3, 8, 8), m) for m in ("deeplift", "layer_gradcam", "occlusion")]
    runs += [(tfm, (5,), m) for m in ("attention", "layer_integrated_gradients")]
    for model, shape, m in runs:
        model.train()
        attribute(model, torch.rand(4, *shape), m)
        assert model.training and no_hooks(model), m
    with pytest.raises(RuntimeError):
        attribute(tfm, torch.rand(4, 7), "attention", modality="tabular")
    assert tfm.training and no_hooks(tfm)


def test_cudnn_is_turned_off_only_for_recurrent_models_on_cuda() -> None:
    lstm = spec("sequence", (6, 2), [BlockSpec("lstm.v1", {"hidden": 4})])
    mlp = spec("tabular", (5,), [BlockSpec("dense.v1", {"units": 4})])
    assert needs_cudnn_off(lstm, torch.device("cuda")) and needs_cudnn_off(lstm, "cuda:1")
    assert not needs_cudnn_off(lstm, "cpu") and not needs_cudnn_off(mlp, "cuda")
    assert isinstance(gradient_context(lstm, "cpu"), nullcontext)
    before = torch.backends.cudnn.enabled
    with gradient_context(lstm, "cuda"):
        assert not torch.backends.cudnn.enabled
    assert torch.backends.cudnn.enabled == before


def test_batches_and_seeds_do_not_change_the_answer() -> None:
    cnn = spec("image", (3, 8, 8), RELU_CNN)
    X = torch.rand(10, 3, 8, 8)
    one = attribute(cnn, X, "integrated_gradients", batch_size=3, internal_batch_size=7)
    two = attribute(cnn, X, "integrated_gradients", batch_size=64)
    np.testing.assert_allclose(one.values, two.values, atol=1e-5)
    state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    g1, g2 = (attribute(cnn, X, "gradient_shap") for _ in range(2))
    assert np.array_equal(g1.values, g2.values)
    assert torch.equal(torch.get_rng_state(), state)
    assert np.array_equal(np.random.get_state()[1], np_state)


def test_baselines_are_labelled_and_checked() -> None:
    cnn = spec("image", (3, 8, 8), RELU_CNN)
    X = torch.rand(4, 3, 8, 8)
    # zero is black only for unscaled images: without the preprocessing record, say so (#12)
    unknown = attribute(cnn, X, "integrated_gradients", n_steps=4).baseline
    assert "black" not in unknown and "preprocessing was not given" in unknown
    scaled = {"inputs": {"method": "scale", "divisor": 255.0}}
    assert "black" in attribute(cnn, X, "occlusion", preprocessing=scaled).baseline
    mean = X.mean(0)
    a = attribute(cnn, X, "integrated_gradients", baseline=mean, baseline_name="train mean")
    assert a.baseline == "train mean"
    with torch.no_grad():
        f_mean = cnn.eval()(mean[None])[0, torch.as_tensor(a.targets)].numpy()
    np.testing.assert_allclose(a.base_values, f_mean, rtol=1e-5)
    gs = attribute(cnn, X, "gradient_shap", baseline=torch.rand(7, 3, 8, 8))
    assert gs.baseline == "7 references" and gs.params["n_baselines"] == 7
    with pytest.raises(ExplainError, match="one reference"):
        attribute(cnn, X, "integrated_gradients", baseline=torch.rand(7, 3, 8, 8))
    with pytest.raises(ExplainError, match="shape"):
        attribute(cnn, X, "integrated_gradients", baseline=torch.rand(3, 8))
    tab = spec("tabular", (5,), [BlockSpec("dense.v1", {"units": 4})])
    standardized = {"inputs": {"method": "standardize", "per": "feature"}}
    occ = attribute(tab, torch.randn(2, 5), "occlusion", preprocessing=standardized)
    assert "training mean" in occ.baseline


def test_errors_name_the_problem_and_the_choices() -> None:
    mlp = spec("tabular", (5,), [BlockSpec("dense.v1", {"units": 4})])
    X = torch.randn(3, 5)
    with pytest.raises(ExplainError, match="integrated_gradients"):
        attribute(mlp, X, "integrated_gradient")
    with pytest.raises(ExplainError, match="'steps'.*n_steps"):
        attribute(mlp, X, "integrated_gradients", steps=10)
    with pytest.raises(ExplainError, match=r"\[0, 3\)"):
        attribute(mlp, X, "saliency", targets=3)
    with pytest.raises(ExplainError, match="token embedding"):
        attribute(mlp, X, "layer_integrated_gradients")
    with pytest.raises(ExplainError, match="conv block"):
        attribute(mlp, X, "layer_gradcam")
    assert attribute(mlp, X, "feature_ablation").method == "occlusion"
    reg = ArchSpec(
        "fnn", "regression", "tabular", (5,), 2, (BlockSpec("dense.v1", {"units": 4}),),
        BlockSpec("regress.v1", {"outputs": 2}),
    )  # fmt: skip
    assert (attribute(build_model(reg), X, "saliency").targets == 0).all()
