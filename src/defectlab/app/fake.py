"""A stand-in for ``defectlab.click.ClickSession`` with the same interface and no model.

A positive click adds a disk around the click, a negative click removes one.
It makes the app's tests deterministic and fast, lets the latency benchmark
measure the app's own overhead, and lets someone try the UI
(``defectlab label --engine fake``) before any model is available.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Click:
    x: int
    y: int
    positive: bool


class FakeReference:
    """Keeps the mean normal image's brightness, so the heat map has something to show."""

    def __init__(self, normal_images, delay: float = 0.0):
        time.sleep(delay)
        self.count = len(normal_images)
        grays = [np.asarray(img, dtype=np.float32).mean() for img in normal_images]
        self.mean_level = float(np.mean(grays)) if grays else 128.0


class FakeClickSession:
    def __init__(self, image, normal_images=None, prompt=None, radius: int | None = None, delay: float = 0.0):
        time.sleep(delay)  # stands for the per-image precompute
        image = np.asarray(image)
        gray = image.mean(axis=2) if image.ndim == 3 else image.astype(np.float32)
        self.height, self.width = gray.shape
        self.radius = radius or max(6, min(self.height, self.width) // 12)
        level = getattr(normal_images, "mean_level", float(gray.mean()))
        # Local contrast plus distance from the normal brightness: a cheap "residual".
        blurred = cv2.blur(gray.astype(np.float32), (15, 15))
        residual = np.abs(gray - blurred) + 0.25 * np.abs(gray - level)
        self.anomaly_map = (residual / max(float(residual.max()), 1e-6)).astype(np.float32)
        self.prompt = prompt
        self.clicks: list[Click] = []
        self._mask = np.zeros((self.height, self.width), bool)
        self._undo: list[tuple[list[Click], np.ndarray]] = []
        self._redo: list[tuple[list[Click], np.ndarray]] = []

    @property
    def mask(self) -> np.ndarray:
        return self._mask.copy()

    @property
    def probability(self) -> np.ndarray:
        return cv2.GaussianBlur(self._mask.astype(np.float32), (0, 0), 2.0)

    def add_click(self, x, y, positive=True) -> None:
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise ValueError(f"click ({x}, {y}) is outside the image")
        self._undo.append((list(self.clicks), self._mask))
        self._redo.clear()
        disk = np.zeros_like(self._mask, dtype=np.uint8)
        cv2.circle(disk, (int(x), int(y)), self.radius, 1, thickness=-1)
        self._mask = (self._mask | disk.astype(bool)) if positive else (self._mask & ~disk.astype(bool))
        self.clicks = self.clicks + [Click(int(x), int(y), bool(positive))]

    def undo(self) -> None:
        if self._undo:
            self._redo.append((list(self.clicks), self._mask))
            self.clicks, self._mask = self._undo.pop()

    def redo(self) -> None:
        if self._redo:
            self._undo.append((list(self.clicks), self._mask))
            self.clicks, self._mask = self._redo.pop()

    def reset(self) -> None:
        self._undo.append((list(self.clicks), self._mask))
        self._redo.clear()
        self.clicks = []
        self._mask = np.zeros_like(self._mask)

    def set_mask(self, mask) -> None:
        # An undoable step, as in ClickSession.
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self._mask.shape:
            raise ValueError(f"mask shape {mask.shape} does not match the image {self._mask.shape}")
        self._undo.append((list(self.clicks), self._mask))
        self._redo.clear()
        self._mask = mask.copy()


def fake_session_factory(image, reference, prompt):
    return FakeClickSession(image, normal_images=reference, prompt=prompt)


def fake_reference_factory(normal_images):
    return FakeReference(normal_images)
