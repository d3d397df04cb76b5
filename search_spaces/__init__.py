"""The model side of nas: what an architecture is, and how one is built and sampled.

This package imports nothing of ``nas`` or ``explain`` (a test checks it).
"""

from __future__ import annotations

from search_spaces.build import NasModel, build_model
from search_spaces.errors import NasError, ShapeError, SpaceError, SpecError
from search_spaces.gan import GanModel, GanSpec, GanTrainSpec, build_gan
from search_spaces.spaces import SPACES, Space, SpaceContext, get_space
from search_spaces.spec import SCHEMA_VERSION, ArchSpec, BlockSpec, TrainSpec

__all__ = [
    "SCHEMA_VERSION",
    "SPACES",
    "ArchSpec",
    "BlockSpec",
    "GanModel",
    "GanSpec",
    "GanTrainSpec",
    "NasError",
    "NasModel",
    "ShapeError",
    "Space",
    "SpaceContext",
    "SpaceError",
    "SpecError",
    "TrainSpec",
    "build_gan",
    "build_model",
    "get_space",
]
