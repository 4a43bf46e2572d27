"""What the two ADClick commands share: comma-separated lists and the torch thread count."""

from __future__ import annotations


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def set_threads(n: int) -> None:
    import torch

    # One thread is the default on purpose: on a shared 2-core machine, two
    # intra-op threads spin-wait on each other and run many times slower.
    torch.set_num_threads(n)
