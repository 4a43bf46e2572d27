"""Backbones by name: ``BACKBONES``, filled where each backbone is defined.

Adding a backbone is one file that registers itself (and one import in
``backbones/__init__.py``). Any name that is not registered but looks like a
hub id or an existing directory is tried as a DINOv2 checkpoint, so
``--backbone ./my-dinov2`` works.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..registry import Registry, UnknownNameError
from .base import Backbone

BACKBONES: Registry[Backbone] = Registry("backbone")

DEFAULT_BACKBONE = "efficientnet-lite0"


def register(name: str, constructor: Callable[[], Backbone] | None = None):
    """``register("name", Cls)``, or ``@register("name")`` on the class."""
    return BACKBONES.register(name, constructor)


def list_backbones() -> list[str]:
    return sorted(BACKBONES.names())


def create_backbone(name: str = DEFAULT_BACKBONE) -> Backbone:
    """Build a backbone by registry name, hub id ("facebook/dinov2-base") or local directory."""
    if name in BACKBONES:
        return BACKBONES.create(name)
    if "/" in name or Path(name).expanduser().exists():
        from .dinov2 import DINOv2

        return DINOv2(name)
    raise UnknownNameError(
        f"unknown backbone {name!r}; choose one of {', '.join(list_backbones())}, "
        "a Hugging Face hub id such as 'facebook/dinov2-small', or a local model directory"
    )


@lru_cache(maxsize=4)
def cached_backbone(name: str = DEFAULT_BACKBONE) -> Backbone:
    """One shared instance per name: weights are loaded once per process."""
    return create_backbone(name)
