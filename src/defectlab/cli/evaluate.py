"""``defectlab evaluate``: the few-shot benchmark on a dataset, as markdown and CSV tables."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..data import DATASETS, get_dataset, write_text_atomic
from ..data.sampling import SEEDS, SHOTS
from ..detect import create_detector
from ..errors import ConfigError
from ..evaluation import tables
from ..evaluation.ablation import ablation_table, descriptor_ablation
from ..evaluation.engine import evaluate
from . import arguments
from .detector_args import add_detector_arguments, add_seg_model_argument, detector_kwargs


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="few-shot benchmark on a dataset: image and pixel metrics per shots",
                       description="VAND 2025 protocol: support sets drawn with torch.randperm under each seed.")
    p.add_argument("--dataset", required=True, choices=DATASETS.names(), help="dataset layout (see the README)")
    p.add_argument("--root", required=True, type=arguments.folder, help="dataset root folder")
    p.add_argument("--category", nargs="*", default=None, help="categories (default: all found)")
    p.add_argument("--shots", nargs="+", type=arguments.positive_int, default=list(SHOTS), help=f"support-set sizes (default: {' '.join(map(str, SHOTS))})")
    p.add_argument("--seeds", nargs="+", type=arguments.seed, default=list(SEEDS),
                   help=f"seeds of the support draw (default: {' '.join(map(str, SEEDS))}, VAND 2025)")
    p.add_argument("--max-test", type=arguments.positive_int, default=None, help="evenly subsample at most N test images per category")
    p.add_argument("--no-pixel", action="store_true", help="skip pixel metrics (faster)")
    p.add_argument("--ablation", action="store_true", help="compositional: also report each descriptor alone")
    p.add_argument("--out", type=Path, default=Path("runs/evaluate"), help="where tables are saved (default: %(default)s)")
    add_detector_arguments(p)
    add_seg_model_argument(p)
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    categories = args.category or DATASETS.get(args.dataset).found_categories(args.root)
    kwargs = detector_kwargs(args)
    run_details = None
    if args.ablation:
        if args.method != "compositional":
            raise ConfigError("--ablation reports the compositional method's descriptors; add --method compositional")
        run_details = lambda test, preds: {"ablation": descriptor_ablation(test, preds)}
    detector = create_detector(args.method, progress=False, **kwargs)
    results = []
    start = time.perf_counter()
    for category in categories:
        dataset = get_dataset(args.dataset, args.root, category)
        results += evaluate(dataset, detector, args.shots, args.seeds, max_test=args.max_test,
                            pixel=not args.no_pixel, run_details=run_details)
    table = tables.markdown_table(results)
    header = (f"# defectlab evaluate: {args.dataset} ({', '.join(categories)})\n\n"
              f"method {args.method}, {json.dumps(kwargs)}; shots {args.shots}, seeds {args.seeds}; "
              f"values in %, mean ± std over seeds; {time.perf_counter() - start:.0f} s\n\n")
    if args.ablation:
        table += "\n\n" + ablation_table(results)
    print(header + table)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "results.md", header + table + "\n")
    write_text_atomic(args.out / "results.csv", tables.csv_text(results))
    print(f"\nsaved {args.out / 'results.md'} and results.csv")
    return 0
