"""The labelling logic behind the HTTP routes, free of any web framework.

Every method takes an image id the server handed out and raises ``AppError``
with an HTTP status and a sentence for the user; the routes only translate.
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from pathlib import Path

import cv2
import numpy as np

from ..data.errors import ImageLoadError
from ..data.io import image_size, load_image
from . import rle
from .annotation import Annotation
from .drafts import DraftWriter
from .names import InvalidName, defect_type_slug, prompt_text
from .sessions import SessionPool
from .store import ImageRecord, LabelStore

SessionFactory = Callable[[np.ndarray, object, "str | None"], object]
ReferenceFactory = Callable[[list], object]


class AppError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ADClickEngine:
    """The default factories: ADClick's model, loaded once and shared by the reference and every session.

    ``checkpoint`` is a .safetensors file from ``defectlab click-train``
    (None: the one shipped with the package); ``model`` an already loaded
    ``ClickModel``, which tests and benchmarks use; ``fill``: sessions fill
    between clicks (``ClickSession(fill=...)``, on by default); ``grabcut``:
    GrabCut around the model's mask (``ClickSession(grabcut=...)``, on by default).
    """

    def __init__(self, checkpoint: str | os.PathLike | None = None, model: object | None = None, fill: bool = True,
                 grabcut: bool = True):
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self._model = model
        self._model_lock = threading.Lock()  # the precompute worker and warm_up may both ask first
        self.fill = fill
        self.grabcut = grabcut

    def model(self):
        with self._model_lock:
            if self._model is None:
                from defectlab.click import load_click_model  # imported late: it loads torch

                self._model = load_click_model(self.checkpoint)
            return self._model

    def warm_up(self) -> None:
        """Load the model and its text encoder, which otherwise loads on the first prompt (5-8 s)."""
        model = self.model()
        if model.config.text_encoder is not None:
            model.embed_prompt("defect")

    def reference(self, normal_images: list) -> object:
        # Built through the model: the checkpoint fixes the feature settings,
        # and ClickSession refuses a reference built with others.
        return self.model().reference(normal_images, progress=False)

    def session(self, image: np.ndarray, reference: object, prompt: str | None) -> object:
        from defectlab.click import ClickSession

        return ClickSession(image, normal_images=reference, prompt=prompt, model=self.model(), fill=self.fill,
                            grabcut=self.grabcut)


class Labeller:
    def __init__(
        self,
        store: LabelStore,
        normal_paths: Sequence[Path],
        session_factory: SessionFactory | None = None,
        reference_factory: ReferenceFactory | None = None,
        cache_size: int = 4,
        wait_timeout: float = 60.0,
        warm_up: Callable[[], None] | None = None,
    ):
        self.store = store
        self.normal_paths = list(normal_paths)
        if session_factory is None or reference_factory is None:
            engine = ADClickEngine()
            session_factory = session_factory or engine.session
            reference_factory = reference_factory or engine.reference
            warm_up = warm_up or engine.warm_up
        self._warm_up = warm_up
        # Set once warm_up has run (or failed: then the first prompt reports the error itself).
        # Prompts wait for it, outside any image's lock, so clicks are never stuck behind a loading model.
        self.model_ready = threading.Event()
        self.session_factory = session_factory
        self.reference_factory = reference_factory
        self.wait_timeout = wait_timeout
        self._reference = None
        self._reference_lock = threading.Lock()
        self._started = False
        self._start_lock = threading.Lock()
        self.prompts_supported = True
        self._sizes: dict[str, tuple[int, int]] = {}
        self._converted: tuple[str | None, bytes] = (None, b"")
        self._converted_lock = threading.Lock()
        self.pool = SessionPool(self._build, capacity=cache_size, on_evict=self._evicted)
        self.drafts = DraftWriter(self.write_draft)

    def start(self) -> None:
        """Begin loading the model in the background (the server calls this when it starts); once."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        if self._warm_up is None:
            self.model_ready.set()
            return

        def run():
            try:
                self._warm_up()
            except Exception as err:  # reported again, with its cause, by the first prompt that needs it
                warnings.warn(f"loading the model in the background failed: {type(err).__name__}: {err}", stacklevel=1)
            finally:
                self.model_ready.set()

        threading.Thread(target=run, name="defectlab-warm-up", daemon=True).start()

    def model_state(self) -> dict:
        return {"ready": self.model_ready.is_set()}

    # ------------------------------------------------------------- navigation

    def record(self, id_: str) -> ImageRecord:
        try:
            return self.store.record(id_)
        except KeyError:
            raise AppError(404, "no image with this id; reload the page to get the current list") from None

    def open(self, id_: str, prefetch: str | None = None) -> dict:
        record = self.record(id_)
        self.store.set_current(record)
        self.pool.request(id_)
        following = self.record(prefetch) if prefetch else self._next_after(record)
        if following is not None and following.id != id_:
            self.pool.prefetch(following.id)
        return self.info(id_)

    def info(self, id_: str, wait: float = 0.0) -> dict:
        """What the page needs to show an image; the mask only once the session is ready."""
        record = self.record(id_)
        annotation = self._wait(id_, wait) if wait else self.pool.peek(id_)
        entry = self.store.entry(record)
        height, width = annotation.shape if annotation else self._size(record)
        info = {
            "id": id_,
            "name": record.name,
            "status": entry["status"],
            "defect_type": entry.get("defect_type"),
            "width": width,
            "height": height,
            "ready": annotation is not None,
            "model_ready": self.model_ready.is_set(),
        }
        if annotation is not None:
            with annotation.lock:
                info.update(self._state(annotation))
        return info

    # ---------------------------------------------------------------- editing

    def click(self, id_: str, x: float, y: float, positive: bool) -> tuple[Annotation, dict]:
        annotation = self._annotation(id_)
        height, width = annotation.shape
        if not (math.isfinite(x) and math.isfinite(y) and 0 <= x < width and 0 <= y < height):
            raise AppError(422, f"click ({x}, {y}) is outside the {width}x{height} image")
        return self._change(annotation, lambda a: a.click(int(x), int(y), bool(positive)))

    def edit(self, id_: str, size: Sequence[int], counts: Sequence[int]) -> tuple[Annotation, dict]:
        annotation = self._annotation(id_)
        if tuple(size) != annotation.shape:
            raise AppError(422, f"mask size {list(size)} does not match the image {list(annotation.shape)}")
        try:
            mask = rle.decode(counts, *annotation.shape)
        except rle.MaskFormatError as err:
            raise AppError(422, str(err)) from err
        return self._change(annotation, lambda a: a.edit(mask))

    def set_prompt(self, id_: str, defect_type: str | None) -> tuple[Annotation, dict]:
        prompt = prompt_text(self.slug(defect_type)) if defect_type else None
        annotation = self._annotation(id_)
        if prompt is not None:
            self._wait_for_model()
        if not self.prompts_supported:
            return self._change(annotation, lambda a: None)

        def apply(a: Annotation) -> None:
            try:
                a.set_prompt(prompt)
            except ValueError:
                self.prompts_supported = False  # see _session

        return self._change(annotation, apply)

    def set_fill(self, id_: str, fill: bool) -> tuple[Annotation, dict]:
        annotation = self._annotation(id_)
        if annotation.fill is None:
            raise AppError(409, "this click model has no fill between clicks to switch")
        return self._change(annotation, lambda a: a.set_fill(fill))

    def undo(self, id_: str):
        return self._change(self._annotation(id_), Annotation.undo)

    def redo(self, id_: str):
        return self._change(self._annotation(id_), Annotation.redo)

    def reset(self, id_: str):
        return self._change(self._annotation(id_), Annotation.reset)

    # ----------------------------------------------------------------- saving

    def save(self, id_: str, defect_type: str) -> tuple[Annotation, dict]:
        slug = self.slug(defect_type)
        record = self.record(id_)
        annotation = self._annotation(id_)
        with annotation.lock:
            try:
                entry = self.store.save_labelled(record, annotation.mask, slug, self._stats(annotation))
            except ValueError as err:
                raise AppError(422, str(err)) from err
            annotation.mark_saved()
            return annotation, {"entry": entry, **self._state(annotation)}

    def no_defect(self, id_: str) -> dict:
        record = self.record(id_)
        annotation = self.pool.peek(id_)
        stats = self._stats(annotation) if annotation else {}
        size = annotation.shape if annotation else self._size(record)
        entry = self.store.save_no_defect(record, size, stats)
        if annotation is not None:
            with annotation.lock:
                annotation.mark_saved()
        return {"entry": entry}

    def skip(self, id_: str) -> dict:
        return {"entry": self.store.skip(self.record(id_))}

    def slug(self, defect_type: str | None) -> str:
        try:
            return defect_type_slug(defect_type)
        except InvalidName as err:
            raise AppError(422, str(err)) from err

    # ----------------------------------------------------------------- images

    def heatmap_png(self, id_: str) -> bytes:
        annotation = self._annotation(id_)
        with annotation.lock:
            return annotation.heatmap_png(render_heatmap)

    def converted_png(self, id_: str) -> bytes:
        """PNG of an image in a format browsers cannot show (TIFF), as the model sees it."""
        record = self.record(id_)
        with self._converted_lock:
            if self._converted[0] != id_:
                try:
                    pixels = load_image(record.path, mode="RGB")
                except ImageLoadError as err:
                    raise AppError(422, str(err)) from err
                ok, png = cv2.imencode(".png", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
                if not ok:
                    raise AppError(500, f"could not convert {record.name} for the browser")
                self._converted = (id_, png.tobytes())  # one is enough: the page asks once per image
            return self._converted[1]

    def write_draft(self, id_: str, annotation: Annotation) -> None:
        with annotation.lock:
            draft = annotation.draft()
        self.store.write_draft(self.record(id_), draft)

    def close(self) -> None:
        """Keep unsaved work as drafts, then stop the worker."""
        self.drafts.close()
        for id_, annotation in self.pool.items():
            self.write_draft(id_, annotation)
        self.pool.close()

    # -------------------------------------------------------------- internals

    def _change(self, annotation: Annotation, action) -> tuple[Annotation, dict]:
        started = time.perf_counter()
        with annotation.lock:
            action(annotation)
            state = self._state(annotation)
        state["server_ms"] = round((time.perf_counter() - started) * 1000, 2)
        state["model_ready"] = self.model_ready.is_set()
        return annotation, state

    def _state(self, annotation: Annotation) -> dict:
        return {
            "mask": {"size": list(annotation.shape), "counts": rle.encode(annotation.mask)},
            "clicks": [[x, y, p] for x, y, p in annotation.clicks],
            "prompt": annotation.prompt,
            "fill": annotation.fill,
            "can_undo": annotation.can_undo,
            "can_redo": annotation.can_redo,
            "dirty": annotation.dirty,
        }

    def _wait_for_model(self) -> None:
        self.start()  # an app used without its lifespan (a bare TestClient) must not wait forever
        if not self.model_ready.wait(self.wait_timeout):
            raise AppError(503, "the model for defect types is still loading; try again in a moment")

    def _stats(self, annotation: Annotation) -> dict:
        return {
            "clicks": len(annotation.clicks),
            "clicks_total": annotation.clicks_total,
            "brush_edits": annotation.edits,
            "seconds": annotation.seconds_spent(),
        }

    def _annotation(self, id_: str) -> Annotation:
        self.record(id_)
        return self._wait(id_, self.wait_timeout)

    def _wait(self, id_: str, timeout: float) -> Annotation | None:
        try:
            return self.pool.get(id_, timeout=timeout)
        except TimeoutError:
            if timeout < self.wait_timeout:
                return None  # a short "is it ready?" poll
            raise AppError(503, "the model is still preparing this image; try again in a moment") from None
        except CancelledError:
            raise AppError(409, "another image was opened before this one was ready") from None
        except ImageLoadError as err:
            raise AppError(422, str(err)) from err
        except AppError:
            raise
        except Exception as err:  # the model failed to load or to run: say so, keep serving
            raise AppError(500, f"preparing this image failed: {type(err).__name__}: {err}") from err

    def _build(self, id_: str) -> Annotation:
        record = self.store.record(id_)
        image = load_image(record.path, mode="RGB")
        entry = self.store.entry(record)
        draft = self.store.read_draft(record)
        saved = self.store.saved_mask(record)
        prompt = (draft or {}).get("prompt") or prompt_text(entry.get("defect_type"))
        annotation = self._new_annotation(image, prompt)
        if draft is not None:
            try:
                annotation.restore_draft(draft, saved)
                return annotation
            except (ValueError, KeyError, TypeError, IndexError) as err:
                warnings.warn(f"ignoring the draft of {record.name}: {err}", stacklevel=1)
                annotation = self._new_annotation(image, prompt)
        if saved is not None:
            annotation.start_from(saved)
        return annotation

    def _new_annotation(self, image: np.ndarray, prompt: str | None) -> Annotation:
        session = self._session(image, prompt)
        return Annotation(session, image.shape[:2], getattr(session, "prompt", prompt))

    def _session(self, image: np.ndarray, prompt: str | None):
        with self._reference_lock:
            if self._reference is None:
                normals = [load_image(p, mode="RGB") for p in self.normal_paths]
                self._reference = self.reference_factory(normals)
        if prompt is not None and self.prompts_supported:
            self._wait_for_model()  # in the precompute worker: the page shows "preparing" meanwhile
            try:
                return self.session_factory(image, self._reference, prompt)
            except ValueError as err:
                # A model trained without prompts refuses one; the defect type
                # still names the output folder, so carry on without it.
                warnings.warn(f"the click model does not take a prompt ({err}); continuing without", stacklevel=1)
                self.prompts_supported = False
        return self.session_factory(image, self._reference, None)

    def _evicted(self, id_: str, annotation: Annotation) -> None:
        if annotation.dirty:
            self.write_draft(id_, annotation)

    def _next_after(self, record: ImageRecord) -> ImageRecord | None:
        records = self.store.records
        index = records.index(record)
        return records[index + 1] if index + 1 < len(records) else None

    def _size(self, record: ImageRecord) -> tuple[int, int]:
        if record.id not in self._sizes:
            try:
                self._sizes[record.id] = image_size(record.path)
            except ImageLoadError as err:
                raise AppError(422, str(err)) from err
        return self._sizes[record.id]


def render_heatmap(anomaly: np.ndarray) -> bytes:
    """Colour PNG of an anomaly map, stretched between its 1st and 99.5th percentiles.

    Per-image stretching shows where this image is most unusual, which is what
    guides the clicks; absolute scores differ too much between images to share
    one scale.
    """
    values = np.nan_to_num(np.asarray(anomaly, dtype=np.float32))
    low, high = np.percentile(values, [1.0, 99.5])
    scaled = np.clip((values - low) / max(float(high - low), 1e-6), 0, 1)
    coloured = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    ok, png = cv2.imencode(".png", coloured)
    if not ok:
        raise RuntimeError("could not encode the heat map")
    return png.tobytes()
