"""Group fusion: each group self-normalised by its largest leave-one-out group score, then combined."""

import pytest

from defectlab.detect import fusion
from defectlab.errors import ConfigError

KINDS = {"patch": "structural", "class-patch": "structural", "class-histogram": "logical"}


def test_group_weights_are_the_largest_leave_one_out_group_sums_floored():
    loo = {"patch": [0.5, 1.0, 0.2], "class-patch": [1.0, 0.1, 0.3], "class-histogram": [0.0, 0.0, 0.0]}
    w = fusion.group_weights(loo, KINDS)
    assert w["structural"] == pytest.approx(1.5)  # shot 0: 0.5 + 1.0
    assert w["logical"] == pytest.approx(fusion.FLOOR)  # shots agree perfectly: the floor, not zero


def test_one_shot_weights_are_the_group_sizes():
    assert fusion.group_weights({}, KINDS) == {"structural": 2.0, "logical": 1.0}


def test_combine_modes():
    g = {"structural": 3.0, "logical": 4.0}
    assert fusion.combine(g, "group-max") == 4.0
    assert fusion.combine(g, "group-sum") == 7.0
    assert fusion.combine(g, "group-l2") == pytest.approx(5.0)
    with pytest.raises(ConfigError, match="fusion"):
        fusion.combine(g, "mean")
    assert fusion.group_raw({"patch": 1.0, "class-patch": 2.0, "class-histogram": 0.5}, KINDS) == {
        "structural": 3.0, "logical": 0.5}
    assert fusion.DEFAULT_MODE in fusion.MODES
