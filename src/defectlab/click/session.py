"""Interactive labelling of one image: clicks in, mask out.

    from defectlab.click import ClickSession, NormalReference

    reference = NormalReference(normal_paths)          # once per product
    s = ClickSession("tile_17.jpg", reference, prompt="crack")
    s.add_click(120, 88, positive=True)
    s.add_click(140, 40, positive=False)
    s.mask            # bool HxW at the image's size
    s.probability     # float32 HxW in [0, 1]
    s.undo(); s.redo(); s.reset()

The constructor does the expensive part once (backbone, nearest-normal
search, the head's per-image encoder); a click then runs only the head's
decoder at model resolution and one resize, which is what keeps clicks fast.

Undo/redo work on a history of states. Every ``add_click``, ``set_mask`` and
``reset`` is one undoable step, and any new step clears the redo stack (the
usual editor rule). Changing ``prompt`` is not a step: it re-runs the head
for the current state when that state came from a click, with the same
inputs; a mask the user painted with ``set_mask`` is left as painted and the
new prompt applies from the next click on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import cv2
import numpy as np
import torch

from ..data.checks import finite_float
from ..data.io import load_image
from ..errors import ConfigError
from .checkpoint import ClickConfig, load_checkpoint
from .clicks import DEFAULT_RADIUS, Click, click_maps, map_pixel
from .colour import grabcut_refine
from .fill import Fill
from .gate import residual_gate
from .model import ClickHead
from .obey import force_click_disks, split_between_clicks
from .residual import ImageFeatures, NormalReference


class ClickModel:
    """A loaded checkpoint and its prompt encoder, shared by all sessions of a process."""

    def __init__(self, checkpoint: str | os.PathLike | None = None, head: ClickHead | None = None, config: ClickConfig | None = None):
        if head is None or config is None:
            head, config = load_checkpoint(checkpoint)
        self.head = head.eval()
        self.config = config
        self._text = None

    def reference(self, normal_images: Sequence, progress: bool = False) -> NormalReference:
        """A NormalReference with the feature settings this checkpoint was trained with."""
        return NormalReference(normal_images, self.config.features, progress=progress)

    def check_reference(self, reference: NormalReference) -> None:
        built, expected = reference.settings.head_inputs(), self.config.features.head_inputs()
        if built != expected:
            raise ConfigError(
                f"the NormalReference was built with {built} but the checkpoint expects "
                f"{expected}; build it with ClickModel.reference(normal_images)"
            )

    def embed_prompt(self, prompt: str | None) -> torch.Tensor | None:
        """(1, text_dim) unit embedding, or None for no prompt."""
        if prompt is None:
            return None
        if self.config.text_encoder is None:
            raise ConfigError(f"prompt={prompt!r}, but this checkpoint was trained without prompts; pass prompt=None")
        if self._text is None:
            from ..backbones.text import cached_text_encoder

            self._text = cached_text_encoder(self.config.text_encoder)
            if self._text.dim != self.config.head.text_dim:
                raise ConfigError(
                    f"text encoder {self.config.text_encoder!r} gives {self._text.dim}-d embeddings "
                    f"but the head expects {self.config.head.text_dim}"
                )
        return torch.from_numpy(self._text.encode([prompt]))


@lru_cache(maxsize=4)
def load_click_model(checkpoint: str | None = None) -> ClickModel:
    """One ClickModel per checkpoint path and process (None = the shipped default)."""
    return ClickModel(checkpoint)


@dataclass(frozen=True, eq=False)  # fields hold arrays: compare with is_empty(), never ==
class _State:
    clicks: tuple[Click, ...] = ()
    prev: np.ndarray | None = None  # model-resolution previous-mask input that produced ``logits``
    logits: np.ndarray | None = None  # (H, W) model resolution
    user_mask: np.ndarray | None = None  # bool, image size, from set_mask
    # Edit layers (bool, image size): pixels painted / erased with set_mask, which later clicks keep
    # unless a click falls on the stroke (its 8-connected part), which hands it back to the model.
    painted: np.ndarray | None = None
    erased: np.ndarray | None = None

    def is_empty(self) -> bool:
        return not self.clicks and all(
            v is None for v in (self.prev, self.logits, self.user_mask, self.painted, self.erased)
        )


class ClickSession:
    """Click-to-mask for one image against a product's normal images.

    Parameters
    ----------
    image: path, PIL image or array.
    normal_images: a NormalReference (preferred: build it once per product) or
        a list of normal images (paths, PIL images, arrays).
    prompt: optional defect description, e.g. "crack" or "scratch on metal".
    checkpoint: .safetensors path; None uses the shipped default.
    model: an already loaded ClickModel (overrides ``checkpoint``).
    threshold: probability above which a pixel is in ``mask``.
    drop_rejected: switch off predicted regions that a negative click
        touches and no positive click does (:func:`drop_rejected_regions`).
    obey: clicks are orders (:mod:`defectlab.click.obey`): a click's disk
        carries its label, and a negative click in a region a positive
        click also touches takes away the part that looks like it; on by
        default, ``False`` leaves the head's answer (an ablation).
    fill: fill between clicks with a random walker that takes the
        head's mask as its prior (:mod:`defectlab.click.fill`), for
        large, faint defects where the image shows no boundary; on by
        default, ``False`` leaves the mask to the head alone.
    gate: switch off what looks like the normal images unless a positive
        click is on it (:mod:`defectlab.click.gate`).
    disk: radius in image pixels of the disk around each click that the
        clicks' rules act on (the disk a click forces to its label, the
        seeds of fill and of the split between clicks, the window in which
        a click touches a region): 5 px, the disk the baselines and the
        simulated user's protocol use. ``None`` takes the head's click-map
        radius at model resolution instead (the behaviour before; 12.6
        image px on a 1130 px wide photo, larger than many small defects).
        The head's own click-map input keeps the radius it was trained with.
    grabcut: relabel a window around the head's mask with GrabCut
        initialised from it (:mod:`defectlab.click.colour`), so that the mask
        follows the pixels that look like the clicked ones; on by default
        (chosen on the inner folds by clicks and mIoU@5,
        ``bench/results/click_lopo_disk.md``).
    grabcut_keeps_head: keep the head's answer when GrabCut drops all of
        it outside the positive disks; on by default (chosen on the inner
        folds by a rule declared before, ``bench/results/click_lopo_keephead.md``).
    """

    def __init__(
        self,
        image,
        normal_images: NormalReference | Sequence,
        prompt: str | None = None,
        checkpoint: str | os.PathLike | None = None,
        model: ClickModel | None = None,
        threshold: float = 0.5,
        features: ImageFeatures | None = None,
        drop_rejected: bool = True,
        fill: bool = True,
        obey: bool = True,
        gate: bool = False,
        disk: float | None = DEFAULT_RADIUS,
        grabcut: bool = True,
        grabcut_keeps_head: bool = True,
    ):
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"threshold must be in (0, 1), got {threshold}")
        if disk is not None and not (np.isfinite(disk) and disk > 0):
            raise ConfigError(f"disk must be a positive radius in image pixels or None, got {disk!r}")
        self.model = model or load_click_model(None if checkpoint is None else str(checkpoint))
        start = time.perf_counter()
        if isinstance(normal_images, NormalReference):
            self.reference = normal_images
        else:
            self.reference = self.model.reference(normal_images)
        self.model.check_reference(self.reference)
        self.image = load_image(image)
        self.threshold = threshold
        self.drop_rejected = drop_rejected
        # ``features`` lets an evaluation that already computed them (for a
        # baseline) avoid a second backbone pass.
        self.features = features if features is not None else self.reference.features(self.image)
        if tuple(self.features.image_shape) != self.image.shape[:2]:
            raise ConfigError(f"features were computed for an image of shape {self.features.image_shape}, not {self.image.shape[:2]}")
        f = self.features
        with torch.inference_mode():
            self._static = self.model.head.encode(f.feat[None], f.resid[None], f.dist[None], f.fine[None], f.rgb[None])
        self._prompt = prompt
        self._prompt_emb = self.model.embed_prompt(prompt)
        self._history: list[_State] = [_State()]
        self._redo: list[_State] = []
        self._cache: tuple[_State, tuple[np.ndarray, np.ndarray]] | None = None
        self._anomaly_map: np.ndarray | None = None
        self._walk: Fill | None = None  # built on first use: a session with fill off never pays for it
        self._rgb_hwc: np.ndarray | None = None
        self._image_u8: np.ndarray | None = None
        self.obey = bool(obey)
        self.gate = bool(gate)
        self.disk = disk
        self.grabcut = bool(grabcut)
        self.grabcut_keeps_head = bool(grabcut_keeps_head)
        self._fill_on = bool(fill)
        self.precompute_seconds = time.perf_counter() - start

    # -- read-only views ---------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[:2]

    @property
    def clicks(self) -> list[Click]:
        return list(self._state.clicks)

    @property
    def mask(self) -> np.ndarray:
        """bool (H, W) at the image's size (a copy: edit it freely, then set_mask)."""
        return self._outputs()[0].copy()

    @property
    def probability(self) -> np.ndarray:
        """float32 (H, W) in [0, 1]; a painted mask (set_mask) reads as 0/1."""
        return self._outputs()[1].copy()

    @property
    def anomaly_map(self) -> np.ndarray:
        """float32 (H, W) residual heat map at the image's size; 1.0 = a rare normal patch's distance."""
        if self._anomaly_map is None:
            self._anomaly_map = self.features.anomaly_map()
        return self._anomaly_map

    @property
    def fill(self) -> bool:
        """Whether clicks fill between them; switching it recomputes the current mask."""
        return self._fill_on

    @fill.setter
    def fill(self, value: bool) -> None:
        if bool(value) != self._fill_on:
            self._fill_on = bool(value)
            self._rerun()

    @property
    def can_undo(self) -> bool:
        return len(self._history) > 1

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    # -- prompt ------------------------------------------------------------
    @property
    def prompt(self) -> str | None:
        return self._prompt

    @prompt.setter
    def prompt(self, value: str | None) -> None:
        self._prompt_emb = self.model.embed_prompt(value)
        self._prompt = value
        self._rerun()

    # -- editing -----------------------------------------------------------
    def add_click(self, x: float, y: float, positive: bool = True) -> np.ndarray:
        """Add a click at image pixel (x, y) = (column, row); returns the new mask."""
        x, y = finite_float("x", x), finite_float("y", y)
        if not isinstance(positive, (bool, np.bool_)):
            raise ConfigError(f"positive must be True or False, got {positive!r}")
        h, w = self.shape
        if not (0 <= x < w and 0 <= y < h):
            raise ConfigError(f"click ({x:g}, {y:g}) is outside the image, which is {w} wide and {h} high")
        clicks = self._state.clicks + (Click(float(x), float(y), bool(positive)),)
        prev = self._current_model_mask()
        col, row = int(x), int(y)
        painted, erased = _release(self._state.painted, col, row), _release(self._state.erased, col, row)
        self._push(_State(clicks, prev, self._run(clicks, prev), painted=painted, erased=erased))
        return self.mask

    def set_mask(self, mask) -> None:
        """Replace the mask (brush/eraser edits): the previous-mask input of the next click, and a constraint.

        The pixels that differ from the current mask are the edit: later
        clicks keep what was painted on and what was erased, unless a click
        falls on such a stroke (its 8-connected part), which hands that
        stroke back to the model.
        """
        mask = np.asarray(mask)
        if mask.shape != self.shape:
            raise ConfigError(f"mask shape {mask.shape} does not match the image, {self.shape}")
        mask = mask.astype(bool)
        old, state = self._outputs()[0], self._state
        added, removed = mask & ~old, old & ~mask
        painted = _layer(state.painted, self.shape) & ~removed | added
        erased = _layer(state.erased, self.shape) & ~added | removed
        self._push(_State(state.clicks, None, None, mask.copy(), painted if painted.any() else None,
                          erased if erased.any() else None))

    def undo(self) -> bool:
        """Step back; False when there is nothing to undo."""
        if len(self._history) <= 1:
            return False
        self._redo.append(self._history.pop())
        return True

    def redo(self) -> bool:
        """Re-apply the last undone step; False when there is none."""
        if not self._redo:
            return False
        self._history.append(self._redo.pop())
        return True

    def reset(self) -> None:
        """No clicks, empty mask (an undoable step)."""
        if not self._state.is_empty():
            self._push(_State())

    # -- history kept by the caller -------------------------------------------
    def forget_history(self) -> tuple[tuple[Click, ...], np.ndarray | None]:
        """Drop every undo and redo step but the current one, and return that one compactly.

        Each step here holds two float32 maps at model resolution (~1.7 MB a
        click at the default size); a caller with its own history, such as the
        labelling app, calls this after every change and keeps what it
        returns instead: the clicks and the previous-mask input that produced
        the current mask (bool, model resolution), or None when the mask was
        painted with ``set_mask`` or there are no clicks. ``restore`` brings
        the step back.
        """
        self._history = self._history[-1:]
        self._redo.clear()
        state = self._state
        if state.user_mask is not None or state.prev is None:
            return state.clicks, None
        return state.clicks, state.prev > 0.5

    def restore(self, clicks: Sequence[Click], prev: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        """Make a step returned by ``forget_history`` the only one: one run of the head, not one per click.

        ``prev`` is its previous-mask input; ``mask`` (bool, image size) a
        painted mask instead, which the next click refines; neither: no mask.
        """
        clicks = tuple(c if isinstance(c, Click) else Click(float(c[0]), float(c[1]), bool(c[2])) for c in clicks)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != self.shape:
                raise ValueError(f"mask shape {mask.shape} does not match the image, {self.shape}")
            state = _State(clicks, None, None, mask.copy())
        elif clicks and prev is not None:
            prev = np.asarray(prev, dtype=np.float32)
            if prev.shape != tuple(self.features.size):
                raise ValueError(f"previous-mask input {prev.shape} does not match the model's {tuple(self.features.size)}")
            state = _State(clicks, prev, self._run(clicks, prev))
        else:
            state = _State(clicks)
        self._history = [state]
        self._redo.clear()

    def segment(self) -> np.ndarray:
        """ADClick-Seg: the head's probability with no clicks, float32 (H, W) at image size."""
        h, w = self.features.size
        logits = self._run((), np.zeros((h, w), np.float32))
        return self._to_image(logits)[1]

    # -- internals ---------------------------------------------------------
    @property
    def _state(self) -> _State:
        return self._history[-1]

    def _rerun(self) -> None:
        """Recompute the current step's mask after a setting changed (a painted mask stays)."""
        state = self._state
        if state.clicks and state.user_mask is None and state.prev is not None:
            self._history[-1] = _State(state.clicks, state.prev, self._run(state.clicks, state.prev), painted=state.painted,
                                       erased=state.erased)

    def _push(self, state: _State) -> None:
        self._history.append(state)
        self._redo.clear()

    def _current_model_mask(self) -> np.ndarray:
        h, w = self.features.size
        state = self._state
        if state.user_mask is not None or state.painted is not None or state.erased is not None:
            shown = self._outputs()[0]  # with the edit layers laid over the head's mask
            return (cv2.resize(shown.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) >= 0.5).astype(np.float32)
        if state.logits is not None:
            return (state.logits > _logit(self.threshold)).astype(np.float32)
        return np.zeros((h, w), np.float32)

    def _run(self, clicks: tuple[Click, ...], prev: np.ndarray) -> np.ndarray:
        h, w = self.features.size
        ih, iw = self.shape
        maps = click_maps(clicks, (h, w), self.model.config.radius, (h / ih, w / iw))
        inputs = torch.from_numpy(np.concatenate([maps, prev[None]], axis=0))[None]
        with torch.inference_mode():
            logits = self.model.head.decode(self._static, inputs, self._prompt_emb)
        logits = logits[0, 0].numpy()
        scale, level = (h / ih, w / iw), _logit(self.threshold)
        # The rules below act on the click's disk as the user sees the image, not as the model does.
        radius = self.model.config.radius if self.disk is None else self.disk * (scale[0] + scale[1]) / 2
        if self.drop_rejected:
            logits = drop_rejected_regions(logits, clicks, scale, level, radius)
        if self._fill_on and clicks:
            if self._walk is None:
                self._walk = Fill(self._rgb())
            logits = self._walk(logits, clicks, scale, radius, level)
        if self.gate and clicks:
            logits = residual_gate(logits, self.features.dist[0].numpy(), clicks, scale, radius, level)
        if self.grabcut and clicks:
            logits = grabcut_refine(logits, clicks, scale, radius, level, self._rgb_u8(), self.grabcut_keeps_head)
        if self.obey and clicks:
            key = self._static.key[0].numpy()  # a view: the head's click keys, computed once per image
            logits = split_between_clicks(logits, clicks, scale, radius, level, key, self._rgb())
            logits = force_click_disks(logits, clicks, scale, radius, level)
        return logits

    def _rgb(self) -> np.ndarray:
        """(H, W, 3) float image at model resolution, as fill and obey read it (one copy for both)."""
        if self._rgb_hwc is None:
            self._rgb_hwc = self.features.rgb.permute(1, 2, 0).numpy()
        return self._rgb_hwc

    def _rgb_u8(self) -> np.ndarray:
        """The same image as uint8, as GrabCut reads it."""
        if self._image_u8 is None:
            self._image_u8 = np.ascontiguousarray((self._rgb() * 255).round().clip(0, 255).astype(np.uint8))
        return self._image_u8

    def _outputs(self) -> tuple[np.ndarray, np.ndarray]:
        state = self._state
        if self._cache is not None and self._cache[0] is state:
            return self._cache[1]
        if state.user_mask is not None:
            out = (state.user_mask.copy(), state.user_mask.astype(np.float32))
        elif state.logits is None:
            out = (np.zeros(self.shape, bool), np.zeros(self.shape, np.float32))
        else:
            out = self._to_image(state.logits)
        if state.user_mask is None and (state.painted is not None or state.erased is not None):
            mask, prob = out[0].copy(), out[1].copy()
            for layer, value in ((state.painted, True), (state.erased, False)):
                if layer is not None:
                    mask[layer], prob[layer] = value, float(value)
            out = (mask, prob)
        self._cache = (state, out)
        return out

    def _to_image(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.shape
        full = cv2.resize(logits, (w, h), interpolation=cv2.INTER_LINEAR)
        prob = (1.0 / (1.0 + np.exp(-full))).astype(np.float32)
        return prob > self.threshold, prob


def drop_rejected_regions(
    logits: np.ndarray, clicks: Sequence[Click], scale: tuple[float, float], threshold: float, radius: float
) -> np.ndarray:
    """Switch off every predicted region that a negative click touches and no positive click does.

    A negative click inside a separate blob says "this is not the defect";
    the head often only carves a hole around the click and keeps the rest
    of a wrong blob, and the user then spends click after click on it. A
    region that a positive click touches is left to the head: there the
    negative click marks where the defect ends, not that it is absent.
    ``logits`` (H, W) at model resolution; ``scale`` maps image pixels to it.
    """
    if not any(not c.positive for c in clicks):
        return logits
    n, labels = cv2.connectedComponents((logits > threshold).view(np.uint8), connectivity=8)
    if n <= 1:
        return logits
    r = int(round(radius)) + 1  # the click's disk: its centre may already be a hole
    touched: dict[bool, set[int]] = {True: set(), False: set()}
    for c in clicks:
        cx, cy = map_pixel(c, scale, logits.shape)
        window = labels[max(0, cy - r) : cy + r + 1, max(0, cx - r) : cx + r + 1]
        touched[c.positive].update(int(v) for v in np.unique(window) if v)
    rejected = touched[False] - touched[True]
    if not rejected:
        return logits
    out = logits.copy()
    region = np.isin(labels, sorted(rejected))
    out[region] = np.minimum(out[region], threshold - 6.0)  # well below the threshold, soft map included
    return out


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _layer(layer: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    return np.zeros(shape, bool) if layer is None else layer


def _release(layer: np.ndarray | None, x: int, y: int) -> np.ndarray | None:
    """The edit layer without the stroke (8-connected part) under pixel (x, y); None when nothing is left."""
    if layer is None or not layer[y, x]:
        return layer
    _, labels = cv2.connectedComponents(layer.astype(np.uint8), connectivity=8)
    kept = layer & (labels != labels[y, x])
    return kept if kept.any() else None
