"""The Captum methods behind :func:`explain.attribution.attribute`: one runner per method, and
the declarative table ``METHODS`` (runner, parameters with defaults, what it computes).

Every runner takes a resolved :class:`Job` (eval-mode model, inputs, targets, reference) and
returns an :class:`Output` of attributions shaped like the inputs; chunking, seeding and
mapping layer attributions back to the input happen here, bookkeeping in ``attribution``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from captum.attr import (
    DeepLift,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR
from torch import nn

from explain import attention as attn
from explain.errors import ExplainError
from explain.method_choice import last_conv_block


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Captum draws noise from torch and numpy's global generators; seed both, then restore."""
    state = np.random.get_state()
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)


@dataclass
class Job:
    """One attribution request, resolved: eval-mode model, inputs, targets, reference."""

    model: nn.Module
    X: torch.Tensor
    targets: torch.Tensor
    baseline: torch.Tensor  # (1 | N | B, *input_shape)
    modality: str
    p: dict[str, Any]  # the method's parameters, defaults filled in
    batch_size: int

    def per_chunk(self, fn: Callable[..., torch.Tensor]) -> torch.Tensor:
        """``fn(x, targets, baseline)`` over chunks of ``batch_size`` examples, concatenated."""
        n, out = len(self.X), []
        for i in range(0, n, self.batch_size):
            sl = slice(i, i + self.batch_size)
            base = self.baseline[sl] if self.baseline.shape[0] == n > 1 else self.baseline
            out.append(fn(self.X[sl], self.targets[sl], base).detach())
        return torch.cat(out)

    @property
    def noise(self) -> float:
        """Noise std as a fraction of the inputs' range (SmoothGrad uses 10-20%)."""
        return float(self.p["noise_level"]) * float(self.X.max() - self.X.min())


@dataclass
class Output:
    """A runner's result: attributions shaped like the inputs, plus what the record needs."""

    values: torch.Tensor
    params: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    note: str = ""
    baseline: str | None = None  # overrides the baseline label (e.g. gradient methods: none)


def _ig(job: Job) -> Output:
    ig = IntegratedGradients(job.model)
    kw = {k: job.p[k] for k in ("n_steps", "internal_batch_size")}
    kw["method"] = job.p["integration"]  # Captum's name; "method" is attribute()'s own
    return Output(job.per_chunk(lambda x, t, b: ig.attribute(x, baselines=b, target=t, **kw)))


def _saliency(job: Job) -> Output:
    sal = Saliency(job.model)
    vals = job.per_chunk(lambda x, t, b: sal.attribute(x, target=t, abs=job.p["abs"]))
    return Output(vals, baseline="none (gradient at the input)")


def _input_x_gradient(job: Job) -> Output:
    ixg = InputXGradient(job.model)
    return Output(
        job.per_chunk(lambda x, t, b: ixg.attribute(x, target=t)), baseline="zeros (implicit)"
    )


@contextmanager
def _own_inputs(model: nn.Module) -> Iterator[None]:
    """Give every module DeepLift has a rule for its own copy of its input.

    Captum records a module's output gradient by a hook on its output tensor and rewrites its
    input gradient by a hook on its input tensor. Where one ruled module feeds the next (a ReLU
    then a max pool) both hooks sit on one tensor, the first records the gradient before the
    second rewrites it, and the earlier rule multiplies a plain gradient: sampled ReLU CNNs
    missed f(x) - f(baseline) by up to 20x (captum#1104, fixed upstream after 0.9.0). A copy
    puts the two hooks on two tensors, chained by autograd.
    """
    hooks = [
        m.register_forward_pre_hook(lambda _m, args: (args[0].clone(), *args[1:]), prepend=True)
        for m in model.modules()
        if type(m) in SUPPORTED_NON_LINEAR
    ]
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def _deeplift(job: Job) -> Output:
    dl = DeepLift(job.model)
    with warnings.catch_warnings(), _own_inputs(job.model):
        # Captum warns on every call that it sets hooks
        warnings.filterwarnings("ignore", message=r"[\s\S]*Setting forward, backward hooks")
        return Output(job.per_chunk(lambda x, t, b: dl.attribute(x, baselines=b, target=t)))


def _gradient_shap(job: Job) -> Output:
    gs = GradientShap(job.model)
    noise, n = job.noise, int(job.p["n_samples"])
    with _seeded(int(job.p["seed"]), job.X.device):
        # The whole baseline tensor is the distribution GradientShap samples references from.
        vals = job.per_chunk(
            lambda x, t, b: gs.attribute(
                x, baselines=job.baseline, n_samples=n, stdevs=noise, target=t
            )
        )
    return Output(vals, params={"stdevs": noise, "n_baselines": int(job.baseline.shape[0])})


def occlusion_window(
    modality: str, shape: tuple[int, ...], window: int | tuple[int, ...] | None
) -> tuple[int, ...]:
    """The sliding window per modality: features, steps x all features, or patches x channels."""
    if isinstance(window, (tuple, list)):
        if len(window) != len(shape):
            raise ExplainError(
                f"occlusion window {tuple(window)} must have one size per input dim {shape}."
            )
        return tuple(int(w) for w in window)
    if modality == "tabular":
        return (int(window or 1),)
    if modality == "sequence":
        t, f = shape
        return (min(t, int(window or max(1, t // 8))), f)
    c, h, w = shape
    k = int(window or max(1, min(h, w) // 8))
    return (c, min(k, h), min(k, w))


def _occlusion(job: Job) -> Output:
    occ = Occlusion(job.model)
    win = occlusion_window(job.modality, tuple(job.X.shape[1:]), job.p["window"])
    ppe = int(job.p["perturbations_per_eval"])
    vals = job.per_chunk(
        lambda x, t, b: occ.attribute(
            x, win, strides=win, baselines=b, target=t, perturbations_per_eval=ppe
        )
    )
    return Output(vals, params={"window": list(win)})


def _smoothgrad(job: Job) -> Output:
    base = job.p["base"]
    if base not in ("saliency", "integrated_gradients"):
        raise ExplainError(
            f"smoothgrad base must be 'saliency' or 'integrated_gradients', got {base!r}."
        )
    ig = base == "integrated_gradients"
    nt = NoiseTunnel(IntegratedGradients(job.model) if ig else Saliency(job.model))
    kw: dict[str, Any] = {"nt_samples": int(job.p["nt_samples"]), "stdevs": job.noise}
    with _seeded(int(job.p["seed"]), job.X.device):
        if ig:
            vals = job.per_chunk(
                lambda x, t, b: nt.attribute(
                    x, baselines=b, target=t, n_steps=int(job.p["n_steps"]), **kw
                )
            )
        else:  # average signed gradients over the noisy copies, then take the magnitude
            vals = job.per_chunk(lambda x, t, b: nt.attribute(x, target=t, abs=False, **kw))
            vals = vals.abs() if job.p["abs"] else vals
    label = None if ig else "none (gradients at noisy copies of the input)"
    signs = {"abs": False} if ig else {}  # averaged integrated gradients keep their signs
    return Output(vals, params={"stdevs": kw["stdevs"], **signs}, baseline=label)


def _cam_to_input(cam: torch.Tensor, shape: tuple[int, ...], modality: str) -> torch.Tensor:
    """Upsample a (N, 1, L) or (N, 1, H', W') Grad-CAM map to the input, broadcasting it over
    the input dims the conv did not run along (channels, or the features of a step)."""
    n = cam.shape[0]
    if cam.dim() == 4:
        up = LayerAttribution.interpolate(cam, tuple(shape[1:]), "bilinear")
        return up.expand(n, *shape)
    length = shape[1] if modality == "image" else shape[0]
    up = LayerAttribution.interpolate(cam, (length,), "linear")[:, 0]  # (N, length)
    if modality == "tabular":
        return up
    if modality == "sequence":
        return up[:, :, None].expand(n, *shape)
    return up[:, None, :, None].expand(n, *shape)  # a conv1d over image rows


def _gradcam(job: Job) -> Output:
    found = last_conv_block(job.model)
    if found is None:
        raise ExplainError("layer_gradcam needs a conv block, and this model has none.")
    name, layer = found
    gc = LayerGradCam(job.model, layer)
    relu = bool(job.p["relu"])
    cams = job.per_chunk(lambda x, t, b: gc.attribute(x, target=t, relu_attributions=relu))
    vals = _cam_to_input(cams, tuple(job.X.shape[1:]), job.modality)
    return Output(vals, params={"layer": name.removeprefix("features.")}, baseline="none")


def _need_embedding(job: Job, method: str) -> None:
    if attn.token_embedding(job.model) is None:
        raise ExplainError(f"{method} needs a transformer with a token embedding; this has none.")


def _attention(job: Job) -> Output:
    _need_embedding(job, "attention")
    vals, arrays, note, labels = attn.attention_attribution(
        job.model, job.X, job.modality, job.p, job.batch_size
    )
    layers, heads = arrays["attention_mean"].shape[:2]
    params = {"layers": int(layers), "heads": int(heads), "tokens": labels}
    return Output(vals, params, arrays, note, "none")


def _layer_ig(job: Job) -> Output:
    _need_embedding(job, "layer_integrated_gradients")
    tokens: list[np.ndarray] = []

    def one(x: torch.Tensor, t: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        vals, extra = attn.embedding_ig(job.model, x, t, b, job.modality, job.p)
        tokens.append(extra["token_attribution"])
        return vals

    vals = job.per_chunk(one)
    return Output(vals, arrays={"token_attribution": np.concatenate(tokens)})


@dataclass(frozen=True)
class Method:
    """A registered method: its runner, its parameters with defaults, and what it computes."""

    run: Callable[[Job], Output]
    defaults: dict[str, Any]
    complete: bool  # attributions sum to f(x) - f(baseline): a convergence delta is recorded
    uses_baseline: bool  # the output at the baseline is recorded as base_values
    doc: str


_IG = {"n_steps": 50, "integration": "gausslegendre", "internal_batch_size": 512}
_NOISE = {"noise_level": 0.15, "seed": 0}
METHODS: dict[str, Method] = {
    "integrated_gradients": Method(_ig, _IG, True, True, "path integral of gradients"),
    "saliency": Method(_saliency, {"abs": True}, False, False, "|gradient| at the input"),
    "input_x_gradient": Method(_input_x_gradient, {}, False, False, "input times gradient"),
    "deeplift": Method(_deeplift, {}, True, True, "DeepLift rescale rule"),
    "gradient_shap": Method(
        _gradient_shap,
        {"n_samples": 20, "noise_level": 0.1, "seed": 0},
        True,
        True,
        "expected gradients over baselines",
    ),
    "occlusion": Method(
        _occlusion,
        {"window": None, "perturbations_per_eval": 32},
        False,
        True,
        "output drop when a window is replaced by the baseline",
    ),
    "smoothgrad": Method(
        _smoothgrad,
        {"base": "saliency", "nt_samples": 16, "abs": True, "n_steps": 20, **_NOISE},
        False,
        False,
        "gradients averaged over noisy copies",
    ),
    "layer_gradcam": Method(_gradcam, {"relu": True}, False, False, "Grad-CAM, last conv"),
    "attention": Method(_attention, {"keep_maps": 16}, False, False, "attention rollout"),
    "layer_integrated_gradients": Method(
        _layer_ig, dict(_IG), True, True, "integrated gradients on the token embedding"
    ),
}
ALIASES = {"feature_ablation": "occlusion"}
