"""Building a GanSpec: ``build_gan(GanSpec.from_json(text))`` rebuilds a GanModel whose
``state_dict`` reloads, as ``build_model`` does for one network."""

from __future__ import annotations

from torch import nn

from search_spaces.build import build_model
from search_spaces.errors import SpecError
from search_spaces.gan.model import GanModel
from search_spaces.gan.spec import GanSpec

_SPECTRAL = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _spectral_norm(model: nn.Module) -> None:
    """Spectral-normalise every linear and conv weight, except attention's internals (which
    torch reads as raw tensors)."""
    skip = {id(m) for a in model.modules() if isinstance(a, nn.MultiheadAttention)
            for m in a.modules()}  # fmt: skip
    for module in list(model.modules()):
        if isinstance(module, _SPECTRAL) and id(module) not in skip:
            nn.utils.parametrizations.spectral_norm(module)


def build_gan(spec: GanSpec) -> GanModel:
    """Build both networks of a GanSpec. Raises SpecError / ShapeError naming the network."""
    nets = []
    for name in ("generator", "discriminator"):
        try:
            nets.append(build_model(getattr(spec, name)))
        except SpecError as e:  # its type and attributes kept: an extension's block is named
            e.args = (f"{name}: {e}", *e.args[1:])  # (/tmp/oG5 F3)
            raise e from None
    if spec.spectral_norm:
        _spectral_norm(nets[1])
    return GanModel(spec, *nets)


__all__ = ["build_gan"]
