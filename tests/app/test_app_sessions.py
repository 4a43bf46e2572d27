"""Background precompute (priority, prefetch, LRU) and the annotation's own undo history."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import numpy as np
import pytest

from defectlab.app.annotation import Annotation
from defectlab.app.fake import FakeClickSession
from defectlab.app.sessions import SessionPool


class SlowBuilder:
    def __init__(self, delay=0.05):
        self.delay = delay
        self.built: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, key):
        self.gate.wait(5)
        time.sleep(self.delay)
        if key == "bad":
            raise ValueError("cannot read bad")
        self.built.append(key)
        return f"annotation-{key}"


def test_requested_image_jumps_ahead_of_prefetches():
    build = SlowBuilder()
    build.gate.clear()
    pool = SessionPool(build, capacity=4)
    try:
        pool.request("a")  # the worker takes it and waits at the gate
        time.sleep(0.05)
        pool.prefetch("b")
        pool.request("c")
        build.gate.set()
        assert pool.get("c", timeout=5) == "annotation-c"
        pool.get("b", timeout=5)
        assert build.built == ["a", "c", "b"]
    finally:
        pool.close()


def test_prefetch_drops_older_prefetches_nobody_asked_for():
    build = SlowBuilder()
    build.gate.clear()
    pool = SessionPool(build, capacity=4)
    try:
        pool.request("current")
        time.sleep(0.05)
        pool.prefetch("x")
        pool.prefetch("y")
        build.gate.set()
        pool.get("y", timeout=5)
        assert "x" not in build.built
    finally:
        pool.close()


def test_lru_keeps_capacity_and_hands_evicted_ones_over():
    evicted = []
    pool = SessionPool(SlowBuilder(0), capacity=2, on_evict=lambda k, a: evicted.append(k))
    try:
        for key in ["a", "b", "c", "d"]:
            pool.get(key, timeout=5)
        assert evicted == ["a", "b"]
        assert pool.peek("d") == "annotation-d" and pool.peek("a") is None
    finally:
        pool.close()


def test_failures_are_raised_to_the_waiter_and_retried_later():
    build = SlowBuilder(0)
    pool = SessionPool(build, capacity=2)
    try:
        with pytest.raises(ValueError, match="cannot read bad"):
            pool.get("bad", timeout=5)
        assert pool.peek("bad") is None
        with pytest.raises(ValueError):
            pool.get("bad", timeout=5)  # built again, not a cached failure
    finally:
        pool.close()


def test_waiting_for_a_dropped_prefetch_reports_cancelled():
    build = SlowBuilder()
    build.gate.clear()
    pool = SessionPool(build, capacity=4)
    try:
        pool.request("a")
        time.sleep(0.05)
        pool.prefetch("x")
        future = pool._entries["x"]
        pool.prefetch("y")
        build.gate.set()
        with pytest.raises(CancelledError):
            future.result(timeout=5)
    finally:
        pool.close()


# ---------------------------------------------------------------- annotation


def annotation(**kw) -> Annotation:
    image = np.full((60, 80, 3), 120, np.uint8)
    session = FakeClickSession(image, radius=5)
    return Annotation(session, (60, 80), **kw)


def test_history_mixes_clicks_brush_and_reset():
    a = annotation()
    a.click(10, 10, True)
    one = a.mask.copy()
    painted = one.copy()
    painted[40:50, 60:70] = True
    a.edit(painted)
    a.click(30, 30, True)
    a.reset()
    assert not a.mask.any() and a.clicks == ()
    a.undo()
    assert a.mask[45, 65] and a.mask[30, 30] and len(a.clicks) == 2
    a.undo()
    assert np.array_equal(a.mask, painted)
    a.undo()
    assert np.array_equal(a.mask, one) and a.clicks == ((10, 10, True),)
    # The session agrees with what the user sees, so the next click builds on it.
    assert np.array_equal(a.session.mask, one)
    a.redo()
    assert np.array_equal(a.session.mask, painted)
    a.click(70, 5, False)
    assert not a.can_redo


def test_dirty_follows_saves_and_undo_to_the_clean_state():
    a = annotation()
    assert not a.dirty
    a.click(10, 10, True)
    assert a.dirty
    a.undo()
    assert not a.dirty
    a.redo()
    a.mark_saved()
    assert not a.dirty
    a.click(13, 13, False)
    assert a.dirty
    a.undo()
    assert not a.dirty


def test_only_a_changed_mask_is_unsaved():
    # Opening an image applies the defect type in the field as its prompt: not a change to save.
    a = annotation()
    a.set_prompt("crack")
    assert not a.dirty and a.can_undo
    a.click(40, 40, False)  # a negative click on an empty mask changes nothing either
    assert not a.dirty
    a.click(40, 40, True)
    assert a.dirty


def test_draft_round_trip_restores_clicks_mask_and_counts():
    a = annotation()
    a.click(10, 10, True)
    a.click(40, 30, True)
    painted = a.mask.copy()
    painted[0:3, :] = True
    a.edit(painted)
    draft = a.draft()
    b = annotation()
    b.restore_draft(draft)
    assert b.clicks == a.clicks and np.array_equal(b.mask, painted)
    assert np.array_equal(b.session.mask, painted)
    assert b.clicks_total == 2 and b.edits == 1 and b.dirty


def test_draft_without_fill_keeps_the_sessions_fill():
    # A draft written with a model that has no fill (fill: null, e.g. --engine
    # fake) must not switch fill off when reopened with one that has it.
    class FillSession(FakeClickSession):
        fill = True

    a = annotation()
    a.click(10, 10, True)
    draft = a.draft()
    assert draft["fill"] is None
    b = Annotation(FillSession(np.full((60, 80, 3), 120, np.uint8), radius=5), (60, 80))
    b.restore_draft(draft)
    assert b.fill is True and b.session.fill is True


def test_draft_for_another_image_size_is_refused():
    a = annotation()
    a.click(10, 10, True)
    draft = a.draft()
    draft["mask"]["size"] = [30, 160]
    with pytest.raises(ValueError):
        annotation().restore_draft(draft)


class CountingSession(FakeClickSession):
    """Counts what the model would have to compute: a click, and a restore that runs it once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.clicks_run = 0
        self.restores_run = 0

    def add_click(self, x, y, positive=True):
        self.clicks_run += 1
        super().add_click(x, y, positive)

    def restore(self, clicks, prev=None, mask=None):
        if clicks and prev is not None and mask is None:
            self.restores_run += 1
        super().restore(clicks, prev, mask)


def test_undo_of_a_reset_restores_without_replaying_the_clicks():
    session = CountingSession(np.full((60, 80, 3), 120, np.uint8), radius=3)
    a = Annotation(session, (60, 80))
    rng = np.random.default_rng(0)
    for i in range(300):
        a.click(int(rng.integers(80)), int(rng.integers(60)), i % 4 != 3)
    before, clicks = a.mask.copy(), a.clicks
    a.reset()
    session.clicks_run = 0
    a.undo()
    assert np.array_equal(a.mask, before) and a.clicks == clicks and len(session.clicks) == 300
    assert session.clicks_run == 0 and session.restores_run == 1  # one run of the model, not 300
    assert np.array_equal(session.mask, before)
    a.click(5, 5, True)  # and the session goes on from there
    assert a.mask[5, 5] and len(a.clicks) == 301


def test_the_session_keeps_no_history_of_its_own_and_ours_is_compact():
    a = annotation()
    rng = np.random.default_rng(1)
    for i in range(150):
        a.click(int(rng.integers(80)), int(rng.integers(60)), i % 3 != 2)
        assert not a.session._undo  # forgotten after every step: the arrays live only here, packed
    raw = a.mask.size  # one byte a pixel, what a numpy bool mask costs
    assert a.history_bytes < 150 * raw / 2, a.history_bytes


def test_history_memory_is_capped_in_bytes(monkeypatch):
    from defectlab.app import annotation as module

    monkeypatch.setattr(module, "MAX_HISTORY_BYTES", 20_000)
    a = Annotation(FakeClickSession(np.full((60, 80, 3), 120, np.uint8), radius=5), (60, 80))
    noise = np.random.default_rng(2)
    for _ in range(40):
        a.edit(noise.random((60, 80)) < 0.5)  # incompressible: ~600 bytes a mask, and three of them a step
    assert a.history_bytes <= 20_000 and 1 < len(a._history) < 40
    assert a.can_undo


def test_a_click_keeps_brushed_and_erased_pixels_unless_it_lands_on_them():
    a = annotation()
    a.click(20, 20, True)  # a disk of radius 5
    erased = a.mask.copy()
    erased[:, 24:26] = False  # the disk's two right-most columns
    removed = a.mask & ~erased
    a.edit(erased)
    painted = a.mask.copy()
    painted[40:44, 40:70] = True  # a painted stroke
    a.edit(painted)

    a.click(28, 20, True)  # its disk covers the erased pixels; the click is beside them
    assert not a.mask[removed].any() and a.mask[20, 28]
    a.click(55, 45, False)  # its disk cuts into the painted stroke; the click is below it
    assert a.mask[40:44, 40:70].all()
    assert a.session.mask[40:44, 40:70].all()  # the session refines what the user sees

    a.click(24, 20, True)  # on the erased stroke: handed back to the model, which fills it
    assert a.mask[removed].all()
    a.click(60, 42, False)  # on the painted stroke: the model's negative click removes around it
    assert not a.mask[42, 60]
    # Undo brings the edit layers back with the masks.
    a.undo()
    a.undo()
    a.click(28, 22, True)
    assert not a.mask[removed].any()
    a.reset()
    a.click(25, 20, True)
    assert a.mask[removed].any()  # reset cleared the layers


def test_draft_restores_without_replaying_and_keeps_edit_layers():
    a = annotation()
    for x in (10, 30, 50):
        a.click(x, 20, True)
    erased = a.mask.copy()
    erased[:, 28:32] = False
    a.edit(erased)
    draft = a.draft()
    session = CountingSession(np.full((60, 80, 3), 120, np.uint8), radius=5)
    b = Annotation(session, (60, 80))
    b.restore_draft(draft)
    assert session.clicks_run == 0 and np.array_equal(b.mask, erased) and b.clicks == a.clicks
    b.click(30, 25, True)  # beside the erased band, its disk over it: stays erased
    assert not b.mask[20, 29]


def test_history_is_bounded():
    from defectlab.app import annotation as module

    a = annotation()
    for i in range(module.MAX_HISTORY + 20):
        a.click(i % 80, 5, True)
    assert len(a._history) == module.MAX_HISTORY


def test_draft_writer_coalesces_a_burst_and_writes_without_shutdown():
    from defectlab.app.drafts import DraftWriter

    written = []
    writer = DraftWriter(lambda key, ann: written.append((key, ann)), interval=0.2)
    try:
        for version in range(5):
            writer.schedule("img", version)
        deadline = time.monotonic() + 5
        while not written and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert written == [("img", 4)]  # one write, of the newest state
    finally:
        writer.close()


def test_draft_writer_survives_a_failing_write():
    from defectlab.app.drafts import DraftWriter

    calls = []

    def write(key, ann):
        calls.append(key)
        if key == "bad":
            raise OSError("disk full")

    writer = DraftWriter(write, interval=0.01)
    with pytest.warns(UserWarning, match="disk full"):
        writer.schedule("bad", 1)
        writer.close()
    writer = DraftWriter(write, interval=0.01)
    writer.schedule("good", 1)
    writer.close()
    assert calls == ["bad", "good"]
