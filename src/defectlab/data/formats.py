"""The image files defectlab reads: every format Pillow decodes by itself.

By extension, ignoring case:

* everyday: .png .apng .jpg .jpeg .jpe .jfif .mpo .bmp .dib .gif .tif .tiff .webp .avif .avifs
* scientific and camera: .jp2 .j2k .j2c .jpc .jpf .jpx (JPEG 2000), .fits .fit, .pbm .pgm .ppm .pnm .pfm
  (Netpbm), .psd, .qoi
* legacy and other: .tga .icb .vda .vst, .ico .cur .icns, .pcx .dcx, .ras, .sgi .rgb .rgba .bw, .xbm .xpm,
  .im .msp .pcd .pxr .fli .flc .dds .blp .ftc .ftu .gbr .iim

Animated and multi-page files (GIF, APNG, TIFF, ICO, ...) are read as their
first frame. A format a particular Pillow build lacks (AVIF, JPEG 2000 need
their codec compiled in) is a read error that names the file, not a silent
skip. Left out on purpose: formats Pillow only identifies and needs an outside
program or plug-in to decode (EPS needs Ghostscript; WMF, EMF, BUFR, GRIB,
HDF5 and MPEG have no decoder of their own), and vector formats such as SVG.
A file in an image folder with any other extension is skipped with a warning
that names it (:func:`defectlab.data.listing.list_images`).
"""

from __future__ import annotations

__all__ = ["IMAGE_EXTENSIONS", "NOT_DECODED"]

IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png", ".apng", ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".bmp", ".dib", ".gif", ".tif", ".tiff",
    ".webp", ".avif", ".avifs",
    ".jp2", ".j2k", ".j2c", ".jpc", ".jpf", ".jpx", ".fits", ".fit", ".pbm", ".pgm", ".ppm", ".pnm", ".pfm",
    ".psd", ".qoi",
    ".tga", ".icb", ".vda", ".vst", ".ico", ".cur", ".icns", ".pcx", ".dcx", ".ras", ".sgi", ".rgb", ".rgba",
    ".bw", ".xbm", ".xpm", ".im", ".msp", ".pcd", ".pxr", ".fli", ".flc", ".dds", ".blp", ".ftc", ".ftu",
    ".gbr", ".iim",
)  # fmt: skip

# Extensions Pillow registers but cannot decode without outside help, and
# common image formats Pillow does not read at all: a skipped file with one of
# these gets a warning that says so, rather than "not an image extension".
NOT_DECODED: dict[str, str] = {
    **dict.fromkeys((".svg", ".svgz", ".eps", ".ps", ".pdf", ".wmf", ".emf"),
                    "a vector or page format; export it as PNG"),
    **dict.fromkeys((".heic", ".heif"), "HEIF, which Pillow does not decode; export it as PNG or JPEG"),
    **dict.fromkeys((".bufr", ".grib", ".h5", ".hdf", ".mpeg", ".mpg"), "not a format Pillow decodes by itself"),
    **dict.fromkeys((".dng", ".cr2", ".nef", ".arw", ".raw"), "a camera raw format; export it as TIFF or PNG"),
}
