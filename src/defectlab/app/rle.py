"""Run-length encoding of binary masks, in the two orders the app needs.

* Row-major ("C") runs travel between browser and server: the browser walks
  pixels row by row, and a blob-shaped mask costs two numbers per row
  instead of a PNG to decode.
* Column-major ("F") runs are what COCO stores; ``to_coco_string`` /
  ``from_coco_string`` give the compressed text form pycocotools writes.

Counts always start with a run of zeros (possibly of length 0), as in COCO.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

__all__ = ["encode", "decode", "to_coco_string", "from_coco_string", "MaskFormatError"]


class MaskFormatError(ValueError):
    """A run-length mask that does not describe an image of the stated size."""


def encode(mask: np.ndarray, order: str = "C") -> list[int]:
    flat = np.asarray(mask, dtype=bool).ravel(order=order)
    if flat.size == 0:
        return [0]
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts.insert(0, 0)
    return counts


def decode(counts: Sequence[int], height: int, width: int, order: str = "C") -> np.ndarray:
    """The mask the runs describe; MaskFormatError unless they cover exactly ``height x width`` pixels.

    The counts are checked as Python integers before any array is made: summed
    as int64, runs near 2**63 wrap around to a plausible total, and
    ``np.repeat`` then writes far past the buffer it allocated (a request
    could segfault the server that way).
    """
    try:
        height, width = operator.index(height), operator.index(width)
    except TypeError:
        raise MaskFormatError(f"mask size must be two integers, got {height!r}x{width!r}") from None
    if height <= 0 or width <= 0:
        raise MaskFormatError(f"mask size must be positive, got {height}x{width}")
    if isinstance(counts, np.ndarray):
        counts = counts.tolist()
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Sequence):
        raise MaskFormatError("mask counts must be a flat list of integers")
    pixels = height * width
    total = 0
    for count in counts:
        if isinstance(count, (list, tuple)):
            raise MaskFormatError("mask counts must be a flat list of integers")
        if isinstance(count, bool) or not isinstance(count, int):
            raise MaskFormatError(f"mask counts must be integers, got {count!r}")
        if count < 0:
            raise MaskFormatError("mask counts must not be negative")
        total += count
        if total > pixels:
            break  # any further run only makes it worse; no need to sum a huge list
    if total != pixels:
        shown = f"more than {pixels}" if total > pixels else str(total)
        raise MaskFormatError(f"mask counts add up to {shown} pixels, but a {height}x{width} mask has {pixels}")
    # Every count is now at most height x width, so int64 holds each run and their sum.
    runs = np.asarray(counts, dtype=np.int64)
    values = np.zeros(runs.size, dtype=bool)
    values[1::2] = True
    return np.repeat(values, runs).reshape((height, width), order=order)


def to_coco_string(counts: Sequence[int]) -> str:
    """pycocotools' compressed RLE (``rleToString`` in maskApi.c), byte for byte.

    Each count, minus the count two places back from the third on, is written
    as 5-bit groups, least significant first, offset into printable ASCII.
    """
    out = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift: negative deltas keep their sign, as in C
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def from_coco_string(text: str) -> list[int]:
    """Inverse of ``to_coco_string`` (``rleFrString`` in maskApi.c)."""
    counts: list[int] = []
    p = 0
    while p < len(text):
        x = k = 0
        more = True
        while more:
            if p >= len(text):
                raise MaskFormatError("compressed RLE string ends in the middle of a number")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise MaskFormatError(f"character {text[p]!r} cannot occur in a compressed RLE string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts
