"""The SAM baseline through transformers, with a tiny random SAM saved as a user would save a real one."""

import numpy as np
import pytest
from click_testutil import one_thread  # noqa: F401 (a fixture)

from defectlab.click.clicks import Click
from defectlab.evaluation.click_baselines import SAM, ImageContext
from defectlab.evaluation.interactive import build_methods, simulate

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_sam_dir(tmp_path_factory):
    from transformers import (
        SamConfig,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    try:
        from transformers import SamImageProcessorPil as ImageProcessor  # without torchvision
    except ImportError:  # older transformers
        from transformers import SamImageProcessor as ImageProcessor

    vision = SamVisionConfig(
        hidden_size=16, output_channels=16, num_hidden_layers=1, num_attention_heads=2, image_size=64,
        patch_size=16, window_size=2, global_attn_indexes=[0], mlp_dim=32, num_pos_feats=8,
    )  # fmt: skip
    prompt = SamPromptEncoderConfig(hidden_size=16, image_size=64, patch_size=16, mask_input_channels=4)
    decoder = SamMaskDecoderConfig(hidden_size=16, mlp_dim=32, num_hidden_layers=1, num_attention_heads=2, iou_head_hidden_dim=16)
    config = SamConfig(vision_config=vision.to_dict(), prompt_encoder_config=prompt.to_dict(), mask_decoder_config=decoder.to_dict())
    processor = SamProcessor(
        image_processor=ImageProcessor(
            size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
            mask_size={"longest_edge": 16}, mask_pad_size={"height": 16, "width": 16},
        )
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny-sam")
    SamModel(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_sam_baseline_runs_the_protocol(tiny_sam_dir):
    sam = SAM(tiny_sam_dir)
    image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    sam.start(ImageContext(image=image))
    mask, soft = sam.predict([Click(10, 10, True)])
    assert mask.shape == (50, 70) and soft.shape == (50, 70) and soft.dtype == np.float32
    assert sam.prev_low is not None  # fed back as the next click's mask input
    gt = np.zeros((50, 70), bool)
    gt[10:30, 20:40] = True
    record = simulate(sam, gt, max_clicks=5)
    assert len(record.ious) == 5


def test_sam_is_skipped_with_a_message_when_weights_are_absent(tmp_path):
    messages = []
    methods = build_methods(["sam"], sam_model=str(tmp_path / "no-sam-here"), log=messages.append)
    assert methods == [] and "SAM: skipped" in messages[0]
    methods = build_methods(["sam"], sam_model=None, log=messages.append)
    assert methods == [] and "no --sam-model" in messages[1]
