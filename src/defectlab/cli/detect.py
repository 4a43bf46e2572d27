"""``defectlab detect``: fit on a folder of normal images, score a folder of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..click import seg_detector
from ..data import ImageLoadError
from ..errors import ConfigError
from . import arguments
from .detect_job import detect_folder
from .detect_ray import add_ray_arguments, image_source, run_ray
from .detector_args import add_detector_arguments, detector_kwargs


def register(sub) -> None:
    p = sub.add_parser("detect", help="score images against a few normal images; write scores and heat maps",
                       description="Fit a few-shot detector on --normal images (or load one saved by "
                                   "`defectlab fit` / `defectlab export` with --model) and score every image in --images.")
    p.add_argument("--normal", type=arguments.folder, default=None, help="folder of normal (defect-free) images to fit on")
    p.add_argument("--model", type=Path, default=None,
                   help="a fitted model from `defectlab fit` (MODEL, .json or .safetensors) or a .onnx file "
                        "from `defectlab export`, scoring without --normal (the detector options below are then "
                        "ignored); with --method adclick-seg and --normal: the checkpoint `defectlab seg-train` wrote")
    p.add_argument("--images", required=True, type=image_source,
                   help="folder of images to score (--engine ray: also a quoted glob, or a text file of paths)")
    p.add_argument("--out", required=True, type=Path, help="output folder (created); rerun into it after a stop and only the images not yet scored are scored")
    p.add_argument("--threshold", type=arguments.finite_float, default=None,
                   help="flag images scoring above this (default: the normal images' own leave-one-out maximum)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable images with a warning instead of stopping")
    arguments.add_no_progress(p)
    add_detector_arguments(p)
    add_ray_arguments(p)
    p.set_defaults(func=run_detect)


def run_detect(args: argparse.Namespace) -> int:
    # --normal fits a detector, --model loads a fitted one; adclick-seg fits on --normal with --model's head.
    seg = args.method == "adclick-seg" and args.normal is not None
    if seg and args.model is None:
        raise ConfigError("--method adclick-seg needs --model MODEL.safetensors, the checkpoint `defectlab seg-train` "
                          "wrote (with --normal, the product's normal images)")
    if not seg and (args.normal is None) == (args.model is None):
        raise ConfigError("give one of --normal DIR (fit on normal images) or --model MODEL (a fitted model)"
                          if args.normal is None else "--normal and --model together are for --method adclick-seg "
                          "(its seg-train checkpoint); for other methods give one of them")
    if not seg and args.model is not None and seg_detector.is_click_checkpoint(args.model):
        raise ConfigError(f"--model {args.model} is a click-head checkpoint (seg-train); score with it by "
                          "--method adclick-seg --model MODEL --normal DIR (the product's normal images)")
    if args.engine == "ray":
        if args.model is None or seg:
            raise ConfigError("--engine ray scores with a saved model: pass --model MODEL (from defectlab fit)")
        return run_ray(args, args.model)
    if not args.images.is_dir():
        raise ConfigError(f"--images {args.images}: a glob or a list of paths needs --engine ray")
    try:
        summary = detect_folder(args.normal, args.images, args.out, detector_kwargs(args, model_may_be_fitted=True), method=args.method,
                                threshold=args.threshold, skip_bad=args.skip_bad,
                                class_maps=getattr(args, "class_maps", False), model=None if seg else args.model,
                                save_maps=args.save_maps, progress=not args.no_progress)
    except ImageLoadError as err:
        raise ImageLoadError(f"{err} (with defectlab detect, --skip-bad skips unreadable files)") from err
    print(summary)
    return 0
