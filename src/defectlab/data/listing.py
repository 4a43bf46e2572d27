"""Which files in a folder are images, and a warning for every file that is left out.

A folder a person points the tool at often holds more than images: masks,
notes, vector drawings, broken links, macOS ``._`` companions. Leaving such a
file out silently can make a run quietly use fewer images than the folder
seems to hold, so every file left out is named in one warning, with the
reason. Only files ``exclude`` matches (the caller asked) and subfolders are
left out without a word.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Union

from .errors import DatasetLayoutError
from .formats import IMAGE_EXTENSIONS, NOT_DECODED
from .names import path_text

__all__ = ["Exclude", "list_images"]

Exclude = Union[None, str, Iterable[str], Callable[[Path], bool]]

_NAMED_IN_WARNING = 20  # a folder of 10,000 stray files still gets a readable warning


def list_images(
    folder: str | os.PathLike,
    recursive: bool = False,
    exclude: Exclude = None,
) -> list[Path]:
    """Sorted image files in ``folder`` (extensions in ``IMAGE_EXTENSIONS``, any case).

    ``exclude`` drops files that are not images of the scene, typically masks
    stored next to them: a glob matched against the file name, ignoring case
    (``"*_mask.png"``), several such globs, or a callable taking the Path and
    returning True to drop it. Hidden files (macOS leaves ``._name.png``
    companions that carry an image extension but no image), other extensions,
    broken or looping symbolic links and pipes are left out with a warning.

    Raises DatasetLayoutError when the folder is missing or holds no images,
    because an empty list would otherwise surface much later as a confusing
    "need at least one image" deep inside a detector.
    """
    folder = Path(folder)
    if not folder.exists():
        raise DatasetLayoutError(f"image folder not found: {path_text(folder)}")
    if not folder.is_dir():
        raise DatasetLayoutError(f"expected a folder of images, but {path_text(folder)} is a file")
    excluded = _exclusion_rule(exclude)
    images, skipped = [], []
    for path in folder.rglob("*") if recursive else folder.iterdir():
        if excluded(path):
            continue
        reason = _not_an_image(path)
        if reason is None:
            images.append(path)
        elif reason:
            skipped.append((path, reason))
    if skipped:
        warnings.warn(_skipped_message(folder, sorted(skipped)), stacklevel=2)
    if not images:
        where = f"{path_text(folder)} or its subfolders" if recursive else path_text(folder)
        note = " (after applying exclude)" if exclude is not None else ""
        raise DatasetLayoutError(
            f"no images found in {where}{note}; expected files with extensions {', '.join(IMAGE_EXTENSIONS)}"
        )
    return sorted(images)


def _not_an_image(path: Path) -> str | None:
    """None for an image file; "" for a folder (left out silently); else why the file is left out."""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        if path.is_symlink():
            return "a symbolic link that loops" if err.errno == errno.ELOOP else "a symbolic link to nothing"
        return f"cannot be read ({err.strerror})"
    if stat.S_ISDIR(mode):
        return ""
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device)"
    if path.name.startswith("."):
        return "a hidden file"
    suffix = path.suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        return NOT_DECODED.get(suffix, "not an image extension defectlab reads")
    return None


def _skipped_message(folder: Path, skipped: list[tuple[Path, str]]) -> str:
    shown = [f"{path_text(path.relative_to(folder))} ({reason})" for path, reason in skipped[:_NAMED_IN_WARNING]]
    more = f", and {len(skipped) - _NAMED_IN_WARNING} more" if len(skipped) > _NAMED_IN_WARNING else ""
    return (f"left out {len(skipped)} file(s) in {path_text(folder)}: {', '.join(shown)}{more} "
            "(the formats read are listed in defectlab.data.formats)")


def _exclusion_rule(exclude: Exclude) -> Callable[[Path], bool]:
    if exclude is None:
        return lambda path: False
    if callable(exclude):
        return exclude
    patterns = [exclude] if isinstance(exclude, str) else list(exclude)
    lowered = [pattern.lower() for pattern in patterns]
    return lambda path: any(fnmatch.fnmatchcase(path.name.lower(), p) for p in lowered)
