import numpy as np
import pytest
from click_testutil import one_thread  # noqa: F401 (a fixture)

from defectlab.click.clicks import Click, click_maps, farthest_from_boundary, next_click, random_click_inside

pytestmark = pytest.mark.usefixtures("one_thread")


def test_click_maps_draws_disks_at_model_scale():
    maps = click_maps([Click(10, 20, True), Click(50, 5, False)], (40, 60), radius=3, scale=(0.5, 0.5))
    assert maps.shape == (2, 40, 60) and maps.dtype == np.float32
    # image (10, 20) -> model (5.25, 10.25) -> pixel (5, 10)
    assert maps[0, 10, 5] == 1 and maps[0, 10, 9] == 0 and maps[0, 10, 8] == 1
    assert maps[1, 2, 25] == 1 and maps[0, 2, 25] == 0
    assert maps[0].sum() == pytest.approx(29, abs=4)  # a radius-3 disk


def test_click_maps_clip_clicks_at_the_border():
    maps = click_maps([Click(99, 99, True)], (10, 10), radius=2)
    assert maps[0, 9, 9] == 1


def test_first_click_is_the_centre_of_the_largest_defect():
    gt = np.zeros((50, 50), bool)
    gt[5:10, 5:10] = True  # small
    gt[20:41, 10:31] = True  # large, centre (30, 20)
    click = next_click(gt, np.zeros_like(gt))
    assert click == Click(20.0, 30.0, True)


def test_next_click_is_negative_in_the_largest_false_positive():
    gt = np.zeros((60, 60), bool)
    gt[10:20, 10:20] = True
    pred = gt.copy()
    pred[30:50, 30:50] = True  # a large false alarm
    pred[10:12, 10:20] = False  # a thin miss
    click = next_click(gt, pred)
    assert not click.positive and 30 <= click.x < 50 and 30 <= click.y < 50


def test_next_click_none_when_perfect_and_respects_valid():
    gt = np.zeros((20, 20), bool)
    gt[5:10, 5:10] = True
    assert next_click(gt, gt.copy()) is None
    valid = np.zeros_like(gt)
    assert next_click(gt, np.zeros_like(gt), valid) is None


def test_image_border_counts_as_boundary():
    region = np.zeros((20, 40), bool)
    region[:, :20] = True  # touches the left border
    y, x = farthest_from_boundary(region)
    assert 8 <= x <= 11 and 8 <= y <= 11


def test_random_click_inside_stays_in_the_interior():
    region = np.zeros((40, 40), bool)
    region[10:30, 10:30] = True
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = random_click_inside(region, rng, True, interior=0.5)
        assert 14 <= c.x <= 25 and 14 <= c.y <= 25
    assert random_click_inside(np.zeros_like(region), rng, True) is None
