"""Known-answer tests of nas.cost: every expected number is worked out by hand below."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from nas.cost import ENERGY_PJ_PER_FLOP, Budget, Cost, count_flops, count_params, measure_cost
from nas.errors import BudgetError, ShapeError

T = 7  # sequence length of every sequence case


def rnn_flops(gates: int, i: int, h: int, layers: int = 1, dirs: int = 1, t: int = T) -> int:
    """2 * T * G * (I*H + H*H) per layer and direction; layers > 0 read H * dirs features."""
    return sum(
        dirs * 2 * t * gates * ((i if layer == 0 else h * dirs) * h + h * h)
        for layer in range(layers)
    )


def encoder_layer_flops(t: int, d: int, f: int) -> int:
    """QKV 2*T*d*3d + scores 2*T*T*d + attn x V 2*T*T*d + out proj 2*T*d*d + FFN 2*T*d*f*2."""
    return 2 * t * d * 3 * d + 2 * t * t * d + 2 * t * t * d + 2 * t * d * d + 2 * t * d * f * 2


def encoder_layer(norm_first: bool = False, activation: str = "relu") -> nn.Module:
    return nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    )


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (lambda: nn.Linear(10, 5), 10 * 5 + 5),  # 55
        (lambda: nn.Conv2d(3, 8, 3), 8 * 3 * 3 * 3 + 8),  # 224
        (lambda: nn.RNN(4, 8), 8 * (4 + 8) + 2 * 8),  # 112
        (lambda: nn.LSTM(4, 8), 4 * 8 * (4 + 8) + 2 * 4 * 8),  # 448
        (lambda: nn.GRU(4, 8), 3 * 8 * (4 + 8) + 2 * 3 * 8),  # 336
    ],
)
def test_count_params_known_models(factory: Callable[[], nn.Module], expected: int) -> None:
    assert count_params(factory()) == expected


def test_count_params_shared_once_and_trainable() -> None:
    model = nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 5), nn.Linear(5, 2))
    model[0].weight.requires_grad_(False)  # 50 frozen weights
    assert count_params(model) == 55 + 30 + 12
    assert count_params(model, trainable_only=True) == 55 + 30 + 12 - 50
    lin = nn.Linear(10, 10)
    shared = nn.Sequential(lin, nn.ReLU(), lin)  # one Linear(10, 10) used twice
    assert count_params(shared) == 110
    assert count_flops(shared, (10,)) == 2 * (2 * 10 * 10)  # but run twice


# --- FLOPs -------------------------------------------------------------------------------------


FLOP_CASES = {
    "linear": (lambda: nn.Linear(10, 5), (10,), 2 * 10 * 5),
    # Conv: 2 * out positions * out channels * (in channels per group * kernel area).
    "conv1d": (lambda: nn.Conv1d(3, 8, 3), (3, 20), 2 * 18 * 8 * 3 * 3),
    "conv2d": (lambda: nn.Conv2d(3, 8, 3), (3, 10, 10), 2 * 64 * 8 * 3 * 9),
    "depthwise": (lambda: nn.Conv2d(8, 8, 3, groups=8), (8, 10, 10), 2 * 64 * 8 * 1 * 9),
    "grouped": (lambda: nn.Conv2d(8, 16, 3, groups=4), (8, 10, 10), 2 * 64 * 16 * 2 * 9),
    "rnn": (lambda: nn.RNN(4, 8, batch_first=True), (T, 4), rnn_flops(1, 4, 8)),
    "lstm": (lambda: nn.LSTM(4, 8, batch_first=True), (T, 4), rnn_flops(4, 4, 8)),
    "gru": (lambda: nn.GRU(5, 6, batch_first=True), (T, 5), rnn_flops(3, 5, 6)),
    "gru_2layer_bidir": (
        lambda: nn.GRU(4, 8, num_layers=2, bidirectional=True, batch_first=True),
        (T, 4),
        rnn_flops(3, 4, 8, layers=2, dirs=2),
    ),
    # Without batch_first the per-example shape (T, 4) reads as T=1 step over a batch of T.
    "lstm_seq_first": (lambda: nn.LSTM(4, 8), (T, 4), rnn_flops(4, 4, 8, t=1) * T),
    "encoder_2layer": (
        lambda: nn.TransformerEncoder(encoder_layer(), 2),
        (T, 16),
        2 * encoder_layer_flops(T, 16, 32),
    ),
}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", list(FLOP_CASES))
def test_count_flops_matches_formula(name: str, mode: str) -> None:
    factory, shape, expected = FLOP_CASES[name]
    model = getattr(factory(), mode)()
    flops = count_flops(model, shape)
    assert flops > 0
    assert flops == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_flops_with_and_without_fast_path(
    norm_first: bool, activation: str, mode: str, grad: bool
) -> None:
    # eval + no_grad is the case torch runs through the fused fast path, invisible to the counter.
    model = getattr(encoder_layer(norm_first, activation), mode)()
    with torch.set_grad_enabled(grad):
        flops = count_flops(model, (T, 16))
    assert flops == pytest.approx(encoder_layer_flops(T, 16, 32), rel=0.05)


def test_composite_model_counts_each_part_once() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(4, 16)
            self.rnn = nn.LSTM(16, 8, batch_first=True)
            self.attn = nn.TransformerEncoder(encoder_layer(), 1)
            self.out = nn.Linear(8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.attn(self.inp(x))
            return self.out(self.rnn(h)[0][:, -1])

    expected = 2 * T * 4 * 16 + encoder_layer_flops(T, 16, 32) + rnn_flops(4, 16, 8) + 2 * 8 * 3
    assert count_flops(Net().eval(), (T, 4)) == pytest.approx(expected, rel=0.05)


def test_attention_outside_the_modules_is_counted() -> None:
    class Sdpa(nn.Module):  # hand-written attention: CPU flash kernel, unknown to the counter
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(16, 48)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q, k, v = self.qkv(x).view(1, T, 3, 4, 4).permute(2, 0, 3, 1, 4)
            return nn.functional.scaled_dot_product_attention(q, k, v)

    class Padded(nn.Module):  # a padding mask makes the eval encoder use nested tensors
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.TransformerEncoder(encoder_layer(), 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mask = torch.zeros(x.shape[:2], dtype=torch.bool)
            mask[:, -2:] = True
            return self.enc(x, src_key_padding_mask=mask)

    assert count_flops(Sdpa(), (T, 16)) == 2 * T * 16 * 48 + 2 * T * T * 16 + 2 * T * T * 16
    padded = Padded().eval()
    # Counted dense, padding included: the same as without a mask.
    assert count_flops(padded, (T, 16)) == 2 * encoder_layer_flops(T, 16, 32)
    assert padded.enc.use_nested_tensor  # switched off while counting only


def test_parameter_free_model_has_zero_flops() -> None:
    assert count_flops(nn.Sequential(nn.ReLU(), nn.Flatten()), (3, 4)) == 0


# --- measure_cost ----------------------------------------------------------------------------


def test_measure_cost_fields() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 4))
    cost = measure_cost(model, (1, 8, 8), batch_size=8, warmup=1, repeats=3)
    assert cost.params == cost.trainable_params == (2 * 9 + 2) + (72 * 4 + 4)  # 312
    assert cost.flops == 2 * 36 * 2 * 9 + 2 * 72 * 4
    assert cost.energy_mj == pytest.approx(cost.flops * ENERGY_PJ_PER_FLOP * 1e-9)
    # params 312*4 B + input 64*4 + conv 72*4 + relu 72*4 + flatten (a view: 0) + linear 4*4,
    # + the conv's weight as oneDNN reorders it, channels padded to 16: 16 * 16 * 3 * 3 * 4
    # (more than its unfolded input, 1 * 9 * 36 * 4)
    assert cost.memory_mb == pytest.approx((1248 + 256 + 288 + 288 + 16 + 9216) / 1024**2)
    assert cost.batch_size == 8 and cost.device == "cpu"
    for value in (cost.latency_ms, cost.latency_ms_batch):
        assert value is not None and math.isfinite(value) and value > 0
    assert Cost.from_dict(json.loads(json.dumps(cost.to_dict()))) == cost


def test_measure_cost_without_latency() -> None:
    cost = measure_cost(nn.LSTM(4, 8, batch_first=True), (T, 4), latency=False)
    assert cost.latency_ms is None and cost.latency_ms_batch is None
    assert cost.flops == rnn_flops(4, 4, 8) and cost.params == 448
    assert json.loads(json.dumps(cost.to_dict()))["latency_ms"] is None


@pytest.mark.parametrize("grad", [True, False])
def test_measure_cost_restores_modes_and_state(grad: bool) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    model.train()
    model[2].eval()  # mixed modes must survive, not be flattened to one
    before = [m.training for m in model.modules()]
    stats = model[1].running_mean.clone()
    with torch.set_grad_enabled(grad):
        measure_cost(model, (4,), batch_size=4, warmup=1, repeats=2)
        assert torch.is_grad_enabled() is grad
    assert [m.training for m in model.modules()] == before
    assert torch.equal(model[1].running_mean, stats)  # ran in eval: no statistics update
    assert next(model.parameters()).device.type == "cpu"


def test_measure_cost_rejects_bad_arguments() -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(ShapeError, match="input_shape"):
        measure_cost(model, (0, 3))
    with pytest.raises(BudgetError, match="batch_size must be an int >= 1, got 0"):
        measure_cost(model, (3,), batch_size=0)
    with pytest.raises(BudgetError, match="repeats"):
        measure_cost(model, (3,), repeats=0)


# --- Budget ------------------------------------------------------------------------------------


def make_cost(**changes: object) -> Cost:
    base = Cost(1_234_567, 1_234_567, 5_000, 3.5, 40.0, 256, 12.5, 0.1, "cpu")
    return Cost(**{**base.to_dict(), **changes})


def test_budget_check_lists_violations() -> None:
    budget = Budget(max_params=1_000_000, max_flops=10_000, max_latency_ms=2, max_memory_mb=10)
    assert budget.check(make_cost()) == [
        "params 1,234,567 > max_params 1,000,000",
        "latency_ms 3.5 > max_latency_ms 2",
        "memory_mb 12.5 > max_memory_mb 10",
    ]
    assert budget.check(make_cost(params=10, latency_ms=1.0, memory_mb=1.0)) == []
    assert Budget().check(make_cost()) == []


def test_budget_properties_and_round_trip() -> None:
    assert Budget().is_empty and not Budget().needs_latency
    budget = Budget(max_params=1e6, max_latency_ms=5)
    assert budget.max_params == 1_000_000 and isinstance(budget.max_params, int)
    assert not budget.is_empty and budget.needs_latency
    assert Budget.from_dict(json.loads(json.dumps(budget.to_dict()))) == budget
    assert Budget.from_dict({"max_flops": 10}) == Budget(max_flops=10)
    with pytest.raises(BudgetError, match="unknown keys \\['max_parms'\\]"):
        Budget.from_dict({"max_parms": 10})


def test_latency_budget_needs_measured_latency() -> None:
    with pytest.raises(BudgetError, match="latency=True"):
        Budget(max_latency_ms=1).check(make_cost(latency_ms=None, latency_ms_batch=None))
    assert Budget(max_params=10**7).check(make_cost(latency_ms=None)) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_params": -3}, "Budget max_params must be a positive whole number or None, got -3."),
        ({"max_flops": 0}, "max_flops must be a positive whole number or None, got 0."),
        ({"max_params": 1.5}, "got 1.5."),
        ({"max_latency_ms": -1.0}, "max_latency_ms must be a positive number or None, got -1."),
        ({"max_params": -1.0}, "max_params must be a positive whole number or None, got -1."),
        ({"max_memory_mb": float("nan")}, "got nan."),
        ({"max_memory_mb": "10"}, "got '10'."),
        ({"max_params": True}, "got True."),
    ],
)
def test_invalid_budget_raises(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BudgetError) as info:
        Budget(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
