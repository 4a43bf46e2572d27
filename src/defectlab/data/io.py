"""Reading images and masks into numpy, and writing images without ever leaving half a file.

Everything that reads pixels goes through one path: ``load_pixels`` turns a
file, a PIL image or a numpy array into an array with the *stored* bit depth
(alpha dropped, EXIF orientation applied), and ``load_image`` / ``load_mask``
derive from that. Having a single path is what makes a 16-bit PNG, the same
pixels as a uint16 array, and the same pixels as a PIL "I;16" image all give
the same result.

Choices worth knowing:

* Alpha is dropped, not composited. Industrial images with an alpha channel
  are nearly always fully opaque (a camera SDK or an editor added it);
  compositing on black would silently darken any pixel whose alpha is not 255,
  while dropping keeps the colours the camera recorded.
* 16-bit images are scaled by their bit depth (v / 257, rounded), so the full
  16-bit range maps onto the full 8-bit range. Clipping at 255 would turn
  almost every 16-bit image white.
* Float arrays must lie in [0, 1]; integer dtypes other than uint8 and
  uint16 (int32, int64, ...) must lie in [0, 255]. Anything else is ambiguous, and guessing a scale would corrupt data
  quietly, so it is refused with a message saying what to pass instead.
* Metadata that cannot be parsed (a garbage EXIF block) does not cost the
  pixels: the image is read as stored, unrotated, with a warning.

Supported formats (``IMAGE_EXTENSIONS``, documented in :mod:`defectlab.data.formats`):
every format Pillow decodes by itself, among them PNG, JPEG, BMP, GIF, TIFF,
WebP, AVIF, JPEG 2000, Netpbm (.pbm .pgm .ppm .pnm .pfm), TGA, ICO, PSD and
QOI; animated and multi-page files are read as their first frame. Not read:
vector formats (SVG, EPS, PDF), HEIF and camera raw files.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, Union

import numpy as np
from PIL import Image, ImageOps

from ..errors import ConfigError
from .checks import image_list
from .errors import ImageLoadError, ImageNotFoundError
from .formats import IMAGE_EXTENSIONS
from .listing import Exclude, list_images
from .names import path_text

__all__ = [
    "IMAGE_EXTENSIONS",
    "Exclude",
    "ImageSource",
    "image_size",
    "list_images",
    "load_image",
    "load_images",
    "load_mask",
    "load_pixels",
    "save_image_atomic",
    "save_png_atomic",
    "threshold_pixels",
]

ImageSource = Union[str, os.PathLike, Image.Image, np.ndarray]

_EXIF_ORIENTATION = 0x0112
_SIDEWAYS_ORIENTATIONS = (5, 6, 7, 8)  # these swap width and height when applied


# --------------------------------------------------------------------------- reading


def load_image(source: ImageSource, mode: Literal["RGB", "L"] = "RGB") -> np.ndarray:
    """Load an image as uint8: HxWx3 for ``mode="RGB"``, HxW for ``mode="L"``.

    ``source`` is a path, a PIL image or a numpy array (HxW, HxWx1, HxWx3 or
    HxWx4; uint8, uint16, bool, or float in [0, 1]). The result is always a
    fresh array, so the caller may modify it freely.
    """
    if mode not in ("RGB", "L"):
        raise ConfigError(f"mode must be 'RGB' or 'L', got {mode!r}")
    name = _describe(source)
    pixels = _to_uint8(load_pixels(source), name)
    if mode == "RGB":
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        return pixels
    if pixels.ndim == 3:
        # PIL's luma weights, so that an RGB file and the same file read as "L" agree.
        return np.array(Image.fromarray(pixels).convert("L"))
    return pixels


def load_mask(source: ImageSource, threshold: int = 127) -> np.ndarray:
    """Load a mask as a bool HxW array: True where the pixel is brighter than ``threshold``.

    ``threshold`` is on the 0-255 scale whatever the file's depth: a 16-bit
    mask is compared against ``threshold * 257`` and a float mask against
    ``threshold / 255``, so ``threshold=0`` means "any non-zero pixel" at every
    depth (the right choice for label maps whose values are 1, 2, ...). For a
    colour mask a pixel counts if any channel passes, so a red-on-black mask
    works. A bool array is returned as a copy, unthresholded.
    """
    return threshold_pixels(load_pixels(source), threshold)


def threshold_pixels(pixels: np.ndarray, threshold: int = 127) -> np.ndarray:
    """Binarise an array from ``load_pixels`` the way ``load_mask`` does."""
    if pixels.ndim == 3:
        pixels = pixels.max(axis=2)
    if pixels.dtype == bool:
        return pixels.copy()
    if pixels.dtype == np.uint16:
        return pixels > threshold * 257
    if np.issubdtype(pixels.dtype, np.floating):
        return pixels > threshold / 255.0
    return pixels > threshold


def load_pixels(source: ImageSource) -> np.ndarray:
    """Pixel values as stored: HxW or HxWx3, dtype bool, uint8, uint16 or float32.

    Alpha is dropped, palettes are expanded, EXIF orientation is applied and
    exotic colour spaces (CMYK, YCbCr, ...) are converted to RGB; the bit depth
    is left alone. Use it when the exact stored values matter, e.g. a mask
    whose pixel value identifies the defect type.
    """
    name = _describe(source)
    if isinstance(source, np.ndarray):
        stored = source
    elif isinstance(source, Image.Image):
        stored = _pil_to_array(_upright(source, name), name)
    elif isinstance(source, (str, os.PathLike)):
        stored = _read_file(Path(source))
    else:
        raise TypeError(
            f"cannot load an image from a {type(source).__name__}; "
            "pass a file path, a PIL image or a numpy array"
        )
    # Always a fresh, writable array: arrays PIL hands out are read-only, and a
    # caller's own array must not change when the result is edited.
    return np.array(_normalise_array(stored, name))


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of an image file as ``load_image`` would return it, reading only its header."""
    path = _existing_file(Path(path))
    try:
        with Image.open(path) as im:
            width, height = im.size
            if _orientation(im, path_text(path)) in _SIDEWAYS_ORIENTATIONS:
                width, height = height, width
    except MemoryError:
        raise
    except Exception as err:
        raise _unreadable(path, err) from err
    return height, width


def load_images(
    sources: Iterable[ImageSource],
    mode: Literal["RGB", "L"] = "RGB",
    on_error: Literal["raise", "skip"] = "raise",
) -> tuple[list[np.ndarray], list[ImageSource]]:
    """Load several images; returns ``(images, sources_kept)``.

    With ``on_error="skip"`` an unreadable image is reported with a warning
    that names it and left out, and ``sources_kept`` tells which images the
    arrays belong to. Skipping is for large folders of user data where one bad
    file should not cost a whole run; the default stays strict so that a
    benchmark never quietly evaluates on fewer images than it claims.
    """
    if on_error not in ("raise", "skip"):
        raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    images: list[np.ndarray] = []
    kept: list[ImageSource] = []
    for source in image_list("sources", sources):
        try:
            image = load_image(source, mode=mode)
        except ImageLoadError as err:
            if on_error == "raise":
                raise
            warnings.warn(f"skipping {_describe(source)}: {err}", stacklevel=2)
            continue
        images.append(image)
        kept.append(source)
    return images, kept


# --------------------------------------------------------------------------- writing


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# Read once at import: os.umask can only be read by setting it, and doing that
# while other threads create files would briefly give their files mode 0666.
_NEW_FILE_MODE = 0o666 & ~_umask()


def save_image_atomic(
    path: str | os.PathLike,
    image: np.ndarray | Image.Image,
    format: str | None = None,
    **options,
) -> Path:
    """Write an image so that ``path`` holds either the old file or the complete new one.

    The image goes to a temporary file in the same folder (same filesystem,
    so the final rename is atomic), is flushed to disk, then renamed over
    ``path``. A crash, a full disk or Ctrl-C mid-write leaves no truncated
    image behind to be mistaken for a result later. The format comes from the
    extension unless given. Arrays: uint8 HxW/HxWx3/HxWx4, bool (saved 0/255),
    uint16 HxW (saved as 16-bit where the format allows) or float in [0, 1].
    ``options`` go to PIL's ``save`` (e.g. ``compress_level`` for PNG).
    """
    path = Path(path)
    fmt = format or Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"cannot tell the image format from the name {path.name!r}; "
            f"use one of {', '.join(IMAGE_EXTENSIONS)} or pass format="
        )
    pil = _array_for_saving(image)
    return atomic_write(path, lambda handle: pil.save(handle, format=fmt, **options))


def atomic_write(path: str | os.PathLike, write: Callable[[object], None], durable: bool = True) -> Path:
    """Call ``write(binary_handle)`` on a temporary file beside ``path``, then rename it over ``path``.

    The temporary file is in the same folder (same filesystem, so the rename
    is atomic) and is flushed to disk first: a crash, a full disk or Ctrl-C
    mid-write leaves the old file or the complete new one, never half a file.
    ``durable=False`` skips the fsync, for files rewritten many times a second
    whose loss on a power cut costs nothing (drafts); the rename still keeps
    them whole.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name carries only the start of the final one: a name
    # already near the file system's 255-byte limit must still be writable.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    with removed_on_failure(tmp):
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); a saved result should get ordinary permissions.
        os.chmod(tmp, _NEW_FILE_MODE)
        os.replace(tmp, path)
    return path


@contextlib.contextmanager
def removed_on_failure(tmp: str | os.PathLike):
    """Delete the temporary ``tmp`` if the block fails (Ctrl-C included), so no debris is left beside the target."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def cache_root() -> Path:
    """Where defectlab keeps what it computes once per machine (``$DEFECTLAB_CACHE``, else ~/.cache/defectlab)."""
    return Path(os.environ.get("DEFECTLAB_CACHE", Path.home() / ".cache" / "defectlab"))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda handle: handle.write(data))


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def save_png_atomic(path: str | os.PathLike, image: np.ndarray | Image.Image, compress_level: int = 6) -> Path:
    """``save_image_atomic`` that always writes PNG (lossless, keeps 16-bit), whatever the extension.

    ``compress_level`` 0-9 is zlib's: 6 (PIL's default) is small; 1 about 3x faster and a third larger,
    for outputs written per image in bulk.
    """
    return save_image_atomic(path, image, format="PNG", compress_level=compress_level)


def _array_for_saving(image: np.ndarray | Image.Image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ConfigError(f"cannot save an array of shape {array.shape}; expected HxW, HxWx3 or HxWx4")
    if array.dtype == np.uint16:
        if array.ndim != 2:
            raise ConfigError("16-bit images can only be saved single-channel; convert colour to uint8")
        return Image.fromarray(array.astype("<u2"))  # PIL picks "I;16" for little-endian uint16
    return Image.fromarray(_to_uint8(array, "array to save"))


# --------------------------------------------------------------------------- internals


def _describe(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return path_text(source)
    if isinstance(source, Image.Image):
        filename = getattr(source, "filename", "")
        return f"PIL image {filename}" if filename else "PIL image"
    if isinstance(source, np.ndarray):
        return f"array of shape {source.shape} and dtype {source.dtype}"
    return repr(source)


def _existing_file(path: Path) -> Path:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ImageNotFoundError(f"image file not found: {path_text(path)}; check the path and that the "
                                 "dataset is fully extracted") from None
    except OSError as err:
        raise ImageLoadError(f"cannot read image {path_text(path)}: {err.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ImageLoadError(f"{path_text(path)} is a folder, not an image file")
    if not stat.S_ISREG(mode):
        # Opening a named pipe would wait forever for a writer.
        raise ImageLoadError(f"{path_text(path)} is not a regular file (a pipe, socket or device)")
    return path


def _unreadable(path: Path, err: Exception) -> ImageLoadError:
    return ImageLoadError(
        f"cannot read image {path_text(path)}: {err}. The file is corrupt, truncated or not an image; "
        "re-export or re-download it, or remove it from the dataset "
        "(load_images(..., on_error='skip') skips such files with a warning)"
    )


def _read_file(path: Path) -> np.ndarray:
    path = _existing_file(path)
    try:
        with Image.open(path) as im:
            # load() forces the full decode here, where a truncated file can
            # still be named, rather than lazily at first pixel access.
            im.load()
            return _pil_to_array(_upright(im, path_text(path)), path_text(path))
    except (MemoryError, ImageLoadError):
        raise
    except Exception as err:
        # PIL signals bad files with OSError, SyntaxError, ValueError, struct.error,
        # IndexError ... depending on the codec; all of them mean "this file is unusable".
        raise _unreadable(path, err) from err


def _upright(im: Image.Image, name: str) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im)
    except Exception as err:
        _ignore_exif(name, err)
        return im


def _orientation(im: Image.Image, name: str) -> int | None:
    try:
        return im.getexif().get(_EXIF_ORIENTATION)
    except Exception as err:
        _ignore_exif(name, err)
        return None


def _ignore_exif(name: str, err: Exception) -> None:
    # The pixels are fine; only the metadata beside them is not.
    warnings.warn(f"{name}: ignoring its unreadable EXIF metadata ({err}); the image is used as stored, "
                  "without applying an orientation", stacklevel=4)


def _pil_to_array(im: Image.Image, name: str) -> np.ndarray:
    mode = im.mode
    if mode in ("1", "L", "RGB"):
        return np.asarray(im)
    if mode == "LA":
        return np.asarray(im.getchannel("L"))
    if mode in ("La", "RGBa"):
        # Premultiplied alpha: un-premultiply first, then drop the alpha.
        return _pil_to_array(im.convert(mode.upper()), name)
    if mode in ("RGBA", "RGBX"):
        return np.asarray(im)[:, :, :3]
    if mode in ("P", "PA"):
        # Via RGBA so a palette with a transparent entry converts without PIL's warning.
        return np.asarray(im.convert("RGBA"))[:, :, :3]
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)
    if mode == "I":
        values = np.asarray(im)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageLoadError(
                f"{name} holds 32-bit integer pixels in [{values.min()}, {values.max()}]; "
                "only 8- and 16-bit images are supported, convert it to one of those"
            )
        # PIL reads 16-bit grayscale from some formats as "I"; the values are 16-bit.
        return values.astype(np.uint16)
    if mode == "F":
        return np.asarray(im)
    # CMYK, YCbCr, LAB, HSV: colour spaces PIL knows how to take to RGB.
    return np.asarray(im.convert("RGB"))


def _normalise_array(array: np.ndarray, name: str) -> np.ndarray:
    """Check shape and dtype, drop alpha; keep the stored depth."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        hint = " (channels-first? transpose to HxWxC)" if array.ndim == 3 and array.shape[0] in (1, 3, 4) else ""
        raise ImageLoadError(
            f"{name}: expected an HxW, HxWx1, HxWx3 or HxWx4 image{hint}, got shape {array.shape}"
        )
    if array.size == 0:
        raise ImageLoadError(f"{name}: the image is empty (shape {array.shape})")
    if array.dtype in (np.bool_, np.uint8):
        return array
    if array.dtype.kind == "u" and array.dtype.itemsize == 2:
        return array.astype(np.uint16, copy=False)  # also brings big-endian data to native order
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ImageLoadError(f"{name}: float image contains NaN or infinity")
        low, high = float(array.min()), float(array.max())
        if low < -1e-6 or high > 1 + 1e-6:
            raise ImageLoadError(
                f"{name}: float image values span [{low:g}, {high:g}], expected [0, 1]; "
                "divide by the maximum value or pass a uint8/uint16 array"
            )
        return np.clip(array, 0.0, 1.0).astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ImageLoadError(
                f"{name}: {array.dtype} values span [{low}, {high}]; the bit depth is ambiguous, "
                "pass uint8 (0-255) or uint16 (0-65535) explicitly"
            )
        return array.astype(np.uint8)
    raise ImageLoadError(f"{name}: unsupported pixel dtype {array.dtype}")


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    array = _normalise_array(array, name)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        # round(v / 257) in integers: maps 0..65535 exactly onto 0..255.
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if array.dtype == np.float32:
        return np.rint(array * 255.0).astype(np.uint8)
    return array

