"""WinCLIP-style baseline (Jeong et al., CVPR 2023): CLIP windows against text prompts and normal windows.

A comparison baseline for the compositional detector, loaded from a local
CLIP checkpoint through transformers (``CLIPModel`` + its tokenizer, a hub
id in the local cache or a ``save_pretrained`` directory; nothing is
downloaded at run time). A simplified WinCLIP+:

- windows: the whole image and sliding windows of 1/2 and 1/3 of its side
  (stride half a window), each a crop embedded by CLIP's image tower (the
  paper masks tokens inside one forward pass; crops give the same windows
  at more cost, without model surgery);
- zero-shot: each window's probability of the "damaged" prompt ensemble
  against the "flawless" one (softmax over cosine similarity x 100, CLIP's
  logit scale); image part = mean of the whole-image and the worst window's;
- few-shot: each window's cosine distance to its nearest normal window of
  the same scale (the memory of the k shots), halved; image part = worst;
- score = mean of the two parts; the map averages window scores per pixel.

``object_name`` fills the prompts ("a photo of a flawless {object}").
"""

from __future__ import annotations

import os
from typing import Sequence

import cv2
import numpy as np
import torch

from ..backbones.loading import from_pretrained
from ..backbones.onednn import use_onednn_linears
from ..data.checks import image_list
from ..data.io import load_image
from ..errors import ConfigError
from .base import DETECTORS, Detector, Prediction

NORMAL_PROMPTS = ("a photo of a flawless {}.", "a photo of a perfect {}.", "a photo of an intact {}.",
                  "a photo of a good {}.")
ANOMALOUS_PROMPTS = ("a photo of a damaged {}.", "a photo of a broken {}.", "a photo of a {} with a defect.",
                     "a photo of a flawed {}.")
MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's normalisation
STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_CLIP = os.environ.get("DEFECTLAB_CLIP", "openai/clip-vit-base-patch16")


def windows(h: int, w: int, scales: Sequence[int]) -> list[tuple[int, int, int, int, int]]:
    """(scale, y0, y1, x0, x1): the whole image (scale 1), then windows of 1/s of each side, stride half."""
    out = [(1, 0, h, 0, w)]
    for s in scales:
        wh, ww = h // s, w // s
        for y in range(0, h - wh + 1, max(1, wh // 2)):
            for x in range(0, w - ww + 1, max(1, ww // 2)):
                out.append((s, y, y + wh, x, x + ww))
    return out


@DETECTORS.register("winclip")
class WinCLIPDetector(Detector):
    """
    Parameters
    ----------
    model: hub id (local cache only) or a local CLIPModel directory; the
        tokenizer is read from the same place.
    object_name: what the prompts call the product.
    scales: window sides as fractions 1/s of the image side.
    batch_size: windows per forward pass.
    """

    _fitted_attribute = "memory_"

    def __init__(self, model: str = DEFAULT_CLIP, object_name: str = "object", scales: Sequence[int] = (2, 3),
                 batch_size: int = 32, device: str = "cpu", progress: bool = True):
        self.model = model
        self.object_name = object_name
        self.scales = scales
        self.batch_size = batch_size
        self.device = device
        self.progress = progress

    def _load(self):
        from transformers import AutoTokenizer, CLIPModel

        clip = use_onednn_linears(from_pretrained(CLIPModel, self.model).eval().to(self.device))  # backbones.onednn
        tok = from_pretrained(AutoTokenizer, self.model)
        return clip, tok

    @property
    def clip_(self):
        return self._part("clip", self._load)

    @torch.inference_mode()
    def _text(self) -> np.ndarray:
        clip, tok = self.clip_
        max_len = int(clip.config.text_config.max_position_embeddings)
        rows = []
        for prompts in (NORMAL_PROMPTS, ANOMALOUS_PROMPTS):
            t = tok([p.format(self.object_name) for p in prompts], padding=True, truncation=True,
                    max_length=max_len, return_tensors="pt")
            e = clip.get_text_features(input_ids=t["input_ids"].to(self.device),
                                       attention_mask=t["attention_mask"].to(self.device))
            e = getattr(e, "pooler_output", e)
            e = torch.nn.functional.normalize(e.float(), dim=-1).mean(0)
            rows.append(torch.nn.functional.normalize(e, dim=0).cpu().numpy())
        return np.stack(rows)

    @torch.inference_mode()
    def _windows(self, image: np.ndarray) -> tuple[list, np.ndarray]:
        clip, _ = self.clip_
        size = int(clip.config.vision_config.image_size)
        h, w = image.shape[:2]
        wins = windows(h, w, tuple(self.scales))
        crops = [cv2.resize(image[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
                 for _, y0, y1, x0, x1 in wins]
        x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255
        x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
        embs = []
        for chunk in x.split(self.batch_size):
            e = clip.get_image_features(pixel_values=chunk.to(self.device))
            e = getattr(e, "pooler_output", e)
            embs.append(torch.nn.functional.normalize(e.float(), dim=-1).cpu())
        return wins, torch.cat(embs).numpy()

    def fit(self, normal_images: Sequence) -> "WinCLIPDetector":
        normal_images = image_list("normal_images", normal_images)
        if len(normal_images) == 0:
            raise ConfigError("fit() needs at least one normal image")
        self.text_ = self._text()
        per = [self._windows(load_image(x)) for x in normal_images]
        self.memory_ = {}
        for wins, embs in per:
            for (s, *_), e in zip(wins, embs):
                self.memory_.setdefault(s, []).append(e)
        self.memory_ = {s: np.stack(v) for s, v in self.memory_.items()}
        self.normal_scores_ = []
        if len(per) >= 2:
            for i, (wins, embs) in enumerate(per):
                rest = {}
                for j, (w2, e2) in enumerate(per):
                    if j != i:
                        for (s, *_), e in zip(w2, e2):
                            rest.setdefault(s, []).append(e)
                self.normal_scores_.append(self._score(wins, embs, {s: np.stack(v) for s, v in rest.items()})[0])
        self._set_threshold()
        return self

    def _score(self, wins, embs, memory) -> tuple[float, np.ndarray]:
        logits = 100.0 * embs @ self.text_.T
        prob = np.exp(logits - logits.max(1, keepdims=True))
        zero = (prob / prob.sum(1, keepdims=True))[:, 1]
        few = np.array([0.5 * float((1 - memory[s] @ e).min()) if s in memory else 0.0
                        for (s, *_), e in zip(wins, embs)])
        per_window = 0.5 * (zero + few)
        image_zero = 0.5 * (zero[0] + zero[1:].max()) if len(zero) > 1 else zero[0]
        return float(0.5 * (image_zero + few.max())), per_window

    def normal_scores(self) -> list[float]:
        self._check_fitted("memory_", "normal_scores()")
        return list(self.normal_scores_)

    def _predict_image(self, image: np.ndarray, source: str) -> Prediction:
        wins, embs = self._windows(image)
        score, per_window = self._score(wins, embs, self.memory_)
        h, w = image.shape[:2]
        total, count = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
        for (s, y0, y1, x0, x1), v in zip(wins, per_window):
            if s != 1:
                total[y0:y1, x0:x1] += v
                count[y0:y1, x0:x1] += 1
        amap = np.where(count > 0, total / np.maximum(count, 1), per_window[0]).astype(np.float32)
        return Prediction(score, amap, source)

    def _state(self):
        self._check_fitted("memory_", "save()")
        return ({"normal_scores": self.normal_scores_, "scales": sorted(self.memory_)},
                {"text": self.text_, **{f"memory{s}": m for s, m in self.memory_.items()}})

    def _restore(self, state, arrays):
        self.text_ = arrays["text"]
        self.memory_ = {s: arrays[f"memory{s}"] for s in state["scales"]}
        self.normal_scores_ = list(state["normal_scores"])
