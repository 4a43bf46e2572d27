"""Area under a curve up to an FPR limit, the way MVTec's code measures it.

AUPRO and AUsPRO only integrate the low-FPR part of the curve, because a
detector that flags 30% of a good part's surface is useless in practice.
The limit rarely falls on a curve point, so the last segment is cut at the
limit by linear interpolation (the official `trapezoid(x, y, x_max)`).
"""

from __future__ import annotations

import numpy as np


def normalized_area_up_to(x: np.ndarray, y: np.ndarray, x_max: float) -> float:
    """Trapezoid area under y(x) over [x[0], x_max], divided by x_max.

    Dividing by the limit maps the result to [0, 1] when y is, so a perfect
    detector scores 1 whatever the limit.

    Args:
        x: ascending (ties allowed: a vertical step has zero width); must
            start at or below x_max and, if x_max is not a point, extend past it.
        y: curve values aligned with x.
        x_max: the integration limit.
    """
    # Points up to the limit: x[:inside] <= x_max.
    inside = int(np.searchsorted(x, x_max, side="right"))
    if inside == 0:
        raise ValueError(f"the curve starts at x={x[0]}, after the limit {x_max}")
    area = float(np.trapezoid(y[:inside], x[:inside]))

    last_x, last_y = x[inside - 1], y[inside - 1]
    if last_x < x_max:
        if inside == len(x):
            raise ValueError(f"the curve ends at x={last_x}, before the limit {x_max}")
        # Close the gap with the segment towards the first point past the limit.
        next_x, next_y = x[inside], y[inside]
        y_at_limit = last_y + (next_y - last_y) * (x_max - last_x) / (next_x - last_x)
        area += 0.5 * (last_y + y_at_limit) * (x_max - last_x)
    return float(area / x_max)
