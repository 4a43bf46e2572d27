"""Drafts are written by one background thread, at most twice a second, off the click path.

Writing a draft after every click would put a JSON dump of the mask (and the
GIL it holds) between a click and the next one. Instead each change marks the
image pending; the writer waits a moment so a burst of clicks becomes one
write, and always writes the newest state. Shutdown and eviction flush.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable


class DraftWriter:
    def __init__(self, write: Callable[[str, object], None], interval: float = 0.5):
        self._write = write
        self._interval = interval
        self._pending: dict[str, object] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="defectlab-drafts", daemon=True)
        self._thread.start()

    def schedule(self, key: str, annotation: object) -> None:
        with self._cond:
            self._pending[key] = annotation
            self._cond.notify()

    def flush(self) -> None:
        with self._cond:
            pending, self._pending = self._pending, {}
        self._write_all(pending)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                # Let a burst of clicks settle into one write.
                self._cond.wait(self._interval)
                pending, self._pending = self._pending, {}
            self._write_all(pending)

    def _write_all(self, pending: dict) -> None:
        for key, annotation in pending.items():
            try:
                self._write(key, annotation)
            except Exception as err:  # a draft is a convenience; never take the app down for one
                warnings.warn(f"could not write the draft for image {key}: {err}", stacklevel=1)
