"""SAM through transformers: a promptable predictor, and automatic mask generation on it.

:class:`SamPredictor` is segment-anything's predictor: the image encoder runs
once per image (``set_image``), then each prompt (points, labels, optionally
the previous low-resolution mask) costs only the light prompt encoder and
mask decoder. Click segmentation and the segmenter below both use it.

:class:`SamSegmenter` is what the reference method segments every image with,
SAM's "everything" mode: a grid of point prompts, three candidate masks per
point, kept when the model's predicted IoU and the mask's stability are high,
de-duplicated by non-maximum suppression, small ones dropped. The mask that
touches two image edges is the background.

This is written against ``SamModel`` + ``SamProcessor`` directly rather than
the ``mask-generation`` pipeline: the pipeline's NMS needs torchvision, which
defectlab does not depend on, and doing it here keeps every threshold visible.
Any SAM checkpoint in transformers format loads by hub id or local directory
(``facebook/sam-vit-base``, ``-large``, ``-huge``; SlimSAM such as
``nielsr/slimsam-50-uniform`` is the light CPU choice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, NotFittedError
from .base import Segmentation, Segmenter, is_background
from .registry import SEGMENTERS

DEFAULT_SAM = "facebook/sam-vit-base"


def sam_available(model: str | Path | None = None) -> bool:
    """Whether SAM weights can be loaded without a download (local dir or HF cache)."""
    model = model or DEFAULT_SAM
    if Path(str(model)).expanduser().is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers depends on it
        return False
    found = try_to_load_from_cache(str(model), "config.json")
    return isinstance(found, str)


@dataclass
class _Encoded:
    embedding: torch.Tensor
    original: torch.Tensor  # (1, 2) the image's (H, W)
    resized: torch.Tensor  # (1, 2) its (h, w) inside the model's square input


class SamPredictor:
    """Promptable SAM on one image at a time, weights loaded on first use.

    >>> predictor = SamPredictor("facebook/sam-vit-base")
    >>> predictor.set_image(image)                    # the expensive part, once per image
    >>> masks, scores, low = predictor.predict([[120, 80]], [1])   # a click: three candidates
    >>> best = scores.argmax()
    >>> masks, scores, low = predictor.predict([[120, 80], [40, 60]], [1, 0], mask_input=low[best],
    ...                                        multimask=False)   # refined by a negative click

    Parameters
    ----------
    model: hub id or local directory holding a SAM model and its processor.
    device: where the model runs.
    """

    def __init__(self, model: str | Path = DEFAULT_SAM, device: str = "cpu"):
        self.model = str(model)
        self.device = device
        self._sam = self._processor = None
        self._image: _Encoded | None = None

    def __repr__(self) -> str:
        return f"SamPredictor(model={self.model!r})"

    def load(self) -> "SamPredictor":
        """Load the weights now (they load on first use anyway); raises ModelNotFoundError if absent."""
        if self._sam is None:
            from transformers import SamModel, SamProcessor

            from ..backbones.loading import from_pretrained
            from ..backbones.onednn import use_onednn_linears

            # linear layers through oneDNN on the CPU: a ViT-B image encoding 1.3x faster (backbones.onednn)
            self._sam = use_onednn_linears(from_pretrained(SamModel, self.model).to(self.device).eval())
            self._processor = from_pretrained(SamProcessor, self.model)
        return self

    @torch.inference_mode()
    def set_image(self, image: np.ndarray) -> None:
        """Encode a uint8 RGB (H, W, 3) image; every predict after this prompts on it."""
        self.load()
        inputs = self._processor(images=image, return_tensors="pt")
        embedding = self._sam.get_image_embeddings(inputs["pixel_values"].to(self.device))
        self._image = _Encoded(embedding, inputs["original_sizes"], inputs["reshaped_input_sizes"])

    def to_input_frame(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 2) (x, y) image pixels -> the model's input frame (the image resized), in ``points``' dtype."""
        image = self._encoded()
        (h, w), (rh, rw) = image.original[0].tolist(), image.resized[0].tolist()
        return points * torch.tensor([rw / w, rh / h], dtype=points.dtype)

    def predict(
        self,
        points: Sequence | np.ndarray,
        labels: Sequence | np.ndarray,
        mask_input: np.ndarray | None = None,
        multimask: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One prompt on the image of :meth:`set_image`.

        points: (N, 2) (x, y) in image pixels; labels: (N,) 1 foreground, 0 background.
        mask_input: (h, w) low-resolution logits of one mask from an earlier call
            (its third output), which the decoder refines.
        multimask: three candidate masks, for an ambiguous prompt such as a single
            click (pick one by score), instead of one.
        Returns masks (C, H, W) bool at the image's size, or their float32 logits with
        ``return_logits``; scores (C,) the predicted IoU of each; low-resolution
        logits (C, h, w) float32. C is 3 with ``multimask``, else 1.
        """
        coords = self.to_input_frame(torch.from_numpy(np.asarray(points, dtype=np.float64)))
        signs = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        prior = None
        if mask_input is not None:
            prior = torch.as_tensor(mask_input, dtype=torch.float32).reshape(1, *np.shape(mask_input)[-2:])
        logits, scores, low = self.predict_torch(coords[None], signs[None], prior, multimask)
        full = logits[0].numpy()
        return (full if return_logits else full > 0), scores[0].numpy(), low[0].numpy()

    @torch.inference_mode()
    def predict_torch(
        self,
        points: torch.Tensor,
        labels: torch.Tensor,
        mask_input: torch.Tensor | None = None,
        multimask: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """P prompts at once: ``points`` (P, N, 2) in the input frame (:meth:`to_input_frame`), ``labels`` (P, N).

        ``mask_input`` (1, h, w) low-resolution logits go with every prompt. Returns, on
        the CPU: logits (P, C, H, W) at the image's size, predicted IoU (P, C) and
        low-resolution logits (P, C, h, w).
        """
        image = self._encoded()
        prior = {} if mask_input is None else {"input_masks": mask_input[None].to(self.device)}
        out = self._sam(image_embeddings=image.embedding, input_points=points[None].to(self.device),
                        input_labels=labels[None].to(self.device), multimask_output=multimask, **prior)
        low = out.pred_masks.cpu()
        logits = self._processor.image_processor.post_process_masks(low, image.original, image.resized,
                                                                     binarize=False)[0]
        return logits, out.iou_scores[0].cpu(), low[0]

    def _encoded(self) -> _Encoded:
        if self._image is None:
            raise NotFittedError("SamPredictor: call set_image(image) before predicting")
        return self._image


@SEGMENTERS.register("sam")
@dataclass(repr=False, eq=False)  # the repr below is the short one; eq=False: compared and hashed by identity, as before
class SamSegmenter(Segmenter):
    """
    Parameters
    ----------
    model: hub id or local directory holding a SAM model and its processor;
        loaded on first use.
    points_per_side: the prompt grid is points_per_side^2 points (SAM's
        default is 32; 16 finds the parts of an inspection scene, 4x cheaper).
    pred_iou_thresh, stability_score_thresh, stability_offset: SAM's filters,
        with SAM's defaults.
    nms_thresh: masks overlapping a better one by more IoU are dropped.
    min_area: masks under this fraction of the image are dropped.
    points_per_batch: prompts decoded at once (memory vs speed).
    device: where the model runs.

    ``predictor`` is the :class:`SamPredictor` on ``model`` and ``device``.
    """

    model: str | Path = DEFAULT_SAM
    points_per_side: int = 16
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_offset: float = 1.0
    nms_thresh: float = 0.7
    min_area: float = 0.001
    points_per_batch: int = 64
    device: str = "cpu"
    predictor: SamPredictor = field(init=False)

    name = "sam"  # not annotated: the registry name, not a parameter

    def __post_init__(self):
        if self.points_per_side < 1:
            raise ConfigError(f"points_per_side must be >= 1, got {self.points_per_side}")
        self.predictor = SamPredictor(self.model, self.device)

    def __repr__(self) -> str:
        return f"SamSegmenter(model={self.predictor.model!r}, points_per_side={self.points_per_side})"

    @torch.inference_mode()
    def segment(self, image: np.ndarray) -> Segmentation:
        h, w = image.shape[:2]
        self.predictor.set_image(image)
        pixels = _point_grid(self.points_per_side) * torch.tensor([w, h], dtype=torch.float32)
        grid = self.predictor.to_input_frame(pixels)
        masks, scores = [], []
        proposals = 0
        for start in range(0, len(grid), self.points_per_batch):
            points = grid[start : start + self.points_per_batch]
            logits, iou, _ = self.predictor.predict_torch(points[:, None], torch.ones(len(points), 1, dtype=torch.long))
            logits, iou = logits.flatten(0, 1), iou.flatten()  # (P * 3, H, W): three masks per prompt
            proposals += len(logits)
            keep = iou > self.pred_iou_thresh
            if self.stability_score_thresh > 0:
                keep &= _stability(logits, self.stability_offset) > self.stability_score_thresh
            masks.append(logits[keep] > 0)
            scores.append(iou[keep])
        masks_t = torch.cat(masks) if masks else torch.zeros(0, h, w, dtype=torch.bool)
        scores_t = torch.cat(scores) if scores else torch.zeros(0)
        kept = self._filter(masks_t, scores_t)
        # proposals: prompts x 3 masks; passed: through the IoU and stability
        # filters; kept: after area, background and NMS
        return Segmentation.from_masks(kept, (h, w), self.name, proposals=proposals, passed=int(len(masks_t)),
                                       kept=len(kept))

    def _filter(self, masks: torch.Tensor, scores: torch.Tensor) -> list[np.ndarray]:
        """Minimum area, background rule, then mask-IoU NMS best score first."""
        h, w = masks.shape[-2:]
        min_pixels = max(self.min_area * h * w, 1)  # an empty mask is never a part, whatever min_area says
        order = torch.argsort(scores, descending=True)
        kept: list[np.ndarray] = []
        small: list[torch.Tensor] = []  # low-resolution copies for fast IoU
        for i in order.tolist():
            m = masks[i]
            if m.sum() < min_pixels:
                continue
            mn = m.numpy()
            if is_background(mn):
                continue
            lowres = F.interpolate(m[None, None].float(), size=(64, 64), mode="area")[0, 0] > 0.5
            if any(_iou(lowres, k) > self.nms_thresh for k in small):
                continue
            kept.append(mn)
            small.append(lowres)
        return kept


def _point_grid(n: int) -> torch.Tensor:
    """n x n points at cell centres, as (x, y) fractions of the image."""
    offset = 1.0 / (2 * n)
    ticks = torch.linspace(offset, 1 - offset, n)
    ys, xs = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([xs.ravel(), ys.ravel()], 1)


def _stability(logits: torch.Tensor, offset: float) -> torch.Tensor:
    """IoU of the mask thresholded at +offset and at -offset (SAM's stability score)."""
    inner = (logits > offset).flatten(1).sum(1).float()
    outer = (logits > -offset).flatten(1).sum(1).float()
    return inner / outer.clamp(min=1)


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    union = (a | b).sum().item()
    return (a & b).sum().item() / union if union else 0.0
