"""The propagator extension point, with SAM 2 video (tiny random weights, no torchvision, no download)."""

import numpy as np
import pytest

from defectlab.segment import Segmentation, View, create_aligner
from defectlab.segment.aligners.propagator import Propagator

transformers = pytest.importorskip("transformers")


class ShiftPropagator(Propagator):
    """Carries every mask 10 px to the right: enough to test the class-map logic."""

    name = "shift"

    def propagate(self, reference, masks, image):
        return np.stack([np.where(np.roll(m, 10, axis=1), 5.0, -5.0) for m in masks])


def test_propagated_masks_become_classes_and_unreached_segments_unknown():
    ref_labels = np.zeros((40, 60), np.int32)
    ref_labels[5:15, 5:15] = 1
    ref_labels[20:30, 30:40] = 2
    image = np.zeros((40, 60, 3), np.uint8)
    aligner = ShiftPropagator().fit(View(image, Segmentation(ref_labels)))
    test_labels = np.zeros((40, 60), np.int32)
    test_labels[5:15, 15:25] = 1  # where part 1 was carried
    test_labels[32:38, 2:8] = 2  # something the reference did not have
    classes = aligner.align(View(image.copy(), Segmentation(test_labels)))
    assert classes.labels[10, 20] == 1 and classes.labels[25, 45] == 2
    assert classes.labels[35, 5] == classes.unknown


def save_tiny_sam2_video(path):
    from transformers.models.sam2.configuration_sam2 import Sam2HieraDetConfig, Sam2VisionConfig

    backbone = Sam2HieraDetConfig(hidden_size=12, num_attention_heads=1, image_size=[64, 64],
                                  patch_kernel_size=[7, 7], patch_stride=[4, 4], patch_padding=[3, 3],
                                  blocks_per_stage=[1, 2, 7, 2], embed_dim_per_stage=[12, 24, 48, 96],
                                  num_attention_heads_per_stage=[1, 2, 4, 8])
    vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[96, 48, 24, 12],
                              backbone_feature_sizes=[[16, 16], [8, 8], [4, 4]], fpn_hidden_size=128)
    # memory width 64 and pointer width 128: the model splits pointers into memory-sized chunks
    config = transformers.Sam2VideoConfig(
        vision_config=vision, image_size=64,
        prompt_encoder_config=dict(hidden_size=128, image_size=64, patch_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=128, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=16),
        memory_attention_hidden_size=128, memory_attention_num_layers=1, memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[4, 4], memory_encoder_hidden_size=128, memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128, memory_fuser_embed_dim=128, memory_fuser_intermediate_dim=64, num_maskmem=2)
    transformers.Sam2VideoModel(config).save_pretrained(path)
    return path


@pytest.mark.slow
def test_sam2_propagator_loads_by_directory_and_runs(tmp_path):
    if not hasattr(transformers, "Sam2VideoModel"):
        pytest.skip("this transformers has no Sam2VideoModel")
    aligner = create_aligner("sam2", model=str(save_tiny_sam2_video(tmp_path / "sam2")))
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 255, (48, 56, 3), dtype=np.uint8)
    labels = np.zeros((48, 56), np.int32)
    labels[5:20, 5:20] = 1
    labels[25:40, 30:50] = 2
    aligner.fit(View(ref, Segmentation(labels)))
    assert aligner.align(View(ref, Segmentation(labels))).labels.tolist() == labels.tolist()
    test = rng.integers(0, 255, (48, 56, 3), dtype=np.uint8)
    classes = aligner.align(View(test, Segmentation(np.zeros((48, 56), np.int32))))
    assert classes.labels.shape == (48, 56) and classes.n_classes == 2
    assert set(np.unique(classes.labels)) <= {0, 1, 2}
