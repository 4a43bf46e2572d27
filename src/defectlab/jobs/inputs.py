"""What a batch job scores: a folder, a glob or a text file of paths, listed lazily.

``--images`` takes one of three forms, told apart in this order:

* a folder: its image files (``IMAGE_EXTENSIONS``, any case, hidden files
  skipped, not recursive), each named ``FOLDER/NAME`` exactly as
  ``list_images`` and so plain ``detect`` name them;
* a glob (``*``, ``?`` or ``[`` in it; ``**`` recurses): the files it matches,
  named as ``glob`` returns them;
* any other existing file: a list, one path per line; surrounding whitespace
  and blank lines are ignored.

Relative paths (the folder, the glob, a list's lines) are relative to the
directory the command runs in, as for any command-line tool. A Ray worker
runs elsewhere, so every path carries that directory (``Inputs.cwd``) with it
and :func:`open_path` joins them; the ``image`` column keeps the path as
listed, as :func:`~defectlab.data.names.path_text` writes it (the text
plain ``detect`` writes). A name that is not UTF-8 is listed as Python
hands it over (with surrogates), so it still opens; only its text is escaped.

Nothing here holds the whole listing: a list file is split into byte ranges
read independently (a line belongs to the range its first byte lies in), a
folder or glob is one lazily iterated piece. This module does not import Ray;
``ray_scoring`` turns the pieces into read tasks.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..data.formats import IMAGE_EXTENSIONS
from ..errors import ConfigError

# A list file is read in pieces of this size: 16 MiB holds about 200,000
# paths, so a million-path list becomes a handful of read tasks and each one
# keeps only a block of paths in memory at a time.
LIST_PIECE_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Inputs:
    kind: str  # "dir", "glob" or "list"
    spec: str  # as given
    cwd: str  # where relative paths are resolved

    def pieces(self, piece_bytes: int = LIST_PIECE_BYTES) -> list[Piece]:
        """Independent parts of the listing, each iterated by :meth:`Piece.paths`."""
        if self.kind != "list":
            return [Piece(self, 0, None)]
        size = os.path.getsize(open_path(self.spec, self.cwd))
        return [Piece(self, start, min(start + piece_bytes, size)) for start in range(0, max(size, 1), piece_bytes)]


@dataclass(frozen=True)
class Piece:
    inputs: Inputs
    start: int
    end: int | None  # None: to the end (a folder or glob)

    def paths(self) -> Iterator[str]:
        """The image paths in this piece, as listed, one at a time."""
        kind, spec, cwd = self.inputs.kind, self.inputs.spec, self.inputs.cwd
        if kind == "dir":
            yield from _folder(spec, cwd)
        elif kind == "glob":
            for path in glob.iglob(spec, root_dir=cwd, recursive=True):
                if os.path.isfile(open_path(path, cwd)):
                    yield path
        else:
            yield from _lines(open_path(spec, cwd), self.start, self.end)


def parse_inputs(spec: str | os.PathLike, cwd: str | None = None) -> Inputs:
    """Tell a folder, a glob and a list file apart; fail now on a missing one."""
    spec = os.fspath(spec)
    cwd = cwd or os.getcwd()
    where = open_path(spec, cwd)
    if os.path.isdir(where):
        return Inputs("dir", spec, cwd)
    if glob.has_magic(spec):
        return Inputs("glob", spec, cwd)
    if os.path.isfile(where):
        if Path(spec).suffix.lower() in IMAGE_EXTENSIONS:
            raise ConfigError(f"{spec} is one image: pass its folder, a glob, or a text file listing paths")
        return Inputs("list", spec, cwd)
    raise ConfigError(f"{spec}: no such folder or file, and not a glob (a pattern with * ? or [ in it)")


def open_path(image: str, cwd: str) -> str:
    """Where the listed ``image`` is on disk (an absolute path stays as it is)."""
    return os.path.join(cwd, image)


def _folder(spec: str, cwd: str) -> Iterator[str]:
    prefix = Path(spec)  # as list_images names files: Path(folder) / name
    with os.scandir(open_path(spec, cwd)) as entries:
        for entry in entries:
            if (Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS and not entry.name.startswith(".")
                    and entry.is_file()):
                yield str(prefix / entry.name)


def _lines(path: str, start: int, end: int) -> Iterator[str]:
    with open(path, "rb") as handle:
        if start:
            # The line running across ``start`` began in the previous piece, which reads it.
            handle.seek(start - 1)
            handle.readline()
        position = handle.tell()
        while position < end:
            line = handle.readline()
            if not line:
                return
            position += len(line)
            # Bytes that are not UTF-8 come through as the file system's own name for them.
            text = os.fsdecode(line).strip()
            if text:
                yield text
