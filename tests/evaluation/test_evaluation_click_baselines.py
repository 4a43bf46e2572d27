import cv2
import numpy as np
import pytest
from click_testutil import one_thread, texture, with_blob  # noqa: F401 (one_thread: a fixture)

from defectlab.click.clicks import Click
from defectlab.evaluation.click_baselines import GrabCut, ImageContext, RandomWalker, ResidualMap
from defectlab.evaluation.interactive import simulate
from defectlab.metrics import iou

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def scene():
    """A dark disk on a bright, lightly textured surface, and a matching anomaly map."""
    image, mask = with_blob(np.full((80, 100, 3), 200, np.uint8), (60, 40), 12, value=40)
    rng = np.random.default_rng(0)
    image = np.clip(image.astype(int) + rng.integers(-5, 6, image.shape), 0, 255).astype(np.uint8)
    amap = np.where(mask, 3.0, 0.3).astype(np.float32) + rng.uniform(0, 0.1, mask.shape).astype(np.float32)
    return image, mask, ImageContext(image=image, _anomaly_map=amap)


@pytest.mark.parametrize("method", [GrabCut(), RandomWalker(), ResidualMap()], ids=lambda m: m.name)
def test_one_click_finds_the_disk(method, scene):
    image, gt, ctx = scene
    method.start(ctx)
    mask, soft = method.predict([Click(60, 40, True)])
    assert mask.shape == gt.shape and mask.dtype == bool
    assert soft.shape == gt.shape and soft.dtype == np.float32
    assert iou(mask, gt) > 0.7


@pytest.mark.parametrize("method", [GrabCut(), RandomWalker(), ResidualMap()], ids=lambda m: m.name)
def test_protocol_runs_every_baseline(method, scene):
    image, gt, ctx = scene
    method.start(ctx)
    record = simulate(method, gt, max_clicks=6)
    assert 5 <= len(record.ious) <= 6 and set(record.soft) == {3, 5}
    assert max(record.ious) > 0.7


def test_residual_negative_click_drops_a_false_component():
    amap = np.zeros((40, 80), np.float32)
    amap[10:30, 5:25] = 2.0
    amap[10:30, 50:70] = 2.0
    method = ResidualMap()
    method.start(ImageContext(image=np.zeros((40, 80, 3), np.uint8), _anomaly_map=amap))
    mask, _ = method.predict([Click(15, 20, True)])
    assert mask[20, 15] and not mask[20, 60]
    # A negative click in the clicked component separates by level where it can:
    amap[10:30, 15:25] = 1.2
    method.start(ImageContext(image=np.zeros((40, 80, 3), np.uint8), _anomaly_map=amap))
    mask, _ = method.predict([Click(8, 20, True), Click(20, 20, False)])
    assert mask[20, 8] and not mask[20, 20]


def test_residual_grows_from_a_click_below_the_threshold():
    amap = np.full((30, 30), 0.2, np.float32)
    amap[10:20, 10:20] = 0.6  # a faint defect, below the normal level 1.0
    method = ResidualMap()
    method.start(ImageContext(image=np.zeros((30, 30, 3), np.uint8), _anomaly_map=amap))
    mask, _ = method.predict([Click(15, 15, True)])
    assert mask.sum() == 100


def test_grabcut_with_only_negative_clicks_is_empty(scene):
    image, gt, ctx = scene
    g = GrabCut()
    g.start(ctx)
    mask, soft = g.predict([Click(5, 5, False)])
    assert not mask.any()


def test_simulate_stops_when_perfect():
    class Oracle:
        name = "oracle"

        def __init__(self, gt):
            self.gt = gt

        def predict(self, clicks):
            return self.gt.copy(), self.gt.astype(np.float32)

    gt = np.zeros((20, 20), bool)
    gt[5:10, 5:10] = True
    record = simulate(Oracle(gt), gt, max_clicks=20)
    assert record.ious == [1.0] * 5 and set(record.soft) == {3, 5}


def test_random_walker_sees_colour_edges_and_walks_grey_photos_as_grey():
    # red and green halves of equal luminance (cv2's grey: 60 both): one region in grey, two in colour
    image = np.zeros((80, 120, 3), np.uint8)
    image[..., 0] = 200
    image[:, 50:] = (0, 102, 0)
    image = np.clip(image.astype(int) + np.random.default_rng(0).integers(-3, 4, image.shape), 0, 255).astype(np.uint8)
    clicks = [Click(40, 40, True), Click(75, 40, False)]
    walker = RandomWalker()
    walker.start(ImageContext(image=image))
    assert walker.colour and walker.data.shape == (80, 120, 3)
    mask, _ = walker.predict(clicks)
    assert mask[40, 40] and not mask[:, 50:].any()  # stops at the colour edge
    grey = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)  # the same photo in grey
    walker.start(ImageContext(image=grey))
    assert not walker.colour and walker.data.shape == (80, 120)
    mask, _ = walker.predict(clicks)
    assert mask[40, 40] and mask[:, 50:].any()  # nothing there to stop it


def test_random_walker_follows_an_extra_channel_where_the_image_has_no_edge():
    image = np.clip(150 + np.random.default_rng(1).integers(-3, 4, (80, 120, 3)), 0, 255).astype(np.uint8)
    extra = np.zeros((80, 120), np.float32)
    extra[20:60, 30:70] = 1.0  # a model's probability: a square the photo does not show
    clicks = [Click(50, 40, True), Click(95, 40, False)]
    walker = RandomWalker()
    walker.start(ImageContext(image=image))
    mask, soft = walker.predict(clicks, extra=extra)
    assert mask.shape == (80, 120) and soft.dtype == np.float32
    inside = np.zeros_like(mask)
    inside[20:60, 30:70] = True
    assert mask[inside].mean() > 0.9 and mask[~inside].mean() < 0.05  # the walk stops at the channel's edges
