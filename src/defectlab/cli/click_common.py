"""What the ADClick commands share: comma-separated lists, the torch thread count and the optimiser options."""

from __future__ import annotations

from . import arguments


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def set_threads(n: int) -> None:
    import torch

    # One thread is the default on purpose: on a shared 2-core machine, two
    # intra-op threads spin-wait on each other and run many times slower.
    torch.set_num_threads(n)


def add_dataset_arguments(parser, root_required: bool = True) -> None:
    """--dataset, --root, --category: where the labelled images come from."""
    parser.add_argument("--dataset", default="magnetic-tile", help="dataset layout (default: %(default)s)")
    parser.add_argument("--root", required=root_required, default=None, type=arguments.folder,
                        help="dataset root folder, e.g. ../shared/data/magnetic_tile")
    parser.add_argument("--category", default=None, help="category, for datasets that have several")


def add_run_arguments(parser, seed: int, seed_help: str) -> None:
    """--seed, --threads and --no-progress, as every click command takes them."""
    parser.add_argument("--seed", type=arguments.seed, default=seed, help=f"{seed_help} (default: %(default)s)")
    parser.add_argument("--threads", type=arguments.positive_int, default=1,
                        help="torch threads (default: %(default)s; two threads spin-wait on each other on a "
                             "shared 2-core machine)")
    arguments.add_no_progress(parser)


def add_optimiser_arguments(parser, config) -> None:
    """--batch-size, --crop and --lr, defaulting to ``config``'s (a training config class)."""
    for flag, kind, default, text in (
        ("--batch-size", arguments.positive_int, config.batch_size, "crops per step"),
        ("--crop", arguments.positive_int, config.crop, "training crop side at model resolution, a multiple of 8"),
        ("--lr", arguments.positive_float, config.lr, "AdamW learning rate"),
    ):
        parser.add_argument(flag, type=kind, default=default, help=f"{text} (default: %(default)s)")
