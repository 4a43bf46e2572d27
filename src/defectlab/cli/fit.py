"""``defectlab fit``: fit a detector on a folder of normal images once, and save it.

``defectlab detect --model MODEL`` then scores with it, with the scores a fit
on the same images would give, on a machine that has never seen them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data import ImageLoadError
from ..data.io import list_images, load_images
from ..detect import create_detector
from . import arguments
from .detector_args import add_detector_arguments, add_seg_model_argument, detector_kwargs


def register(sub) -> None:
    p = sub.add_parser("fit", help="fit a detector on normal images and save it (for detect --model, export)",
                       description="Fit a few-shot detector on --normal images and save it as OUT.safetensors "
                                   "(arrays) + OUT.json (method, parameters, threshold, versions). No pickle.")
    p.add_argument("--normal", required=True, type=Path, help="folder of normal (defect-free) images")
    p.add_argument("--out", required=True, type=Path, help="model path; OUT.safetensors and OUT.json are written")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable images with a warning instead of stopping")
    p.add_argument("--false-alarm-rate", type=float, default=None,
                   help="save the threshold for this share of false alarms on normal images, e.g. 0.01, "
                        "from the normal images' leave-one-out scores (default: the detector's threshold)")
    arguments.add_no_progress(p)
    add_detector_arguments(p)
    add_seg_model_argument(p)
    p.set_defaults(func=run_fit)


def run_fit(args: argparse.Namespace) -> int:
    try:
        normal, paths = load_images(list_images(args.normal), on_error="skip" if args.skip_bad else "raise")
    except ImageLoadError as err:
        raise ImageLoadError(f"{err}\n(with defectlab fit, --skip-bad skips unreadable files)") from err
    detector = create_detector(args.method, progress=not args.no_progress, **detector_kwargs(args)).fit(normal)
    if args.false_alarm_rate is not None:
        detector.threshold_ = detector.threshold_at(args.false_alarm_rate)
    written = detector.save(args.out)
    threshold = "none (one normal image)" if detector.threshold_ is None else f"{detector.threshold_:.6f}"
    print(f"fitted {args.method} on {len(paths)} normal images from {args.normal}; threshold {threshold}\n"
          f"saved {written} and {written.with_suffix('.json')}")
    return 0
