"""Segmenters and aligners by name: the registries, "auto", and checkpoints given as paths."""

import pytest

import defectlab.segment.sam
from defectlab.errors import ConfigError
from defectlab.segment import ALIGNERS, SEGMENTERS, create_segmenter
from defectlab.segment.feature_cluster import FeatureClusterSegmenter
from defectlab.segment.sam import SamSegmenter


def test_every_part_is_registered_where_it_is_defined():
    assert sorted(SEGMENTERS.names()) == ["auto", "feature-cluster", "sam"]
    assert ALIGNERS.names() == ["codebook", "hungarian", "nearest", "sam2"]
    with pytest.raises(ConfigError, match="unknown segmenter 'nope'; choose one of: feature-cluster, sam, auto, or"):
        create_segmenter("nope")


def test_auto_without_sam_weights_is_the_offline_segmenter_and_drops_sam_arguments(monkeypatch):
    monkeypatch.setattr(defectlab.segment.sam, "sam_available", lambda model=None: False)
    seg = create_segmenter("auto", model="facebook/sam-vit-base", points_per_side=4, threshold=0.5)
    assert isinstance(seg, FeatureClusterSegmenter) and seg.threshold == 0.5
    with pytest.raises(TypeError, match="nonsense"):  # a name neither segmenter takes still raises
        create_segmenter("auto", nonsense=1)


def test_a_path_or_hub_id_is_a_sam_checkpoint(tmp_path):
    seg = create_segmenter(str(tmp_path), threshold=0.5)  # the feature-cluster argument is dropped
    assert isinstance(seg, SamSegmenter) and seg.predictor.model == str(tmp_path)
    assert create_segmenter("org/some-sam").predictor.model == "org/some-sam"
