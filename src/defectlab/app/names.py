"""Names that end up in file paths: defect types and image ids.

A defect type becomes a folder name (``test/<type>/``), so it is reduced to a
slug of ``[a-z0-9_]``. Input that looks like an attempt to leave the folder
(separators, ``..``, control characters) is refused rather than cleaned up, so
the user learns the name was not used as typed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = ["InvalidName", "defect_type_slug", "prompt_text", "image_id", "IMAGE_ID_PATTERN"]

MAX_DEFECT_TYPE_LENGTH = 64
IMAGE_ID_PATTERN = r"^[0-9a-f]{16}$"

# "good" is where MVTec keeps defect-free test images; a defect type of that
# name would mix masks into the folder that must have none.
_RESERVED = {"good", "ground_truth", "train", "test"}
_FORBIDDEN = re.compile(r"[/\\\x00-\x1f\x7f]|\.\.")


class InvalidName(ValueError):
    """A name that cannot be used as given; the message says why."""


def defect_type_slug(raw: object) -> str:
    """``"Hair crack"`` -> ``"hair_crack"``; raises InvalidName for anything unsafe or empty."""
    if not isinstance(raw, str):
        raise InvalidName("the defect type must be text")
    if _FORBIDDEN.search(raw):
        raise InvalidName(f"defect type {raw!r} contains a slash, '..' or a control character; use words only")
    # "Éraflure" -> "eraflure": accents go, so the folder name stays plain ASCII.
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.strip().lower()).strip("_")
    if not slug:
        raise InvalidName("enter a defect type in Latin letters or digits, e.g. crack")
    if len(slug) > MAX_DEFECT_TYPE_LENGTH:
        raise InvalidName(f"defect type is longer than {MAX_DEFECT_TYPE_LENGTH} characters")
    if slug in _RESERVED:
        raise InvalidName(
            f"{slug!r} is reserved by the MVTec layout; use 'No defect' for good images or pick another name"
        )
    return slug


def prompt_text(slug: str | None) -> str | None:
    """The words a text prompt should see: ``"hair_crack"`` -> ``"hair crack"``."""
    return slug.replace("_", " ") if slug else None


def image_id(relative_name: str) -> str:
    """Stable across restarts (derived from the file name), opaque to the client."""
    return hashlib.sha256(relative_name.encode("utf-8")).hexdigest()[:16]
