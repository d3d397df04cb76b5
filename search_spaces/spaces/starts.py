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
