import numpy as np
import pytest
from click_testutil import one_thread, texture, tiny_checkpoint, with_blob  # noqa: F401 (one_thread: a fixture)
from PIL import Image

from defectlab.click import Click, ClickModel, ClickSession, FeatureSettings, NormalReference
from defectlab.click.session import drop_rejected_regions

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return ClickModel(tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.safetensors"))


@pytest.fixture(scope="module")
def reference(model):
    rng = np.random.default_rng(1)
    return model.reference([texture(rng) for _ in range(3)])


@pytest.fixture
def session(model, reference):
    image, _ = with_blob(texture(np.random.default_rng(5), 80, 112), (50, 40), 9)
    return ClickSession(image, reference, prompt="blob", model=model)


def test_session_shapes_and_anomaly_map(session):
    assert session.shape == (80, 112)
    assert session.mask.shape == (80, 112) and session.mask.dtype == bool and not session.mask.any()
    assert session.probability.dtype == np.float32
    amap = session.anomaly_map
    assert amap.shape == (80, 112) and amap.dtype == np.float32
    assert amap[40, 50] > np.median(amap)
    assert session.precompute_seconds > 0


def test_add_click_undo_redo_reset(session):
    m1 = session.add_click(50, 40, positive=True)
    assert m1.shape == (80, 112) and session.clicks == [Click(50.0, 40.0, True)]
    p1 = session.probability
    assert 0 <= p1.min() and p1.max() <= 1
    session.add_click(5, 5, positive=False)
    assert len(session.clicks) == 2
    assert session.undo() and session.clicks == [Click(50.0, 40.0, True)]
    assert np.array_equal(session.probability, p1)
    assert session.redo() and len(session.clicks) == 2
    assert not session.redo()
    session.reset()
    assert session.clicks == [] and not session.mask.any()
    assert session.undo() and len(session.clicks) == 2  # reset is undoable
    assert session.undo() and session.undo() and not session.undo()
    session.add_click(1, 1, True)
    assert not session.can_redo  # a new step clears redo


def test_reset_after_painting_without_clicks(session):
    painted = np.zeros((80, 112), bool)
    painted[10:20, 10:30] = True
    session.set_mask(painted)  # no clicks, arrays in the state: reset once compared them with ==
    session.reset()
    assert not session.mask.any()
    session.reset()  # already empty: not a second step
    assert session.undo() and session.mask[15, 20]


def test_set_mask_becomes_the_previous_mask(session):
    session.add_click(50, 40, True)
    painted = np.zeros((80, 112), bool)
    painted[30:50, 40:60] = True
    session.set_mask(painted)
    assert np.array_equal(session.mask, painted)
    assert np.array_equal(session.probability, painted.astype(np.float32))
    prev = session._current_model_mask()
    assert prev.shape == session.features.size and prev.sum() > 0
    session.add_click(45, 35, True)
    assert len(session.clicks) == 2
    session.undo()
    assert np.array_equal(session.mask, painted)
    with pytest.raises(ValueError, match="does not match"):
        session.set_mask(np.zeros((10, 10), bool))


def test_mask_is_a_copy(session):
    session.add_click(50, 40, True)
    m = session.mask
    m[:] = ~m
    assert np.array_equal(session.mask, ~m)


def test_prompt_setter_reruns_the_head(session):
    import torch

    torch.nn.init.normal_(session.model.head.film[-1].weight, std=0.5)  # make prompts matter
    try:
        session.add_click(50, 40, True)
        before = session.probability
        session.prompt = "something else entirely"
        assert session.prompt == "something else entirely"
        assert not np.allclose(before, session.probability)
        assert len(session.clicks) == 1
        session.prompt = None
        assert session.prompt is None
    finally:
        torch.nn.init.zeros_(session.model.head.film[-1].weight)


def test_clicks_outside_the_image_are_refused(session):
    with pytest.raises(ValueError, match="outside the image"):
        session.add_click(112, 10, True)
    with pytest.raises(ValueError, match="outside the image"):
        session.add_click(-1, 10, True)


def test_session_accepts_paths_pil_and_image_lists(model, tmp_path):
    rng = np.random.default_rng(2)
    normals = [texture(rng) for _ in range(2)]
    path = tmp_path / "img.png"
    Image.fromarray(texture(rng)).save(path)
    s1 = ClickSession(path, normals, model=model)
    s2 = ClickSession(Image.open(path), s1.reference, model=model)
    assert s1.prompt is None and s1.reference is s2.reference
    s2.add_click(10, 10, True)
    assert s2.segment().shape == (96, 96)


def test_reference_with_other_settings_is_refused(model):
    other = NormalReference([texture(np.random.default_rng(0))], FeatureSettings(pool=1, image_size=96), progress=False)
    with pytest.raises(ValueError, match="NormalReference was built with"):
        ClickSession(texture(np.random.default_rng(0)), other, model=model)


def test_shipped_default_checkpoint_loads():
    from defectlab.click import DEFAULT_CHECKPOINT, load_checkpoint

    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped checkpoint in this checkout")
    head, config = load_checkpoint()
    assert config.text_encoder == "minilm" and config.head.text_dim == 384


def test_negative_click_drops_a_region_no_positive_click_touches():
    logits = np.full((40, 60), -5.0, np.float32)
    logits[5:15, 5:15] = 5.0  # the clicked defect
    logits[20:35, 30:55] = 5.0  # a wrong blob, its centre already carved out by the head
    logits[26:29, 41:44] = -5.0
    clicks = [Click(10, 10, True), Click(42, 27, False)]
    out = drop_rejected_regions(logits, clicks, (1.0, 1.0), 0.0, radius=3)
    assert (out[5:15, 5:15] > 0).all() and (out[20:35, 30:55] < 0).all()
    # a negative click on the region a positive click confirmed only marks its edge: left to the head
    clicks = [Click(10, 10, True), Click(14, 14, False)]
    assert np.array_equal(drop_rejected_regions(logits, clicks, (1.0, 1.0), 0.0, radius=3), logits)
    # image pixels are scaled to model resolution
    out = drop_rejected_regions(logits, [Click(84, 54, False)], (0.5, 0.5), 0.0, radius=3)
    assert (out[20:35, 30:55] < 0).all() and (out[5:15, 5:15] > 0).all()


def test_fill_only_grows_the_heads_mask_and_can_be_switched(model, reference):
    image, _ = with_blob(texture(np.random.default_rng(5), 80, 112), (50, 40), 9)
    # GrabCut off: it runs after fill and may carve what fill added
    plain = ClickSession(image, reference, model=model, fill=False, grabcut=False)
    session = ClickSession(image, reference, model=model, grabcut=False)
    for s in (plain, session):
        s.add_click(50, 40, True)
    assert session.fill and not plain.fill and session.mask.shape == (80, 112)
    filled = session.probability
    assert (filled >= plain.probability - 1e-6).all()  # same head inputs: fill adds, never removes
    session.fill = False  # switching recomputes the current mask
    assert not session.fill and np.array_equal(session.probability, plain.probability)
    session.fill = True
    assert np.array_equal(session.probability, filled)
    session.add_click(70, 40, True)  # from here on the filled mask is the head's previous-mask input
    assert session.undo() and len(session.clicks) == 1
    session.set_mask(np.zeros(session.shape, bool))
    session.fill = False  # a painted mask is the user's: a setting does not redraw it
    assert not session.mask.any()


def test_add_click_names_a_bad_argument(tmp_path):
    rng = np.random.default_rng(0)
    session = ClickSession(texture(rng), [texture(rng) for _ in range(2)],
                           model=ClickModel(tiny_checkpoint(tmp_path / "ck.safetensors")))
    with pytest.raises(ValueError, match="x must be a number, got '10'"):
        session.add_click("10", "10")
    with pytest.raises(ValueError, match="positive must be True or False"):
        session.add_click(10, 10, positive="yes")
    with pytest.raises(ValueError, match="outside the image"):
        session.add_click(1000, 10)


def test_the_residual_gate_keeps_the_mask_to_what_differs_from_the_normals(model, reference):
    image, _ = with_blob(texture(np.random.default_rng(5), 80, 112), (50, 40), 9)
    # GrabCut after the gate relabels a window from whatever mask it is given, so compare the gate alone.
    gated = ClickSession(image, reference, prompt="blob", model=model, gate=True, grabcut=False)
    plain = ClickSession(image, reference, prompt="blob", model=model, features=gated.features, grabcut=False)
    for s in (gated, plain):
        s.add_click(50, 40, positive=True)
        s.add_click(10, 10, positive=False)
    assert gated.mask[40, 50] and not gated.mask[10, 10]  # clicks still carry their labels
    assert (gated.mask <= plain.mask).all()  # the gate only takes away
