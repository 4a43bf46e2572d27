"""Loading transformers models by hub id or local directory, and optional
packages, with an error that tells the user how to get what is not there."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import ModelNotFoundError
from .registry import DEFAULT_BACKBONE


def from_pretrained(cls, model_id: str | Path, **kwargs):
    """``cls.from_pretrained(model_id)``; a failure says where weights can come from."""
    try:
        return cls.from_pretrained(str(model_id), **kwargs)
    except (OSError, ValueError) as err:
        local = Path(model_id).expanduser()
        where = (
            f"the local directory {local} exists but holds no loadable model ({err.__class__.__name__}: {err})"
            if local.exists()
            else f"{model_id!r} is neither a local directory nor a model in the Hugging Face cache"
        )
        raise ModelNotFoundError(
            f"Could not load {cls.__name__} from {model_id!r}: {where}.\n"
            "To fix, do one of:\n"
            f"  - on a machine with internet: `huggingface-cli download {model_id}` (fills the cache), or\n"
            f"    python -c \"from transformers import AutoModel; AutoModel.from_pretrained('{model_id}')"
            ".save_pretrained('DIR')\" and pass DIR instead of the hub id;\n"
            "  - offline: copy such a DIR (config.json + model.safetensors) here and pass its path;\n"
            f"  - or use the offline default backbone {DEFAULT_BACKBONE!r}, which ships with its pip package."
        ) from err


@contextmanager
def explained_import(message: str) -> Iterator[None]:
    """An ImportError inside becomes one saying ``message`` (what needs the package, how to get it).

    >>> with explained_import("X needs the PyPI package 'p'; install it with: pip install p"):
    ...     import p
    """
    try:
        yield
    except ImportError as err:
        raise ImportError(message) from err
