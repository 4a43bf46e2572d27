"""argparse ``type=`` functions: every flag's value is checked while parsing, by the rule its Python argument has.

Each function parses the text, then checks the value with
:mod:`defectlab.data.checks` (the API's own checks), so a flag and the
argument it feeds cannot disagree. A refusal is an ``ArgumentTypeError``:
argparse prints ``defectlab CMD: error: argument --FLAG: <problem>`` under
the usage line and exits 2, before any model loads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..backbones.base import resolve_device
from ..backbones.resize import MAX_SIDE, MIN_SIDE
from ..data import checks
from ..data.sampling import SEED_RANGE
from ..errors import ConfigError


def _flag(parse, check, expected: str):
    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}") from None
        try:
            return check("", value)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


positive_int = _flag(int, checks.positive_int, "a positive integer")
non_negative_int = _flag(int, checks.non_negative_int, "a non-negative integer")
finite_float = _flag(float, checks.finite_float, "a number")
positive_float = _flag(float, checks.positive_float, "a positive number")
port = _flag(int, lambda name, n: checks.int_in_range(name, n, 0, 65535), "a port number from 0 to 65535")
seed = _flag(int, lambda name, n: checks.int_in_range(name, n, *SEED_RANGE), f"an integer from 0 to {SEED_RANGE[1]}")
image_size = _flag(int, lambda name, n: checks.int_in_range(name, n, MIN_SIDE, MAX_SIDE),
                   f"a size in pixels from {MIN_SIDE} to {MAX_SIDE}")


def device(text: str) -> str:
    """A device torch has here; the text itself is kept, so "auto" still means "auto" downstream."""
    try:
        resolve_device(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_no_progress(parser) -> None:
    """--no-progress, as every command with progress bars takes it."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (for logs and scripts)")


def folder(text: str) -> Path:
    """An existing folder (a folder to read from; output folders are created instead)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"folder not found: {text}")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    return path
