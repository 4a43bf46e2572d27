"""SAM through the exact loading path a user takes, with a tiny random checkpoint (no download)."""

import numpy as np
import pytest
import torch

from defectlab.backbones import ModelNotFoundError
from defectlab.errors import NotFittedError
from defectlab.segment import create_segmenter
from defectlab.segment.sam import SamPredictor, SamSegmenter, _point_grid, _stability

transformers = pytest.importorskip("transformers")


def save_tiny_sam(path):
    """A SAM with 2 tiny ViT blocks at 64 px, plus its processor, saved like a downloaded checkpoint."""
    vision = transformers.SamVisionConfig(
        hidden_size=16, output_channels=8, num_hidden_layers=2, num_attention_heads=2, image_size=64,
        patch_size=16, window_size=2, global_attn_indexes=[1], num_pos_feats=4, mlp_dim=32)
    prompt = transformers.SamPromptEncoderConfig(hidden_size=8, image_size=64, patch_size=16, mask_input_channels=4)
    decoder = transformers.SamMaskDecoderConfig(hidden_size=8, mlp_dim=16, num_hidden_layers=1, num_attention_heads=2,
                                                iou_head_hidden_dim=8)
    model = transformers.SamModel(transformers.SamConfig(vision_config=vision, prompt_encoder_config=prompt,
                                                         mask_decoder_config=decoder))
    model.save_pretrained(path)
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    processor = transformers.SamProcessor(image_processor=SamImageProcessorPil(
        size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
        mask_size={"longest_edge": 16}, mask_pad_size={"height": 16, "width": 16}))
    processor.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_sam(tmp_path_factory):
    return save_tiny_sam(tmp_path_factory.mktemp("sam"))


def test_loads_by_directory_and_returns_a_label_map(tiny_sam):
    # random weights predict nothing SAM would keep, so the filters are opened up
    seg = create_segmenter(str(tiny_sam), points_per_side=3, pred_iou_thresh=0, stability_score_thresh=0,
                           min_area=0)
    assert isinstance(seg, SamSegmenter)
    image = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    out = seg.segment(image)
    assert out.labels.shape == (48, 80) and out.source == "sam"
    assert out.info["proposals"] == 3 * 3 * 3  # three masks per prompt
    assert out.info["kept"] == out.n_segments <= out.info["passed"]


def test_default_filters_drop_random_masks_without_failing(tiny_sam):
    out = create_segmenter("sam", model=str(tiny_sam), points_per_side=2).segment(np.zeros((32, 32, 3), np.uint8))
    assert out.n_segments == 0


def test_missing_checkpoint_says_how_to_get_it_when_first_used(tmp_path):
    seg = create_segmenter("sam", model=str(tmp_path / "no-such-sam"))  # nothing loads yet
    with pytest.raises(ModelNotFoundError, match="hf download"):
        seg.segment(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ModelNotFoundError):
        SamPredictor(tmp_path / "no-such-sam").load()


def test_predictor_encodes_once_and_refines_a_mask_click_by_click(tiny_sam):
    predictor = SamPredictor(tiny_sam)
    with pytest.raises(NotFittedError, match="set_image"):
        predictor.predict([[10, 10]], [1])
    predictor.set_image(np.random.default_rng(1).integers(0, 255, (48, 80, 3), dtype=np.uint8))
    masks, scores, low = predictor.predict([[10, 10]], [1])  # one click: three candidates
    assert masks.shape == (3, 48, 80) and masks.dtype == bool and scores.shape == (3,) and low.shape == (3, 16, 16)
    best = int(scores.argmax())
    plain, _, _ = predictor.predict([[10, 10], [60, 30]], [1, 0], multimask=False, return_logits=True)
    refined, _, low2 = predictor.predict([[10, 10], [60, 30]], [1, 0], mask_input=low[best], multimask=False,
                                         return_logits=True)
    assert refined.shape == (1, 48, 80) and refined.dtype == np.float32 and low2.shape == (1, 16, 16)
    assert not np.array_equal(plain, refined)  # the previous mask is an input, not ignored
    # predict is predict_torch on one prompt, in pixels instead of the input frame
    points = predictor.to_input_frame(torch.tensor([[[10.0, 10.0]]], dtype=torch.float64))
    logits, iou, _ = predictor.predict_torch(points, torch.ones(1, 1, dtype=torch.long))
    np.testing.assert_array_equal(logits[0].numpy() > 0, masks)
    np.testing.assert_array_equal(iou[0].numpy(), scores)


def test_point_grid_and_stability():
    grid = _point_grid(2)
    assert grid.tolist() == [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    sharp = torch.full((1, 4, 4), -10.0)
    sharp[0, :2] = 10.0
    assert _stability(sharp, 1.0).item() == 1.0


def test_an_empty_mask_is_never_kept_even_with_min_area_zero(tiny_sam):
    # random weights can propose empty masks; kept, they made "kept" count parts the label map did not have
    seg = create_segmenter(str(tiny_sam), min_area=0)
    masks = torch.zeros(3, 16, 16, dtype=torch.bool)
    masks[2, 4:8, 4:8] = True
    kept = seg._filter(masks, torch.tensor([0.9, 0.8, 0.7]))
    assert len(kept) == 1 and kept[0].sum() == 16


def test_image_encoding_runs_through_onednn_and_equals_transformers(tiny_sam, tmp_path):
    from defectlab.backbones.onednn import OneDNNLinear

    # SAM's own initialisation leaves a random encoder's output near 1e-20; O(1) weights make the comparison mean something
    plain = transformers.SamModel.from_pretrained(str(tiny_sam)).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in plain.parameters():
            param.copy_(0.3 * torch.randn(param.shape, generator=generator))
    plain.save_pretrained(tmp_path)
    transformers.SamProcessor.from_pretrained(str(tiny_sam)).save_pretrained(tmp_path)
    predictor = SamPredictor(str(tmp_path), device="cpu").load()
    assert any(isinstance(m, OneDNNLinear) for m in predictor._sam.modules())
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ours = predictor._sam.vision_encoder(x).last_hidden_state
        theirs = plain.vision_encoder(x).last_hidden_state
    assert theirs.abs().max() > 0.1
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
