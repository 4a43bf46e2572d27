import numpy as np
import pytest

from defectlab.segment.base import Segmentation, adjacency, coverage, edges_touched, is_background, relabel


def test_background_is_what_touches_two_edges():
    m = np.zeros((40, 40), bool)
    m[10:30, :5] = True  # a part cut by the left edge of the frame
    assert edges_touched(m) == 1 and not is_background(m)
    m[:5, :] = True  # and the top edge: the surface it lies on
    assert is_background(m)
    corner = np.zeros((40, 40), bool)
    corner[0, 0] = True  # grazing two edges by a pixel is not touching them
    assert not is_background(corner)


def test_from_masks_paints_large_first_so_small_parts_stay_visible():
    big = np.zeros((20, 20), bool)
    big[2:18, 2:18] = True
    small = np.zeros((20, 20), bool)
    small[8:12, 8:12] = True
    seg = Segmentation.from_masks([small, big], (20, 20))
    assert seg.n_segments == 2
    assert seg.labels[10, 10] != seg.labels[3, 3] and seg.labels[0, 0] == 0


def test_relabel_is_consecutive_in_raster_order():
    labels = np.array([[0, 7, 7], [3, 3, 0]])
    assert relabel(labels).tolist() == [[0, 1, 1], [2, 2, 0]]


def test_coverage_is_area_weighted_and_sums_to_one():
    labels = np.zeros((8, 8), np.int32)
    labels[:2, :2] = 1  # a part smaller than a 4x4 patch still gets its share
    cov = coverage(labels, 1, (2, 2))
    assert cov.shape == (2, 4)
    np.testing.assert_allclose(cov.sum(0), 1.0)
    assert cov[1, 0] == pytest.approx(0.25)


def test_adjacency_and_label_map_checks():
    labels = np.array([[1, 1, 2], [0, 0, 2]])
    assert adjacency(labels) == {(1, 2), (0, 1), (0, 2)}
    with pytest.raises(ValueError, match="labels must be"):
        Segmentation(np.zeros((2, 2, 2)))
