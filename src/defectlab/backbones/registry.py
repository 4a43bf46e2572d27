"""Backbones by name: ``BACKBONES``, filled where each backbone is defined.

Adding a backbone is one file that registers itself (and one import in
``backbones/factory.py``, which builds them).
"""

from __future__ import annotations

from typing import Callable

from ..registry import Registry
from .base import Backbone

BACKBONES: Registry[Backbone] = Registry("backbone")

DEFAULT_BACKBONE = "efficientnet-lite0"


def register(name: str, constructor: Callable[[], Backbone] | None = None):
    """``register("name", Cls)``, or ``@register("name")`` on the class."""
    return BACKBONES.register(name, constructor)


def list_backbones() -> list[str]:
    return sorted(BACKBONES.names())
