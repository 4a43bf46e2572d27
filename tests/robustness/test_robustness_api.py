"""Corpus: the Python API fed odd and wrong values; errors are defectlab's own and name the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from robustness_util import save, texture

from defectlab import metrics
from defectlab.app.listen import bind_socket
from defectlab.backbones.base import resolve_device
from defectlab.backbones.resize import Resizer
from defectlab.data import checks, load_image, load_images, sample_support
from defectlab.data.names import NAME_MAX, output_names, path_text
from defectlab.data.sampling import evenly_spaced
from defectlab.detect import PatchKNNDetector
from defectlab.errors import ConfigError, DefectlabError, NotFittedError
from defectlab.evaluation.engine import evaluate

ODD_ARRAYS = {
    "empty": (np.zeros((0, 0), np.uint8), "empty"),
    "two-channels": (np.zeros((4, 4, 2), np.uint8), "shape"),
    "five-channels": (np.zeros((4, 4, 5), np.uint8), "shape"),
    "channels-first": (np.zeros((3, 8, 8), np.uint8), "channels-first"),
    "one-dimensional": (np.zeros(16, np.uint8), "shape"),
    "negative-int8": (np.full((4, 4), -3, np.int8), "ambiguous"),
    "int32-over-255": (np.full((4, 4), 300, np.int32), "ambiguous"),
    "float-nan": (np.full((4, 4), np.nan, np.float32), "NaN"),
    "float-over-one": (np.full((4, 4), 2.0), r"expected \[0, 1\]"),
    "complex": (np.zeros((4, 4), np.complex64), "dtype"),
    "object": (np.array([[object()]]), "dtype"),
}

GOOD_ARRAYS = {
    "bool": np.eye(8, dtype=bool),
    "uint16": np.full((4, 4), 65535, np.uint16),
    "big-endian-uint16": np.full((4, 4), 257, ">u2"),
    "float16": np.full((4, 4), 0.5, np.float16),
    "int64-small": np.full((4, 4), 7, np.int64),
    "one-pixel": np.zeros((1, 1, 3), np.uint8),
    "rgba": np.zeros((4, 4, 4), np.uint8),
    "non-contiguous": texture(16, 16)[::2, ::-1],
}

PIL_MODES = ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV",
             "I", "I;16", "F"]


@pytest.mark.parametrize("name", sorted(ODD_ARRAYS))
def test_odd_arrays_are_refused_with_the_reason(name):
    array, reason = ODD_ARRAYS[name]
    with pytest.raises(DefectlabError, match=reason):
        load_image(array)


@pytest.mark.parametrize("name", sorted(GOOD_ARRAYS))
def test_unusual_but_valid_arrays_load(name):
    image = load_image(GOOD_ARRAYS[name])
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


@pytest.mark.parametrize("mode", PIL_MODES)
def test_every_pil_mode_loads(mode):
    if mode == "F":  # float pixels must lie in [0, 1]
        source = Image.fromarray(texture(8, 8)[:, :, 0].astype(np.float32) / 255)
    elif mode == "I;16":
        source = Image.new(mode, (8, 8))
    else:
        source = Image.fromarray(texture(8, 8)).convert(mode)
    assert load_image(source).shape == (8, 8, 3)


@pytest.mark.parametrize("source", [None, 123, 4.5, b"x.png", ["x.png"], {"path": "x.png"}], ids=repr)
def test_what_is_not_an_image_source_says_what_to_pass(source):
    with pytest.raises((TypeError, DefectlabError), match="cannot load an image from|not found"):
        load_image(source)


def test_a_folder_or_a_missing_file_is_named(tmp_path):
    with pytest.raises(DefectlabError, match="is a folder"):
        load_image(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("single", ["x.png", texture(8, 8), Image.new("RGB", (4, 4))], ids=["str", "array", "pil"])
def test_one_image_where_a_list_is_expected_is_refused(single):
    with pytest.raises(ConfigError, match="must be a list of images.*pass it in a list"):
        load_images(single)
    with pytest.raises(ConfigError, match="images must be a list"):
        checks.image_list("images", single)


def test_a_4d_array_is_a_batch():
    assert len(checks.image_list("images", np.zeros((3, 8, 8, 3), np.uint8))) == 3


@pytest.mark.parametrize(("check", "value", "message"), [
    (checks.positive_int, 0, "batch_size must be a positive integer, got 0"),
    (checks.positive_int, True, "must be a positive integer, got True"),
    (checks.positive_int, "10", "got '10' \\(str\\)"),
    (checks.positive_int, 2.0, "got 2.0 \\(float\\)"),
    (checks.non_negative_int, -1, "non-negative"),
    (checks.finite_float, float("nan"), "finite"),
    (checks.finite_float, "10", "must be a number, got '10'"),
    (checks.positive_float, 0.0, "positive number"),
])
def test_checks_name_the_argument(check, value, message):
    with pytest.raises(ConfigError, match=message):
        check("batch_size", value)


@pytest.mark.parametrize(("device", "message"), [
    ("cuda", "no usable GPU"), ("cuda:3", "no usable GPU"), ("gpu", "not one defectlab runs on"),
    ("", "not one defectlab runs on"), ("meta", "not one defectlab runs on"), (None, "not one defectlab runs on"),
    (7, "not one defectlab runs on"),
])
def test_devices_this_machine_lacks_are_named(device, message):
    if torch.cuda.is_available() and str(device).startswith("cuda"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match=message):
        resolve_device(device)


def test_cpu_and_auto_resolve():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device(torch.device("cpu")).type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")


@pytest.mark.parametrize("kwargs", [{"device": "cuda"}, {"image_size": 0}, {"image_size": "256"},
                                    {"resize": "crop"}, {"layers": ["stage9"]}, {"augment": "mirror"},
                                    {"foreground": "yes"}, {"top_percent": 0}, {"pool": 0}],
                         ids=lambda kw: next(iter(kw)))
def test_detector_parameters_are_named_at_fit(kwargs, tmp_path):
    if kwargs.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    normal = [save(tmp_path / "n.png")]
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        PatchKNNDetector(progress=False, **kwargs).fit(normal)


def test_detector_state_errors(tmp_path):
    with pytest.raises(ConfigError, match="at least one normal image"):
        PatchKNNDetector().fit([])
    with pytest.raises(NotFittedError, match="call fit"):
        PatchKNNDetector().predict([save(tmp_path / "x.png")])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: metrics.image_auroc([], []), "labels is empty"),
    (lambda: metrics.image_ap([], []), "labels is empty"),
    (lambda: metrics.f1_max([], []), "labels is empty"),
    (lambda: metrics.image_auroc([0, 0], [0.1, 0.2]), "only normal"),
    (lambda: metrics.image_auroc([1, 1], [0.1, 0.2]), "only anomalous"),
    (lambda: metrics.image_auroc([0, 1], [np.nan, 0.2]), "scores contains NaN"),
    (lambda: metrics.image_auroc([0, 2], [0.1, 0.2]), "only 0"),
    (lambda: metrics.image_auroc([0, 1], [0.1]), "shape"),
    (lambda: metrics.image_auroc(["a", "b"], [0.1, 0.2]), "labels must be"),
    (lambda: metrics.image_auroc([0, 1], ["x", "y"]), "scores must be numeric"),
    (lambda: metrics.image_ap([0, 0], [0.1, 0.2]), "no anomalous"),
    (lambda: metrics.f1_floor([0, 0]), "no anomalous"),
    (lambda: metrics.pixel_auroc([np.zeros((4, 4))], [np.zeros((5, 5))]), "shape"),
    (lambda: metrics.aupro([np.zeros((4, 4), bool)], [np.zeros((4, 4))]), "no defect pixels"),
    (lambda: metrics.aupro([np.eye(4)], [np.zeros((4, 4))], fpr_limit=0), "fpr_limit"),
])
def test_metric_inputs_are_config_errors_that_name_the_argument(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


@pytest.mark.parametrize("content", [b"{oops", b"\xff\xfe", b'{"a": 1}', b'[{"defect_name": "x"}]'],
                         ids=["not-json", "not-utf8", "not-a-list", "missing-key"])
def test_a_bad_defects_config_is_named(content, tmp_path):
    path = tmp_path / "defects_config.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="defects_config.json"):
        metrics.load_defects_config(path)


@pytest.mark.parametrize(("k", "seed", "message"), [
    (0, 0, "k must be a positive integer"), (True, 0, "k must be"), (1.5, 0, "k must be"), (9, 0, "9-shot"),
    (1, -1, "seed must be"), (1, 2**64, "seed must be"), (1, "x", "seed must be"),
])
def test_support_draws_name_k_and_seed(k, seed, message):
    with pytest.raises(ConfigError, match=message):
        sample_support(list(range(8)), k, seed)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_test": 0}, "max_test must be a positive integer"), ({"max_test": -3}, "max_test"),
    ({"shots": []}, "shots must hold at least one"), ({"shots": 4}, "shots must be a list"),
    ({"shots": [0]}, "shots must be a positive integer"), ({"seeds": ["x"]}, "seeds must be"),
    ({"shots": [50]}, "shots 50 needs 50 normal training images"),
])
def test_evaluate_names_its_arguments(kwargs, message, tmp_path):
    from defectlab.data import get_dataset

    for name in ("good/0.png", "good/1.png", "crack/0.png"):
        save(tmp_path / "ds" / name)
    dataset = get_dataset("folder", tmp_path / "ds")
    with pytest.raises(DefectlabError, match=message):
        evaluate(dataset, PatchKNNDetector(progress=False), **{"shots": [1], "seeds": [0], **kwargs})


def test_evenly_spaced_keeps_both_ends_and_checks_n():
    assert evenly_spaced(list(range(10)), 3) == [0, 4, 9] and evenly_spaced([1, 2], 5) == [1, 2]
    with pytest.raises(ConfigError, match="n must be a positive integer"):
        evenly_spaced([1, 2], 0)


@pytest.mark.parametrize("port", [99999, 65536, -1, "80", 1.5])
def test_bind_socket_names_the_port(port):
    with pytest.raises(ConfigError, match="port must be"):
        bind_socket("127.0.0.1", port)


@pytest.mark.parametrize("shape", [(1, 1), (1, 10000), (10000, 1), (3, 100000), (5000, 5000), (64, 1025)])
@pytest.mark.parametrize("policy", ["shorter-side", "common-scale", "squash"])
def test_resized_sides_stay_within_bounds(shape, policy):
    resizer = Resizer(policy, 256).fit([(64, 64), shape])
    assert all(64 <= side <= 1024 for side in resizer.target(shape))


def test_path_text_and_output_names_are_safe_for_any_name():
    undecodable = "bad\udcff\udcfe.png"  # how Python hands over the bytes b"bad\xff\xfe.png"
    assert path_text(undecodable) == "bad\\xff\\xfe.png"
    assert path_text("tab\tnew\nline") == "tab\\x09new\\x0aline"
    assert path_text("日本 é 🙂.png") == "日本 é 🙂.png"
    from pathlib import Path

    names = output_names([Path("x" * 300 + ".png"), Path("x" * 300 + ".jpg"), Path(undecodable)])
    assert len({n.casefold() for n in names}) == 3
    assert all(len(n.encode("utf-8", "surrogateescape")) <= NAME_MAX for n in names)


def test_every_extension_pillow_decodes_is_read_or_its_absence_explained():
    from defectlab.data.formats import IMAGE_EXTENSIONS, NOT_DECODED

    Image.init()
    opened = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    assert opened <= set(IMAGE_EXTENSIONS) | set(NOT_DECODED), sorted(opened - set(IMAGE_EXTENSIONS) - set(NOT_DECODED))
