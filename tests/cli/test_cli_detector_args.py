"""The shared detection options become a detector's keyword arguments, and bad ones fail before any model loads."""

import argparse

import pytest

from defectlab.cli.detector_args import add_detector_arguments, detector_kwargs
from defectlab.detect import CompositionalDetector


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_detector_arguments(parser)
    return parser.parse_args(list(argv))


def test_compositional_options_build_a_detector():
    args = parse("--method", "compositional", "--segmenter", "feature-cluster", "--descriptors", "vand",
                 "--image-size", "128")
    kw = detector_kwargs(args)
    assert kw["descriptors"] == "vand" and kw["image_size"] == 128 and kw["segmenter"] == "feature-cluster"
    CompositionalDetector(progress=False, **kw)


def test_unknown_descriptor_is_named_before_anything_loads():
    with pytest.raises(ValueError, match="unknown descriptor"):
        detector_kwargs(parse("--method", "compositional", "--descriptors", "nope"))
