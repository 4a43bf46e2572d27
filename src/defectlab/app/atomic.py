"""Whole-file writes: a reader (or a restart after a crash) sees the old file or the new one, never half.

Images go through ``defectlab.data.io.save_png_atomic``; this covers what the
app writes besides pixels: JSON, copies of the user's images and links to them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from ..data.io import atomic_write, removed_on_failure


def write_json_atomic(path: str | os.PathLike, data, durable: bool = True) -> Path:
    """Serialise first, then write: a value json cannot encode raises before any file is touched.

    ``durable=False`` skips the fsync, for drafts that are rewritten on every
    click and are only a convenience; the rename still keeps them whole.
    """
    payload = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    return atomic_write(path, lambda h: h.write(payload), durable)


def copy_atomic(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    def write(handle):
        with open(src, "rb") as source:
            shutil.copyfileobj(source, handle, 1 << 20)

    return atomic_write(dst, write)


def symlink_atomic(target: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Point ``dst`` at ``target``, replacing whatever ``dst`` was in one rename."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.{os.getpid()}.{id(dst):x}.lnk"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(os.fspath(target), tmp)
    with removed_on_failure(tmp):
        os.replace(tmp, dst)
    return dst


def read_json(path: str | os.PathLike, default=None):
    """The parsed file, or ``default`` when it is missing; a corrupt file raises ValueError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); move it aside to start afresh") from err
