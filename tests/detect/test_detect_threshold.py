"""The default threshold: a prediction bound on the normal images' leave-one-out scores for a false-alarm rate."""

import numpy as np
import pytest
from scipy import stats

from defectlab.detect.threshold import false_alarm_threshold
from defectlab.errors import ConfigError


def test_bound_on_log_scores():
    scores = [0.10, 0.12, 0.11, 0.15]
    logs = np.log(scores)
    expected = np.exp(logs.mean() + stats.t.ppf(0.95, 3) * logs.std(ddof=1) * np.sqrt(1 + 1 / 4))
    assert false_alarm_threshold(scores, 0.05) == pytest.approx(expected)
    assert false_alarm_threshold(scores, 0.01) > false_alarm_threshold(scores, 0.05) > max(scores)


def test_fewer_shots_need_a_wider_margin():
    spread = [0.9, 1.1]
    two, sixteen = false_alarm_threshold(spread), false_alarm_threshold(spread * 8)
    assert two > sixteen > 1.0


def test_one_score_gives_no_threshold_and_rates_are_checked():
    assert false_alarm_threshold([0.2]) is None and false_alarm_threshold([]) is None
    with pytest.raises(ConfigError, match="false-alarm rate"):
        false_alarm_threshold([0.1, 0.2], 0.0)
