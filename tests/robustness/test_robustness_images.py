"""Corpus: image formats, pixel modes, sizes and broken files, through ``defectlab detect``.

Each case writes one file into an otherwise empty folder and scores it: a
file a supported format holds valid pixels in is scored, anything else is a
clean error that names the file.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from robustness_util import assert_clean_error, assert_scored, save, texture

pytestmark = [
    pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*ignoring its unreadable EXIF"),
]

RGB = texture(48, 40)
GRAY = RGB[:, :, 0]


def _png_with_chunk(kind: bytes, data: bytes) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "PNG")
    png = buf.getvalue()
    chunk = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return png[:33] + chunk + png[33:]  # right after the signature and IHDR


def _frames(n: int) -> list[Image.Image]:
    return [Image.fromarray(texture(32, 32, seed=i)) for i in range(n)]


def _exif_rotated(path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(RGB).save(path, exif=exif)


def _pil(mode: str, **kwargs):
    return lambda path: Image.fromarray(RGB).convert(mode).save(path, **kwargs)


def _array(pixels: np.ndarray, **kwargs):
    return lambda path: Image.fromarray(pixels).save(path, **kwargs)


def _bytes(data: bytes):
    return lambda path: path.write_bytes(data)


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "PNG")
    return buf.getvalue()


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "JPEG")
    return buf.getvalue()


# name -> how to write it; every one of these holds valid pixels and must be scored.
READABLE = {
    "rgb.png": _pil("RGB"),
    "gray.png": _pil("L"),
    "gray_alpha.png": _pil("LA"),
    "rgba_transparent.png": _array(np.dstack([RGB, np.zeros(GRAY.shape, np.uint8)])),
    "palette.png": _pil("P"),
    "palette_transparency.png": lambda p: Image.fromarray(RGB).convert("P").save(p, transparency=0),
    "bilevel.png": _pil("1"),
    "gray16.png": _array((GRAY.astype(np.uint16) * 257)),
    "int32_in_16bit_range.tif": lambda p: Image.fromarray(GRAY.astype(np.int32) * 100, mode="I").save(p),
    "garbage_exif.png": _bytes(_png_with_chunk(b"eXIf", b"garbage, not a TIFF header")),
    "garbage_text_chunk.png": _bytes(_png_with_chunk(b"tEXt", b"\xff\xfe\x00 not latin-1 text")),
    "animated.apng": lambda p: _frames(3)[0].save(p, format="PNG", save_all=True, append_images=_frames(3)[1:]),
    "rgb.jpg": _pil("RGB"),
    "gray.jpg": _pil("L"),
    "cmyk.jpg": _pil("CMYK"),
    "progressive.jpg": _pil("RGB", progressive=True),
    "exif_rotated.jpg": _exif_rotated,
    "upper.JPG": _pil("RGB", format="JPEG"),
    "long_ext.jpeg": _pil("RGB"),
    "jfif.jfif": _pil("RGB", format="JPEG"),
    "jpeg_named.png": _bytes(_jpeg_bytes()),
    "png_named.jpg": _bytes(_png_bytes()),
    "rgb.bmp": _pil("RGB"),
    "bilevel.bmp": _pil("1"),
    "palette.bmp": _pil("P"),
    "windows.dib": _pil("RGB", format="DIB"),
    "static.gif": _pil("P"),
    "animated.gif": lambda p: _frames(4)[0].save(p, save_all=True, append_images=_frames(4)[1:], loop=0),
    "rgb.tif": _pil("RGB"),
    "lzw.tif": _pil("RGB", compression="tiff_lzw"),
    "cmyk.tif": _pil("CMYK"),
    "gray16.tif": _array(GRAY.astype(np.uint16) * 257),
    "float_unit.tif": _array(GRAY.astype(np.float32) / 255),
    "multipage.tiff": lambda p: _frames(2)[0].save(p, save_all=True, append_images=_frames(2)[1:]),
    "lossy.webp": _pil("RGB", quality=50),
    "lossless.webp": _pil("RGB", lossless=True),
    "rgba.webp": _pil("RGBA"),
    "animated.webp": lambda p: _frames(3)[0].save(p, save_all=True, append_images=_frames(3)[1:]),
    "rgb.ppm": _pil("RGB"),
    "gray.pgm": _pil("L"),
    "bilevel.pbm": _pil("1"),
    "any.pnm": _pil("RGB", format="PPM"),
    "float_unit.pfm": lambda p: Image.fromarray(GRAY.astype(np.float32) / 255).save(p),
    "icon.ico": _pil("RGB"),
    "targa.tga": _pil("RGB"),
    "jpeg2000.jp2": _pil("RGB"),
    "codestream.j2k": _pil("RGB"),
    "modern.avif": _pil("RGB"),
    "quite_ok.qoi": _pil("RGB"),
    "paintbrush.pcx": _pil("RGB"),
    "silicon.sgi": _pil("RGB"),
    "ifunc.im": _pil("RGB"),
    "directdraw.dds": _pil("RGB"),
    "blizzard.blp": _pil("P"),
    "xbitmap.xbm": _pil("1"),
    "mspaint.msp": _pil("1"),
    "apple.icns": _pil("RGB"),
}

# name -> (how to write it); each must be refused with an error that names it.
BROKEN = {
    "empty.png": _bytes(b""),
    "truncated.png": _bytes(_png_bytes()[:60]),
    "truncated.jpg": _bytes(_jpeg_bytes()[:200]),
    "text.png": _bytes(b"hello, I am not an image\n"),
    "html.jpg": _bytes(b"<!doctype html><html><body>404 Not Found</body></html>"),
    "zip.png": _bytes(b"PK\x03\x04" + bytes(100)),
    "random.bmp": _bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()),
    "bad_crc.png": _bytes(_png_bytes()[:60] + b"\x00\x00\x00\x00" + _png_bytes()[64:]),
    "header_only.gif": _bytes(b"GIF89a\x10\x00\x10\x00"),
    "empty.tif": _bytes(b""),
    "float_out_of_range.tif": _array(GRAY.astype(np.float32) * 10),
    "float_nan.tif": _array(np.full(GRAY.shape, np.nan, np.float32)),
    "int32_out_of_range.tif": lambda p: Image.fromarray(GRAY.astype(np.int32) * 100000, mode="I").save(p),
    "hdr_range.pfm": lambda p: Image.fromarray(GRAY.astype(np.float32)).save(p),
    "bomb.png": _bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR"
                       + struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
                       + struct.pack(">I", zlib.crc32(b"IHDR" + struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)))),
}

# (height, width) from single pixels to 10000 px strips; all must be scored.
SIZES = [(1, 1), (1, 2), (2, 1), (1, 10000), (10000, 1), (3, 10000), (10000, 3), (7, 1000), (1000, 7),
         (63, 63), (65, 65), (17, 1025), (1025, 17), (1500, 1200)]


@pytest.mark.parametrize("name", sorted(READABLE))
def test_readable_formats_and_modes_are_scored(name, detect, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    READABLE[name](images / name)
    assert_scored(detect(images), tmp_path / "out", name)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_are_named(name, detect, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    BROKEN[name](images / name)
    assert_clean_error(detect(images), name, "--skip-bad")


@pytest.mark.parametrize("name", ["truncated.png", "text.png", "float_out_of_range.tif"])
def test_skip_bad_skips_a_broken_file_with_a_warning_and_scores_the_rest(name, detect, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    BROKEN[name](images / name)
    save(images / "fine.png")
    with pytest.warns(UserWarning, match=name.replace(".", r"\.")):
        run = detect(images, "--skip-bad")
    assert_scored(run, tmp_path / "out", "fine.png")


@pytest.mark.parametrize("shape", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_size_is_scored(shape, detect, tmp_path):
    images = tmp_path / "images"
    save(images / "odd.png", texture(*shape))
    run = detect(images)
    assert_scored(run, tmp_path / "out", "odd.png")
    overlay = Image.open(tmp_path / "out" / "overlays" / "odd.png")
    assert overlay.size[0] >= 2 * shape[1]  # image | heat map, at the image's own size
    summary = Image.open(tmp_path / "out" / "summary.png")
    assert summary.size[0] <= 3 * 4 * 256  # three panels, each at most four tiles wide


def test_garbage_exif_is_read_unrotated_with_a_warning(detect, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    READABLE["garbage_exif.png"](images / "garbage_exif.png")
    with pytest.warns(UserWarning, match="garbage_exif.png: ignoring its unreadable EXIF"):
        run = detect(images)
    assert_scored(run, tmp_path / "out", "garbage_exif.png")


def test_mixed_sizes_and_modes_in_the_normal_folder(detect, tmp_path):
    normal = tmp_path / "normal"
    save(normal / "a.png", texture(64, 64))
    save(normal / "strip.png", texture(1, 3000, seed=1))
    save(normal / "gray.jpg", texture(80, 50, seed=2)[:, :, 0])
    images = tmp_path / "images"
    save(images / "x.png", texture(90, 70, seed=3))
    assert_scored(detect(images, normal=normal), tmp_path / "out", "x.png")
