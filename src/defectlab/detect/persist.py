"""The saved-detector format: ``NAME.safetensors`` (arrays) + ``NAME.json`` (everything else). No pickle.

The JSON holds the method, its constructor parameters, the fitted values
that are not arrays (threshold, resize scale, fusion weights ...), the
format version and the defectlab version that wrote it; the safetensors file
holds the arrays (memory bank, foreground axis, normal parses ...). Nothing
refers to the normal images, so a model scores on a machine that never saw
them. Both files are written atomically.

A model is read back only by the defectlab version that wrote it: scoring
code changes between versions, and a model that silently scores differently
from the day it was fitted is worse than one that refuses to load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save

from ..backbones.resize import Resizer
from ..data.io import write_bytes_atomic, write_text_atomic
from ..errors import ConfigError, ModelNotFoundError

FORMAT = "defectlab-detector"
FORMAT_VERSION = 1
SUFFIXES = (".safetensors", ".json")


def model_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(arrays, header) paths of a model named by either file or by their common stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in SUFFIXES else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def write_model(path: str | os.PathLike, method: str, params: dict[str, Any], state: dict[str, Any],
                arrays: dict[str, np.ndarray]) -> Path:
    """Write a fitted detector; returns the .safetensors path."""
    tensors_path, header_path = model_paths(path)
    head = header(method, params, state)
    tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(tensors_path, save(tensors, metadata={"format": FORMAT, "method": method}))
    write_text_atomic(header_path, json.dumps(head, indent=2) + "\n")
    return tensors_path


def read_model(path: str | os.PathLike, method: str | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays) of a saved detector, after checking it is one this defectlab can score with.

    ``method``, when given, is the method the caller expects; another one is an error.
    """
    tensors_path, header_path = model_paths(path)
    for p in (header_path, tensors_path):
        if not p.is_file():
            raise ModelNotFoundError(f"no saved detector at {path}: {p} is missing "
                                     "(a model is NAME.json + NAME.safetensors, as written by `defectlab fit`)")
    try:
        header = json.loads(header_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{header_path} is not a defectlab model header: {err}") from err
    return check_header(header, header_path, method), load_file(str(tensors_path))


def check_header(header: dict, where: str | os.PathLike, method: str | None = None) -> dict:
    """``header`` if this defectlab version wrote it (for ``method``, when given); else a ConfigError saying why."""
    from .. import __version__

    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ConfigError(f"{where} is not a defectlab detector (no \"format\": \"{FORMAT}\")")
    written_by = header.get("defectlab_version")
    if header.get("format_version") != FORMAT_VERSION or written_by != __version__:
        raise ConfigError(
            f"{where} was saved by defectlab {written_by} (model format {header.get('format_version')}); "
            f"this is defectlab {__version__} (format {FORMAT_VERSION}). Scores could differ between versions: "
            f"refit with `defectlab fit`, or score with defectlab=={written_by}"
        )
    if method is not None and header.get("method") != method:
        raise ConfigError(f"{where} holds a {header.get('method')!r} detector, not {method!r}")
    return header


def header(method: str, params: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The JSON header of a saved (or exported) detector."""
    from .. import __version__

    return {"format": FORMAT, "format_version": FORMAT_VERSION, "defectlab_version": __version__,
            "method": method, "params": _jsonable("parameter", params), "state": _jsonable("state", state)}


def resizer_state(resizer: Resizer) -> dict[str, Any]:
    """A fitted resizer as JSON values: the policy it resolved to and its scale, not only the request."""
    return {"requested": resizer.requested, "policy": resizer.policy, "size": resizer.size,
            "max_side": resizer.max_side, "min_side": resizer.min_side, "scale": resizer.scale}


def restore_resizer(state: dict[str, Any]) -> Resizer:
    resizer = Resizer(state["requested"], state["size"], state["max_side"], state["min_side"])
    resizer.policy, resizer.scale = state["policy"], state["scale"]
    return resizer


def _jsonable(what: str, values: dict[str, Any]) -> dict[str, Any]:
    try:
        json.dumps(values)
    except TypeError as err:
        bad = sorted(k for k, v in values.items() if not _dumps(v))
        raise ConfigError(f"cannot save {what}(s) {bad}: only names, numbers, lists and dicts are saved "
                          "(pass components by name or path, not as objects)") from err
    return values


def _dumps(value) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False
