"""Image I/O: every input form and file quirk lands on the same uint8 pixels, and bad files say which file."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from PIL import Image

from defectlab.data import (
    DatasetLayoutError,
    ImageLoadError,
    ImageNotFoundError,
    image_size,
    list_images,
    load_image,
    load_images,
    load_mask,
    load_pixels,
    save_image_atomic,
    save_png_atomic,
)

RGB = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3) * 3


def save(path, image, **kwargs):
    image.save(path, **kwargs)
    return path


# --------------------------------------------------------------------------- modes


def test_rgb_png_round_trips(tmp_path):
    path = save(tmp_path / "a.png", Image.fromarray(RGB))
    loaded = load_image(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (4, 5, 3)
    np.testing.assert_array_equal(loaded, RGB)


def test_grayscale_file_becomes_three_equal_channels_or_stays_2d(tmp_path):
    gray = np.array([[0, 100], [200, 255]], dtype=np.uint8)
    path = save(tmp_path / "g.png", Image.fromarray(gray))
    rgb = load_image(path)
    assert rgb.shape == (2, 2, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[:, :, channel], gray)
    np.testing.assert_array_equal(load_image(path, mode="L"), gray)


def test_rgb_to_l_matches_pil(tmp_path):
    path = save(tmp_path / "a.png", Image.fromarray(RGB))
    expected = np.asarray(Image.fromarray(RGB).convert("L"))
    np.testing.assert_array_equal(load_image(path, mode="L"), expected)
    np.testing.assert_array_equal(load_image(RGB, mode="L"), expected)


def test_rgba_drops_alpha_instead_of_compositing(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[..., 3] = 0  # fully transparent: compositing on black would give zeros
    path = save(tmp_path / "a.png", Image.fromarray(rgba))
    np.testing.assert_array_equal(load_image(path)[0, 0], (200, 100, 50))
    np.testing.assert_array_equal(load_image(rgba)[0, 0], (200, 100, 50))


def test_palette_image_expands_to_its_colours(tmp_path):
    im = Image.new("P", (3, 2))
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    im.putdata([0, 1, 2, 2, 1, 0])
    im.info["transparency"] = 0
    path = save(tmp_path / "p.png", im, transparency=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL warns on naive P->RGB with transparency
        loaded = load_image(path)
    np.testing.assert_array_equal(loaded[0, 1], (255, 0, 0))
    np.testing.assert_array_equal(loaded[0, 2], (0, 0, 255))
    np.testing.assert_array_equal(loaded[0, 0], (0, 0, 0))


def test_16_bit_png_is_scaled_by_bit_depth_not_clipped(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = save(tmp_path / "d.png", Image.fromarray(values))
    assert Image.open(path).mode in ("I;16", "I")
    np.testing.assert_array_equal(load_image(path, mode="L"), [[0, 1, 128, 255]])
    np.testing.assert_array_equal(load_image(values, mode="L"), [[0, 1, 128, 255]])
    np.testing.assert_array_equal(load_image(values.astype(">u2"), mode="L"), [[0, 1, 128, 255]])
    # PIL's "I" mode (32-bit ints holding 16-bit values) is treated the same.
    np.testing.assert_array_equal(load_image(Image.fromarray(values.astype(np.int32)), mode="L"), [[0, 1, 128, 255]])


def test_cmyk_jpeg_loads_as_rgb(tmp_path):
    path = save(tmp_path / "c.jpg", Image.new("CMYK", (4, 3), (0, 255, 255, 0)), quality=100)
    loaded = load_image(path)
    assert loaded.shape == (3, 4, 3)
    assert loaded[0, 0, 0] > 200 and loaded[0, 0, 1] < 60  # red-ish


def test_exif_orientation_is_applied(tmp_path):
    im = Image.fromarray(np.zeros((2, 6, 3), dtype=np.uint8))  # wide as stored
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = save(tmp_path / "r.jpg", im, exif=exif)
    assert load_image(path).shape == (6, 2, 3)
    assert image_size(path) == (6, 2)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array([[True, False]]), [[255, 0]]),
        (np.array([[0.0, 0.5, 1.0]]), [[0, 128, 255]]),
        (np.array([[0, 255]], dtype=np.int64), [[0, 255]]),
        (np.full((1, 2, 1), 7, dtype=np.uint8), [[7, 7]]),
    ],
)
def test_numpy_dtypes_and_shapes(array, expected):
    np.testing.assert_array_equal(load_image(array, mode="L"), expected)


def test_ambiguous_arrays_are_refused_with_advice():
    with pytest.raises(ImageLoadError, match=r"expected \[0, 1\]"):
        load_image(np.array([[0.0, 2.0]]))
    with pytest.raises(ImageLoadError, match="uint16"):
        load_image(np.array([[0, 1000]], dtype=np.int32))
    with pytest.raises(ImageLoadError, match="channels-first"):
        load_image(np.zeros((3, 8, 8), dtype=np.uint8))


def test_result_is_a_fresh_writable_array(tmp_path):
    source = RGB.copy()
    loaded = load_image(source)
    loaded[:] = 0
    assert source.any()
    from_file = load_image(save(tmp_path / "a.png", Image.fromarray(RGB)))
    from_file[0, 0] = 1  # arrays PIL hands out are read-only; ours must not be


# --------------------------------------------------------------------------- masks


def test_masks_threshold_at_every_depth(tmp_path):
    eight = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(load_mask(eight), [[False, False, True, True]])
    sixteen = np.array([[0, 1, 40000, 65535]], dtype=np.uint16)
    path = save(tmp_path / "m16.png", Image.fromarray(sixteen))
    np.testing.assert_array_equal(load_mask(path), [[False, False, True, True]])
    np.testing.assert_array_equal(load_mask(path, threshold=0), [[False, True, True, True]])


def test_colour_mask_counts_any_bright_channel(tmp_path):
    red = np.zeros((1, 2, 3), dtype=np.uint8)
    red[0, 0] = (255, 0, 0)  # luma 76: a grayscale conversion would lose it
    path = save(tmp_path / "red.png", Image.fromarray(red))
    np.testing.assert_array_equal(load_mask(path), [[True, False]])


def test_load_pixels_keeps_stored_values(tmp_path):
    labels = np.array([[0, 1, 2]], dtype=np.uint8)
    path = save(tmp_path / "labels.png", Image.fromarray(labels))
    np.testing.assert_array_equal(load_pixels(path), labels)
    np.testing.assert_array_equal(load_mask(path, threshold=0), [[False, True, True]])


# --------------------------------------------------------------------------- bad files


def test_corrupt_and_non_image_files_name_the_file(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageLoadError, match="notes.png"):
        load_image(text)

    good = save(tmp_path / "good.png", Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ImageLoadError, match="truncated.png") as info:
        load_image(truncated)
    assert "re-download" in str(info.value)

    jpeg = save(tmp_path / "cut.jpg", Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    jpeg.write_bytes(jpeg.read_bytes()[:200])
    with pytest.raises(ImageLoadError, match="cut.jpg"):
        load_image(jpeg)


def test_missing_file_is_both_load_error_and_file_not_found(tmp_path):
    missing = tmp_path / "nowhere.png"
    with pytest.raises(ImageNotFoundError, match="nowhere.png") as info:
        load_image(missing)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ImageLoadError)


def test_skip_mode_warns_and_reports_what_was_kept(tmp_path):
    good = save(tmp_path / "good.png", Image.fromarray(RGB))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.warns(UserWarning, match="bad.png"):
        images, kept = load_images([good, bad, RGB], on_error="skip")
    assert len(kept) == len(images) == 2 and kept[0] == good and kept[1] is RGB
    with pytest.raises(ImageLoadError, match="bad.png"):
        load_images([good, bad])


# --------------------------------------------------------------------------- listing


@pytest.mark.filterwarnings("ignore:left out")
def test_list_images_sorted_case_insensitive_and_filtered(tmp_path):
    for name in ("b.PNG", "a.jpg", "c.JPEG", "d.tif", "e.bmp", "f.webp", "a_mask.png", "notes.txt", "._a.jpg"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "z.png").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"left out 2 file\(s\) .*\._a\.jpg \(a hidden file\), notes\.txt \(not an image"):
        names = [p.name for p in list_images(tmp_path)]
    assert names == ["a.jpg", "a_mask.png", "b.PNG", "c.JPEG", "d.tif", "e.bmp", "f.webp"]
    assert "a_mask.png" not in [p.name for p in list_images(tmp_path, exclude="*_MASK.png")]
    assert [p.name for p in list_images(tmp_path, exclude=lambda p: p.suffix != ".jpg")] == ["a.jpg"]
    assert (tmp_path / "sub" / "z.png") in list_images(tmp_path, recursive=True)


@pytest.mark.filterwarnings("ignore:left out")
def test_list_images_errors_name_the_folder(tmp_path):
    with pytest.raises(DatasetLayoutError, match="not found: .*nope"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("")
    with pytest.raises(DatasetLayoutError, match=r"no images found in .*empty; expected .*\.png"):
        list_images(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):  # DatasetLayoutError is a FileNotFoundError
        list_images(tmp_path / "empty")


# --------------------------------------------------------------------------- writing


def test_atomic_save_round_trips_and_leaves_no_temp_files(tmp_path):
    target = save_image_atomic(tmp_path / "out" / "a.png", RGB)
    np.testing.assert_array_equal(load_image(target), RGB)
    save_png_atomic(tmp_path / "m.mask", np.array([[True, False]]))
    np.testing.assert_array_equal(load_mask(tmp_path / "m.mask"), [[True, False]])
    sixteen = np.array([[0, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(load_pixels(save_png_atomic(tmp_path / "s.png", sixteen)), sixteen)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.png", "m.mask", "s.png"]
    assert os.stat(target).st_mode & 0o044  # readable by others, not mkstemp's private 0600


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    target = save_image_atomic(tmp_path / "a.png", RGB)
    before = target.read_bytes()

    def crash_midway(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        save_image_atomic(target, np.zeros((2, 2), dtype=np.uint8))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    monkeypatch.undo()
    with pytest.raises(ValueError, match="format"):
        save_image_atomic(tmp_path / "a.unknown", RGB)
