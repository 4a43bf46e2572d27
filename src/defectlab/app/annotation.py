"""One image being labelled: a click session plus the app's own undo history.

The app keeps its own history instead of relying on the session's undo alone
because brush edits, prompt changes, switching fill between clicks and
reset are steps the user expects to undo too, and the session's own undo
only knows about clicks.

Memory is bounded. The session keeps only its current step
(``forget_history`` after every change: its own steps hold two float32 maps
at model resolution each, ~1.7 MB a click). Each step here holds its masks
bit-packed and zlib-compressed (``Packed``; a blob-shaped mask costs a few
hundred bytes), and the history keeps at most ``MAX_HISTORY`` steps and
``MAX_HISTORY_BYTES`` of them per image, dropping the oldest first.
Stepping back or forward hands the step to ``session.restore``: the clicks
with the previous-mask input that produced the mask, which runs the model
once whatever the number of clicks (undoing a reset after 500 clicks used
to replay all 500), or the mask itself when it was painted.

Brush and eraser edits are also kept as two layers, the pixels painted and
the pixels erased. A click refines the edited mask (it is the model's
previous-mask input) and the layers are then laid over the model's answer,
so a click never silently undoes a manual edit. A stroke the click lands on
is handed back to the model: clicking on it asks for the model's opinion
there. Reset clears the layers with the clicks.
"""

from __future__ import annotations

import threading
import time
import zlib
from dataclasses import dataclass, replace

import cv2
import numpy as np

from . import rle

ClickTuple = tuple[int, int, bool]
MAX_HISTORY = 200
MAX_HISTORY_BYTES = 32 * 2**20  # per image; a noise-like mask of a large image does not compress


@dataclass(frozen=True)
class Packed:
    """A bool mask, 1 bit a pixel, zlib-compressed."""

    shape: tuple[int, int]
    data: bytes

    @classmethod
    def of(cls, mask: np.ndarray) -> Packed:
        mask = np.asarray(mask, dtype=bool)
        return cls((int(mask.shape[0]), int(mask.shape[1])), zlib.compress(np.packbits(mask, axis=None).tobytes(), 1))

    def unpack(self) -> np.ndarray:
        bits = np.unpackbits(np.frombuffer(zlib.decompress(self.data), dtype=np.uint8),
                             count=self.shape[0] * self.shape[1])
        return bits.reshape(self.shape).astype(bool)


@dataclass(frozen=True)
class Step:
    kind: str  # start, click, edit, prompt, fill, reset
    clicks: tuple[ClickTuple, ...]
    prompt: str | None
    fill: bool | None  # None: the session has no such setting
    mask: Packed  # what the user saw
    prev: Packed | None  # the session's previous-mask input for this mask; None: restored as painted
    painted: Packed | None = None  # brush pixels that clicks keep
    erased: Packed | None = None  # eraser pixels that clicks keep off

    @property
    def nbytes(self) -> int:
        packs = (self.mask, self.prev, self.painted, self.erased)
        return 256 + 16 * len(self.clicks) + sum(len(p.data) for p in packs if p is not None)


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
        self._history: list[Step] = []
        self._pos = -1
        self._push("start", prompt=prompt, fill=getattr(session, "fill", None), painted=None, erased=None)
        # The mask that needs no saving: the one the image was opened with, or the last one saved.
        self._clean: bytes = self._history[0].mask.data
        self._heatmap_png: bytes | None = None

    # ------------------------------------------------------------------ state

    @property
    def mask(self) -> np.ndarray:
        return self._mask

    @property
    def _step(self) -> Step:
        return self._history[self._pos]

    @property
    def prompt(self) -> str | None:
        return self._step.prompt

    @property
    def fill(self) -> bool | None:
        return self._step.fill

    @property
    def clicks(self) -> tuple[ClickTuple, ...]:
        return self._step.clicks

    @property
    def can_undo(self) -> bool:
        return self._pos > 0

    @property
    def can_redo(self) -> bool:
        return self._pos < len(self._history) - 1

    @property
    def dirty(self) -> bool:
        """The mask differs from the last one saved (or, never saved, from the one the image opened with).

        Only the mask counts: it is what a save writes. Typing the defect type
        on a fresh image changes the prompt, not the (empty) mask, so it does
        not make the image unsaved.
        """
        return self._step.mask.data != self._clean

    @property
    def history_bytes(self) -> int:
        return sum(step.nbytes for step in self._history)

    def seconds_spent(self) -> float:
        return self.seconds_before + (time.time() - self.started)

    def mark_saved(self) -> None:
        self._clean = self._step.mask.data
        self.version += 1  # the draft must be rewritten to say it is saved

    # ---------------------------------------------------------------- actions

    def click(self, x: int, y: int, positive: bool) -> None:
        self.session.add_click(x, y, positive)
        self.clicks_total += 1
        painted, erased = _release(self._step.painted, x, y), _release(self._step.erased, x, y)
        self._apply_edits(painted, erased)
        self._push("click", painted=painted, erased=erased)

    def edit(self, mask: np.ndarray) -> None:
        """A brush or eraser result: the session refines it from the next click on, which keeps its pixels."""
        mask = np.asarray(mask, dtype=bool)
        added, removed = mask & ~self._mask, self._mask & ~mask
        painted, erased = _layer(self._step.painted, self.shape), _layer(self._step.erased, self.shape)
        painted = (painted & ~removed) | added
        erased = (erased & ~added) | removed
        self.session.set_mask(mask)
        self.edits += 1
        self._mask = mask.copy()
        self._push("edit", painted=_pack_layer(painted), erased=_pack_layer(erased))

    def set_prompt(self, prompt: str | None) -> bool:
        if prompt == self.prompt:
            return False
        self.session.prompt = prompt
        self._apply_edits(self._step.painted, self._step.erased)
        self._push("prompt", prompt=prompt)
        return True

    def set_fill(self, fill: bool) -> bool:
        if self.fill is None:
            raise ValueError("this click model has no fill between clicks to switch")
        if bool(fill) == self.fill:
            return False
        self.session.fill = bool(fill)
        self._apply_edits(self._step.painted, self._step.erased)
        self._push("fill", fill=bool(fill))
        return True

    def reset(self) -> None:
        self.session.reset()
        self._mask = self._session_mask()
        self._push("reset", painted=None, erased=None)

    def undo(self) -> bool:
        if not self.can_undo:
            return False
        self._pos -= 1
        self._restore(self._step)
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        self._pos += 1
        self._restore(self._step)
        return True

    def start_from(self, mask: np.ndarray) -> None:
        """Begin from a mask saved earlier, as if it had been painted: no undo step before it.

        It is not an edit layer: clicks may change any of it.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.shape:
            raise ValueError(f"saved mask is {mask.shape}, image is {self.shape}")
        start = Step("start", (), self.prompt, self.fill, Packed.of(mask), None)
        self._history, self._pos = [start], 0
        self._restore(start)
        self._clean = start.mask.data

    # ----------------------------------------------------------------- drafts

    def draft(self) -> dict:
        step = self._step
        return {
            "clicks": [[x, y, int(p)] for x, y, p in step.clicks],
            "prompt": step.prompt,
            "fill": step.fill,
            "mask": _runs(step.mask),
            # What restores this state without replaying the clicks, and the edits clicks keep.
            "prev": _runs(step.prev),
            "painted": _runs(step.painted),
            "erased": _runs(step.erased),
            "clicks_total": self.clicks_total,
            "edits": self.edits,
            "seconds": round(self.seconds_spent(), 1),
            "version": self.version,
            "dirty": self.dirty,
        }

    def restore_draft(self, draft: dict, saved_mask: np.ndarray | None = None) -> None:
        """Come back to a draft from an earlier run: its clicks, mask, prompt, fill and edit layers.

        The result counts as unsaved unless its mask matches ``saved_mask``
        (the mask on disk; None: nothing is saved, so an empty mask is clean).
        """
        clicks = tuple((int(x), int(y), bool(p)) for x, y, p in draft.get("clicks", []))
        mask = _from_runs(draft["mask"], self.shape)
        fill = draft.get("fill")  # None: written by a model without fill; keep the session's setting
        fill = bool(fill) if fill is not None and self.fill is not None else self.fill
        prev = draft.get("prev")
        step = Step(
            "start", clicks, draft.get("prompt"), fill, Packed.of(mask),
            Packed.of(_from_runs(prev)) if prev else None,
            _pack_layer(_from_runs(draft["painted"], self.shape)) if draft.get("painted") else None,
            _pack_layer(_from_runs(draft["erased"], self.shape)) if draft.get("erased") else None,
        )  # fmt: skip
        try:
            self._restore(step)
        except ValueError:
            step = replace(step, prev=None)  # written with another model resolution: keep the mask as painted
            self._restore(step)
        self._history, self._pos = [step], 0
        reference = np.zeros(self.shape, bool) if saved_mask is None else np.asarray(saved_mask, bool)
        self._clean = Packed.of(reference).data
        self.clicks_total = int(draft.get("clicks_total", len(clicks)))
        self.edits = int(draft.get("edits", 0))
        self.seconds_before = float(draft.get("seconds", 0.0))

    # --------------------------------------------------------------- heat map

    def heatmap_png(self, render) -> bytes:
        if self._heatmap_png is None:
            self._heatmap_png = render(np.asarray(self.session.anomaly_map, dtype=np.float32))
        return self._heatmap_png

    # -------------------------------------------------------------- internals

    def _push(self, kind: str, prompt: object = ..., fill: object = ..., painted: object = ..., erased: object = ...) -> None:
        clicks, prev = self.session.forget_history()
        current = self._history[self._pos] if self._history else None
        step = Step(
            kind,
            tuple((int(c.x), int(c.y), bool(c.positive)) for c in clicks),
            current.prompt if prompt is ... else prompt,
            current.fill if fill is ... else fill,
            Packed.of(self._mask),
            None if prev is None else Packed.of(prev),
            current.painted if painted is ... else painted,
            current.erased if erased is ... else erased,
        )
        del self._history[self._pos + 1 :]
        self._history.append(step)
        size = self.history_bytes
        while len(self._history) > 1 and (len(self._history) > MAX_HISTORY or size > MAX_HISTORY_BYTES):
            size -= self._history.pop(0).nbytes
        self._pos = len(self._history) - 1
        self.version += 1

    def _restore(self, step: Step) -> None:
        """Bring the session to ``step``: settings first, on an empty state so they recompute nothing."""
        s = self.session
        s.restore(())
        if step.fill is not None and s.fill != step.fill:
            s.fill = step.fill
        if getattr(s, "prompt", None) != step.prompt:
            try:
                s.prompt = step.prompt
            except ValueError:
                pass  # a model without prompts: the mask below is what matters
        mask = step.mask.unpack()
        if mask.shape != self.shape:
            raise ValueError(f"step mask is {mask.shape}, image is {self.shape}")
        if step.prev is not None:
            s.restore(step.clicks, prev=step.prev.unpack())
            if not np.array_equal(self._session_mask(), mask):
                s.restore(step.clicks, mask=mask)  # the model answers differently now: keep what the user saw
        elif step.clicks or mask.any():
            s.restore(step.clicks, mask=mask)
        self._mask = mask
        self.version += 1

    def _apply_edits(self, painted: Packed | None, erased: Packed | None) -> None:
        """The session's mask with the edit layers laid over it; the session is told when they changed it."""
        mask = self._session_mask()
        if painted is not None or erased is not None:
            edited = (mask | _layer(painted, self.shape)) & ~_layer(erased, self.shape)
            if not np.array_equal(edited, mask):
                self.session.set_mask(edited)
                mask = edited
        self._mask = mask

    def _session_mask(self) -> np.ndarray:
        mask = np.asarray(self.session.mask, dtype=bool)
        if mask.shape != self.shape:
            raise RuntimeError(f"the click session returned a {mask.shape} mask for a {self.shape} image")
        return mask


def _release(packed: Packed | None, x: int, y: int) -> Packed | None:
    """The layer without the stroke (its 8-connected part) under a click: clicking on it hands it back to the model."""
    if packed is None:
        return None
    layer = packed.unpack()
    if not layer[y, x]:
        return packed
    _, labels = cv2.connectedComponents(layer.astype(np.uint8), connectivity=8)
    return _pack_layer(layer & (labels != labels[y, x]))


def _layer(packed: Packed | None, shape: tuple[int, int]) -> np.ndarray:
    return np.zeros(shape, bool) if packed is None else packed.unpack()


def _pack_layer(layer: np.ndarray) -> Packed | None:
    return Packed.of(layer) if layer.any() else None


def _runs(packed: Packed | None) -> dict | None:
    return None if packed is None else {"size": list(packed.shape), "counts": rle.encode(packed.unpack())}


def _from_runs(data: dict, shape: tuple[int, int] | None = None) -> np.ndarray:
    size = [int(v) for v in data["size"]]
    if shape is not None and tuple(size) != shape:
        raise ValueError(f"draft mask is {size}, image is {list(shape)}")
    return rle.decode(data["counts"], *size)
