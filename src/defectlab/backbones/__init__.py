"""Backbones: frozen feature extractors behind one interface and a registry."""

from .base import Backbone, FeatureMaps, patch_features, resolve_device, round_size
from .loading import ModelNotFoundError
from .registry import DEFAULT_BACKBONE, cached_backbone, create_backbone, list_backbones, register

__all__ = [
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
