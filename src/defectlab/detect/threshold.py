"""The flagging threshold, from the normal images alone: a bound for a chosen false-alarm rate.

Each normal image's leave-one-out score (the image against the other normal
images) is a sample of what a normal image scores. Their logarithms are
taken as normally distributed (scores are positive and skewed to the right),
and the threshold is the upper one-sided prediction bound for one more
normal image at false-alarm rate ``rate``:

    exp(mean + t(1 - rate; n - 1) * sd * sqrt(1 + 1/n))

of the n log-scores. Student's t and the sqrt(1 + 1/n) term are the margin
that few shots call for: with 2 normal images the bound is far out, with 16
it is close to the plug-in quantile. Leave-one-out scores come from n - 1
references while new images meet all n, so real false alarms run at or below
``rate`` (bench/results/detect_threshold.md measures both shares on five products).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from ..errors import ConfigError

FALSE_ALARM_RATE = 0.05


def false_alarm_threshold(normal_scores: Sequence[float], rate: float = FALSE_ALARM_RATE) -> float | None:
    """The score above which an image is flagged; ``None`` with fewer than two normal scores."""
    if not 0 < rate < 1:
        raise ConfigError(f"false-alarm rate must be in (0, 1), got {rate}")
    n = len(normal_scores)
    if n < 2:
        return None
    logs = np.log(np.maximum(np.asarray(normal_scores, np.float64), 1e-12))
    margin = stats.t.ppf(1 - rate, n - 1) * logs.std(ddof=1) * np.sqrt(1 + 1 / n)
    return float(np.exp(logs.mean() + margin))
