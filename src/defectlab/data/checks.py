"""Checks on the values a caller passes in, with errors that name the argument.

Every public function and constructor checks its arguments with these, and
the command line checks its flags with the same functions
(:mod:`defectlab.cli.arguments`), so one rule reads the same from Python
(``shots must be a positive integer, got 0``) and from the shell
(``argument --shots: must be a positive integer, got 0``). ``name`` is the
argument's name; the command line passes ``""`` because argparse already
puts the flag in front of the message.

Booleans are refused wherever a number is expected: ``True`` is an int to
Python, but passing it for a count or a size is always a mistake.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np
from PIL import Image

from ..errors import ConfigError

__all__ = ["finite_float", "image_list", "int_in_range", "non_negative_int", "positive_float", "positive_int"]


def _fail(name: str, problem: str) -> ConfigError:
    return ConfigError(f"{name} {problem}" if name else problem)


def _integer(name: str, value, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail(name, f"must be {expected}, got {value!r} ({type(value).__name__})")
    return int(value)


def positive_int(name: str, value) -> int:
    """``value`` as an int >= 1."""
    return int_in_range(name, value, 1, None, "a positive integer")


def non_negative_int(name: str, value) -> int:
    """``value`` as an int >= 0."""
    return int_in_range(name, value, 0, None, "a non-negative integer")


def int_in_range(name: str, value, low: int, high: int | None, expected: str = "") -> int:
    """``value`` as an int in [low, high]; ``high=None`` leaves the top open."""
    expected = expected or f"an integer from {low} to {high}"
    number = _integer(name, value, expected)
    if number < low or (high is not None and number > high):
        raise _fail(name, f"must be {expected}, got {number}")
    return number


def finite_float(name: str, value) -> float:
    """``value`` as a float that is neither NaN nor infinite (a NaN threshold never flags anything)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(name, f"must be a number, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise _fail(name, f"must be a finite number, got {number}")
    return number


def positive_float(name: str, value) -> float:
    """``value`` as a finite float > 0."""
    number = finite_float(name, value)
    if number <= 0:
        raise _fail(name, f"must be a positive number, got {number:g}")
    return number


def image_list(name: str, images) -> list:
    """``images`` as a list, refusing one image passed where a list of them is expected.

    Iterating over ``"x.png"`` yields its characters and over an HxWx3 array
    its rows, and each would then be read as an image of its own; both are
    nearly always a single image that should have been wrapped in a list.
    A 4-D array is a batch (N, H, W, C) and becomes a list of N images.
    """
    if isinstance(images, (str, bytes, os.PathLike)):
        raise _fail(name, f"must be a list of images, got the single path {os.fsdecode(images)!r}; "
                          "pass it in a list: [path]")
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return list(images)
        raise _fail(name, f"must be a list of images, got one array of shape {images.shape}; "
                          "pass it in a list: [array] (a 4-D array (N, H, W, C) is read as N images)")
    if isinstance(images, Image.Image):
        raise _fail(name, "must be a list of images, got a single PIL image; pass it in a list: [image]")
    try:
        return list(images)
    except TypeError:
        raise _fail(name, f"must be a list of images, got {type(images).__name__}") from None
