"""Building segmenters and aligners by name (``create_segmenter``, ``create_aligner``), and the ``auto`` segmenter.

Here rather than in :mod:`.registry` because ``auto`` needs SAM's and the
feature-cluster segmenter's modules, which import the registry to register
themselves.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from ..registry import UnknownNameError
from . import feature_cluster, sam  # noqa: F401 (feature_cluster registers itself)
from .aligners.base import Aligner
from .base import Segmenter
from .registry import ALIGNERS, SEGMENTERS

# "auto" may be handed either built-in's arguments (the command line passes
# --sam-points whichever segmenter runs): each ignores those only the other takes
_PAIR = ("feature-cluster", "sam")


def create_segmenter(name: str | Segmenter = "auto", **kwargs) -> Segmenter:
    """A segmenter by name; ``kwargs`` go to its constructor (unknown ones raise)."""
    if isinstance(name, Segmenter):
        return name
    if name not in SEGMENTERS:
        if not ("/" in name or Path(name).expanduser().exists()):
            raise UnknownNameError(f"unknown segmenter {name!r}; choose one of: {', '.join(SEGMENTERS.names())}, "
                                   "or give a SAM checkpoint as a local directory or hub id")
        name, kwargs = "sam", {**kwargs, "model": name}
    if name in _PAIR:
        other = _PAIR[1 - _PAIR.index(name)]
        foreign = _parameters(SEGMENTERS.get(other)) - _parameters(SEGMENTERS.get(name))
        kwargs = {k: v for k, v in kwargs.items() if k not in foreign}
    return SEGMENTERS.create(name, **kwargs)


@SEGMENTERS.register("auto")
def auto_segmenter(**kwargs) -> Segmenter:
    """SAM when its weights are on this machine, else the offline feature-cluster segmenter."""
    return create_segmenter("sam" if sam.sam_available(kwargs.get("model")) else "feature-cluster", **kwargs)


def create_aligner(name: str | Aligner = "hungarian", **kwargs) -> Aligner:
    if isinstance(name, Aligner):
        return name
    return ALIGNERS.create(name, **kwargs)


def _parameters(constructor) -> set[str]:
    return set(inspect.signature(constructor).parameters)
