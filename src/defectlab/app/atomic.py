"""Whole-file writes: a reader (or a restart after a crash) sees the old file or the new one, never half.

Images go through ``defectlab.data.io.save_png_atomic``; this covers what the
app writes besides pixels: JSON, copies of the user's images and links to them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path



def _read_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# Read once at import: os.umask can only be read by setting it, and doing so
# while request threads create files would briefly make their files 0666.
_NEW_FILE_MODE = 0o666 & ~_read_umask()


def _replace_from_temp(path: Path, write, durable: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        # mkstemp makes files private (0600); outputs should get ordinary permissions.
        os.chmod(tmp, _NEW_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, data, durable: bool = True) -> Path:
    """Serialise first, then write: a value json cannot encode raises before any file is touched.

    ``durable=False`` skips the fsync, for drafts that are rewritten on every
    click and are only a convenience; the rename still keeps them whole.
    """
    payload = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    return _replace_from_temp(Path(path), lambda h: h.write(payload), durable)


def copy_atomic(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    def write(handle):
        with open(src, "rb") as source:
            shutil.copyfileobj(source, handle, 1 << 20)

    return _replace_from_temp(Path(dst), write, durable=True)


def symlink_atomic(target: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Point ``dst`` at ``target``, replacing whatever ``dst`` was in one rename."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.{os.getpid()}.{id(dst):x}.lnk"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(os.fspath(target), tmp)
    try:
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
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
