"""``defectlab seg-train``: train ADClick-Seg, a product's defect segmenter, on its labelled images."""

from __future__ import annotations

import time
from pathlib import Path

from ..click.seg_train import SegTrainConfig, read_label_folder, train_seg
from . import arguments
from .click_common import add_optimiser_arguments, add_run_arguments, set_threads


def register(subparsers) -> None:
    C = SegTrainConfig
    p = subparsers.add_parser(
        "seg-train",
        help="train ADClick-Seg (a supervised defect segmenter) on a labelled folder",
        description="Fine-tune the ADClick head, without clicks, on the defects labelled in ROOT (what "
        "`defectlab label` writes: test/<type>/ images, ground_truth/<type>/<name>_mask.png; add the normal "
        "images in train/good). Normal images are negatives, synthetic defects on them extra positives. "
        "Writes OUT.safetensors + OUT.json; score with `defectlab detect --method adclick-seg --model OUT`.",
    )
    p.add_argument("--root", required=True, type=arguments.folder,
                   help="the labelled product folder (train/good, test/<type>, ground_truth/<type>)")
    p.add_argument("--category", default=None, help="the product is ROOT/CATEGORY (an MVTec AD root of several)")
    p.add_argument("--out", required=True, type=Path, help="checkpoint path (.safetensors); a .json is written beside it")
    p.add_argument("--init", default=None,
                   help="checkpoint to start from (default: the shipped ADClick head)")
    p.add_argument("--residual-only", action="store_true",
                   help="train as the click head is, on residuals only (default: a residual-only head is grown to "
                        "see the backbone features too, which a model for one product may learn)")
    p.add_argument("--iterations", type=arguments.positive_int, default=C.iterations,
                   help="optimiser steps (default: %(default)s)")
    add_optimiser_arguments(p, C)
    p.add_argument("--synthetic", type=arguments.non_negative_int, default=C.n_synthetic,
                   help="synthetic-defect images made from the normal images (default: %(default)s)")
    p.add_argument("--normals", type=arguments.positive_int, default=C.n_normals,
                   help="normal reference size, sampled from train/good (default: %(default)s)")
    p.add_argument("--negatives", type=arguments.non_negative_int, default=C.n_negatives,
                   help="train/good images used as negatives, plus every test/good image (default: %(default)s)")
    p.add_argument("--ignore-band", type=arguments.non_negative_int, default=C.ignore_band,
                   help="leave labelled pixels within this many model px of a label's boundary out of the loss "
                        "(default: %(default)s)")
    p.add_argument("--cache", default=None, help="feature cache folder (default: ~/.cache/defectlab/click)")
    add_run_arguments(p, C.seed, "seed of sampling, synthesis and the crops")
    p.set_defaults(func=run_seg_train)


def run_seg_train(args) -> int:
    set_threads(args.threads)
    data = read_label_folder(args.root, args.category)
    cfg = SegTrainConfig(
        init=args.init, n_normals=args.normals, n_negatives=args.negatives, n_synthetic=args.synthetic,
        iterations=args.iterations, batch_size=args.batch_size, crop=args.crop, lr=args.lr, seed=args.seed,
        cache_dir=args.cache, progress=not args.no_progress, extra={"root": str(data.folder)},
        features=not args.residual_only, ignore_band=args.ignore_band,
    )  # fmt: skip
    types = sorted({x.defect_type for x in data.labelled})
    print(f"seg-train: {len(data.labelled)} labelled images ({', '.join(types)}), {len(data.normals)} normal "
          f"images in train/good, {len(data.extra_negatives)} in test/good")
    start = time.perf_counter()
    path = train_seg(cfg, data.normals, data.labelled, args.out, extra_negatives=data.extra_negatives)
    print(f"wrote {path} and {path.with_suffix('.json')} in {time.perf_counter() - start:.0f} s\n"
          f"score with: defectlab detect --method adclick-seg --model {path} --normal {data.folder / 'train' / 'good'} "
          "--images DIR --out OUT")
    return 0
