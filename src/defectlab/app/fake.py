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
        # (clicks, mask, prev): prev is the mask the last click refined, as
        # ClickSession's previous-mask input; None for a painted or empty mask.
        self._state: tuple = ((), np.zeros((self.height, self.width), bool), None)
        self._undo: list[tuple] = []
        self._redo: list[tuple] = []

    @property
    def clicks(self) -> list[Click]:
        return list(self._state[0])

    @property
    def mask(self) -> np.ndarray:
        return self._state[1].copy()

    @property
    def probability(self) -> np.ndarray:
        return cv2.GaussianBlur(self._state[1].astype(np.float32), (0, 0), 2.0)

    def add_click(self, x, y, positive=True) -> None:
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise ValueError(f"click ({x}, {y}) is outside the image")
        clicks, mask, _ = self._state
        click = Click(int(x), int(y), bool(positive))
        self._push((clicks + (click,), self._paint(mask, click), mask))

    def undo(self) -> None:
        if self._undo:
            self._redo.append(self._state)
            self._state = self._undo.pop()

    def redo(self) -> None:
        if self._redo:
            self._undo.append(self._state)
            self._state = self._redo.pop()

    def reset(self) -> None:
        self._push(((), np.zeros_like(self._state[1]), None))

    def set_mask(self, mask) -> None:
        # An undoable step, as in ClickSession.
        self._push((self._state[0], self._checked(mask), None))

    def forget_history(self):
        self._undo.clear()
        self._redo.clear()
        clicks, _, prev = self._state
        return clicks, None if prev is None else prev.copy()

    def restore(self, clicks, prev=None, mask=None) -> None:
        clicks = tuple(c if isinstance(c, Click) else Click(int(c[0]), int(c[1]), bool(c[2])) for c in clicks)
        if mask is not None:
            state = (clicks, self._checked(mask), None)
        elif clicks and prev is not None:
            prev = self._checked(prev)
            state = (clicks, self._paint(prev, clicks[-1]), prev)
        else:
            state = (clicks, np.zeros_like(self._state[1]), None)
        self._state = state
        self._undo.clear()
        self._redo.clear()

    def _paint(self, prev: np.ndarray, click: Click) -> np.ndarray:
        disk = np.zeros(prev.shape, dtype=np.uint8)
        cv2.circle(disk, (click.x, click.y), self.radius, 1, thickness=-1)
        return (prev | disk.astype(bool)) if click.positive else (prev & ~disk.astype(bool))

    def _checked(self, mask) -> np.ndarray:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self._state[1].shape:
            raise ValueError(f"mask shape {mask.shape} does not match the image {self._state[1].shape}")
        return mask.copy()

    def _push(self, state) -> None:
        self._undo.append(self._state)
        self._redo.clear()
        self._state = state


def fake_session_factory(image, reference, prompt):
    return FakeClickSession(image, normal_images=reference, prompt=prompt)


def fake_reference_factory(normal_images):
    return FakeReference(normal_images)
