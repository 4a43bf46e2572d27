"""Loading transformers models by hub id or local directory, failing fast and
saying how to get the weights when they are not there.

The Hugging Face cache is tried first with ``local_files_only``. Only on a
cache miss for a hub id is the hub asked once, with a short timeout, whether
it can be reached: without a network transformers retries for half a minute
or more before giving up, and a user on an offline line machine should get
the way out in a second, not a retry storm. Optional packages that are missing
get an ImportError that says how to install them (:func:`explained_import`).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import ModelNotFoundError
from .registry import DEFAULT_BACKBONE

HUB_TIMEOUT = 5.0  # seconds for the one reachability question


def from_pretrained(cls, model_id: str | Path, **kwargs):
    """``cls.from_pretrained(model_id)``; a failure says where weights can come from."""
    local = Path(model_id).expanduser()
    try:
        return cls.from_pretrained(str(model_id), local_files_only=True, **kwargs)
    except (OSError, ValueError) as err:
        if local.exists():
            raise _not_found(cls, model_id, f"the local directory {local} exists but holds no loadable model "
                                            f"({err.__class__.__name__}: {err})") from err
        offline = _hub_unreachable(str(model_id))
        if offline:
            raise _not_found(cls, model_id, f"{model_id!r} is neither a local directory nor in the Hugging Face "
                                            f"cache, and the hub cannot be reached ({offline})") from err
    try:
        return cls.from_pretrained(str(model_id), **kwargs)
    except (OSError, ValueError) as err:
        raise _not_found(cls, model_id, f"the hub has no loadable model {model_id!r} ({err})") from err


def _hub_unreachable(model_id: str) -> str:
    """Why the hub cannot serve ``model_id`` right now ("" when it can be asked)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    import huggingface_hub

    try:
        huggingface_hub.model_info(model_id, timeout=HUB_TIMEOUT)
    except huggingface_hub.errors.HfHubHTTPError:
        return ""  # the hub answered (401, 404, ...): let transformers say what it said
    except Exception as err:
        # No network, DNS failure, timeout, an id that is no repo id: the hub's
        # HTTP client raises its own classes, which differ between its versions.
        first = str(err).splitlines()[0] if str(err) else ""
        return f"{err.__class__.__name__}: {first}"
    return ""


def _not_found(cls, model_id: str | Path, why: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"Could not load {cls.__name__} from {model_id!r}: {why}.\n"
        "To fix, do one of:\n"
        f"  - on a machine with internet: `hf download {model_id}` (fills the Hugging Face cache, which you can\n"
        "    copy here), or in Python: from huggingface_hub import snapshot_download;\n"
        f"    snapshot_download({str(model_id)!r}, local_dir='DIR'), then pass DIR instead of the hub id;\n"
        "  - offline: pass a local directory saved with save_pretrained (config.json + model.safetensors);\n"
        f"  - or use the offline default backbone {DEFAULT_BACKBONE!r}, which ships with its pip package."
    )


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
