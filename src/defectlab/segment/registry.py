"""Segmenters and aligners by name: every stage of the compositional method is swappable.

Each one registers itself where it is defined (``@SEGMENTERS.register``,
``@ALIGNERS.register``); importing :mod:`defectlab.segment` imports them all,
so ``names()`` is complete.

Segmenters: ``feature-cluster`` (offline, no downloads), ``sam`` (transformers
SAM; ``model=`` hub id or local dir), and ``auto``: SAM when its weights are
already on this machine (Hugging Face cache), else ``feature-cluster``. A
segmenter name that is a local directory or a hub id (``org/name``) is taken
as a SAM checkpoint.

Aligners: ``hungarian`` (default), ``nearest``, ``sam2`` (SAM 2 video
propagation; ``model=`` hub id or local dir).
"""

from __future__ import annotations

import inspect
from pathlib import Path

from ..registry import Registry, UnknownNameError
from .aligners.base import Aligner
from .base import Segmenter

SEGMENTERS: Registry[Segmenter] = Registry("segmenter")
ALIGNERS: Registry[Aligner] = Registry("aligner")

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
    from .sam import sam_available  # here: sam.py imports this module to register itself

    return create_segmenter("sam" if sam_available(kwargs.get("model")) else "feature-cluster", **kwargs)


def create_aligner(name: str | Aligner = "hungarian", **kwargs) -> Aligner:
    if isinstance(name, Aligner):
        return name
    return ALIGNERS.create(name, **kwargs)


def _parameters(constructor) -> set[str]:
    return set(inspect.signature(constructor).parameters)
