"""``defectlab click-train``: train the ADClick click-to-mask head."""

from __future__ import annotations

import time

from ..backbones.text import cached_text_encoder
from ..click.model import HeadConfig
from ..click.products import SHARED_PRODUCTS, select_products, shared_products
from ..click.train import (
    DEFAULT_TRAIN_TYPES,
    PRODUCT_ITERATIONS,
    PRODUCT_NORMALS,
    PRODUCT_SYNTHETIC,
    TrainConfig,
    train,
)
from ..errors import ConfigError
from ..evaluation.interactive import miou_after_clicks
from . import arguments
from .click_common import add_dataset_arguments, add_optimiser_arguments, add_run_arguments, comma_list, set_threads


def register(subparsers) -> None:
    T = TrainConfig
    p = subparsers.add_parser(
        "click-train",
        help="train the ADClick click-to-mask head",
        description="Train the ADClick fusion head on real defects of some classes plus synthetic defects; "
        "writes OUT.safetensors and OUT.json.",
    )
    add_dataset_arguments(p, root_required=False)
    p.add_argument("--products", type=comma_list, default=None,
                   help="train across products instead of one dataset: comma-separated names of "
                        + ", ".join(SHARED_PRODUCTS) + ", or 'all' (needs --data-root)")
    p.add_argument("--data-root", type=arguments.folder, default=None,
                   help="folder holding magnetic_tile/ and industrial/ (the shared data), for --products")
    p.add_argument("--exclude", type=comma_list, default=(),
                   help="products to leave out of --products (leave-one-product-out), comma separated")
    p.add_argument("--max-real", type=arguments.positive_int, default=T.max_real,
                   help="with --products: real training images per product, at most (default: %(default)s)")
    p.add_argument("--val-per-product", type=arguments.non_negative_int, default=0,
                   help="with --products: score this many of each product's evaluation images (never trained on) after training")
    p.add_argument("--train-types", type=comma_list, default=",".join(DEFAULT_TRAIN_TYPES),
                   help="defect types to train on, comma separated (default: %(default)s)")
    p.add_argument("--out", required=True, help="checkpoint path (.safetensors); a .json config is written beside it")
    # defaults come from TrainConfig, so the plain command reproduces the shipped checkpoint
    p.add_argument("--iterations", type=arguments.positive_int, default=None,
                   help=f"optimiser steps (default: {T.iterations}; {PRODUCT_ITERATIONS} with --products)")
    add_optimiser_arguments(p, T)
    p.add_argument("--max-rounds", type=arguments.non_negative_int, default=T.max_rounds, help="simulated correction clicks per sample, at most (default: %(default)s)")
    p.add_argument("--synthetic", type=arguments.non_negative_int, default=None,
                   help=f"number of synthetic-defect images, per product with --products (default: {T.n_synthetic}; "
                        f"{PRODUCT_SYNTHETIC} per product with --products)")
    p.add_argument("--normals", type=arguments.positive_int, default=None,
                   help=f"normal reference size, from the train split (default: {T.n_normals}; {PRODUCT_NORMALS} with --products)")
    p.add_argument("--text-encoder", default="minilm", help="'minilm' (default), 'clip:<hub id or dir>', or 'none'")
    p.add_argument("--val-every", type=arguments.non_negative_int, default=0, help="hold out every n-th real image for a validation score")
    p.add_argument("--with-features", action="store_true",
                   help="the head also sees the backbone features, not only their residual to the nearest normal patches "
                        "(the heads before issue #14's tenth session; they learn the training products)")
    p.add_argument("--cache", default=None, help="feature cache folder (default: ~/.cache/defectlab/click)")
    add_run_arguments(p, T.seed, "seed of sampling, synthesis and initialisation")
    p.set_defaults(func=run_train)


def run_train(args) -> int:
    set_threads(args.threads)
    if args.crop % 8:
        raise ConfigError(f"--crop must be a multiple of 8, got {args.crop}")
    text = None if args.text_encoder in ("none", "") else args.text_encoder
    head = HeadConfig(raw_features=args.with_features)
    if text and text != "minilm":
        head.text_dim = cached_text_encoder(text).dim
    products = ()
    if args.products:
        if args.data_root is None:
            raise ConfigError("--products needs --data-root, the folder holding magnetic_tile/ and industrial/")
        products = tuple(select_products(shared_products(args.data_root, args.products), args.exclude))
    elif args.exclude:
        raise ConfigError("--exclude leaves products out of --products; give --products too")
    elif args.root is None:
        raise ConfigError("give --root (one dataset) or --products with --data-root (several)")
    n_synth = args.synthetic if args.synthetic is not None else (PRODUCT_SYNTHETIC if products else TrainConfig.n_synthetic)
    n_normals = args.normals if args.normals is not None else (PRODUCT_NORMALS if products else TrainConfig.n_normals)
    iterations = args.iterations if args.iterations is not None else (PRODUCT_ITERATIONS if products else TrainConfig.iterations)
    cfg = TrainConfig(
        dataset=args.dataset, root=str(args.root), category=args.category, train_types=args.train_types,
        n_normals=n_normals, n_synthetic=n_synth, iterations=iterations, batch_size=args.batch_size,
        crop=args.crop, lr=args.lr, max_rounds=args.max_rounds, val_every=args.val_every, seed=args.seed, cache_dir=args.cache,
        text_encoder=text, head=head, progress=not args.no_progress, products=products, max_real=args.max_real,
        val_per_product=args.val_per_product,
    )  # fmt: skip
    start = time.perf_counter()
    path = train(cfg, args.out, validate=miou_after_clicks)
    print(f"wrote {path} and {path.with_suffix('.json')} in {time.perf_counter() - start:.0f} s")
    return 0
