"""The two ways reading data goes wrong, as exceptions a user can act on.

Every message names the file or folder involved and says what was expected,
because the person reading it is usually pointing the tool at their own data
for the first time and has no way to guess what a bare PIL or OS error means.
"""

from __future__ import annotations

from ..errors import DataError


class ImageLoadError(DataError, ValueError):
    """An image or mask could not be read (corrupt, truncated, not an image, unsupported values)."""


class ImageNotFoundError(ImageLoadError, FileNotFoundError):
    """The image file does not exist.

    It is both an ImageLoadError (so one ``except`` covers every unreadable
    image) and a FileNotFoundError (so code written against the standard
    library's error keeps working).
    """


class DatasetLayoutError(DataError, FileNotFoundError):
    """A dataset folder is missing, empty, or not laid out as the dataset's format requires.

    A FileNotFoundError because in nearly every case something expected on
    disk is not there; the message names it and the expected layout.
    """
