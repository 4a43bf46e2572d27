"""Corpus: flag values of every command, refused while parsing with the flag named, or accepted.

argparse prints ``defectlab CMD: error: argument --FLAG: <problem>`` under
the usage line and exits 2; nothing loads before that, so each case takes
milliseconds.
"""

from __future__ import annotations

import pytest
from robustness_util import assert_clean_error, assert_scored, save

from defectlab.cli import arguments

# (command, flag, value): each must be refused, naming the flag.
REFUSED = [
    *[("detect", "--image-size", v) for v in ("0", "-1", "63", "1025", "abc", "1e3", "64.5", "")],
    *[("detect", "--threshold", v) for v in ("nan", "inf", "-inf", "abc", "")],
    *[("detect", "--device", v) for v in ("cuda", "cuda:0", "cuda:7", "gpu", "", "meta", "cpu:x", "mps")],
    ("detect", "--method", "nope"),
    ("detect", "--resize", "crop"),
    ("detect", "--augment", "mirror"),
    ("detect", "--sam-points", "0"),
    ("detect", "--reference", "-1"),
    *[("evaluate", "--shots", v) for v in ("0", "-1", "x", "1.5")],
    *[("evaluate", "--seeds", v) for v in ("-1", str(2**64), "x")],
    *[("evaluate", "--max-test", v) for v in ("0", "-3", "x")],
    ("evaluate", "--dataset", "imagenet"),
    *[("click-eval", "--normals", v) for v in ("0", "-2")],
    ("click-eval", "--max-clicks", "0"),
    ("click-eval", "--limit", "0"),
    ("click-eval", "--threads", "0"),
    ("click-eval", "--seed", "-5"),
    ("click-train", "--iterations", "0"),
    ("click-train", "--batch-size", "0"),
    ("click-train", "--crop", "0"),
    *[("click-train", "--lr", v) for v in ("0", "-1e-3", "nan")],
    ("click-train", "--synthetic", "-1"),
    ("click-train", "--normals", "0"),
    ("click-train", "--val-every", "-1"),
    ("click-train", "--threads", "0"),
    *[("label", "--port", v) for v in ("99999", "65536", "-1", "http", "8080.5")],
    ("label", "--max-normal", "-1"),
    ("label", "--engine", "magic"),
]

_REQUIRED = {
    "detect": lambda d: ["--normal", d, "--images", d, "--out", d / "o"],
    "evaluate": lambda d: ["--dataset", "folder", "--root", d],
    "click-eval": lambda d: ["--root", d],
    "click-train": lambda d: ["--root", d, "--out", d / "c.safetensors"],
    "label": lambda d: [d, "--normal", d],
}


@pytest.mark.parametrize(("command", "flag", "value"), REFUSED, ids=lambda x: x or "empty")
def test_a_bad_value_is_refused_naming_its_flag(command, flag, value, cli, normal_dir):
    run = cli(command, *_REQUIRED[command](normal_dir), flag, value)
    assert_clean_error(run, f"argument {flag}")


@pytest.mark.parametrize("command", sorted(_REQUIRED))
def test_a_missing_folder_is_refused_naming_its_argument(command, cli, tmp_path):
    args = [str(a).replace(str(tmp_path), str(tmp_path / "missing"), 1) for a in _REQUIRED[command](tmp_path)]
    run = cli(command, *args)
    assert_clean_error(run, "folder not found", "missing")


def test_a_cuda_message_says_why(cli, normal_dir):
    run = cli("detect", *_REQUIRED["detect"](normal_dir), "--device", "cuda")
    assert_clean_error(run, "argument --device", "no usable GPU", "use auto or cpu")


@pytest.mark.parametrize("flags", [["--threshold", "-1"], ["--threshold", "0"], ["--threshold", "1e300"],
                                   ["--image-size", "64"], ["--device", "cpu"], ["--device", "auto"]],
                         ids=" ".join)
def test_edge_values_that_are_valid_run(flags, detect, tmp_path):
    images = tmp_path / "images"
    save(images / "x.png")
    assert_scored(detect(images, *flags), tmp_path / "out", "x.png")


@pytest.mark.parametrize(("parse", "text", "value"), [
    (arguments.image_size, "1024", 1024), (arguments.image_size, "64", 64), (arguments.port, "0", 0),
    (arguments.port, "65535", 65535), (arguments.seed, str(2**64 - 1), 2**64 - 1), (arguments.seed, "0", 0),
    (arguments.finite_float, "-1e300", -1e300), (arguments.non_negative_int, "0", 0),
])
def test_the_ends_of_each_range_are_accepted(parse, text, value):
    assert parse(text) == value


def test_a_negative_threshold_flags_everything_and_a_huge_one_nothing(detect, tmp_path):
    images = tmp_path / "images"
    save(images / "x.png")
    assert "flagged 1 of 1" in detect(images, "--threshold", "-1").out
    assert "flagged 0 of 1" in detect(images, "--threshold", "1e300").out


def test_unknown_layers_name_the_flag_and_the_choices(detect, tmp_path):
    images = tmp_path / "images"
    save(images / "x.png")
    assert_clean_error(detect(images, "--layers", "stage9"), "layers", "stage9", "choose from")


def test_unknown_descriptors_are_refused_before_anything_loads(detect, tmp_path):
    images = tmp_path / "images"
    save(images / "x.png")
    assert_clean_error(detect(images, "--method", "compositional", "--descriptors", "nope"), "nope")


def test_crop_not_a_multiple_of_8_names_the_flag(cli, normal_dir):
    assert_clean_error(cli("click-train", *_REQUIRED["click-train"](normal_dir), "--crop", "12"), "--crop")
