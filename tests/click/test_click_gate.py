"""The residual gate: the head may only switch on what looks unlike the normal images, or what a positive click covers."""

import numpy as np

from defectlab.click import Click
from defectlab.click.gate import residual_gate
from defectlab.click.obey import OFF


def test_the_gate_keeps_what_differs_from_the_normals_and_the_clicked_disk():
    logits = np.full((64, 96), 5.0, np.float32)  # a head that paints everything after one click
    dist = np.full((8, 12), 0.3, np.float32)  # residual distances, in units of the normal scale
    dist[2:4, 6:8] = 2.5  # one cell block that no normal patch resembles
    clicks = [Click(10, 40, True)]  # image pixels at twice the model resolution
    out = residual_gate(logits, dist, clicks, scale=(0.5, 0.5), radius=3, level=0.0)
    on = out > 0
    assert on[24, 56]  # inside the anomalous block
    assert on[20, 5]  # the positive click's disk (x 10 -> 5, y 40 -> 20), though it looks normal
    assert not on[50, 80] and out[50, 80] == -OFF  # normal-looking and unclicked: off
    assert on.mean() < 0.1


def test_without_a_positive_click_only_the_residual_decides_and_below_level_logits_stay():
    logits = np.linspace(-10, 10, 64 * 64, dtype=np.float32).reshape(64, 64)
    dist = np.zeros((8, 8), np.float32)
    out = residual_gate(logits, dist, [Click(5, 5, False)], scale=(1.0, 1.0), radius=3, level=0.0)
    assert (out <= -OFF).all()
    assert np.array_equal(out[logits < -OFF], logits[logits < -OFF])
