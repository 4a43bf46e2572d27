"""Segmenters and aligners by name: every stage of the compositional method is swappable.

Each one registers itself where it is defined (``@SEGMENTERS.register``,
``@ALIGNERS.register``); importing :mod:`defectlab.segment` imports them all,
so ``names()`` is complete. :mod:`.factory` builds them.

Segmenters: ``feature-cluster`` (offline, no downloads), ``sam`` (transformers
SAM; ``model=`` hub id or local dir), and ``auto``: SAM when its weights are
already on this machine (Hugging Face cache), else ``feature-cluster``. A
segmenter name that is a local directory or a hub id (``org/name``) is taken
as a SAM checkpoint.

Aligners: ``codebook`` (the compositional detector's default: k-means part
kinds, no matching), ``hungarian``, ``nearest``, ``sam2`` (SAM 2 video
propagation; ``model=`` hub id or local dir).
"""

from __future__ import annotations

from ..registry import Registry
from .aligners.base import Aligner
from .base import Segmenter

SEGMENTERS: Registry[Segmenter] = Registry("segmenter")
ALIGNERS: Registry[Aligner] = Registry("aligner")
