"""Scoring several images at once on the CPU: one image per thread.

A few-shot detector's forward pass on one image is too small to keep two or
more cores busy: torch's intra-op threads wait on each other at every layer
(on a 2-core machine, two one-thread workers scored 17 % more images per
second than one two-thread forward with a same-size DINOv2-S, and about 48 %
more with EfficientNet-Lite0 on Magnetic Tile: bench/results/peer_anomalydino.md,
detect_speed.md).
So ``predict`` on several images hands them to as many workers as torch has
threads and runs each image's operations on one thread. torch and ONNX
Runtime (the backbone's forward, backbones.onnx_forward) release the GIL
inside their operations, so Python threads are enough; results are those of
a one-thread run and do not depend on how many workers there are.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")

# Images per predict() call for callers that walk a folder: enough to keep every worker busy, few
# enough that a call's decoded images and maps stay a small, bounded amount of memory.
PREDICT_CHUNK = 32


def chunk_size(detector) -> int:
    """Images per ``predict`` call for a caller walking a folder with its own progress bar.

    :data:`PREDICT_CHUNK` for a detector that scores images side by side; one for the others, whose
    bar would otherwise stand still for a whole chunk of slow images and gain nothing.
    """
    workers = getattr(detector, "_predict_workers", lambda n: 1)(PREDICT_CHUNK)
    return PREDICT_CHUNK if workers > 1 else 1


# torch's thread count is one setting for the whole process: two predicts in
# different threads must not interleave their set/restore.
_lock = threading.Lock()


def workers_for(n_items: int) -> int:
    """How many one-thread workers score ``n_items`` images: torch's thread count, at most one per image."""
    return max(1, min(torch.get_num_threads(), n_items))


@contextmanager
def one_thread_each() -> Iterator[None]:
    """torch at one intra-op thread for the duration (workers started inside inherit it), restored after."""
    with _lock:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def map_in_order(fn: Callable[[T], R], items: Sequence[T], workers: int,
                 done: Callable[[], None] = lambda: None) -> list[R]:
    """``[fn(x) for x in items]``, ``workers`` at a time, each worker's torch on one thread; ``done()`` after each.

    The first exception raised by ``fn`` is raised here once the items already running finish.
    """
    if workers <= 1:
        results = []
        for item in items:
            results.append(fn(item))
            done()
        return results
    with one_thread_each():
        pool = ThreadPoolExecutor(workers, thread_name_prefix="defectlab-predict")
        try:
            futures = [pool.submit(fn, item) for item in items]
            for future in futures:
                future.add_done_callback(lambda _: done())
            return [future.result() for future in futures]
        finally:
            # after a failure, the images not yet started are dropped rather than scored for nothing
            pool.shutdown(wait=True, cancel_futures=True)
