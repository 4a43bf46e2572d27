"""``defectlab detect`` and ``defectlab evaluate``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..backbones import DEFAULT_BACKBONE
from ..data import DATASETS
from .compositional_cli import add_compositional_arguments
from .base import DETECTORS, create_detector
from ..backbones.resize import POLICIES


def add_detector_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=DETECTORS.names(), default="patch-knn", help="detector (default: %(default)s)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE,
                   help="registry name (efficientnet-lite0, dinov2-small, ...), hub id or local model dir "
                        "(default: %(default)s, offline)")
    p.add_argument("--image-size", type=int, default=None,
                   help="resize target in pixels (default: 256 for patch-knn; see --resize)")
    p.add_argument("--resize", default="auto", choices=POLICIES,
                   help="resize policy (default: %(default)s: shorter-side when all normal images share one "
                        "aspect, else one common scale)")
    p.add_argument("--layers", nargs="+", default=None,
                   help="backbone layers to concatenate (default: the backbone's; efficientnet-lite0: stage3 stage5)")
    p.add_argument("--device", default="auto", help="where the backbone runs: auto (CUDA if present), cpu, cuda")
    p.add_argument("--augment", default="none", choices=("none", "rotate", "rotate-flip"),
                   help="add rotated/flipped normal images to the memory bank (patch-knn)")
    add_compositional_arguments(p)


def detector_kwargs(args: argparse.Namespace) -> dict:
    if args.method == "compositional":
        from .compositional_cli import compositional_kwargs

        return compositional_kwargs(args)
    kw = dict(backbone=args.backbone, resize=args.resize, augment=args.augment, device=args.device, layers=args.layers)
    if args.image_size:
        kw["image_size"] = args.image_size
    return kw


def register(sub) -> None:
    p = sub.add_parser("detect", help="score images against a few normal images; write scores and heat maps",
                       description="Fit a few-shot detector on --normal images and score every image in --images.")
    p.add_argument("--normal", required=True, type=Path, help="folder of normal (defect-free) images")
    p.add_argument("--images", required=True, type=Path, help="folder of images to score")
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument("--threshold", type=float, default=None,
                   help="flag images scoring above this (default: the normal images' own leave-one-out maximum)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable images with a warning instead of stopping")
    add_detector_arguments(p)
    p.set_defaults(func=run_detect)

    p = sub.add_parser("evaluate", help="few-shot benchmark on a dataset: image and pixel metrics per shots",
                       description="VAND 2025 protocol: support sets drawn with torch.randperm under each seed.")
    p.add_argument("--dataset", required=True, choices=tuple(DATASETS))
    p.add_argument("--root", required=True, type=Path, help="dataset root folder")
    p.add_argument("--category", nargs="*", default=None, help="categories (default: all found)")
    p.add_argument("--shots", nargs="+", type=int, default=[1, 2, 4, 8])
    p.add_argument("--seeds", nargs="+", type=int, default=[42, 0, 1234])
    p.add_argument("--max-test", type=int, default=None, help="evenly subsample at most N test images per category")
    p.add_argument("--no-pixel", action="store_true", help="skip pixel metrics (faster)")
    p.add_argument("--ablation", action="store_true", help="compositional: also report each descriptor alone")
    p.add_argument("--out", type=Path, default=Path("runs/evaluate"), help="where tables are saved (default: %(default)s)")
    add_detector_arguments(p)
    p.set_defaults(func=run_evaluate)


def run_detect(args: argparse.Namespace) -> int:
    from ..data import ImageLoadError
    from .detect_job import detect_folder

    try:
        summary = detect_folder(args.normal, args.images, args.out, detector_kwargs(args), method=args.method,
                                threshold=args.threshold, skip_bad=args.skip_bad,
                                class_maps=getattr(args, "class_maps", False))
    except ImageLoadError as err:
        raise ImageLoadError(f"{err}\n(with defectlab detect, --skip-bad skips unreadable files)") from err
    print(summary)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from .. import report
    from ..data import get_dataset, write_text_atomic
    from ..engine import evaluate

    if not args.root.is_dir():
        raise FileNotFoundError(f"dataset root {args.root} is not a folder; pass the folder that holds the "
                                f"{args.dataset} categories (see the README's table of layouts)")
    categories = args.category or DATASETS[args.dataset].categories(args.root)
    if not categories:
        raise FileNotFoundError(f"no {args.dataset} categories found under {args.root}")
    kwargs = detector_kwargs(args)
    run_details = None
    if args.ablation:
        if args.method != "compositional":
            raise ValueError("--ablation reports the compositional method's descriptors; add --method compositional")
        from .compositional_cli import descriptor_ablation

        run_details = lambda test, preds: {"ablation": descriptor_ablation(test, preds)}  # noqa: E731
    results = []
    start = time.perf_counter()
    for category in categories:
        dataset = get_dataset(args.dataset, args.root, category)
        results += evaluate(dataset, lambda: create_detector(args.method, progress=False, **kwargs),
                            args.shots, args.seeds, max_test=args.max_test, pixel=not args.no_pixel,
                            run_details=run_details)
    table = report.markdown_table(results)
    header = (f"# defectlab evaluate: {args.dataset} ({', '.join(categories)})\n\n"
              f"method {args.method}, {json.dumps(kwargs)}; shots {args.shots}, seeds {args.seeds}; "
              f"values in %, mean ± std over seeds; {time.perf_counter() - start:.0f} s\n\n")
    if args.ablation:
        from .compositional_cli import ablation_table

        table += "\n\n" + ablation_table(results)
    print(header + table)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "results.md", header + table + "\n")
    write_text_atomic(args.out / "results.csv", report.csv_text(results))
    print(f"\nsaved {args.out / 'results.md'} and results.csv")
    return 0
