"""Starting points: one sensible architecture per family, enqueued as a study's first trials
(``optuna.Study.enqueue_trial``), so a short search starts from known-good designs instead of
from random ones. The sampler takes over from there; values a space's config does not allow
are dropped, and the sampler fills them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search_spaces.spaces._base import Choice, Dim, FloatRange, IntRange, SpaceContext

_TRAIN = {"train.optimizer": "adamw", "train.lr": 3e-3, "train.weight_decay": 1e-4,
          "train.batch_size": 64, "train.schedule": "onecycle", "head.hidden": 0}  # fmt: skip


def _cnn(prefix: str, n: int) -> dict[str, Any]:
    plan = [(32, 5, "none"), (64, 5, "max"), (64, 3, "max"), (128, 3, "none")][:n]
    params: dict[str, Any] = {}
    for i, (c, k, pool) in enumerate(plan):
        b = f"{prefix}.b{i}"
        params.update(
            {
                f"{b}.channels": c,
                f"{b}.kernel": k,
                f"{b}.pool": pool,
                f"{b}.batch_norm": True,
                f"{b}.activation": "gelu",
                f"{b}.residual": False,
                f"{b}.separable": False,
                f"{b}.dropout": 0.05,
            }
        )
    return params


def _family_points(ctx: SpaceContext) -> dict[str, dict[str, Any]]:
    tfm = {
        "transformer.d_model": 32,
        "transformer.heads": 4,
        "transformer.ff": 64,
        "transformer.layers": 2,
        "transformer.dropout": 0.1,
        "transformer.norm": "pre",
        "transformer.activation": "gelu",
        "transformer.positions": "learned",
        "transformer.pool": "mean",
        "transformer.patch": 2,
        "transformer.window": 2,
    }
    return {
        "cnn": {"cnn.n_blocks": 3, **_cnn("cnn", 3), "cnn.reduce": "avg"},
        "fnn": {"fnn.n_blocks": 2, "fnn.b0.units": 256, "fnn.b1.units": 128,
                **{f"fnn.b{i}.{k}": v for i in range(2) for k, v in
                   {"norm": "batch", "activation": "relu", "dropout": 0.1,
                    "residual": False}.items()}},
        "rnn": {"rnn.cell": "gru", "rnn.hidden": 64, "rnn.layers": 1,
                "rnn.bidirectional": True, "rnn.reduce": "last"},
        "transformer": tfm,
        "cnn_rnn": {"cnn_rnn.stem.n_blocks": 2, **_cnn("cnn_rnn.stem", 2),
                    "cnn_rnn.rnn.cell": "gru", "cnn_rnn.rnn.hidden": 64,
                    "cnn_rnn.rnn.layers": 1, "cnn_rnn.rnn.bidirectional": True,
                    "cnn_rnn.rnn.reduce": "last"},
        "cnn_transformer": {"cnn_transformer.stem.n_blocks": 1, **_cnn("cnn_transformer.stem", 1),
                            **{k.replace("transformer.", "cnn_transformer.tfm."): v
                               for k, v in tfm.items()}},
    }  # fmt: skip


# Which families to try first, per modality (the rest follow in this order).
_ORDER = {
    "image": ("cnn", "fnn", "cnn_rnn", "transformer", "rnn", "cnn_transformer"),
    "sequence": ("cnn", "cnn_rnn", "rnn", "transformer", "fnn", "cnn_transformer"),
    "tabular": ("fnn", "transformer", "cnn", "rnn"),
}


def _allowed(dim: Dim, value: Any) -> bool:
    if isinstance(dim, Choice):
        return value in dim.values and len(dim.values) > 1
    if isinstance(dim, (IntRange, FloatRange)):
        return dim.low < dim.high and dim.low <= value <= dim.high
    return False  # Fixed: not a trial parameter


def _dim_key(param: str, config: Mapping[str, Dim]) -> str | None:
    """The config dimension behind a parameter name (``cnn.b0.channels`` -> ``cnn.channels``)."""
    parts = param.split(".")
    if param in config:
        return param
    family = parts[0] if parts[0] in ("fnn", "cnn", "rnn", "transformer") else None
    last = parts[-1]
    if parts[0] in ("cnn_rnn", "cnn_transformer"):
        if parts[1] == "stem":
            return "hybrid.stem_blocks" if last == "n_blocks" else f"cnn.{last}"
        family = "rnn" if parts[1] == "rnn" else "transformer"
    key = f"{family}.{last}"
    return key if key in config else None


def starting_points(
    space: str, ctx: SpaceContext, config: Mapping[str, Dim], families: list[str] | None = None
) -> list[dict[str, Any]]:
    """Param dicts to enqueue: one per family of ``space`` (all applicable ones for auto)."""
    if space == "gan":
        return [_replayed(_gan_point(ctx), ctx, config)]
    points = _family_points(ctx)
    if space == "auto":
        order = [f for f in _ORDER[ctx.modality] if f in (families or [])]
    elif space in points:
        order = [space]
    else:
        return []
    out = []
    for family in order:
        params = {**points[family], **_TRAIN}
        kept = {
            k: v
            for k, v in params.items()
            if (key := _dim_key(k, config)) is not None and _allowed(config[key], v)
        }
        if space == "auto" and len(order) > 1:
            kept["family"] = family
        out.append(kept)
    return out


# --- the gan space: a DCGAN-like design per modality (hinge loss, spectral norm, projection) ---


def _gan_point(ctx: SpaceContext) -> dict[str, Any]:
    conv_d = {
        "channels": 32,
        "kernel": 3,
        "batch_norm": False,
        "activation": "leaky_relu",
        "residual": False,
        "pool": "none",
        "separable": False,
        "dropout": 0.0,
    }
    common = {
        "gan.train.loss": "hinge",
        "gan.train.lr_g": 2e-4,
        "gan.train.lr_d": 2e-4,
        "gan.train.beta1": 0.5,
        "gan.train.beta2": 0.999,
        "gan.train.critic_steps": 1,
        "gan.train.batch_size": 64,
        "gan.conditional": True,
        "gan.latent_dim": 32,
        "gan.label_dim": 16,
        "gan.g.activation": "relu",
        "gan.g.batch_norm": True,
        "gan.g.stem_blocks": 1,
        "gan.g.b0.units": 256,
        "gan.g.mode": "transposed",
        "gan.d.spectral_norm": True,
    }
    if ctx.modality == "tabular":
        dense = {"norm": "none", "activation": "leaky_relu", "dropout": 0.0, "residual": False}
        return {
            **common,
            "gan.g.family": "dense",
            "gan.g.n_blocks": 2,
            "gan.g.b1.units": 256,
            "gan.d.family": "fnn",
            "gan.d.fnn.n_blocks": 2,
            "gan.d.fnn.b0.units": 256,
            "gan.d.fnn.b1.units": 128,
            **{f"gan.d.fnn.b{i}.{k}": v for i in range(2) for k, v in dense.items()},
        }
    # images: 2x2 -> 4x4 -> 8x8 (digits); sequences: 5 -> 10 -> 20 -> 40 (mnist1d)
    image = ctx.modality == "image"
    d_blocks = {
        **{f"gan.d.cnn.b0.{k}": v for k, v in conv_d.items()},
        **{f"gan.d.cnn.b1.{k}": v for k, v in conv_d.items()},
        "gan.d.cnn.b1.channels": 64,
        "gan.d.cnn.b1.pool": "avg",
    }
    if not image:
        d_blocks.update({"gan.d.cnn.b0.kernel": 5, "gan.d.cnn.b1.kernel": 5})
    return {**common, "gan.g.family": "upconv", "gan.g.upsamples": 2 if image else 3,
            "gan.g.channels": 128 if image else 64, "gan.d.family": "cnn",
            "gan.d.cnn.n_blocks": 2, **d_blocks}  # fmt: skip


class _Replay:
    """A trial that answers from ``point`` where the space allows the value (else the first
    choice or the low end) and keeps the values it used: the params worth enqueueing."""

    def __init__(self, point: Mapping[str, Any]):
        self.point, self.kept = point, {}

    def _take(self, name: str, ok: bool, fallback: Any) -> Any:
        if name in self.point and ok:
            self.kept[name] = self.point[name]
            return self.point[name]
        return fallback

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        v = self.point.get(name, ...)
        ok = any(type(c) is type(v) and c == v for c in choices)
        return self._take(name, ok, choices[0])

    def suggest_int(self, name: str, low: int, high: int, **kw: Any) -> int:
        v = self.point.get(name)
        ok = isinstance(v, int) and not isinstance(v, bool) and low <= v <= high
        return self._take(name, ok, low)

    def suggest_float(self, name: str, low: float, high: float, **kw: Any) -> float:
        v = self.point.get(name)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high
        return self._take(name, ok, low)


def _replayed(point: dict[str, Any], ctx: SpaceContext, config: Mapping[str, Dim]) -> dict:
    """The part of ``point`` the gan space under ``config`` really asks for and allows."""
    from search_spaces.spaces import gan

    trial = _Replay(point)
    gan.sample(trial, ctx, config)
    return trial.kept
