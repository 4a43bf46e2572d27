"""One image being labelled: a click session plus the app's own undo history.

The app keeps its own history instead of relying on the session's undo alone
because brush edits, prompt changes, switching fill between clicks and
reset are steps the user expects to undo too, and the session's own undo
only knows about clicks. Each step records the clicks, prompt, fill setting
and mask it ended with; stepping back or forward
brings the session to exactly that state (the cheap way when the step was a
click, by replaying otherwise), so the next click builds on what the user
sees.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from . import rle

ClickTuple = tuple[int, int, bool]
MAX_HISTORY = 200


@dataclass(frozen=True)
class Step:
    kind: str  # start, click, edit, prompt, fill, reset
    clicks: tuple[ClickTuple, ...]
    prompt: str | None
    fill: bool | None  # None: the session has no such setting
    packed: bytes  # np.packbits of the mask: 1 bit a pixel keeps 200 steps cheap


class Annotation:
    def __init__(self, session, shape: tuple[int, int], prompt: str | None = None):
        self.session = session
        self.shape = (int(shape[0]), int(shape[1]))
        self.lock = threading.RLock()
        self.clicks_total = 0  # every click sent, undone ones included: the effort spent
        self.edits = 0
        self.started = time.time()
        self.seconds_before = 0.0  # time spent in earlier runs, from the draft
        self.version = 0  # bumped on every change; drafts older than this are stale
        self._mask = self._session_mask()
        self._history = [Step("start", self._session_clicks(), prompt, getattr(session, "fill", None), self._pack(self._mask))]
        self._pos = 0
        # The step that needs no saving: where the image was opened, or the last save.
        self._clean: Step | None = self._history[0]
        self._heatmap_png: bytes | None = None

    # ------------------------------------------------------------------ state

    @property
    def mask(self) -> np.ndarray:
        return self._mask

    @property
    def prompt(self) -> str | None:
        return self._history[self._pos].prompt

    @property
    def fill(self) -> bool | None:
        return self._history[self._pos].fill

    @property
    def clicks(self) -> tuple[ClickTuple, ...]:
        return self._history[self._pos].clicks

    @property
    def can_undo(self) -> bool:
        return self._pos > 0

    @property
    def can_redo(self) -> bool:
        return self._pos < len(self._history) - 1

    @property
    def dirty(self) -> bool:
        """Changed since the last save (or, never saved, since it was opened)."""
        return self._history[self._pos] is not self._clean

    def seconds_spent(self) -> float:
        return self.seconds_before + (time.time() - self.started)

    def mark_saved(self) -> None:
        self._clean = self._history[self._pos]
        self.version += 1  # the draft must be rewritten to say it is saved

    # ---------------------------------------------------------------- actions

    def click(self, x: int, y: int, positive: bool) -> None:
        self.session.add_click(x, y, positive)
        self.clicks_total += 1
        self._push("click")

    def edit(self, mask: np.ndarray) -> None:
        """A brush or eraser result: the session treats it as the mask to refine next."""
        self.session.set_mask(mask)
        self.edits += 1
        self._push("edit", mask=np.asarray(mask, dtype=bool))

    def set_prompt(self, prompt: str | None) -> bool:
        if prompt == self.prompt:
            return False
        self.session.prompt = prompt
        self._push("prompt", prompt=prompt)
        return True

    def set_fill(self, fill: bool) -> bool:
        if self.fill is None:
            raise ValueError("this click model has no fill between clicks to switch")
        if bool(fill) == self.fill:
            return False
        self.session.fill = bool(fill)
        self._push("fill", fill=bool(fill))
        return True

    def reset(self) -> None:
        self.session.reset()
        self._push("reset")

    def undo(self) -> bool:
        if not self.can_undo:
            return False
        hint = "undo" if self._history[self._pos].kind == "click" else None
        self._pos -= 1
        self._restore(self._history[self._pos], hint)
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        self._pos += 1
        step = self._history[self._pos]
        self._restore(step, "redo" if step.kind == "click" else None)
        return True

    def start_from(self, mask: np.ndarray) -> None:
        """Begin from a mask saved earlier, as if it had been painted: no undo step before it."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.shape:
            raise ValueError(f"saved mask is {mask.shape}, image is {self.shape}")
        self.session.set_mask(mask)
        self._mask = mask.copy()
        self._history = [Step("start", self._session_clicks(), self.prompt, self.fill, self._pack(self._mask))]
        self._pos = 0
        self._clean = self._history[0]

    # ----------------------------------------------------------------- drafts

    def draft(self) -> dict:
        return {
            "clicks": [[x, y, int(p)] for x, y, p in self.clicks],
            "prompt": self.prompt,
            "fill": self.fill,
            "mask": {"size": list(self.shape), "counts": rle.encode(self._mask)},
            "clicks_total": self.clicks_total,
            "edits": self.edits,
            "seconds": round(self.seconds_spent(), 1),
            "version": self.version,
            "dirty": self.dirty,
        }

    def restore_draft(self, draft: dict, saved_mask: np.ndarray | None = None) -> None:
        """Replay a draft from an earlier run: its clicks, then its mask if brushing changed it.

        The result counts as unsaved unless it matches ``saved_mask`` (the
        mask on disk, or None when nothing is saved and the draft is empty).
        """
        clicks = tuple((int(x), int(y), bool(p)) for x, y, p in draft.get("clicks", []))
        size = draft["mask"]["size"]
        mask = rle.decode(draft["mask"]["counts"], int(size[0]), int(size[1]))
        if mask.shape != self.shape:
            raise ValueError(f"draft mask is {mask.shape}, image is {self.shape}")
        fill = draft.get("fill")  # None: written by a model without fill; keep the session's setting
        if fill is not None and self.fill is not None:
            fill = bool(fill)
        else:
            fill = self.fill
        target = Step("start", clicks, draft.get("prompt"), fill, self._pack(mask))
        self._restore(target, None)
        self._history = [target]
        self._pos = 0
        reference = np.zeros(self.shape, bool) if saved_mask is None else np.asarray(saved_mask, bool)
        self._clean = target if np.array_equal(mask, reference) else None
        self.clicks_total = int(draft.get("clicks_total", len(clicks)))
        self.edits = int(draft.get("edits", 0))
        self.seconds_before = float(draft.get("seconds", 0.0))

    # --------------------------------------------------------------- heat map

    def heatmap_png(self, render) -> bytes:
        if self._heatmap_png is None:
            self._heatmap_png = render(np.asarray(self.session.anomaly_map, dtype=np.float32))
        return self._heatmap_png

    # -------------------------------------------------------------- internals

    def _push(self, kind: str, mask: np.ndarray | None = None, prompt: object = ..., fill: object = ...) -> None:
        self._mask = self._session_mask() if mask is None else mask.copy()
        step = Step(
            kind,
            self._session_clicks(),
            self.prompt if prompt is ... else prompt,
            self.fill if fill is ... else fill,
            self._pack(self._mask),
        )
        del self._history[self._pos + 1 :]
        self._history.append(step)
        if len(self._history) > MAX_HISTORY:
            del self._history[0]
        self._pos = len(self._history) - 1
        self.version += 1

    def _restore(self, step: Step, hint: str | None) -> None:
        s = self.session
        if step.fill is not None and s.fill != step.fill:
            s.fill = step.fill
        if hint == "undo":
            s.undo()
        elif hint == "redo":
            s.redo()
        if self._session_clicks() != step.clicks:
            s.reset()
            for x, y, positive in step.clicks:
                s.add_click(x, y, positive)
        if getattr(s, "prompt", None) != step.prompt:
            try:
                s.prompt = step.prompt
            except ValueError:
                pass  # a model without prompts: the mask below is what matters
        mask = self._unpack(step.packed)
        if not np.array_equal(self._session_mask(), mask):
            s.set_mask(mask)
        self._mask = mask
        self.version += 1

    def _session_clicks(self) -> tuple[ClickTuple, ...]:
        return tuple((int(c.x), int(c.y), bool(c.positive)) for c in self.session.clicks)

    def _session_mask(self) -> np.ndarray:
        mask = np.asarray(self.session.mask, dtype=bool)
        if mask.shape != self.shape:
            raise RuntimeError(f"the click session returned a {mask.shape} mask for a {self.shape} image")
        return mask

    def _pack(self, mask: np.ndarray) -> bytes:
        return np.packbits(mask, axis=None).tobytes()

    def _unpack(self, packed: bytes) -> np.ndarray:
        bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), count=self.shape[0] * self.shape[1])
        return bits.reshape(self.shape).astype(bool)
