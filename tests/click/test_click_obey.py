"""Clicks are obeyed and edits survive (issue #14), on generated maps and on real photos of the shared products."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click_testutil import one_thread, texture, tiny_checkpoint, with_blob  # noqa: F401 (one_thread: a fixture)

from defectlab.click import Click, ClickModel, ClickSession, next_click
from defectlab.click.obey import FORCE, force_click_disks, split_between_clicks
from defectlab.click.products import product_split, shared_products
from defectlab.data import load_gt_mask, sample_support

pytestmark = pytest.mark.usefixtures("one_thread")

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def test_click_disks_carry_their_label_and_the_last_click_wins():
    logits = np.zeros((40, 60), np.float32)
    clicks = [Click(10, 10, True), Click(30, 20, False), Click(12, 10, False)]
    out = force_click_disks(logits, clicks, (1.0, 1.0), radius=3, level=0.0)
    assert out[20, 30] <= -FORCE and out[10, 12] <= -FORCE  # the later negative click overrides the positive one
    assert out[10, 7] >= FORCE and out[0, 0] == 0.0
    assert force_click_disks(logits, [], (1.0, 1.0), 3, 0.0) is logits


def test_a_negative_click_in_a_confirmed_region_takes_away_the_part_that_looks_like_it():
    h, w = 48, 96
    logits = np.full((h, w), -5.0, np.float32)
    logits[8:40, 8:88] = 5.0  # one predicted region over two different-looking halves
    rgb = np.zeros((h, w, 3), np.float32)
    rgb[:, :48] = (0.9, 0.2, 0.2)
    rgb[:, 48:] = (0.2, 0.2, 0.9)
    key = np.zeros((4, h // 8, w // 8), np.float32)
    key[0, :, :6] = 1.0
    key[1, :, 6:] = 1.0
    clicks = [Click(20, 24, True), Click(75, 24, False)]
    out = split_between_clicks(logits, clicks, (1.0, 1.0), 3, 0.0, key, rgb)
    assert (out[10:38, 10:44] > 0).all()  # the positive click's half stays
    assert (out[10:38, 52:86] < 0).all()  # the whole other half goes, not a hole around the click
    # a region only one kind of click touches is not split
    assert np.array_equal(split_between_clicks(logits, clicks[:1], (1.0, 1.0), 3, 0.0, key, rgb), logits)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return ClickModel(tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.safetensors"))


def test_painted_and_erased_pixels_survive_later_clicks_until_clicked(tiny_model):
    rng = np.random.default_rng(1)
    reference = tiny_model.reference([texture(rng) for _ in range(3)])
    image, _ = with_blob(texture(np.random.default_rng(5), 80, 112), (50, 40), 9)
    s = ClickSession(image, reference, model=tiny_model)
    s.add_click(50, 40, True)
    edited = s.mask
    edited[60:70, 5:40] = True  # a brush stroke
    edited[35:45, 45:55] = False  # an eraser stroke through the clicked blob
    s.set_mask(edited)
    s.add_click(100, 10, False)
    s.add_click(52, 47, True)  # beside the erased patch, its disk reaching into it
    m = s.mask
    assert m[60:70, 5:40].all() and not m[35:45, 45:55].any()
    assert (s.probability[60:70, 5:40] == 1).all() and (s.probability[35:45, 45:55] == 0).all()
    s.add_click(50, 40, True)  # on the erased stroke: it goes back to the model, and the click is obeyed
    assert s.mask[40, 50] and s.mask[60:70, 5:40].all()
    s.add_click(20, 65, False)  # on the painted stroke: released too
    assert not s.mask[65, 20]
    assert s.undo() and s.mask[65, 20]  # the layers are part of the undo history


def _shared_cases():
    if not SHARED.is_dir():
        pytest.fail(f"the shared data is expected at {SHARED} (CI has it)")
    out = []
    for name in ("metal_plate", "battery_weld"):
        (p,) = shared_products(SHARED, [name])
        ds = p.load()
        out.append((name, ds, product_split(ds)[1][:2]))
    return out


def test_every_click_is_obeyed_on_real_images():
    """After every simulated click the clicked pixel carries the click's label and the mask changed there."""
    model = ClickModel(None)  # the shipped head
    settings = replace(model.config.features, image_size=128, max_side=192)
    for name, ds, samples in _shared_cases():
        normals = sample_support(ds.train_normals(), 4, seed=0)
        from defectlab.click import NormalReference

        reference = NormalReference(normals, settings, progress=False)
        for s in samples:
            gt = load_gt_mask(s)
            session = ClickSession(s.image_path, reference, model=model)
            mask = session.mask
            for k in range(6):
                click = next_click(gt, mask)
                if click is None:
                    break
                x, y = int(click.x), int(click.y)
                assert mask[y, x] != click.positive  # the protocol clicks where the mask is wrong
                new = session.add_click(click.x, click.y, click.positive)
                prob = session.probability
                where = f"{name} {s.image_path.name} click {k + 1} {click}"
                assert new[y, x] == click.positive, where
                assert (prob[y, x] > 0.5) == click.positive, where
                assert not np.array_equal(new, mask), where
                mask = new


def test_a_click_disk_is_measured_in_image_pixels_not_model_pixels(tiny_model):
    """On a photo the model sees at 0.4x, the default 5 px disk stays 5 image px (the baselines' disk), not 12.5."""
    rng = np.random.default_rng(2)
    reference = tiny_model.reference([texture(rng, 160, 320) for _ in range(3)])
    image = texture(np.random.default_rng(7), 160, 320)
    kw = dict(model=tiny_model, fill=False, drop_rejected=False)
    head = ClickSession(image, reference, obey=False, **kw)
    small = ClickSession(image, reference, **kw)  # disk = 5 image px, the default
    large = ClickSession(image, reference, disk=None, **kw)  # 5 px at model resolution
    assert small.features.size[1] / image.shape[1] == pytest.approx(0.4, abs=0.02)
    for s in (head, small, large):
        s.add_click(160, 80, True)
    yy, xx = np.mgrid[:160, :320]
    d = np.hypot(xx - 160, yy - 80)
    inside = d <= 3
    for s in (small, large):
        assert s.mask[inside].all() and (s.probability[inside] > 0.99).all()
    # beyond the small disk (and the one model pixel that upsampling blurs it by): the head's answer
    beyond = (d >= 9) & (d <= 11)
    assert np.array_equal(small.probability[beyond], head.probability[beyond])
    assert (large.probability[(d >= 7) & (d <= 9)] > 0.99).all()


@pytest.mark.parametrize("disk", [0, -2.0, float("nan")])
def test_a_disk_that_is_no_radius_is_refused(tiny_model, disk):
    reference = tiny_model.reference([texture(np.random.default_rng(3)) for _ in range(2)])
    with pytest.raises(ValueError, match="disk"):
        ClickSession(texture(np.random.default_rng(4)), reference, model=tiny_model, disk=disk)


def test_grabcut_carves_the_heads_blob_to_the_pixels_that_look_like_the_click():
    from defectlab.click.colour import grabcut_refine

    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(170, 6, (80, 120, 3)), 0, 255).astype(np.uint8)
    image[38:42, 20:100] = 40  # a thin dark crack
    logits = np.full((80, 120), -6.0, np.float32)
    yy, xx = np.mgrid[:80, :120]
    logits[(yy - 40) ** 2 + (xx - 50) ** 2 <= 15**2] = 4.0  # the head's round blob at the click
    out = grabcut_refine(logits, [Click(50, 40, True)], (1.0, 1.0), 2, 0.0, image)
    crack = np.zeros((80, 120), bool)
    crack[38:42, 20:100] = True
    mask = out > 0
    assert mask[38:42, 36:65].all()  # the crack under the blob stays
    assert mask[39:41, 66:78].all()  # and grows along the crack within the window beyond the blob
    assert mask[~crack].sum() < 20  # the blob's surface is carved away
    assert np.array_equal(grabcut_refine(logits, [Click(50, 40, True)], (1.0, 1.0), 2, 0.0, image, keep_head=True), out)
    assert np.array_equal(grabcut_refine(logits, [Click(5, 5, False)], (1.0, 1.0), 2, 0.0, image), logits)


def test_grabcut_cuts_a_large_window_on_a_downscaled_copy_and_keeps_the_answer():
    from defectlab.click.colour import MAX_SIDE, grabcut_refine

    rng = np.random.default_rng(1)
    image = np.clip(rng.normal(170, 6, (400, 400, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:400, :400]
    dark = (yy - 200) ** 2 + (xx - 200) ** 2 <= 100**2
    image[dark] = 50
    logits = np.where((yy - 200) ** 2 + (xx - 200) ** 2 <= 140**2, 4.0, -6.0).astype(np.float32)  # overpainted by 40 px
    assert 2 * 140 > MAX_SIDE  # the window is cut on a downscaled copy
    mask = grabcut_refine(logits, [Click(200, 200, True)], (1.0, 1.0), 5, 0.0, image) > 0
    assert (mask & dark).sum() / (mask | dark).sum() > 0.95


def test_grabcut_keeps_a_defect_that_runs_off_the_image_edge():
    from defectlab.click.colour import grabcut_refine

    # The window's frame is sure background only where a ring beyond the mask exists: a side clipped by the image
    # border stays probable, so a defect cut by the border keeps its pixels there.
    rng = np.random.default_rng(2)
    image = np.clip(rng.normal(170, 6, (200, 200, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:200, :200]
    dark = (yy - 100) ** 2 + xx**2 <= 60**2  # a half disk on the left edge
    image[dark] = 50
    logits = np.where(dark & (xx >= 8), 4.0, -6.0).astype(np.float32)  # the head missed the strip at the border
    mask = grabcut_refine(logits, [Click(20, 100, True)], (1.0, 1.0), 5, 0.0, image) > 0
    assert mask[:, 0][dark[:, 0]].mean() > 0.9  # (a frame there too would leave only the click disk)
    assert (mask & dark).sum() / (mask | dark).sum() > 0.9


def test_grabcut_can_fall_back_to_the_head_when_it_keeps_nothing_but_the_clicks():
    from defectlab.click.colour import grabcut_refine

    rng = np.random.default_rng(3)
    image = np.clip(rng.normal(170, 6, (80, 120, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:80, :120]
    image[(yy - 40) ** 2 + (xx - 50) ** 2 <= 2**2] = 40  # only the clicked spot looks different
    logits = np.where((yy - 40) ** 2 + (xx - 50) ** 2 <= 15**2, 4.0, -6.0).astype(np.float32)
    clicks = [Click(50, 40, True)]
    cut = grabcut_refine(logits, clicks, (1.0, 1.0), 2, 0.0, image) > 0
    assert cut.sum() < 40  # GrabCut alone keeps little more than the click's disk
    assert grabcut_refine(logits, clicks, (1.0, 1.0), 2, 0.0, image, keep_head=True) is logits
