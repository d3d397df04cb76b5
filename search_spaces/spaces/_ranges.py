"""What each dimension of the built-in spaces may hold, so that a TOML file (or a recorded
space) with ``batch_size = 0`` or ``dropout = 1.5`` is refused when it loads, not by every
trial later.

A dimension that becomes a block parameter takes that parameter's rule from the block registry
(``dense.v1``'s ``units``: an integer >= 1); the others (depths, training, GAN settings) state
their range here, matching the checks of ``TrainSpec`` and ``GanTrainSpec``. A dimension with
no rule (a toy space's) is not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from search_spaces.blocks import get_block
from search_spaces.errors import SpaceError, SpecError
from search_spaces.spec import AUGMENTS, OPTIMIZERS, SCHEDULES
from search_spaces.validation import check_bool, check_choice, check_float, check_int


@dataclass(frozen=True)
class Allowed:
    """The values one dimension may take: an int or float range, true/false, or choices."""

    type: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # (low, high] rather than [low, high]
    choices: tuple[Any, ...] | None = None

    def check(self, owner: str, name: str, value: Any) -> None:
        """A SpecError naming ``owner``, ``name``, the value and what is allowed."""
        if self.choices is not None:
            check_choice(owner, name, value, self.choices)
        elif self.type is bool:
            check_bool(owner, name, value)
        elif self.type is int:
            check_int(owner, name, value, self.low, self.high)  # type: ignore[arg-type]
        else:
            check_float(owner, name, value, self.low, self.high, low_open=self.low_open)


def _int(low: int, high: int | None = None) -> Allowed:
    return Allowed(int, low, high)


def _float(low: float, high: float | None = None, *, low_open: bool = False) -> Allowed:
    return Allowed(float, low, high, low_open)


def _choice(values: Sequence[Any]) -> Allowed:
    return Allowed(str, choices=tuple(values))


_BOOL = Allowed(bool)
MAX_BLOCKS = 64  # blocks in one stack: deeper than any of these families trains on a CPU
# Dimensions that are one block parameter: "<space>.<param>" -> the block kind that takes it.
_BLOCK_PARAMS = {
    "fnn": ("dense.v1", ("units", "norm", "activation", "dropout", "residual")),
    "cnn": ("conv2d.v1", ("channels", "kernel", "batch_norm", "activation", "residual", "pool",
                          "separable", "dropout")),
    "rnn": ("gru.v1", ("hidden", "layers", "bidirectional", "dropout", "reduce")),
    "transformer": ("tfm_encoder.v1", ("heads", "ff", "layers", "dropout", "norm",
                                       "activation")),
}  # fmt: skip
_OTHER_PARAMS = {  # dimension -> (block kind, its parameter)
    "transformer.d_model": ("embed_steps.v2", "d_model"),
    "transformer.positions": ("embed_steps.v2", "positions"),
    "transformer.window": ("embed_steps.v2", "window"),
    "transformer.patch": ("embed_patch.v2", "patch"),
    "transformer.pool": ("seq_pool.v1", "mode"),
    "head.hidden": ("classify.v1", "hidden"),
    "head.dropout": ("classify.v1", "dropout"),
    "gan.g_units": ("dense.v1", "units"),
    "gan.g_channels": ("to_grid.v1", "channels"),
    "gan.g_hidden": ("gru.v1", "hidden"),
    "gan.g_rnn_layers": ("gru.v1", "layers"),
    "gan.g_activation": ("dense.v1", "activation"),
    "gan.d_activation": ("dense.v1", "activation"),
    "gan.d_dropout": ("dense.v1", "dropout"),
}
_RANGES: dict[str, Allowed] = {
    **dict.fromkeys(
        (
            "cnn.pool_every",
            "gan.critic_steps",
            "gan.wgan_critic_steps",
            "gan.batch_size",
            "gan.latent_dim",
            "gan.label_dim",
            "train.batch_size",
        ),
        _int(1),
    ),  # fmt: skip
    # depths: a TOML n_blocks of 100,000 had built for minutes (4 GB) before any budget check
    **dict.fromkeys(
        ("fnn.n_blocks", "cnn.n_blocks", "hybrid.stem_blocks", "gan.g_blocks", "gan.d_blocks"),
        _int(1, MAX_BLOCKS),
    ),  # fmt: skip
    **dict.fromkeys(("gan.g_stem_blocks", "gan.g_upsamples"), _int(0)),
    **dict.fromkeys(
        (
            "cnn.batch_norm",
            "rnn.bidirectional",
            "gan.conditional",
            "gan.g_batch_norm",
            "gan.d_batch_norm",
            "gan.d_spectral_norm",
        ),
        _BOOL,
    ),  # fmt: skip
    "cnn.reduce": _choice(("flatten", "avg", "max")),
    "rnn.cell": _choice(("gru", "lstm", "rnn")),
    "train.optimizer": _choice(OPTIMIZERS),
    "train.schedule": _choice(SCHEDULES),
    "train.augment": _choice(AUGMENTS),
    "train.lr": _float(0.0, low_open=True),
    "cnn.growth": _float(1.0, 4.0),
    **dict.fromkeys(
        ("train.weight_decay", "train.l1", "train.grad_clip", "gan.gp_weight"),
        _float(0.0),
    ),  # fmt: skip
    "train.momentum": _float(0.0, 0.999),  # 1 or more never forgets a step: it diverges
    **dict.fromkeys(("gan.lr_g", "gan.lr_d"), _float(0.0, 1.0, low_open=True)),
    **dict.fromkeys(("gan.beta1", "gan.beta2"), _float(0.0, 0.999999)),
}  # the GAN's named choices (loss, families, cell, ...) are the gan space's own check


#: Dimensions whose every value must be odd: a conv kernel with 'same' padding.
ODD = frozenset({"cnn.kernel"})


def allowed(dimension: str) -> Allowed | None:
    """The rule of a dimension (``"fnn.units"``), or None for one nas has no rule for."""
    if dimension in _RANGES:
        return _RANGES[dimension]
    space, _, param = dimension.partition(".")
    kind, names = _BLOCK_PARAMS.get(space, ("", ()))
    block_param = (kind, param) if param in names else _OTHER_PARAMS.get(dimension)
    if block_param is None:
        return None
    rule = get_block(block_param[0]).params[block_param[1]]
    if rule.choices is not None:
        return _choice(rule.choices)
    return Allowed(rule.type, rule.low, rule.high)  # type: ignore[arg-type]


def check_values(where: str, dimension: str, values: Sequence[Any]) -> None:
    """A SpaceError naming ``where`` (the file), the dimension, the value and the allowed
    range when one of ``values`` (a range's ends, the choices, a fixed value) is not allowed."""
    rule = allowed(dimension)
    if rule is None:
        return
    for value in values:
        try:
            rule.check(where, dimension, value)
        except SpecError as e:  # the block's wording, for a dimension of a space
            raise SpaceError(str(e).replace(": parameter ", ": dimension ", 1)) from None


__all__ = ["ODD", "Allowed", "allowed", "check_values"]
