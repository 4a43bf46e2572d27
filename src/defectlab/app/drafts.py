"""Drafts are written by one background thread, at most twice a second, off the click path.

Writing a draft after every click would put a JSON dump of the mask (and the
GIL it holds) between a click and the next one. Instead each change marks the
image pending; the writer waits a moment so a burst of clicks becomes one
write, and always writes the newest state. Shutdown and eviction flush.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from .worker import Worker


class DraftWriter(Worker):
    def __init__(self, write: Callable[[str, object], None], interval: float = 0.5):
        super().__init__("defectlab-drafts")
        self._write = write
        self._interval = interval
        self._pending: dict[str, object] = {}
        self._start()

    def schedule(self, key: str, annotation: object) -> None:
        with self._cond:
            self._pending[key] = annotation
            self._cond.notify()

    def flush(self) -> None:
        with self._cond:
            pending, self._pending = self._pending, {}
        self._write_all(pending)

    def close(self) -> None:
        self._stop(timeout=10)
        self.flush()

    def _has_work(self) -> bool:
        return bool(self._pending)

    def _take(self) -> dict:
        # Let a burst of clicks settle into one write.
        self._cond.wait(self._interval)
        pending, self._pending = self._pending, {}
        return pending

    def _do(self, pending: dict) -> None:
        self._write_all(pending)

    def _write_all(self, pending: dict) -> None:
        for key, annotation in pending.items():
            try:
                self._write(key, annotation)
            except Exception as err:  # a draft is a convenience; never take the app down for one
                warnings.warn(f"could not write the draft for image {key}: {err}", stacklevel=1)
