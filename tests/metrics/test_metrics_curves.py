"""The shared threshold sweep and partial-area integration."""

import numpy as np
import pytest

from defectlab.metrics._area import normalized_area_up_to
from defectlab.metrics._sweep import cumulative_at_thresholds


def test_sweep_totals_at_each_distinct_score():
    scores = np.array([0.2, 0.9, 0.5, 0.5, 0.2])
    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    thresholds, (totals, counts) = cumulative_at_thresholds(scores, weights, np.ones(5, bool))
    np.testing.assert_array_equal(thresholds, [0.9, 0.5, 0.2])
    np.testing.assert_allclose(totals, [2, 9, 15])
    np.testing.assert_array_equal(counts, [1, 3, 5])


def test_area_on_a_point_of_the_curve_needs_no_interpolation():
    x = np.array([0.0, 0.5, 1.0])
    y = np.array([0.0, 1.0, 1.0])
    assert normalized_area_up_to(x, y, 0.5) == pytest.approx(0.5)
    assert normalized_area_up_to(x, y, 1.0) == pytest.approx(0.75)


def test_area_interpolates_at_the_limit_and_handles_vertical_steps():
    x = np.array([0.0, 0.0, 0.2, 0.2, 1.0])
    y = np.array([0.0, 0.4, 0.4, 0.8, 1.0])
    # 0.2 * 0.4, then 0.8 -> 0.85 over [0.2, 0.4]: 0.2 * 0.825.
    assert normalized_area_up_to(x, y, 0.4) == pytest.approx((0.08 + 0.165) / 0.4)


def test_area_rejects_limits_off_the_curve():
    with pytest.raises(ValueError, match="ends"):
        normalized_area_up_to(np.array([0.0, 0.5]), np.array([0.0, 1.0]), 0.8)
