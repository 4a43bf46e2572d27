"""File names as text, and names for the files written per input image.

A file name is bytes on Linux, and not every byte string is UTF-8:
Python hands ``bad\\xff.png`` over as a str with lone surrogates, which
cannot be written to a UTF-8 file and crashes OpenCV's text drawing outright.
:func:`path_text` is the one way such a name becomes text (for CSV rows,
summaries, titles, messages); :func:`output_names` gives every input image
its own output file name, unique and within the file system's limit.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

__all__ = ["NAME_MAX", "output_names", "path_text"]

NAME_MAX = 255  # bytes in one file name on every common file system


def path_text(path: str | os.PathLike) -> str:
    r"""A path as printable UTF-8 text: undecodable bytes and unprintable characters escaped (``\xNN``).

    Valid UTF-8 names (accents, CJK, emoji) come back unchanged; only what
    cannot be shown is escaped, so the text still identifies the file.
    """
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def output_names(paths: Sequence[Path], suffix: str = ".png") -> list[str]:
    """One output file name per input (``<stem><suffix>``), unique and at most NAME_MAX bytes.

    Inputs that share a stem (``same.png`` and ``same.jpg``), also only up to
    letter case (a macOS or Windows disk would merge their outputs), are
    told apart by their extension (``same_png.png``, ``same_jpg.png``); a
    stem too long for the limit is shortened; any clash left gets ``_2``,
    ``_3``, ... The result is in the order of ``paths`` and depends only on them.
    """
    shared = Counter(p.stem.casefold() for p in paths)
    used: set[str] = set()
    names = []
    for path in paths:
        base = path.stem if shared[path.stem.casefold()] == 1 else f"{path.stem}_{path.suffix.lstrip('.')}"
        name, n = _fit(base, suffix), 1
        while name.casefold() in used:
            n += 1
            name = _fit(base, f"_{n}{suffix}")
        used.add(name.casefold())
        names.append(name)
    return names


def _fit(base: str, ending: str) -> str:
    """``base + ending``, with ``base`` cut (at a character boundary) to fit in NAME_MAX bytes."""
    budget = NAME_MAX - len(os.fsencode(ending))
    while len(os.fsencode(base)) > budget:
        base = base[:-1]
    return base + ending
