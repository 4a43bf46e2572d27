"""Building backbones: by registry name, hub id or local directory, once per process.

Any name that is not registered but looks like a hub id or an existing
directory is tried as a DINOv2 checkpoint, so ``--backbone ./my-dinov2`` works.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from . import efficientnet_lite  # noqa: F401 (registers itself)
from .base import Backbone
from .dinov2 import DINOv2
from .registry import BACKBONES, DEFAULT_BACKBONE


def create_backbone(name: str = DEFAULT_BACKBONE) -> Backbone:
    """Build a backbone by registry name, hub id ("facebook/dinov2-base") or local directory."""
    return BACKBONES.create_or(
        name, _dinov2_checkpoint, "a Hugging Face hub id such as 'facebook/dinov2-small', or a local model directory"
    )


def _dinov2_checkpoint(name: str) -> Backbone | None:
    """A name that looks like a hub id or is an existing path, loaded as DINOv2; ``None`` for any other."""
    if "/" in name or Path(name).expanduser().exists():
        return DINOv2(name)
    return None


@lru_cache(maxsize=4)
def cached_backbone(name: str = DEFAULT_BACKBONE) -> Backbone:
    """One shared instance per name: weights are loaded once per process."""
    return create_backbone(name)
