"""Backbone registry: a name maps to a constructor (timm-style).

Adding a backbone is one file plus one ``register`` line here. Any name that
is not registered but looks like a hub id or an existing directory is tried as
a DINOv2 checkpoint, so ``--backbone ./my-dinov2`` works.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable

from .base import Backbone

_REGISTRY: dict[str, Callable[[], Backbone]] = {}

DEFAULT_BACKBONE = "efficientnet-lite0"


def register(name: str, constructor: Callable[[], Backbone]) -> None:
    _REGISTRY[name] = constructor


def list_backbones() -> list[str]:
    return sorted(_REGISTRY)


def create_backbone(name: str = DEFAULT_BACKBONE) -> Backbone:
    """Build a backbone by registry name, hub id ("facebook/dinov2-base") or local directory."""
    if name in _REGISTRY:
        return _REGISTRY[name]()
    if "/" in name or Path(name).expanduser().exists():
        from .dinov2 import DINOv2

        return DINOv2(name)
    raise ValueError(
        f"unknown backbone {name!r}; choose one of {list_backbones()}, "
        "a Hugging Face hub id such as 'facebook/dinov2-small', or a local model directory"
    )


@lru_cache(maxsize=4)
def cached_backbone(name: str = DEFAULT_BACKBONE) -> Backbone:
    """One shared instance per name: weights are loaded once per process."""
    return create_backbone(name)


def _register_defaults() -> None:
    from . import dinov2, efficientnet_lite

    register("efficientnet-lite0", efficientnet_lite.EfficientNetLite0)
    for short, hub_id in dinov2.HUB_IDS.items():
        register(short, lambda hub_id=hub_id, short=short: dinov2.DINOv2(hub_id, name=short))


_register_defaults()
