"""Labelling web app: click-to-mask annotation in the browser (``defectlab label``).

Importing this package is cheap; FastAPI and the model load only when a
server is created, so ``defectlab --help`` stays fast.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):
    from .server import create_app as _create_app

    return _create_app(*args, **kwargs)
