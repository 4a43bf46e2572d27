"""Background precompute: one worker thread builds annotations, most urgent first, and keeps a few.

Building a click session costs about a second (the backbone runs over the
image), so it happens off the request path: the image the user opens jumps
the queue, and the next one is built while the user clicks on this one.
One worker is enough, and on a two-core machine a second would only slow the
clicks being answered meanwhile. Finished annotations live in a small LRU;
one that falls out has its unsaved state kept as a draft by ``on_evict``.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future

from .worker import Worker

__all__ = ["SessionPool"]


class SessionPool(Worker):
    def __init__(
        self,
        build: Callable[[str], object],
        capacity: int = 4,
        on_evict: Callable[[str, object], None] | None = None,
    ):
        if capacity < 2:
            raise ValueError("capacity must be at least 2: the current image and the prefetched one")
        super().__init__("defectlab-precompute")
        self._build = build
        self._capacity = capacity
        self._on_evict = on_evict
        self._entries: OrderedDict[str, Future] = OrderedDict()  # LRU order, newest last
        self._queue: deque[str] = deque()
        self._current: str | None = None
        self._start()

    # ------------------------------------------------------------------ API

    def request(self, key: str) -> Future:
        """The annotation for ``key``, built before anything else still waiting."""
        with self._cond:
            self._current = key
            future = self._entry(key)
            if not future.done():
                if key in self._queue:
                    self._queue.remove(key)
                if not future.running():
                    self._queue.appendleft(key)
                    self._cond.notify()
            return future

    def prefetch(self, key: str) -> None:
        """Build ``key`` when the worker is free; drops older prefetches that nobody asked for since."""
        with self._cond:
            for stale in [k for k in self._queue if k != self._current]:
                self._queue.remove(stale)
                self._entries.pop(stale).cancel()
            future = self._entry(key)
            if not future.done() and not future.running() and key not in self._queue:
                self._queue.append(key)
                self._cond.notify()

    def get(self, key: str, timeout: float | None = None):
        """Block until ready; raises TimeoutError, or whatever building it raised."""
        return self.request(key).result(timeout=timeout)

    def peek(self, key: str):
        """The annotation if it is built, else None; never waits or queues anything."""
        with self._cond:
            future = self._entries.get(key)
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return None
        return future.result()

    def ready(self, key: str) -> bool:
        return self.peek(key) is not None

    def items(self) -> list[tuple[str, object]]:
        """Built annotations, for flushing drafts at shutdown."""
        with self._cond:
            futures = list(self._entries.items())
        return [(k, f.result()) for k, f in futures if f.done() and not f.cancelled() and f.exception() is None]

    def close(self) -> None:
        self._stop(timeout=30)

    # ------------------------------------------------------------ internals

    def _entry(self, key: str) -> Future:
        future = self._entries.get(key)
        failed = future is not None and future.done() and (future.cancelled() or future.exception() is not None)
        if future is None or failed:
            # A failure is not cached: the file may have been fixed, or the model
            # made available, since; a bad image fails again quickly anyway.
            future = Future()
            self._entries[key] = future
        self._entries.move_to_end(key)
        return future

    def _closing(self) -> None:
        for key in self._queue:
            self._entries.pop(key).cancel()
        self._queue.clear()

    def _has_work(self) -> bool:
        return bool(self._queue)

    def _take(self) -> tuple[str, Future] | None:
        key = self._queue.popleft()
        future = self._entries.get(key)
        if future is None or not future.set_running_or_notify_cancel():
            return None
        return key, future

    def _do(self, item: tuple[str, Future]) -> None:
        key, future = item
        try:
            future.set_result(self._build(key))
        except BaseException as err:  # handed to whoever waits on the future
            future.set_exception(err)
        self._evict()

    def _evict(self) -> None:
        evicted = []
        with self._cond:
            done = [k for k, f in self._entries.items() if f.done() and k != self._current]
            while len(self._entries) > self._capacity and done:
                key = done.pop(0)
                evicted.append((key, self._entries.pop(key)))
        for key, future in evicted:
            if self._on_evict and not future.cancelled() and future.exception() is None:
                self._on_evict(key, future.result())
