"""Detector factory: a method name maps to a detector class."""

from __future__ import annotations

from .base import Detector

METHODS = ("patch-knn", "compositional")


def create_detector(method: str = "patch-knn", **kwargs) -> Detector:
    if method == "patch-knn":
        from .patch_knn import PatchKNNDetector

        return PatchKNNDetector(**kwargs)
    if method == "compositional":
        from .compositional import CompositionalDetector

        return CompositionalDetector(**kwargs)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
