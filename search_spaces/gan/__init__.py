"""GANs as data, and built: a GanSpec holds two ordinary ArchSpecs (a generator and a
discriminator) plus what ties them together and how to train them; ``build_gan`` turns it into a
GanModel.

- :mod:`search_spaces.gan.spec`: :class:`GanSpec`, :class:`GanTrainSpec` and their JSON round trip.
- :mod:`search_spaces.gan.model`: :class:`GanModel`, the built pair of networks.
- :mod:`search_spaces.gan.build`: :func:`build_gan`.
- :mod:`search_spaces.gan.load`: :func:`spec_from_dict` / :func:`spec_from_json`, for a spec.json
  that holds either an ArchSpec or a GanSpec.
"""

from __future__ import annotations

from search_spaces.gan.build import build_gan
from search_spaces.gan.load import spec_from_dict, spec_from_json
from search_spaces.gan.model import GanModel
from search_spaces.gan.spec import GAN_LOSSES, GAN_SCHEMA_VERSION, GanSpec, GanTrainSpec

__all__ = [
    "GAN_LOSSES",
    "GAN_SCHEMA_VERSION",
    "GanModel",
    "GanSpec",
    "GanTrainSpec",
    "build_gan",
    "spec_from_dict",
    "spec_from_json",
]
