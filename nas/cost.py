"""What a model costs before it trains: params, FLOPs, latency, memory, energy; and the Budget.

FLOPs follow the standard convention of ``torch.utils.flop_counter``: matmul / conv FLOPs only,
one multiply-add = 2 FLOPs, bias adds, activations, norms and softmax not counted. The counter
sees nothing of fused kernels (``nn.LSTM`` on CPU, every ``nn.RNNBase`` under cuDNN, the
Transformer inference fast path, CPU flash attention), so those modules are counted analytically
from their weight shapes and whatever the counter saw inside them is discarded, never added twice.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode

from nas.errors import BudgetError, ShapeError

#: Energy per FLOP of a laptop CPU, in picojoules. A 28 W 4-core laptop chip with one AVX-512 FMA
#: unit peaks near 4 x 2.8 GHz x 32 FLOP/cycle = 358 GFLOP/s, i.e. about 80 pJ/FLOP at the
#: socket; rounded up to 100 because inference rarely runs at peak. The ALU alone costs a few pJ
#: (Horowitz, ISSCC 2014); memory traffic and idle cores make up the rest. An estimate for ranking
#: architectures, not a meter.
ENERGY_PJ_PER_FLOP = 100.0

_MIB = 1024**2


@dataclass(frozen=True)
class Cost:
    """The measured cost of one model. ``latency_ms*`` are ``None`` when latency was skipped."""

    params: int  # all parameters, shared ones once
    trainable_params: int  # those with requires_grad
    flops: int  # one example's forward pass, eval mode
    latency_ms: float | None  # median at batch 1
    latency_ms_batch: float | None  # median at ``batch_size``
    batch_size: int
    memory_mb: float  # peak inference memory at batch 1, MiB
    energy_mj: float  # flops x ENERGY_PJ_PER_FLOP, millijoules per example
    device: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``None`` stays ``null``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cost:
        """Rebuild from :meth:`to_dict`; missing or unknown keys raise :class:`BudgetError`."""
        return cls(**_checked_keys(cls, data))


@dataclass(frozen=True)
class Budget:
    """Upper limits on a model's cost; ``None`` means unlimited. Every limit must be > 0."""

    max_params: int | None = None
    max_flops: int | None = None
    max_latency_ms: float | None = None
    max_memory_mb: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            whole = f.name in ("max_params", "max_flops")
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value) and value > 0 and (not whole or value == int(value))
            if not ok:
                kind = "positive whole number" if whole else "positive number"
                raise BudgetError(f"Budget {f.name} must be a {kind} or None, got {value!r}.")
            # 1e6 from a TOML file or the CLI is a fine max_params; store it as the int it means.
            object.__setattr__(self, f.name, int(value) if whole else float(value))

    @property
    def is_empty(self) -> bool:
        """True when no limit is set."""
        return all(getattr(self, f.name) is None for f in fields(self))

    @property
    def needs_latency(self) -> bool:
        """True when checking needs a measured latency (``measure_cost(..., latency=True)``)."""
        return self.max_latency_ms is not None

    def check(self, cost: Cost) -> list[str]:
        """Human-readable violations of this budget by ``cost``; empty when within budget.

        Raises :class:`BudgetError` when a latency limit is set but ``cost`` has no latency: a
        silent pass would let an over-budget model train.
        """
        if self.needs_latency and cost.latency_ms is None:
            raise BudgetError(
                f"Budget max_latency_ms={self.max_latency_ms:g} needs a measured latency, but the "
                "cost has latency_ms=None; measure it with measure_cost(..., latency=True)."
            )
        pairs = [
            ("params", cost.params, self.max_params),
            ("flops", cost.flops, self.max_flops),
            ("latency_ms", cost.latency_ms, self.max_latency_ms),
            ("memory_mb", cost.memory_mb, self.max_memory_mb),
        ]
        return [
            f"{name} {_fmt(value)} > max_{name} {_fmt(limit)}"
            for name, value, limit in pairs
            if limit is not None and value is not None and value > limit
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the four limits."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Budget:
        """Rebuild from :meth:`to_dict`; absent limits are ``None``, unknown keys an error."""
        return cls(**_checked_keys(cls, data, required=False))


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Exact number of parameters (shared parameters once)."""
    params = [p for p in model.parameters() if p.requires_grad or not trainable_only]
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in params):
        raise BudgetError(
            "The model has uninitialized (lazy) parameters; run one forward pass first, or use "
            "measure_cost, which does."
        )
    return sum(p.numel() for p in params)


def count_flops(
    model: nn.Module, input_shape: tuple[int, ...], *, device: str | torch.device | None = None
) -> int:
    """FLOPs of one example's eval-mode forward pass (matmul / conv, multiply-add = 2).

    Analytic per call, per direction and layer, for the fused modules (bias adds and elementwise
    gate / softmax work excluded, as the counter excludes them elsewhere):

    - ``nn.RNN`` / ``LSTM`` / ``GRU``: ``2 * steps * sum(weight numels)``, i.e.
      ``2 * T * G * (I*H + H*H)`` with G = 1, 4, 3 gates (plus ``2*T*H*P`` with ``proj_size``).
    - ``nn.MultiheadAttention``: ``2*L*E*E + 2*S*(kdim + vdim)*E`` projections, ``2*L*S*E``
      scores, ``2*L*S*E`` attention x values, ``2*L*E*E`` output projection.
    - ``nn.TransformerEncoderLayer``: its attention as above plus ``2 * T * d * f * 2`` FFN.
    """
    shape = _checked_shape(input_shape)
    with _prepared(model, device) as dev:
        return _count_flops(model, torch.randn(1, *shape, device=dev))


def measure_cost(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    warmup: int = 3,
    repeats: int = 10,
    latency: bool = True,
) -> Cost:
    """Measure params, FLOPs, latency, memory and energy of ``model`` on float32 ``randn`` inputs.

    ``input_shape`` is one example's shape (no batch dim). Everything runs in eval mode under
    ``no_grad`` on ``device`` (default: where the model is); the model's train/eval flags, device
    and the grad mode are restored afterwards. Latency is the median of ``repeats`` timed forward
    passes after ``warmup`` untimed ones, at batch 1 and at ``batch_size``; ``latency=False``
    skips it and leaves ``None``.

    ``memory_mb`` (MiB): on CUDA, parameter + buffer + input bytes plus the allocator's peak growth
    during a batch-1 forward. Elsewhere, an upper bound: parameter + buffer + input bytes plus the
    outputs of every innermost module run (distinct storages, so views are free), all assumed live.
    ``energy_mj`` is ``flops * ENERGY_PJ_PER_FLOP``, per example.
    """
    shape = _checked_shape(input_shape)
    lows = {"batch_size": (batch_size, 1), "warmup": (warmup, 0), "repeats": (repeats, 1)}
    for name, (value, low) in lows.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise BudgetError(f"measure_cost {name} must be an int >= {low}, got {value!r}.")
    with _prepared(model, device) as dev:
        one = torch.randn(1, *shape, device=dev)
        flops = _count_flops(model, one)  # also materializes lazy modules before counting params
        memory = _state_bytes(model) + _tensor_bytes(one, set()) + _activation_bytes(model, one)
        lat = lat_batch = None
        if latency:
            lat = _median_ms(model, one, warmup, repeats, dev)
            many = torch.randn(batch_size, *shape, device=dev)
            lat_batch = _median_ms(model, many, warmup, repeats, dev)
    return Cost(
        params=count_params(model),
        trainable_params=count_params(model, trainable_only=True),
        flops=flops,
        latency_ms=lat,
        latency_ms_batch=lat_batch,
        batch_size=batch_size,
        memory_mb=memory / _MIB,
        energy_mj=flops * ENERGY_PJ_PER_FLOP * 1e-9,  # pJ -> mJ
        device=str(dev),
    )


# --- FLOPs ---------------------------------------------------------------------------------------


def _rnn_flops(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    x = args[0] if args else kwargs["input"]
    # Every weight matrix (ih, hh, hr; each layer and direction) meets one vector per step.
    steps = x.data.shape[0] if isinstance(x, PackedSequence) else math.prod(x.shape[:-1])
    weights = [w for n, w in m.named_parameters(recurse=False) if n.startswith("weight")]
    per_step = sum(w.numel() for w in weights)
    return 2 * steps * per_step


def _mha_flops(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    q, k = (args[i] if len(args) > i else kwargs[n] for i, n in enumerate(("query", "key")))
    seq_dim = 1 if m.batch_first and q.dim() == 3 else 0
    batch = math.prod(q.shape[:-1]) // q.shape[seq_dim]
    n_q, n_k = q.shape[seq_dim], k.shape[seq_dim]
    n_k += int(m.bias_k is not None) + int(m.add_zero_attn)  # the extra key/value slots
    e = m.embed_dim
    proj = 2 * (n_q * e * e + n_k * (m.kdim + m.vdim) * e + n_q * e * e)
    return batch * (proj + 4 * n_q * n_k * e)


def _encoder_layer_flops(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    x = args[0] if args else kwargs["src"]
    d, f = m.linear1.in_features, m.linear1.out_features
    return _mha_flops(m.self_attn, (x, x), {}) + 2 * math.prod(x.shape[:-1]) * d * f * 2


# Checked in order; a module nested in a counted one (the MHA of a layer) is left to its parent.
_ANALYTIC: tuple[tuple[type[nn.Module], Callable[..., int]], ...] = (
    (nn.RNNBase, _rnn_flops),
    (nn.TransformerEncoderLayer, _encoder_layer_flops),
    (nn.MultiheadAttention, _mha_flops),
)


def _cpu_sdpa_flops(q: Any, k: Any, v: Any, *_: Any, **__: Any) -> int:
    # The counter knows the CUDA attention kernels but not the CPU one that
    # F.scaled_dot_product_attention dispatches to; count scores and attention x values.
    return 2 * math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


_CPU_SDPA = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def _count_flops(model: nn.Module, x: torch.Tensor) -> int:
    counter = FlopCounterMode(
        display=False, custom_mapping={_CPU_SDPA: _cpu_sdpa_flops} if _CPU_SDPA else None
    )
    correction = 0
    depth = 0
    start = analytic = 0

    def pre(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        nonlocal depth, start, analytic
        if depth == 0:
            start = counter.get_total_flops()
            analytic = next(fn for cls, fn in _ANALYTIC if isinstance(m, cls))(m, args, kwargs)
        depth += 1

    def post(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        nonlocal depth, correction
        depth -= 1
        if depth == 0:  # swap what the counter saw inside the module for the analytic count
            correction += analytic - (counter.get_total_flops() - start)

    kinds = tuple(cls for cls, _ in _ANALYTIC)
    handles = []
    for m in model.modules():
        if isinstance(m, kinds):
            handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
            handles.append(m.register_forward_hook(post, with_kwargs=True))
    # The counter crashes on the nested tensors an encoder makes of a padding mask; count the
    # padded (dense) computation instead.
    nested = [m for m in model.modules() if getattr(m, "use_nested_tensor", False)]
    try:
        for m in nested:
            m.use_nested_tensor = False
        with torch.no_grad(), counter:
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m in nested:
            m.use_nested_tensor = True
    return counter.get_total_flops() + correction


# --- memory and latency --------------------------------------------------------------------------


def _state_bytes(model: nn.Module) -> int:
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _tensor_bytes(obj: Any, seen: set[int]) -> int:
    """Bytes of the distinct storages of the tensors in ``obj`` (nested tuples, lists, dicts)."""
    if isinstance(obj, torch.Tensor):
        try:
            storage = obj.untyped_storage()
        except (RuntimeError, NotImplementedError):  # nested / sparse tensors have none
            return obj.numel() * obj.element_size()
        if storage.data_ptr() in seen:
            return 0
        seen.add(storage.data_ptr())
        return storage.nbytes()
    if isinstance(obj, (tuple, list)):
        return sum(_tensor_bytes(o, seen) for o in obj)
    if isinstance(obj, dict):
        return sum(_tensor_bytes(o, seen) for o in obj.values())
    return 0


def _activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Activation bytes of a batch-1 forward pass (CUDA: measured peak; else an upper bound)."""
    dev = x.device
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        with torch.no_grad():
            model(x)
        torch.cuda.synchronize(dev)
        return torch.cuda.max_memory_allocated(dev) - before

    # Innermost = no child ran inside it; this also catches a layer whose fast path skips its
    # children. Outputs are kept alive so a freed address is never mistaken for a seen storage.
    child_ran: list[bool] = []
    outputs: list[Any] = []
    seen = {x.untyped_storage().data_ptr()}  # the input is counted by the caller
    total = 0

    def pre(m: nn.Module, args: tuple[Any, ...]) -> None:
        if child_ran:
            child_ran[-1] = True
        child_ran.append(False)

    def post(m: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        nonlocal total
        if not child_ran.pop():
            outputs.append(out)
            total += _tensor_bytes(out, seen)

    handles = [m.register_forward_pre_hook(pre) for m in model.modules()]
    handles += [m.register_forward_hook(post) for m in model.modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _median_ms(
    model: nn.Module, x: torch.Tensor, warmup: int, repeats: int, dev: torch.device
) -> float:
    # no_grad rather than inference_mode: a module that caches a tensor in forward would
    # otherwise hand training an inference tensor it cannot backpropagate through.
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        for _ in range(repeats):
            _sync(dev)
            start = time.perf_counter()
            model(x)
            _sync(dev)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


# --- helpers -------------------------------------------------------------------------------------


@contextmanager
def _prepared(model: nn.Module, device: str | torch.device | None) -> Iterator[torch.device]:
    """Eval mode on ``device``; then every module's own flag (mixed modes survive) and device."""
    flags = [(m, m.training) for m in model.modules()]
    home = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
    target = home if device is None else torch.device(device)
    if target.type == "cuda" and target.index is None:
        target = torch.device("cuda", torch.cuda.current_device())
    moved = target != home
    try:
        if moved:
            model.to(target)
        model.eval()
        yield target
    finally:
        if moved:
            model.to(home)
        for m, training in flags:
            m.training = training


def _checked_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    ok = isinstance(input_shape, (tuple, list, torch.Size)) and all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in input_shape
    )
    if not ok:
        raise ShapeError(
            "input_shape must be a tuple of positive ints, one example's shape without the batch "
            f"dim (e.g. (3, 32, 32)), got {input_shape!r}."
        )
    return tuple(input_shape)


def _checked_keys(cls: type, data: Mapping[str, Any], required: bool = True) -> dict[str, Any]:
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(known))
    missing = [k for k in known if k not in data] if required else []
    if unknown or missing:
        raise BudgetError(
            f"{cls.__name__}.from_dict got unknown keys {unknown} and lacks keys {missing}; "
            f"the keys are {known}."
        )
    return dict(data)


def _fmt(value: float) -> str:  # "1,234,567" for counts, "3.5" for measurements
    return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"


__all__ = [
    "ENERGY_PJ_PER_FLOP",
    "Budget",
    "Cost",
    "count_flops",
    "count_params",
    "measure_cost",
]
