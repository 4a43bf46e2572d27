"""The options every detection command shares: method, backbone, resizing, and the
compositional method's own; and how they become a detector's keyword arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..backbones import DEFAULT_BACKBONE
from ..backbones.base import PRECISIONS
from ..backbones.resize import POLICIES
from ..click import seg_detector  # noqa: F401  (registers the adclick-seg method in DETECTORS)
from ..detect import DETECTORS
from ..detect.descriptors import DESCRIPTORS, PRESETS, resolve
from ..errors import ConfigError
from ..segment.registry import ALIGNERS, SEGMENTERS
from . import arguments


def add_detector_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=DETECTORS.names(), default="patch-knn", help="detector (default: %(default)s)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE,
                   help="registry name (efficientnet-lite0, dinov2-small, ...), hub id or local model dir "
                        "(default: %(default)s, offline)")
    p.add_argument("--image-size", type=arguments.image_size, default=None,
                   help="resize target in pixels (default: 256 for patch-knn; see --resize)")
    p.add_argument("--resize", default="auto", choices=POLICIES,
                   help="resize policy (default: %(default)s: shorter-side when all normal images share one "
                        "aspect, else one common scale)")
    p.add_argument("--layers", nargs="+", default=None,
                   help="backbone layers to concatenate (default: the backbone's; efficientnet-lite0: stage3 stage5)")
    p.add_argument("--device", type=arguments.device, default="auto", help="where the backbone runs: auto (CUDA if present), cpu, cuda")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="the backbone forward's arithmetic (default: %(default)s); bf16 is faster on CPUs with "
                        "native bf16, moves scores slightly, and an ONNX export no longer matches it exactly")
    p.add_argument("--augment", default="none", choices=("none", "rotate", "rotate-flip"),
                   help="add rotated/flipped normal images to the memory bank (patch-knn)")
    add_compositional_arguments(p)


def add_seg_model_argument(p: argparse.ArgumentParser) -> None:
    """--model for commands that fit (fit, evaluate): the adclick-seg method's trained head."""
    p.add_argument("--model", type=Path, default=None,
                   help="--method adclick-seg: the checkpoint `defectlab seg-train` wrote (MODEL.safetensors)")


def detector_kwargs(args: argparse.Namespace, model_may_be_fitted: bool = False) -> dict:
    """The detector's keyword arguments from the parsed options.

    ``model_may_be_fitted``: in this command ``--model`` may also name a fitted model
    (``detect``), which the caller handles; elsewhere it is only for adclick-seg.
    """
    if args.method == "compositional":
        return compositional_kwargs(args)
    if args.method == "adclick-seg":
        model = getattr(args, "model", None)
        if model is None:
            raise ConfigError("--method adclick-seg needs --model MODEL.safetensors, the checkpoint "
                              "`defectlab seg-train` wrote")
        if not seg_detector.checkpoint_exists(model):
            raise ConfigError(f"--model {model}: no seg-train checkpoint there (MODEL.safetensors with MODEL.json "
                              "beside it, written by `defectlab seg-train --out`)")
        return {"model": str(model)}
    if getattr(args, "model", None) is not None and not model_may_be_fitted:
        raise ConfigError(f"--model is for --method adclick-seg (a seg-train checkpoint), not --method {args.method}")
    kw = dict(backbone=args.backbone, resize=args.resize, augment=args.augment, device=args.device, layers=args.layers,
              precision=args.precision)
    if args.image_size is not None:
        kw["image_size"] = args.image_size
    return kw


def add_compositional_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("compositional method (--method compositional)")
    g.add_argument("--segmenter", default="auto",
                   help=f"{', '.join(SEGMENTERS)}, or a SAM checkpoint dir / hub id (default: %(default)s: SAM when "
                        "its weights are on this machine, else the offline feature-cluster segmenter)")
    # the library's default (a constructor only stores its parameters), so the two cannot drift apart
    g.add_argument("--aligner", default=DETECTORS.get("compositional")().aligner, choices=list(ALIGNERS),
                   help="how parts get class ids shared across images (default: %(default)s)")
    g.add_argument("--descriptors", default=DETECTORS.get("compositional")().descriptors,
                   help=f"preset ({', '.join(PRESETS)}) or comma-separated names from: {', '.join(DESCRIPTORS)} "
                        "(default: %(default)s)")
    g.add_argument("--sam-model", default=None,
                   help="SAM checkpoint (hub id or local dir) for --segmenter sam/auto "
                        "(default: facebook/sam-vit-base)")
    g.add_argument("--sam-points", type=arguments.positive_int, default=None, help="SAM prompt grid points per side (default: 16)")
    g.add_argument("--propagator-model", default=None,
                   help="SAM 2 checkpoint (hub id or local dir) for --aligner sam2 "
                        "(default: facebook/sam2.1-hiera-tiny)")
    g.add_argument("--reference", type=arguments.non_negative_int, default=0,
                   help="index of the normal image whose parts define the classes (default: %(default)s)")
    g.add_argument("--class-maps", action="store_true",
                   help="also save each image's class map as a coloured PNG (inspection of segmentation + alignment)")


def compositional_kwargs(args: argparse.Namespace) -> dict:
    """``CompositionalDetector`` keyword arguments from parsed arguments (shared ones included)."""
    try:
        resolve(args.descriptors)  # fail now, with the list of valid names, not after loading models
    except ValueError as err:
        raise ConfigError(f"--descriptors: {err}") from None
    kw: dict = dict(
        backbone=args.backbone,
        segmenter=args.segmenter,
        aligner=args.aligner,
        descriptors=args.descriptors,
        reference=args.reference,
    )
    for name in ("resize", "device", "precision"):
        if getattr(args, name, None) is not None:
            kw[name] = getattr(args, name)
    if getattr(args, "image_size", None) is not None:
        kw["image_size"] = args.image_size
    seg_kw = {}
    if args.sam_model:
        seg_kw["model"] = args.sam_model
    if args.sam_points:
        seg_kw["points_per_side"] = args.sam_points
    if seg_kw:
        kw["segmenter_kwargs"] = seg_kw
    if args.propagator_model:
        if args.aligner != "sam2":
            raise ConfigError(f"--propagator-model is for --aligner sam2, not --aligner {args.aligner}")
        kw["aligner_kwargs"] = {"model": args.propagator_model}
    return kw
