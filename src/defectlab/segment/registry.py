"""Segmenters and aligners by name: every stage of the compositional method is swappable.

Segmenters: ``feature-cluster`` (offline, no downloads), ``sam`` (transformers
SAM; ``model=`` hub id or local dir), and ``auto``: SAM when its weights are
already on this machine (Hugging Face cache), else ``feature-cluster``. A
segmenter name that is a local directory or a hub id (``org/name``) is taken
as a SAM checkpoint.

Aligners: ``hungarian`` (default), ``nearest``, ``sam2`` (SAM 2 video
propagation; ``model=`` hub id or local dir).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .aligners.base import Aligner
from .base import Segmenter

SEGMENTERS = ("auto", "feature-cluster", "sam")
ALIGNERS = ("hungarian", "nearest", "sam2")
_EXTRA_SEGMENTERS: dict[str, Callable[..., Segmenter]] = {}
_EXTRA_ALIGNERS: dict[str, Callable[..., Aligner]] = {}


def register_segmenter(name: str, constructor: Callable[..., Segmenter]) -> None:
    _EXTRA_SEGMENTERS[name] = constructor


def register_aligner(name: str, constructor: Callable[..., Aligner]) -> None:
    _EXTRA_ALIGNERS[name] = constructor


def create_segmenter(name: str | Segmenter = "auto", **kwargs) -> Segmenter:
    """A segmenter by name; ``kwargs`` go to its constructor (unknown ones raise)."""
    if isinstance(name, Segmenter):
        return name
    if name == "auto":
        name = "sam" if sam_available(kwargs.get("model")) else "feature-cluster"
        if name == "feature-cluster":
            kwargs.pop("model", None)
    if name in _EXTRA_SEGMENTERS:
        return _EXTRA_SEGMENTERS[name](**kwargs)
    if name == "feature-cluster":
        from .feature_cluster import FeatureClusterSegmenter

        kwargs = {k: v for k, v in kwargs.items() if k not in _SAM_ONLY}
        return FeatureClusterSegmenter(**kwargs)
    if name == "sam" or "/" in name or Path(name).expanduser().exists():
        from .sam import SamSegmenter

        if name != "sam":
            kwargs["model"] = name
        kwargs = {k: v for k, v in kwargs.items() if k not in _CLUSTER_ONLY}
        return SamSegmenter(**kwargs)
    raise ValueError(
        f"unknown segmenter {name!r}; choose one of {list(SEGMENTERS) + sorted(_EXTRA_SEGMENTERS)}, "
        "or give a SAM checkpoint as a local directory or hub id"
    )


def create_aligner(name: str | Aligner = "hungarian", **kwargs) -> Aligner:
    if isinstance(name, Aligner):
        return name
    if name in _EXTRA_ALIGNERS:
        return _EXTRA_ALIGNERS[name](**kwargs)
    if name == "hungarian":
        from .aligners.hungarian import HungarianAligner

        return HungarianAligner(**kwargs)
    if name == "nearest":
        from .aligners.nearest import NearestAligner

        return NearestAligner(**kwargs)
    if name == "sam2":
        from .aligners.propagator import Sam2Propagator

        return Sam2Propagator(**kwargs)
    raise ValueError(f"unknown aligner {name!r}; choose one of {list(ALIGNERS) + sorted(_EXTRA_ALIGNERS)}")


def sam_available(model: str | None = None) -> bool:
    """Whether SAM weights can be loaded without a download (local dir or HF cache)."""
    from .sam import DEFAULT_SAM

    model = model or DEFAULT_SAM
    if Path(str(model)).expanduser().is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return False
    found = try_to_load_from_cache(str(model), "config.json")
    return isinstance(found, str)


# constructor arguments that belong to one segmenter only: "auto" may pass either set
_SAM_ONLY = {"model", "points_per_side", "pred_iou_thresh", "stability_score_thresh", "stability_offset",
             "nms_thresh", "points_per_batch", "device"}
_CLUSTER_ONLY = {"backbone", "layers", "max_side", "superpixel_size", "threshold", "colour_unit",
                 "feature_unit", "colour_weight", "min_thickness", "background_like"}
