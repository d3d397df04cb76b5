"""SHAP values against answers known in advance: linear models, brute-force Shapley values, groups,
and the explainer choice per architecture."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from explain.shap_groups import (
    ShapError,
    check_groups,
    default_groups,
    group_sums,
    looks_one_hot,
    one_hot_groups,
    patch_groups,
    time_window_groups,
)
from explain.shap_values import METHODS, choose_shap_method, shap_explain
from search_spaces import ArchSpec, BlockSpec, build_model

B = BlockSpec


@pytest.fixture(autouse=True)
def _one_thread() -> object:
    """Two shared cores: one torch thread keeps these small models fast and the machine usable."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def brute_force_shapley(f, x: torch.Tensor, bg: torch.Tensor, groups: np.ndarray) -> np.ndarray:
    """Shapley values of the game v(S) = mean_b f(x on S's groups, b elsewhere), by enumerating
    every coalition of the G groups (the interventional value function)."""
    flat = torch.as_tensor(groups.reshape(-1))
    n = int(flat.max()) + 1
    v = {}
    for size in range(n + 1):
        for s in itertools.combinations(range(n), size):
            keep = torch.isin(flat, torch.tensor(s, dtype=torch.long)).reshape(x.shape)
            with torch.no_grad():
                v[frozenset(s)] = f(torch.where(keep, x, bg)).double().mean().item()
    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            w = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for s in itertools.combinations(others, size):
                phi[i] += w * (v[frozenset(s) | {i}] - v[frozenset(s)])
    return phi


def _linear(weights: list[float], bias: float, outputs: int = 1) -> nn.Linear:
    lin = nn.Linear(len(weights), outputs).double()
    with torch.no_grad():
        lin.weight[:] = (
            torch.tensor(weights, dtype=torch.float64)
            * torch.arange(1, outputs + 1)[:, None].double()
        )
        lin.bias[:] = bias
    return lin


# --- groups -------------------------------------------------------------------------------


def test_group_helpers_give_the_documented_ids() -> None:
    tw = time_window_groups(10, 2, 4)
    assert tw.shape == (10, 2)
    assert tw[:, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2] and (tw[:, 0] == tw[:, 1]).all()
    pg = patch_groups(2, 4, 5, 2)
    assert pg.shape == (2, 4, 5) and (pg[0] == pg[1]).all()
    assert pg[0].tolist() == [[0, 0, 1, 1, 2], [0, 0, 1, 1, 2], [3, 3, 4, 4, 5], [3, 3, 4, 4, 5]]
    names = ["age", "color=red", "color=blue", "size", "color=green"]
    assert one_hot_groups(names).tolist() == [0, 1, 1, 2, 1]
    assert looks_one_hot(names) and not looks_one_hot(["a", "b=1", "c"])
    assert int(default_groups((40, 1)).max()) + 1 == 14  # windows of 3 steps
    assert int(default_groups((1, 8, 8)).max()) + 1 == 16  # 2x2 patches
    assert default_groups((7,)) is None
    assert check_groups(np.array([5, 5, 2, 9]), (4,)).tolist() == [0, 0, 1, 2]
    with pytest.raises(ShapError, match="one example's shape"):
        check_groups(np.zeros(3, dtype=int), (4,))
    with pytest.raises(ShapError, match="non-negative integer"):
        check_groups(np.array([0.5, 1.0]), (2,))
    with pytest.raises(ShapError, match="window must be a positive integer"):
        time_window_groups(4, 1, 0)


@pytest.mark.parametrize("method", ["shap_exact", "shap_permutation"])
def test_grouped_values_are_the_group_game_split_equally(method: str) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2)).double()
    X, bg = torch.randn(3, 1, 4, 4, dtype=torch.float64), torch.randn(10, 1, 4, 4).double()
    groups = patch_groups(1, 4, 4, 2)
    a = shap_explain(model, X, bg, method=method, groups=groups, targets=1, max_evals=1000)
    assert a.method == method and a.params["n_groups"] == 4
    assert len(a.params["group_ids"]) == 16
    for g in range(4):  # one value per group, shared equally by its 4 pixels
        cell = a.values[:, groups == g]
        assert np.allclose(cell, cell[:, :1], atol=1e-7)
    sums = group_sums(a.values, groups)
    np.testing.assert_allclose(a.values.reshape(3, -1).sum(1), sums.sum(1), atol=1e-5)
    if method == "shap_exact":
        for i in range(3):
            want = brute_force_shapley(lambda z: model(z)[:, 1], X[i], bg, groups)
            np.testing.assert_allclose(sums[i], want, atol=1e-5)
    assert a.delta.max() < 1e-4  # both are exactly additive


def test_time_windows_on_a_sequence() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    X, bg = torch.randn(2, 6, 2).double(), torch.randn(8, 6, 2).double()
    groups = time_window_groups(6, 2, 2)
    a = shap_explain(model, X, bg, method="auto", groups=groups)
    assert a.method == "shap_exact" and "3 groups of 4 elements" in a.params["groups"]
    want = brute_force_shapley(lambda z: model(z)[:, 0], X[0], bg, groups)
    np.testing.assert_allclose(group_sums(a.values, groups)[0], want, atol=1e-5)


# --- known answers ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["shap_exact", "shap_permutation", "shap_deep"])
def test_linear_model_values_are_w_times_x_minus_mean(method: str) -> None:
    torch.manual_seed(3)
    lin = _linear([1.0, -2.0, 0.0, 0.5, 3.0], 0.7)
    X, bg = torch.randn(6, 5).double(), torch.randn(20, 5).double()
    X[:, 3] = bg[:, 3] = 1.5  # a feature equal to the background everywhere: SHAP skips it
    a = shap_explain(lin, X, bg, method=method)
    want = (lin.weight[0] * (X - bg.mean(0))).detach().numpy()
    np.testing.assert_allclose(a.values, want, atol=1e-5)
    assert np.abs(a.values[:, 2]).max() < 1e-12  # the feature the model ignores
    np.testing.assert_allclose(a.base_values, lin(bg.mean(0)).item(), atol=1e-10)
    assert a.values.dtype == np.float32 and a.targets.tolist() == [0] * 6
    assert a.delta.max() < 1e-4 and a.base_values.shape == (6,)


def test_exact_matches_brute_force_shapley_of_a_6_feature_mlp() -> None:
    torch.manual_seed(4)
    mlp = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    mlp = mlp.double()
    X, bg = torch.randn(4, 6).double(), torch.randn(15, 6).double()
    a = shap_explain(mlp, X, bg)  # auto: a 6-feature tabular input gets exact Shapley values
    assert a.method == "shap_exact" and "tabular" in a.note
    groups = np.arange(6)
    for i in range(len(X)):
        t = int(a.targets[i])
        want = brute_force_shapley(lambda z, t=t: mlp(z)[:, t], X[i], bg, groups)
        np.testing.assert_allclose(a.values[i], want, atol=1e-5)
        fx = mlp(X[i : i + 1])[0, t].item()
        assert abs(a.values[i].astype(np.float64).sum() + a.base_values[i] - fx) < 1e-4
    with torch.no_grad():
        assert a.targets.tolist() == mlp(X).argmax(1).tolist()  # predicted classes by default


def test_targets_and_background_sample_are_honoured() -> None:
    torch.manual_seed(5)
    lin = _linear([1.0, 2.0, -1.0], 0.0, outputs=2)
    X, bg = torch.randn(4, 3).double(), torch.randn(40, 3).double()
    a = shap_explain(lin, X, bg, method="shap_permutation", targets=[0, 1, 1, 0], seed=3)
    assert a.params["background_size"] == 25  # the masking explainers' default sample
    used = bg[torch.as_tensor(np.sort(np.random.default_rng(3).choice(40, 25, replace=False)))]
    for i, t in enumerate([0, 1, 1, 0]):
        want = (lin.weight[t] * (X[i] - used.mean(0))).detach().numpy()
        np.testing.assert_allclose(a.values[i], want, atol=1e-5)
        np.testing.assert_allclose(a.base_values[i], lin(used).mean(0)[t].item(), atol=1e-10)
    with pytest.raises(ShapError, match="targets must be output indices"):
        shap_explain(lin, X, bg, targets=2)


@pytest.mark.parametrize(
    "blocks, shape",
    [
        (
            [
                B(
                    "dense.v1",
                    {"units": 16, "activation": "gelu", "norm": "batch", "residual": True},
                ),
                B("dense.v1", {"units": 8, "activation": "elu"}),
            ],
            (10,),
        ),
        (
            [
                B("conv1d.v1", {"channels": 4, "pool": "max", "residual": True}),
                B("conv1d.v1", {"channels": 4, "pool": "avg", "separable": True}),
            ],
            (12, 2),
        ),
        (
            [B("conv2d.v1", {"channels": 4, "pool": "max"}), B("global_pool.v1", {"mode": "avg"})],
            (1, 8, 8),
        ),
    ],  # fmt: skip
    ids=["fnn-bn-res", "cnn1d-pools", "cnn2d-gap"],
)
def test_deep_explainer_is_chosen_and_additive_on_supported_blocks(blocks, shape) -> None:
    torch.manual_seed(6)
    modality = {1: "sequence", 2: "sequence", 3: "image"}[len(shape)]  # (10,) as a signal
    spec = ArchSpec("cnn", "classification", modality, shape if len(shape) > 1 else (10, 1), 3,
                    tuple(blocks), B("classify.v1", {"hidden": 8}))  # fmt: skip
    model = build_model(spec)
    for m in model.modules():  # non-trivial running statistics, so BatchNorm matters
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    keys, x_shape = set(model.state_dict()), spec.input_shape
    X, bg = torch.randn(5, *x_shape), torch.randn(30, *x_shape)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = shap_explain(model, X, bg)  # explains the model in eval mode ...
    assert set(model.state_dict()) == keys and model.training  # ... and SHAP leaves no trace
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())
    assert not [w for w in caught if "unrecognized nn.Module" in str(w.message)]
    assert a.method == "shap_deep" and "additivity verified" in a.note
    with torch.no_grad():
        fx = model.eval()(X)[torch.arange(5), torch.as_tensor(a.targets)].double().numpy()
    np.testing.assert_allclose(a.values.reshape(5, -1).sum(1) + a.base_values, fx, atol=1e-4)


# --- the explainer choice -----------------------------------------------------------------


def _seq_spec(blocks: list[BlockSpec], family: str) -> ArchSpec:
    return ArchSpec(family, "classification", "sequence", (8, 2), 3, tuple(blocks),
                    B("classify.v1"))  # fmt: skip


@pytest.mark.parametrize(
    "spec",
    [
        _seq_spec([B("lstm.v1", {"hidden": 8})], "rnn"),
        _seq_spec(
            [
                B("embed_steps.v1", {"d_model": 8}),
                B("tfm_encoder.v1", {"heads": 2, "ff": 16}),
                B("seq_pool.v1"),
            ],
            "transformer",
        ),
    ],  # fmt: skip
    ids=["lstm", "transformer"],
)
def test_deep_explainer_is_refused_for_lstm_and_transformer(spec: ArchSpec) -> None:
    torch.manual_seed(7)
    model = build_model(spec)
    X, bg = torch.randn(3, 8, 2), torch.randn(10, 8, 2)
    choice = choose_shap_method(model, 16)
    assert choice.method == "shap_permutation" and "no" in choice.reason
    a = shap_explain(model, X, bg, max_evals=50)  # not expected gradients: additive instead
    assert a.method == "shap_permutation" and "exactly additive" in a.note
    assert np.isfinite(a.values).all() and a.delta.max() < 1e-5
    kind = "LSTM" if spec.family == "rnn" else "TransformerEncoderLayer"
    with pytest.raises(ShapError, match=f"shap_deep cannot explain.*{kind}"):
        shap_explain(model, X, bg, method="shap_deep")


class _Quadratic(nn.Module):
    """Only Linear leaves, but a functional square between them: no static check can see it."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 4), nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x.flatten(1)) ** 2)


def test_measured_additivity_failure_is_reported_or_falls_back() -> None:
    torch.manual_seed(8)
    model = _Quadratic()
    X, bg = torch.randn(4, 4, 2) * 3, torch.randn(10, 4, 2)
    a = shap_explain(model, X, bg, method="shap_deep")
    assert a.method == "shap_deep" and "additivity FAILED" in a.note
    fx = model(X)[torch.arange(4), torch.as_tensor(a.targets)].detach().double().numpy()
    assert (a.delta > 1e-4 + 1e-3 * np.abs(fx - a.base_values)).any()  # the tolerance
    auto = shap_explain(model, X, bg)
    assert auto.method == "shap_permutation" and "fell back to shap_permutation" in auto.note
    assert auto.params["deep_additivity_error"] > 1e-3 and auto.delta.max() < 1e-5


def test_bad_requests_raise_clear_errors() -> None:
    lin = _linear([1.0] * 12, 0.0)
    X, bg = torch.randn(2, 12).double(), torch.randn(5, 12).double()
    with pytest.raises(ShapError, match="method must be 'auto' or one of"):
        shap_explain(lin, X, bg, method="kernel")
    with pytest.raises(ShapError, match="needs max_evals >= 2\\^12"):
        shap_explain(lin, X, bg, method="shap_exact", max_evals=100)
    with pytest.raises(ShapError, match="one antithetic permutation"):
        shap_explain(lin, X, bg, method="shap_permutation", max_evals=10)
    with pytest.raises(ShapError, match="pass max_evals=4096 to accept that cost"):
        shap_explain(lin, X, bg, method="shap_exact")  # 12 players: explicit cost only
    with pytest.raises(ShapError, match="background must be rows shaped like"):
        shap_explain(lin, X, bg[:, :3])
    with pytest.raises(ShapError, match="X has no rows"):
        shap_explain(lin, X[:0], bg)


def test_a_plain_predict_function_gets_the_masking_explainers() -> None:
    lin = _linear([1.0, -1.0, 2.0], 0.5)
    X, bg = torch.randn(3, 3).double(), torch.randn(9, 3).double()
    state = np.random.get_state()[1].copy()
    a = shap_explain(lambda x: lin(x), X, bg)  # a function, not a module
    assert np.array_equal(np.random.get_state()[1], state)  # the caller's RNG is untouched
    assert a.method == "shap_exact"
    np.testing.assert_allclose(a.values, (lin.weight[0] * (X - bg.mean(0))).detach(), atol=1e-5)
    conv = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    b = shap_explain(lambda x: conv(x), torch.rand(2, 1, 6, 6), torch.rand(5, 1, 6, 6))
    assert b.method == "shap_permutation" and b.params["n_groups"] == 9  # 2x2 patches
    with pytest.raises(ShapError, match="needs a torch nn.Module"):
        shap_explain(lambda x: lin(x), X, bg, method="shap_deep")


def test_gradient_methods_share_each_group_value_too() -> None:
    torch.manual_seed(11)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 2))
    X, bg = torch.randn(3, 6, 2), torch.randn(10, 6, 2)
    groups = time_window_groups(6, 2, 3)
    plain = shap_explain(model, X, bg, method="shap_deep")
    grouped = shap_explain(model, X, bg, method="shap_deep", groups=groups)
    np.testing.assert_allclose(group_sums(grouped.values, groups), group_sums(plain.values, groups),
                               atol=1e-6)  # fmt: skip
    assert np.allclose(grouped.values[:, :3], grouped.values[:, :1, :1], atol=1e-7)
    assert grouped.delta.max() < 1e-4 and grouped.params["n_groups"] == 2


def test_one_hot_features_are_grouped_from_their_names() -> None:
    lin = _linear([1.0, 2.0, -1.0, 0.5], 0.0)
    X, bg = torch.eye(4)[:2].double(), torch.eye(4)[[1, 2, 3, 0, 2]].double()
    a = shap_explain(lin, X, bg, feature_names=["a", "c=x", "c=y", "b"], method="shap_exact")
    assert a.params["n_groups"] == 3 and "one-hot columns" in a.params["groups"]
    assert a.values[0, 1] == a.values[0, 2] and a.delta.max() < 1e-6  # no category on: even
    # Known answer, row 1 has c = x: the group's value, 2 (1 - 0.2) - (0 - 0.4) = 2.0 against
    # the background's means (0.2 and 0.4), goes to c=x, the category it has; c=y gets 0 (it
    # had been 1.0 each: c=y read as mattering as much as the category the row has)
    assert a.values[1, 1] == pytest.approx(2.0) and a.values[1, 2] == 0.0


def test_masking_a_large_image_uses_default_patches() -> None:
    torch.manual_seed(9)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    a = shap_explain(model, torch.rand(2, 1, 8, 8), torch.rand(6, 1, 8, 8),
                     method="shap_permutation")  # fmt: skip
    assert a.params["n_groups"] == 16 and a.delta.max() < 1e-4


# --- every family x modality --------------------------------------------------------------

SHAPES = {"tabular": (6,), "sequence": (8, 2), "image": (1, 6, 6)}
BODIES = {
    "fnn": [B("dense.v1", {"units": 8})],
    "cnn": [B("conv1d.v1", {"channels": 4, "pool": "max"})],
    "lstm": [B("lstm.v1", {"hidden": 6})],
    "gru": [B("gru.v1", {"hidden": 6, "reduce": "mean"})],
    "rnn": [B("rnn.v1", {"hidden": 6, "bidirectional": True})],
    "transformer": [B("tfm_encoder.v1", {"heads": 2, "ff": 8}), B("seq_pool.v1")],
    "cnn_rnn": [B("conv1d.v1", {"channels": 4}), B("gru.v1", {"hidden": 6})],
    "cnn_transformer": [B("conv1d.v1", {"channels": 4}), B("embed_steps.v1", {"d_model": 4}),
                        B("tfm_encoder.v1", {"heads": 2, "ff": 8}), B("seq_pool.v1")],
}  # fmt: skip
_EMBED = {"tabular": B("embed_tabular.v1", {"d_model": 4}),
          "sequence": B("embed_steps.v1", {"d_model": 4}),
          "image": B("embed_patch.v1", {"d_model": 4, "patch": 2})}  # fmt: skip


def _blocks(family: str, modality: str) -> list[BlockSpec]:
    blocks = list(BODIES[family])
    if modality == "image" and family in ("cnn", "cnn_rnn", "cnn_transformer"):
        blocks[0] = B("conv2d.v1", blocks[0].params)
        if family == "cnn_transformer":
            blocks[1] = B("embed_patch.v1", {"d_model": 4, "patch": 1})
    if family == "transformer":
        blocks.insert(0, _EMBED[modality])
    return blocks


@pytest.mark.parametrize("modality", list(SHAPES))
@pytest.mark.parametrize("family", list(BODIES))
def test_auto_explains_every_family_and_modality(family: str, modality: str) -> None:
    torch.manual_seed(10)
    task = "regression" if family == "gru" else "classification"
    spec = ArchSpec(family.replace("lstm", "rnn").replace("gru", "rnn"), task, modality,
                    SHAPES[modality], 2 if task == "regression" else 3,
                    tuple(_blocks(family, modality)),
                    B("regress.v1" if task == "regression" else "classify.v1"))  # fmt: skip
    model = build_model(spec)
    X, bg = torch.randn(3, *SHAPES[modality]), torch.randn(8, *SHAPES[modality])
    a = shap_explain(model, X, bg, max_evals=64 if modality == "tabular" else 40)
    assert a.method in METHODS and a.values.shape == X.shape
    assert np.isfinite(a.values).all() and a.base_values.shape == (3,)
    assert np.isfinite(a.base_values).all() and np.isfinite(a.delta).all()
    if modality == "tabular":
        assert a.method == "shap_exact" and a.delta.max() < 1e-4
    if task == "regression":
        assert a.targets.tolist() == [0, 0, 0]
    if family in ("lstm", "gru", "rnn", "transformer", "cnn_rnn", "cnn_transformer"):
        assert a.method != "shap_deep"
