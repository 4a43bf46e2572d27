"""ADClick checkpoints: head weights as safetensors plus a JSON config beside them.

``NAME.safetensors`` holds the head's tensors and ``NAME.json`` everything
needed to rebuild and use it: the head's shape, the backbone and resizing the
features were computed with (a checkpoint only works with those), the text
encoder, the click radius, and how it was trained. Both files are written
atomically (:func:`defectlab.data.io.atomic_write`), so an interrupted
training never leaves a half checkpoint that later loads as garbage.

The default checkpoint ships inside the package (``weights/``); see
``docs/click.md`` for the command that reproduces it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from safetensors.torch import load_file, save

from ..backbones.text import DEFAULT_TEXT_ENCODER
from ..data.io import write_bytes_atomic, write_text_atomic
from ..errors import ConfigError
from .model import ClickHead, HeadConfig
from .residual import FeatureSettings

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_CHECKPOINT = WEIGHTS_DIR / "adclick.safetensors"
FORMAT_VERSION = 1


@dataclass
class ClickConfig:
    """Everything but the weights; ``features`` is what the NormalReference must be built with."""

    head: HeadConfig = field(default_factory=HeadConfig)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    text_encoder: str | None = DEFAULT_TEXT_ENCODER
    radius: float = 5.0
    training: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        # The feature settings sit at the top level of the JSON, where every checkpoint has them.
        return {
            "format_version": FORMAT_VERSION,
            "head": self.head.to_dict(),
            **self.features.to_dict(),
            "text_encoder": self.text_encoder,
            "radius": self.radius,
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ClickConfig:
        version = d.get("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ConfigError(f"checkpoint format {version} is newer than this defectlab understands ({FORMAT_VERSION}); upgrade defectlab")
        rest = {k: d[k] for k in ("text_encoder", "radius", "training") if k in d}
        return cls(head=HeadConfig.from_dict(d.get("head", {})), features=FeatureSettings.from_dict(d), **rest)


def config_path(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def save_checkpoint(head: ClickHead, config: ClickConfig, path: str | os.PathLike) -> Path:
    """Write ``path`` (.safetensors) and its .json atomically; returns the weights path."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    tensors = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    write_bytes_atomic(path, save(tensors, metadata={"format": "pt"}))
    write_text_atomic(config_path(path), json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


def load_checkpoint(path: str | os.PathLike | None = None) -> tuple[ClickHead, ClickConfig]:
    """(head in eval mode, config) from a .safetensors path; None = the shipped default."""
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    if path.suffix != ".safetensors" and path.with_suffix(".safetensors").is_file():
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        hint = (
            "the default checkpoint ships with defectlab; reinstall the package or run the `defectlab click-train` "
            "command in docs/click.md to rebuild it"
            if path == DEFAULT_CHECKPOINT
            else "pass the .safetensors file that `defectlab click-train --out` wrote"
        )
        raise FileNotFoundError(f"ADClick checkpoint not found: {path}; {hint}")
    cfg_file = config_path(path)
    if not cfg_file.is_file():
        raise FileNotFoundError(f"checkpoint config not found: {cfg_file}; it is written beside {path.name} by click-train")
    try:
        config = ClickConfig.from_dict(json.loads(cfg_file.read_text()))
    except (json.JSONDecodeError, TypeError) as err:
        raise ConfigError(f"checkpoint config {cfg_file} is not a valid ADClick config: {err}") from err
    head = ClickHead(config.head)
    state = load_file(str(path))
    try:
        missing, unexpected = head.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ConfigError(f"checkpoint {path} does not fit the head described in {cfg_file.name}: {str(err)[:300]}") from err
    if missing or unexpected:
        raise ConfigError(
            f"checkpoint {path} does not fit the head described in {cfg_file.name}: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return head.eval().requires_grad_(False), config

