"""Propagator aligners: carry the reference's part masks into a new image.

The reference method treated the k shots and the test image as frames of a
video and let a video-object-segmentation model (DeAOT) track the
reference's parts into the test image. :class:`Propagator` is that extension
point: implement :meth:`Propagator.propagate` (reference image, one mask per
class, new image -> per-class logits on the new image) and the class map,
background and unknown handling come from here.

:class:`Sam2Propagator` implements it with transformers' ``Sam2VideoModel``
(SAM 2 / 2.1, by hub id or local directory). It is driven without
``Sam2VideoProcessor``, whose image half needs torchvision: frames are
resized and normalised here exactly as the processor would, and masks are
added to the inference session directly.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import NotFittedError
from ..registry import ALIGNERS
from .base import Aligner, ClassMap, View


class Propagator(Aligner):
    """Base for aligners that track the reference's masks into each image.

    ``unreached_unknown``: when the new image has a segmentation, its segments
    that the propagated masks cover less than half of become the unknown
    class (a propagator can only find what the reference had; this is how an
    extra, novel part still shows up).
    """

    name = "propagator"

    def __init__(self, unreached_unknown: bool = True):
        self.unreached_unknown = unreached_unknown
        self._reference: View | None = None

    def fit(self, reference: View, normals: Sequence[View] = ()) -> "Propagator":
        self._reference = reference
        return self

    @abstractmethod
    def propagate(self, reference: np.ndarray, masks: list[np.ndarray], image: np.ndarray) -> np.ndarray:
        """(n, H, W) logits on ``image`` for each reference mask; > 0 means inside."""

    def align(self, view: View) -> ClassMap:
        if self._reference is None:
            raise NotFittedError("call fit(reference) before align()")
        ref = self._reference.segmentation
        n = ref.n_segments
        if view is self._reference or view.image is self._reference.image:
            return ClassMap(ref.labels.copy(), n, {i: i for i in range(1, n + 1)})
        h, w = view.image.shape[:2]
        labels = np.zeros((h, w), np.int32)
        if n:
            logits = self.propagate(self._reference.image, ref.masks(), view.image)
            best = logits.argmax(0)
            labels = np.where(logits.max(0) > 0, best + 1, 0).astype(np.int32)
        if self.unreached_unknown and view.segmentation is not None:
            seg = view.segmentation.labels
            for i in range(1, view.segmentation.n_segments + 1):
                m = seg == i
                if (labels[m] > 0).mean() < 0.5:
                    labels[m & (labels == 0)] = n + 1
        return ClassMap(labels, n)


@ALIGNERS.register("sam2")
class Sam2Propagator(Propagator):
    """SAM 2 video propagation of the reference's masks, two frames at a time."""

    name = "sam2"
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)

    def __init__(self, model: str | Path = "facebook/sam2.1-hiera-tiny", device: str = "cpu", **kwargs):
        super().__init__(**kwargs)
        from ...backbones.loading import explained_import, from_pretrained

        with explained_import(  # older transformers have no SAM 2 video model
            "the sam2 propagator needs transformers with Sam2VideoModel (>= 4.56); "
            "upgrade transformers or use --aligner hungarian"
        ):
            from transformers import Sam2VideoModel

        self.model = from_pretrained(Sam2VideoModel, model).to(device).eval()
        self.device = device
        self.size = int(self.model.config.image_size)

    def __repr__(self) -> str:
        return f"Sam2Propagator(size={self.size})"

    def _frames(self, images: list[np.ndarray]) -> torch.Tensor:
        x = torch.stack([torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).float() / 255 for im in images])
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return ((x - mean) / std).to(self.device)

    @torch.inference_mode()
    def propagate(self, reference: np.ndarray, masks: list[np.ndarray], image: np.ndarray) -> np.ndarray:
        from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

        if reference.shape[:2] != image.shape[:2]:
            # both frames must share a size: the reference is resized to the image's
            import cv2

            reference = cv2.resize(reference, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)
            masks = [cv2.resize(m.astype(np.uint8), (image.shape[1], image.shape[0]),
                                interpolation=cv2.INTER_NEAREST) > 0 for m in masks]
        h, w = image.shape[:2]
        session = Sam2VideoInferenceSession(
            video=self._frames([reference, image]), video_height=h, video_width=w,
            inference_device=self.device, inference_state_device=self.device,
            video_storage_device=self.device, dtype=torch.float32,
        )
        obj_ids = list(range(1, len(masks) + 1))
        for obj_id, mask in zip(obj_ids, masks):
            idx = session.obj_id_to_idx(obj_id)
            m = torch.from_numpy(mask.astype(np.float32))[None, None].to(self.device)
            m = F.interpolate(m, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
            session.add_mask_inputs(idx, 0, (m >= 0.5).float())
        session.obj_with_new_inputs = obj_ids
        logits = None
        for out in self.model.propagate_in_video_iterator(inference_session=session, start_frame_idx=0):
            if out.frame_idx == 1:
                logits = out.pred_masks  # (n, 1, mh, mw)
        if logits is None:  # pragma: no cover - the iterator always visits both frames
            raise RuntimeError("SAM 2 propagation returned no output for the test frame")
        logits = F.interpolate(logits.float(), size=(h, w), mode="bilinear", align_corners=False)
        return logits[:, 0].cpu().numpy()
