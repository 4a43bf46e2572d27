"""``defectlab click-train`` and ``defectlab click-eval``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _csv(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _threads(n: int) -> None:
    import torch

    # One thread is the default on purpose: on a shared 2-core machine, two
    # intra-op threads spin-wait on each other and run many times slower.
    torch.set_num_threads(max(1, n))


def register(subparsers) -> None:
    from .train import DEFAULT_TRAIN_TYPES, TrainConfig as T

    p = subparsers.add_parser(
        "click-train",
        help="train the ADClick click-to-mask head",
        description="Train the ADClick fusion head on real defects of some classes plus synthetic defects; "
        "writes OUT.safetensors and OUT.json.",
    )
    p.add_argument("--dataset", default="magnetic-tile", help="dataset name (default: magnetic-tile)")
    p.add_argument("--root", required=True, help="dataset root folder, e.g. ../shared/data/magnetic_tile")
    p.add_argument("--category", default=None, help="category, for datasets that have several")
    p.add_argument("--train-types", type=_csv, default=DEFAULT_TRAIN_TYPES, help="defect types to train on, comma separated (default: %(default)s)")
    p.add_argument("--out", required=True, help="checkpoint path (.safetensors); a .json config is written beside it")
    # defaults come from TrainConfig, so the plain command reproduces the shipped checkpoint
    p.add_argument("--iterations", type=int, default=T.iterations, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=T.batch_size, help="(default: %(default)s)")
    p.add_argument("--crop", type=int, default=T.crop, help="training crop side at model resolution, multiple of 8 (default: %(default)s)")
    p.add_argument("--lr", type=float, default=T.lr, help="(default: %(default)s)")
    p.add_argument("--max-rounds", type=int, default=T.max_rounds, help="simulated correction clicks per sample, at most (default: %(default)s)")
    p.add_argument("--synthetic", type=int, default=T.n_synthetic, help="number of synthetic-defect images (default: %(default)s)")
    p.add_argument("--normals", type=int, default=T.n_normals, help="normal reference size, from the train split (default: %(default)s)")
    p.add_argument("--text-encoder", default="minilm", help="'minilm' (default), 'clip:<hub id or dir>', or 'none'")
    p.add_argument("--val-every", type=int, default=0, help="hold out every n-th real image for a validation score")
    p.add_argument("--cache", default=None, help="feature cache folder (default: ~/.cache/defectlab/click)")
    p.add_argument("--seed", type=int, default=T.seed)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1; see --help of click-eval)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_train)

    e = subparsers.add_parser(
        "click-eval",
        help="evaluate ADClick and baselines with the simulated-click protocol",
        description="NoC@80/85/90, mIoU@1/3/5 and pixel AP@3/5 per defect class for ADClick and baselines "
        "(GrabCut, random walker, residual map, SAM when local weights are given).",
    )
    e.add_argument("--dataset", default="magnetic-tile")
    e.add_argument("--root", required=True)
    e.add_argument("--category", default=None)
    e.add_argument("--types", type=_csv, default=None, help="defect types to evaluate, comma separated (default: all)")
    e.add_argument("--methods", type=_csv, default=("adclick", "grabcut", "random-walker", "residual", "sam"), help="comma separated; add adclick-noprompt for the prompt ablation, adclick-nofill for the one without fill between clicks")
    e.add_argument("--checkpoint", default=None, help="ADClick .safetensors (default: the shipped one)")
    e.add_argument("--sam-model", default=None, help="local SAM directory (or cached hub id) for the SAM baseline")
    e.add_argument("--prompt", default="type", help="'type' (the defect type name, default), 'none', or a fixed text")
    e.add_argument("--normals", type=int, default=64, help="normal reference size (from the train split)")
    e.add_argument("--max-clicks", type=int, default=20)
    e.add_argument("--limit", type=int, default=None, help="at most this many images per defect type (quick runs)")
    e.add_argument("--keep-rejected", action="store_true", help="ablation: ADClick without dropping regions that only negative clicks touch")
    e.add_argument("--out", default="bench/results", help="folder for click_eval.csv and click_eval.md")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=run_eval)


def run_train(args) -> int:
    from .model import HeadConfig
    from .text_encoders import cached_text_encoder
    from .train import TrainConfig, train

    _threads(args.threads)
    if args.crop % 8:
        raise ValueError(f"--crop must be a multiple of 8, got {args.crop}")
    text = None if args.text_encoder in ("none", "") else args.text_encoder
    head = HeadConfig()
    if text and text != "minilm":
        head.text_dim = cached_text_encoder(text).dim
    cfg = TrainConfig(
        dataset=args.dataset, root=args.root, category=args.category, train_types=args.train_types,
        n_normals=args.normals, n_synthetic=args.synthetic, iterations=args.iterations, batch_size=args.batch_size,
        crop=args.crop, lr=args.lr, max_rounds=args.max_rounds, val_every=args.val_every, seed=args.seed, cache_dir=args.cache,
        text_encoder=text, head=head, progress=not args.no_progress,
    )  # fmt: skip
    start = time.perf_counter()
    path = train(cfg, args.out)
    print(f"wrote {path} and {path.with_suffix('.json')} in {time.perf_counter() - start:.0f} s")
    return 0


def run_eval(args) -> int:
    from .evaluate import evaluate, markdown_table, write_results

    _threads(args.threads)
    start = time.perf_counter()
    rows = evaluate(
        args.dataset, args.root, args.category, types=args.types, methods=args.methods, checkpoint=args.checkpoint,
        sam_model=args.sam_model, n_normals=args.normals, seed=args.seed, prompt=args.prompt,
        max_clicks=args.max_clicks, limit=args.limit, progress=not args.no_progress, drop_rejected=not args.keep_rejected,
    )  # fmt: skip
    header = (
        f"click-eval: {args.dataset} {args.category or ''} types={','.join(args.types) if args.types else 'all'} "
        f"prompt={args.prompt} normals={args.normals} max_clicks={args.max_clicks}{' keep-rejected' if args.keep_rejected else ''} "
        f"checkpoint={args.checkpoint or 'default'} ({time.perf_counter() - start:.0f} s)"
    )
    table = markdown_table(rows)
    print(header)
    print(table)
    csv_path, md_path = write_results(rows, args.out, header)
    print(f"wrote {csv_path} and {md_path}", file=sys.stderr)
    return 0
