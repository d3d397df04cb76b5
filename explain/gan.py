"""What a trained GAN does, as plain data for the report: generated next to real examples per
class, latent traversals (which latent directions move which parts of the output) and the
discriminator's attributions on real and generated examples.

``explain_gan(model, data)`` takes any GAN with the surface of
:class:`search_spaces.gan.GanModel` (``generate``, ``discriminate``, ``latent_dim``,
``conditional``, ``n_classes``, ``data_shape``) and anything with ``train.X``, ``train.y``,
``class_names``, ``modality`` and ``input_shape`` (a TaskData); it returns a small JSON-able
dict (arrays as rounded nested lists). See ``gan`` in explain/report/SCHEMA.md.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from captum.attr import IntegratedGradients
from torch import nn

from explain.attribution import gradient_context
from explain.errors import ExplainError
from explain.types import SplitLike

__all__ = ["GanData", "explain_gan"]

TRAVERSAL_RANGE = 2.5  # latent values from -2.5 to 2.5: z ~ N(0, 1), so ±2.5 sigma
IG_STEPS = 32
N_EXAMPLES = 3  # attributed examples kept per side (real / generated); the mean uses all
DIGITS = 4  # significant digits kept: enough for a picture, and it keeps the report small


class GanData(Protocol):
    """What explain_gan needs of a dataset (``nas.data.TaskData`` satisfies it)."""

    modality: str  # tabular | image | sequence
    input_shape: tuple[int, ...]
    class_names: list[str]
    train: SplitLike


def _lists(a: torch.Tensor | np.ndarray) -> Any:
    """An array as nested lists of DIGITS significant digits (NaN / inf as 0: JSON has
    neither)."""
    arr = a.detach().double().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    arr = np.nan_to_num(arr.astype(float), nan=0.0, posinf=0.0, neginf=0.0)
    return (
        np.asarray([float(f"{x:.{DIGITS}g}") for x in arr.reshape(-1)]).reshape(arr.shape).tolist()
    )


def _class_names(model: nn.Module, data: GanData) -> list[str]:
    if not model.conditional:
        return ["all"]
    given = [str(c) for c in (getattr(data, "class_names", None) or [])]
    return [given[i] if i < len(given) else str(i) for i in range(model.n_classes)]


def _check(model: nn.Module, data: GanData, **sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ExplainError(f"explain_gan: {name} must be an integer >= 1, got {value!r}.")
    shape = tuple(getattr(data, "input_shape", ()) or ())
    if shape and shape != tuple(model.data_shape):
        raise ExplainError(
            f"explain_gan: the data's input_shape {shape} is not the GAN's data_shape "
            f"{tuple(model.data_shape)}; pass the data the GAN was trained on."
        )


def _grid(model: nn.Module, data: GanData, names: list[str], n: int, seed: int) -> dict[str, Any]:
    """``n`` generated and ``n`` real training examples per class (or of "all")."""
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    X, y = data.train.X, data.train.y.reshape(-1)
    generated, real = [], []
    for c in range(len(names)):
        z = torch.randn(n, model.latent_dim, generator=gen).to(device)
        labels = torch.full((n,), c, dtype=torch.long, device=device) if model.conditional else None
        with torch.no_grad():
            generated.append(_lists(model.generate(z, labels)))
        pool = torch.nonzero(y == c).reshape(-1) if model.conditional else torch.arange(len(X))
        pick = pool[torch.randperm(len(pool), generator=gen)[:n]]
        real.append(_lists(X[pick]))
    return {"classes": names, "generated": generated, "real": real}


def _traversals(
    model: nn.Module, names: list[str], n_dims: int, steps: int, seed: int
) -> tuple[list[dict[str, Any]], list[float]]:
    """Vary each latent dim of one fixed z over ``steps`` values; keep the ``n_dims`` dims
    that change the output most (mean |output change| between neighbouring steps)."""
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed + 1)
    z0 = torch.randn(1, model.latent_dim, generator=gen).to(device)
    values = torch.linspace(-TRAVERSAL_RANGE, TRAVERSAL_RANGE, steps)
    label = 0 if model.conditional else None
    outs, changes = [], []
    for k in range(model.latent_dim):
        z = z0.repeat(steps, 1)
        z[:, k] = values.to(device)
        y = torch.zeros(steps, dtype=torch.long, device=device) if model.conditional else None
        with torch.no_grad():
            out = model.generate(z, y).double().cpu()
        # one step: the output's change is 0 everywhere (nothing varies)
        change = (out[1:] - out[:-1]).abs().mean(0) if steps > 1 else torch.zeros_like(out[0])
        outs.append(out)
        changes.append(change)
    score = torch.stack([c.mean() for c in changes])
    order = torch.argsort(-score, stable=True)[: min(n_dims, model.latent_dim)]
    top = [
        {
            "dim": int(k),
            "label": names[label] if label is not None else None,
            "values": _lists(values),
            "samples": _lists(outs[k]),
            "change": _lists(changes[k]),
            "mean_change": float(f"{float(score[k]):.{DIGITS}g}"),
        }
        for k in order
    ]
    return top, _lists(score)


class _Logit(nn.Module):
    """``x -> model.discriminate(x, y)``: one real/fake logit per example, for Captum."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.discriminate(x, y)


def _attribute(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """IG of the logit from a zero baseline: (attributions, logits, convergence deltas)."""
    device = next(model.parameters()).device
    x = x.to(device).float().detach()
    fn = _Logit(model)
    with gradient_context(model, device):
        attr, delta = IntegratedGradients(fn).attribute(
            x,
            baselines=torch.zeros_like(x),
            additional_forward_args=(y,) if y is not None else None,
            n_steps=IG_STEPS,
            return_convergence_delta=True,
        )
    with torch.no_grad():
        logits = fn(x, y)
    return attr.detach(), logits.detach(), delta.detach()


def _side(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, names: list[str]
) -> tuple[dict[str, Any], torch.Tensor, torch.Tensor]:
    attr, logits, delta = _attribute(model, x, y)
    examples = [
        {
            "input": _lists(x[i]),
            "attribution": _lists(attr[i]),
            "logit": round(float(logits[i]), 6),
            "label": names[int(y[i])] if y is not None else None,
        }
        for i in range(min(N_EXAMPLES, len(x)))
    ]
    side = {
        "mean_abs": _lists(attr.abs().mean(0)),
        "mean_logit": round(float(logits.mean()), 6),
        "examples": examples,
    }
    return side, delta.abs(), logits


def _discriminator(
    model: nn.Module, data: GanData, names: list[str], n: int, seed: int
) -> dict[str, Any]:
    """IG of the discriminator's logit on ``n`` real and ``n`` generated examples (the same
    labels on both sides when conditional)."""
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed + 2)
    X, y_all = data.train.X, data.train.y.reshape(-1)
    pick = torch.randperm(len(X), generator=gen)[:n]
    real = X[pick].float()
    y = y_all[pick].long().to(device) if model.conditional else None
    z = torch.randn(len(pick), model.latent_dim, generator=gen).to(device)
    with torch.no_grad():
        fake = model.generate(z, y)
    real_side, real_delta, real_logits = _side(model, real, y, names)
    fake_side, fake_delta, fake_logits = _side(model, fake, y, names)
    deltas = torch.cat([real_delta, fake_delta])
    spread = torch.cat([real_logits, fake_logits]).abs().mean().clamp_min(1e-8)
    return {
        "method": "integrated_gradients",
        "baseline": "zeros",
        "n_steps": IG_STEPS,
        "target": "the discriminator's real/fake logit (higher = looks real)",
        "real": real_side,
        "fake": fake_side,
        "completeness": {
            "max_abs_delta": round(float(deltas.max()), 6),
            "mean_abs_delta": round(float(deltas.mean()), 6),
            # relative to the logits' size, so the number reads the same for any scale
            "relative": round(float(deltas.mean() / spread), 6),
        },
    }


def explain_gan(
    model: nn.Module,
    data: GanData,
    *,
    n_per_class: int = 8,
    n_traversal_dims: int = 4,
    steps: int = 7,
    seed: int = 0,
    n_attr: int = 16,
) -> dict[str, Any]:
    """A GAN's report data: ``grid`` (generated vs real per class), ``traversals`` (the
    ``n_traversal_dims`` latent dims that change the output most, each over ``steps`` values
    in [-2.5, 2.5], with where they act) and ``discriminator`` (integrated gradients of D's
    logit on ``n_attr`` real and ``n_attr`` generated examples). Deterministic given ``seed``;
    the model's train / eval mode is restored."""
    _check(model, data, n_per_class=n_per_class, n_traversal_dims=n_traversal_dims,
           steps=steps, n_attr=n_attr)  # fmt: skip
    names = _class_names(model, data)
    was_training = model.training
    model.eval()
    try:
        grid = _grid(model, data, names, n_per_class, seed)
        traversals, latent_change = _traversals(model, names, n_traversal_dims, steps, seed)
        disc = _discriminator(model, data, names, n_attr, seed)
    finally:
        model.train(was_training)
    return {
        "modality": str(getattr(data, "modality", "") or ""),
        "data_shape": [int(d) for d in model.data_shape],
        "conditional": bool(model.conditional),
        "latent_dim": int(model.latent_dim),
        "seed": seed,
        "grid": grid,
        "traversals": traversals,
        "latent_change": latent_change,  # every latent dim's mean |output change|, by index
        "discriminator": disc,
    }
