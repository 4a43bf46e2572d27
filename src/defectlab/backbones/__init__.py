"""Backbones: frozen feature extractors behind one interface and a registry.

Each backbone registers itself in ``BACKBONES`` where it is defined;
importing this package imports them all, so the registry is complete.
"""

from ..errors import ModelNotFoundError
from . import dinov2, efficientnet_lite  # noqa: F401 (they register themselves)
from .base import Backbone, FeatureMaps, patch_features, resolve_device, round_size
from .registry import BACKBONES, DEFAULT_BACKBONE, cached_backbone, create_backbone, list_backbones, register

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
