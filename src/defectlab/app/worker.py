"""One daemon thread fed through a condition: the shape of the app's background jobs.

Precompute (``sessions.py``) and draft writing (``drafts.py``) each keep their
work under one lock and hand it to a single thread, so a request never waits
for the work itself, only for the lock. The subclass says when there is work
(``_has_work``) and takes it (``_take``), both under the lock, and does it
(``_do``) outside it.
"""

from __future__ import annotations

import threading


class Worker:
    def __init__(self, name: str):
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _start(self) -> None:
        """Called by the subclass once its own state exists."""
        self._thread.start()

    def _stop(self, timeout: float) -> None:
        """Ends the loop after the item in hand; ``_closing`` (under the lock) may drop queued work."""
        with self._cond:
            self._closed = True
            self._closing()
            self._cond.notify_all()
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._has_work() or self._closed)
                if self._closed:
                    return
                item = self._take()
            if item is not None:
                self._do(item)

    def _has_work(self) -> bool:
        raise NotImplementedError

    def _take(self):
        """The next item, or None to go back to waiting."""
        raise NotImplementedError

    def _do(self, item) -> None:
        raise NotImplementedError

    def _closing(self) -> None:
        pass
