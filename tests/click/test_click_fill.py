import numpy as np
import pytest

from defectlab.click import Click
from defectlab.click.fill import Fill


def _blobs(shape, centres, radius, inside=4.0, outside=-4.0):
    """Head logits that paint only a small disk around each centre (what the head does on faint defects)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    hit = np.zeros(shape, bool)
    for cx, cy in centres:
        hit |= (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
    return np.where(hit, inside, outside).astype(np.float32)


def test_fills_between_positive_clicks_when_the_image_shows_no_boundary():
    grey = np.full((96, 96), 0.5) + np.random.default_rng(0).normal(0, 0.01, (96, 96))  # flat: a faint defect
    clicks = [Click(38, 48, True), Click(58, 48, True)]
    logits = _blobs(grey.shape, [(38, 48), (58, 48)], 5)
    out = Fill(grey)(logits, clicks, (1.0, 1.0), radius=5)
    assert out.shape == logits.shape and out.dtype == np.float32
    assert out[48, 48] > 0 > logits[48, 48]  # the gap between the clicks is filled
    assert (out > 0).sum() > 2 * (logits > 0).sum()
    assert out[5, 5] < 0 and out[90, 90] < 0  # the border away from the clicks stays background


def test_stops_at_a_strong_edge():
    grey = np.full((96, 96), 0.8)
    grey[35:55, 35:55] = 0.2  # a clearly visible square defect
    logits = _blobs(grey.shape, [(45, 45)], 5)
    out = Fill(grey)(logits, [Click(45, 45, True)], (1.0, 1.0), radius=5)
    inside = out[36:54, 36:54] > 0
    outside = np.ones(grey.shape, bool)
    outside[32:58, 32:58] = False
    assert inside.mean() > 0.9
    assert (out[outside] > 0).mean() < 0.01


def test_negative_clicks_and_image_scale():
    grey = np.full((60, 120), 0.5)
    logits = _blobs(grey.shape, [(30, 30)], 4)
    p = Fill(grey)
    assert np.array_equal(p(logits, [Click(10, 10, False)], (0.5, 0.5), 5), logits)  # no positive click: unchanged
    # clicks in image pixels at twice the model resolution; the negative one holds the right half back
    out = p(logits, [Click(60, 60, True), Click(180, 60, False)], (0.5, 0.5), 5)
    assert out[30, 30] > 0 and out[30, 90] < 0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="strength"):
        Fill(np.zeros((8, 8)), strength=0)
    with pytest.raises(ValueError, match="sure"):
        Fill(np.zeros((8, 8)), sure=-1)
    with pytest.raises(ValueError, match="min_radius"):
        Fill(np.zeros((8, 8)), min_radius=-1)


def test_leaves_a_thin_rim_around_the_heads_mask_to_the_head():
    # A visible square defect that the head outlines one pixel short, hesitating
    # (logit -1) on that rim: the walk, stopped by the square's edge, would push
    # just the rim over the threshold. An addition that thin is below what its
    # grid resolves, so it is left out (min_radius = 0 shows what it would add).
    grey = np.full((96, 96), 0.8)
    grey[35:55, 35:55] = 0.2
    logits = np.full(grey.shape, -4.0, np.float32)
    logits[35:55, 35:55] = -1.0
    logits[36:54, 36:54] = 4.0
    rim = (logits == -1.0)
    clicks = [Click(45, 45, True)]
    grown = Fill(grey, min_radius=0)(logits, clicks, (1.0, 1.0), radius=5)
    kept = Fill(grey)(logits, clicks, (1.0, 1.0), radius=5)
    assert (grown[rim] > 0).mean() > 0.9
    assert not (kept[rim] > 0).any() and np.array_equal(kept > 0, logits > 0)


def test_never_fills_what_the_head_is_sure_is_background():
    grey = np.full((96, 96), 0.5)  # flat: nothing in the image stops the walk
    clicks = [Click(38, 48, True), Click(58, 48, True)]
    unsure = _blobs(grey.shape, [(38, 48), (58, 48)], 5, outside=-4.0)
    sure = _blobs(grey.shape, [(38, 48), (58, 48)], 5, outside=-20.0)
    fill = Fill(grey)
    assert fill(unsure, clicks, (1.0, 1.0), 5)[48, 48] > 0
    out = fill(sure, clicks, (1.0, 1.0), 5)
    assert (out >= sure).all()  # it only ever grows the head's mask
    assert np.array_equal(out > 0, sure > 0)



def test_a_colour_edge_is_an_edge_for_the_walk():
    from defectlab.click.fill import _laplacian

    # red and green of equal brightness: no edge in grey, one in colour
    image = np.zeros((8, 8, 3))
    image[..., 0] = 0.5
    image[:, 4:] = (0.0, 0.5, 0.0)
    colour = _laplacian(image, 130.0)
    grey = _laplacian(image.mean(axis=2, keepdims=True), 130.0)
    left, across = (2 * 8 + 2, 2 * 8 + 3), (2 * 8 + 3, 2 * 8 + 4)  # neighbours in row 2
    assert -colour[across] < 1e-3 and -colour[left] > 0.99
    assert -grey[across] > 0.99
    # a grey image given as three equal channels fills exactly as its one channel
    flat = np.random.default_rng(1).uniform(0.4, 0.6, (96, 96))
    clicks = [Click(38, 48, True), Click(58, 48, True)]
    logits = _blobs(flat.shape, [(38, 48), (58, 48)], 5)
    one = Fill(flat)(logits, clicks, (1.0, 1.0), 5)
    three = Fill(np.repeat(flat[..., None], 3, axis=2))(logits, clicks, (1.0, 1.0), 5)
    assert np.allclose(one, three, atol=1e-4)
