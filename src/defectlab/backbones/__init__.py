"""Backbones: frozen feature extractors behind one interface and a registry.

Each backbone registers itself in ``BACKBONES`` where it is defined;
``factory`` imports them all, so the registry is complete wherever a backbone is built.
"""

from ..errors import ModelNotFoundError
from .base import Backbone, FeatureMaps, patch_features, resolve_device, round_size
from .factory import cached_backbone, create_backbone
from .registry import BACKBONES, DEFAULT_BACKBONE, list_backbones, register

__all__ = [
    "BACKBONES",
    "Backbone",
    "FeatureMaps",
    "patch_features",
    "resolve_device",
    "round_size",
    "ModelNotFoundError",
    "DEFAULT_BACKBONE",
    "cached_backbone",
    "create_backbone",
    "list_backbones",
    "register",
]
