"""Reading images safely: every way a file can be wrong becomes one clear error.

Pillow does the reading because it is strict where OpenCV is lenient: it
refuses truncated JPEG and PNG data (OpenCV returns a half-grey picture with no
error), reads the header without decoding, so a decompression bomb is refused
before any pixel memory is taken, and knows palettes, transparency and EXIF.
The one thing Pillow cannot hold is 16-bit colour, so those PNG/TIFF files are
decoded by OpenCV after Pillow has vetted the header.

Arrays come back in RGB(A) order, uint8 or uint16, with EXIF orientation applied.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageLoadError

# 20000 x 20000 (issue-sized "huge" inputs) fits; a 100000 x 100000 header does not.
DEFAULT_MAX_PIXELS = 400_000_000

_EXIF_ORIENTATION = 0x0112
_GREY_MODES = {"1", "L"}
_SIXTEEN_BIT_GREY_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels plus what the file said about them."""

    pixels: np.ndarray
    """H x W (grey), H x W x 3 (RGB) or H x W x 4 (RGBA); uint8 or uint16."""
    path: str | None
    format: str | None
    mode: str
    """Pillow's name for the stored pixel layout, e.g. ``P``, ``RGBA``, ``I;16``."""
    orientation: int
    """The EXIF orientation that was applied (1 = none)."""

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright for an EXIF orientation tag (1-8).

    The same transposes as :func:`PIL.ImageOps.exif_transpose`, on arrays, so
    that Pillow- and OpenCV-decoded files share one rule.
    """
    if orientation in (5, 6, 7, 8):
        pixels = np.swapaxes(pixels, 0, 1)
        # after the transpose, 5 needs nothing, 6 a horizontal flip, 8 a
        # vertical one and 7 both
        flips = {5: (), 6: (1,), 7: (0, 1), 8: (0,)}[orientation]
    else:
        flips = {2: (1,), 3: (0, 1), 4: (0,)}.get(orientation, ())
    for axis in flips:
        pixels = np.flip(pixels, axis=axis)
    return np.ascontiguousarray(pixels)


def _sixteen_bit_colour(image: Image.Image, path: Path) -> bool:
    """True for a 16-bit-per-channel colour file, which Pillow would cut to 8 bits."""
    if image.format == "PNG":
        with open(path, "rb") as fh:
            header = fh.read(26)
        # IHDR: bit depth at byte 24, colour type at 25 (2 = RGB, 6 = RGBA)
        return len(header) == 26 and header[24] == 16 and header[25] in (2, 6)
    if image.format == "TIFF" and image.mode in ("RGB", "RGBA"):
        bits = image.tag_v2.get(258, (8,))
        return max(bits if isinstance(bits, tuple) else (bits,)) > 8
    return False


def _decode_with_pillow(image: Image.Image, path: Path) -> np.ndarray:
    mode = image.mode
    try:
        if mode in _GREY_MODES:
            return np.asarray(image.convert("L"))
        if mode in _SIXTEEN_BIT_GREY_MODES:
            grey = np.asarray(image)
            if grey.dtype.kind == "i" and (grey.min() < 0 or grey.max() > 65535):
                raise ImageLoadError(path, f"{mode} pixels outside 0..65535 are not supported")
            return grey.astype(np.uint16)
        if mode == "F":
            raise ImageLoadError(path, "32-bit float images are not supported; convert to 8- or 16-bit first")
        if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
            return np.asarray(image.convert("RGBA"))
        return np.asarray(image.convert("RGB"))
    except OSError as exc:  # Pillow decodes lazily: truncation surfaces here
        raise ImageLoadError(path, f"corrupt or truncated image data ({exc})") from None


def _decode_with_opencv(path: Path) -> np.ndarray:
    import cv2  # 16-bit colour only: OpenCV takes a while to import

    data = np.fromfile(path, dtype=np.uint8)
    pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageLoadError(path, "corrupt or truncated image data (OpenCV could not decode it)")
    code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(pixels, code)


def load_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read an image file for comparison.

    Parameters
    ----------
    path : str or path-like
        The file to read (PNG, JPEG, TIFF, BMP, WebP, GIF... whatever Pillow reads).
    max_pixels : int, optional
        Refuse, before decoding, any image whose header claims more pixels.

    Returns
    -------
    LoadedImage

    Raises
    ------
    ImageLoadError
        Missing file, a directory, an empty or non-image file, corrupt or
        truncated data, or more than ``max_pixels`` pixels. The message starts
        with the path.
    """
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(path, "no such file")
    if path.is_dir():
        raise ImageLoadError(path, "is a directory, not an image file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageLoadError(path, f"cannot read ({exc.strerror})") from None
    if size == 0:
        raise ImageLoadError(path, "empty file")

    # Pillow's own bomb guard is a process-wide setting; we apply our limit
    # ourselves from the header, so silence Pillow's and let ours speak.
    previous_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError:
        raise ImageLoadError(path, "not an image file Pillow can read") from None
    except OSError as exc:
        raise ImageLoadError(path, f"cannot read ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit

    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageLoadError(
                path,
                f"{width}x{height} is {width * height:,} pixels, over the limit of "
                f"{max_pixels:,}; raise it with --max-pixels if the file is trusted",
            )
        if width == 0 or height == 0:
            raise ImageLoadError(path, f"image has no pixels ({width}x{height})")
        try:
            orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1))
        except Exception:  # a broken EXIF block should not hide the pixels
            orientation = 1
        if _sixteen_bit_colour(image, path):
            pixels = _decode_with_opencv(path)
        else:
            pixels = _decode_with_pillow(image, path)
        mode, fmt = image.mode, image.format

    if orientation not in range(1, 9):
        orientation = 1
    return LoadedImage(
        pixels=apply_orientation(pixels, orientation),
        path=str(path),
        format=fmt,
        mode=mode,
        orientation=orientation,
    )
