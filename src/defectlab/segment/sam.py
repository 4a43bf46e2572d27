"""SAM automatic mask generation with transformers' ``SamModel``.

The reference method segments every image with SAM's "everything" mode: a
grid of point prompts, three candidate masks per point, kept when the
model's predicted IoU and the mask's stability are high, de-duplicated by
non-maximum suppression, small ones dropped. The mask that touches two image
edges is the background.

This is written against ``SamModel`` + ``SamProcessor`` directly rather than
the ``mask-generation`` pipeline: the pipeline's NMS needs torchvision, which
defectlab does not depend on, and doing it here keeps every threshold visible.
Any SAM checkpoint in transformers format loads by hub id or local directory
(``facebook/sam-vit-base``, ``-large``, ``-huge``; SlimSAM such as
``nielsr/slimsam-50-uniform`` is the light CPU choice).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
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


@SEGMENTERS.register("sam")
class SamSegmenter(Segmenter):
    """
    Parameters
    ----------
    model: hub id or local directory holding a SAM model and its processor.
    points_per_side: the prompt grid is points_per_side^2 points (SAM's
        default is 32; 16 finds the parts of an inspection scene, 4x cheaper).
    pred_iou_thresh, stability_score_thresh, stability_offset: SAM's filters,
        with SAM's defaults.
    nms_thresh: masks overlapping a better one by more IoU are dropped.
    min_area: masks under this fraction of the image are dropped.
    points_per_batch: prompts decoded at once (memory vs speed).
    """

    name = "sam"

    def __init__(
        self,
        model: str | Path = DEFAULT_SAM,
        points_per_side: int = 16,
        pred_iou_thresh: float = 0.88,
        stability_score_thresh: float = 0.95,
        stability_offset: float = 1.0,
        nms_thresh: float = 0.7,
        min_area: float = 0.001,
        points_per_batch: int = 64,
        device: str = "cpu",
    ):
        from transformers import SamModel, SamProcessor

        from ..backbones.loading import from_pretrained

        if points_per_side < 1:
            raise ConfigError(f"points_per_side must be >= 1, got {points_per_side}")
        self.model = from_pretrained(SamModel, model).to(device).eval()
        self.processor = from_pretrained(SamProcessor, model)
        self.model_id = str(model)
        self.points_per_side = points_per_side
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.stability_offset = stability_offset
        self.nms_thresh = nms_thresh
        self.min_area = min_area
        self.points_per_batch = points_per_batch
        self.device = device

    def __repr__(self) -> str:
        return f"SamSegmenter(model={self.model_id!r}, points_per_side={self.points_per_side})"

    @torch.inference_mode()
    def segment(self, image: np.ndarray) -> Segmentation:
        h, w = image.shape[:2]
        inputs = self.processor(images=image, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(self.device)
        original = inputs["original_sizes"]
        reshaped = inputs["reshaped_input_sizes"]
        embeddings = self.model.get_image_embeddings(pixel_values)
        # point prompts live in the resized (longest side = model input) frame
        scale = torch.tensor([reshaped[0, 1] / w, reshaped[0, 0] / h], dtype=torch.float32)
        grid = _point_grid(self.points_per_side) * torch.tensor([w, h], dtype=torch.float32) * scale
        masks, scores = [], []
        proposals = 0
        for start in range(0, len(grid), self.points_per_batch):
            points = grid[start : start + self.points_per_batch]
            out = self.model(
                image_embeddings=embeddings,
                input_points=points[None, :, None, :].to(self.device),
                input_labels=torch.ones(1, len(points), 1, dtype=torch.long, device=self.device),
                multimask_output=True,
            )
            logits = self.processor.image_processor.post_process_masks(
                out.pred_masks.cpu(), original, reshaped, binarize=False
            )[0]  # (P, 3, H, W)
            logits = logits.flatten(0, 1)
            proposals += len(logits)
            iou = out.iou_scores.cpu().flatten()
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
        min_pixels = self.min_area * h * w
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
