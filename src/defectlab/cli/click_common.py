"""What the two ADClick commands share: comma-separated lists and the torch thread count."""

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
