"""Reading images safely: every way a file can be wrong becomes one clear error.

Pillow does the reading because it is strict where OpenCV is lenient: it
refuses truncated JPEG and PNG data (OpenCV returns a half-grey picture with no
error), reads the header without decoding, so a decompression bomb is refused
before any pixel memory is taken, and knows palettes, transparency and EXIF.
Two kinds of file are decoded by OpenCV instead:

* 16-bit colour PNG/TIFF, which Pillow cannot hold, after Pillow has vetted the header;
* a plain PNG (:func:`_plain_png`: 8-bit grey, RGB or RGBA, nothing in it
  that Pillow would refuse or that would change its pixels or orientation),
  the common input, without Pillow at all. Its image data is inflated by
  libdeflate and unfiltered in place by the compiled core
  (:func:`_inflate_plain_png`), both releasing the GIL, so the two images of
  a pair decode at once (:func:`reading_ahead`) and while OpenCV still loads;
  an interlaced or huge one is decoded by OpenCV (libpng) in one call. Either
  way a third or more less CPU than Pillow's decode and copy, and no 50 ms of
  importing Pillow and its plugins. PNG is lossless: the pixels are the same
  whoever decodes them. Every chunk's CRC is checked first, and data that
  libdeflate and OpenCV refuse goes to Pillow, which reports it as it always has.

Arrays come back in RGB(A) order, uint8 or uint16, with EXIF orientation applied.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import threading
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ImageLoadError
from .options import DEFAULT_MAX_PIXELS

# libjpeg-turbo's fuzzers stop at 100 scans; a real progressive JPEG has about 10
MAX_JPEG_SCANS = 100

_EXIF_ORIENTATION = 0x0112
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
_JPEG_MARKER = re.compile(rb"\xff[\x01\xc0-\xfe]")
_GREY_MODES = {"1", "L"}
# Where Pillow finds an orientation besides an eXIf chunk: text chunks by these keywords.
_ORIENTATION_KEYS = ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")
# The chunks a plain PNG may have before its image data, with the least length Pillow's
# reader accepts: none of them changes the pixels that Pillow or OpenCV decode.
_INERT_CHUNKS = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9, b"sBIT": 0, b"tIME": 0, b"bKGD": 0}
# Plain text in a plain PNG, at most (Pillow refuses text past 64 MiB)
_PLAIN_TEXT = 1 << 20

# IHDR colour type -> Pillow's mode, at 8 bits a sample: the PNGs OpenCV decodes
_PLAIN_PNG_MODES = {0: "L", 2: "RGB", 6: "RGBA"}
# Pillow's bomb guard and the warning filters are process-wide: one reader at a time changes them
_PILLOW_SETTINGS = threading.Lock()

if TYPE_CHECKING:  # imported where used: reading_ahead() reads both files while NumPy (60 ms) and Pillow load
    import numpy as np
    from PIL import Image
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
    import numpy as np

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


def _sixteen_bit_colour(image: Image.Image, data: bytes) -> bool:
    """True for a 16-bit-per-channel colour file, which Pillow would cut to 8 bits."""
    if image.format == "PNG":
        # IHDR: bit depth at byte 24, colour type at 25 (2 = RGB, 6 = RGBA)
        return len(data) >= 26 and data[24] == 16 and data[25] in (2, 6)
    if image.format == "TIFF" and image.mode in ("RGB", "RGBA"):
        bits = image.tag_v2.get(258, (8,))
        return max(bits if isinstance(bits, tuple) else (bits,)) > 8
    return False


def _pixels_in_strips(image: Image.Image) -> np.ndarray:
    """``np.asarray(image)`` (uint8, read-only), copied out a strip at a time.

    ``np.asarray`` of the whole image holds two more copies of its pixels at
    once (``tobytes``' chunks and their join): with Pillow's own 4 bytes a
    pixel, 4 GB at the peak for one 20000 x 20000 RGB picture. This holds one.
    """
    import numpy as np

    width, height = image.size
    bands = len(image.getbands())
    out = np.empty((height, width, bands) if bands > 1 else (height, width), dtype=np.uint8)
    rows = max(1, 2**24 // (4 * width))
    for top in range(0, height, rows):
        out[top : top + rows] = np.asarray(image.crop((0, top, width, min(top + rows, height))))
    out.flags.writeable = False  # as np.asarray gives it: the CPU kernels load one specialisation
    return out


def _decode_with_pillow(image: Image.Image, path: Path) -> np.ndarray:
    import numpy as np

    mode = image.mode
    if mode in ("L", "RGB", "RGBA"):  # what convert() would make it already: no copy first
        return _pixels_in_strips(image)
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


def _decode_with_opencv(data: bytes, path: Path) -> np.ndarray:
    import cv2  # 16-bit colour and plain PNGs: OpenCV takes a while to import
    import numpy as np

    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageLoadError(path, "corrupt or truncated image data (OpenCV could not decode it)")
    code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(pixels, code)


def _inflate_plain_png(
    data: bytes, chunks: list[tuple[bytes, int, int]], mode: str, shape: tuple[int, int]
) -> np.ndarray | None:
    """A plain, non-interlaced PNG's pixels, RGB(A) or grey, read-only, inflated by libdeflate and
    unfiltered in place (:mod:`imgdiff_gpu.cpu.png_unfilter`); None where the image data is not exactly what its
    header promises (OpenCV's libpng, then Pillow, decide what to make of that).

    libdeflate inflates 2.5 times as fast as zlib (a 4K photograph's 25 MB in 44 ms instead
    of 109 ms), and the rows become pixels in the buffer they were inflated into, already in
    RGB order: no copy, no channel swap, and no OpenCV needed to read a pair.
    """
    try:
        import deflate
    except ImportError:  # an environment installed before deflate was a dependency: OpenCV decodes
        return None
    from .cpu.png_unfilter import unfilter_in_place

    height, width = shape
    channels = len(mode)
    size = height * (1 + width * channels)
    view = memoryview(data)
    stream = b"".join(view[start : start + length] for kind, start, length in chunks if kind == b"IDAT")
    try:
        rows = deflate.zlib_decompress(stream, size)
    except deflate.DeflateError:
        return None
    if len(rows) != size:  # less image data than the header promises
        return None
    if not isinstance(rows, bytearray):  # the pixels are unfiltered in place, so into a writable buffer
        rows = bytearray(rows)
    try:
        unfilter_in_place(rows, height, width, channels)
    except ValueError:  # a row's filter type is none of the five
        return None
    # NumPy only now: a command's first image is inflated and unfiltered (the GIL released) while
    # another thread imports NumPy, which would otherwise hold this one up for its whole import
    import numpy as np

    pixels = np.frombuffer(rows, dtype=np.uint8, count=height * width * channels)
    pixels = pixels.reshape(shape if channels == 1 else (*shape, channels))
    pixels.flags.writeable = False  # as the Pillow path gives them
    return pixels


# Image data past this (inflated) goes to libpng, which decodes a row at a time into the pixels:
# libdeflate inflates all of it into one buffer, beside the joined compressed IDAT stream, which
# for a huge image would be a second copy of it at the peak
_INFLATE_AT_ONCE_BYTES = 1 << 28


def _decode_plain_png(data: bytes, mode: str, shape: tuple[int, int]) -> np.ndarray | None:
    """A plain PNG's pixels (see :func:`_plain_png`), RGB(A), read-only; None where OpenCV refuses the data.

    OpenCV's bindings release the GIL for the whole call, so the two images of
    a pair decode at once. RGB comes out of libpng in that order (OpenCV 4.11's
    ``IMREAD_COLOR_RGB``; before it, BGR swapped in place), RGBA as BGRA swapped
    in place: 4K RGB in 140 ms of CPU where the swap took 20 ms more, on
    OpenCV's worker threads.
    """
    import cv2
    import numpy as np

    channels = len(mode)
    rgb_flag = getattr(cv2, "IMREAD_COLOR_RGB", None)
    if channels == 3 and rgb_flag is not None:
        flags, swap = rgb_flag | cv2.IMREAD_IGNORE_ORIENTATION, None  # a plain PNG has none to apply anyway
    else:
        flags, swap = cv2.IMREAD_UNCHANGED, {3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGBA}.get(channels)
    try:
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error:
        return None
    if pixels is None or pixels.dtype != np.uint8 or pixels.shape != (shape if channels == 1 else (*shape, channels)):
        return None
    if swap is not None:
        cv2.cvtColor(pixels, swap, dst=pixels)
    pixels.flags.writeable = False  # as the Pillow path gives them
    return pixels


# -- what a file is, before any decoding --------------------------------------------------------


def _what_is_there(path: Path) -> int:
    """The file's size; every reason there is no regular file to read becomes its own message."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            raise ImageLoadError(path, f"dangling symbolic link (to {os.readlink(path)})") from None
        raise ImageLoadError(path, "no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageLoadError(path, "symbolic link loop (the link leads back to itself)") from None
        if exc.errno == errno.ENOTDIR:
            raise ImageLoadError(path, "no such file (a part of the path is not a folder)") from None
        raise ImageLoadError(path, f"cannot read ({exc.strerror})") from None
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise ImageLoadError(path, "is a directory, not an image file")
    if stat.S_ISFIFO(mode):
        raise ImageLoadError(path, "is a pipe (FIFO), not a file; save the image to a file first")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise ImageLoadError(path, "is a device, not an image file")
    if stat.S_ISSOCK(mode):
        raise ImageLoadError(path, "is a socket, not an image file")
    if info.st_size == 0:
        raise ImageLoadError(path, "empty file")
    return info.st_size


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ImageLoadError(path, f"cannot read ({exc.strerror})") from None


def _sniff(data: bytes) -> str | None:
    """The format a file's first bytes claim, whatever its name says."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def _crc32():
    """libdeflate's CRC-32, where installed: a 4K photograph's image data in 0.1 ms instead of zlib's 2 ms."""
    try:
        from deflate import crc32
    except ImportError:  # an environment installed before deflate was a dependency
        return zlib.crc32
    return crc32


def _check_png(data: bytes, path: Path) -> list[tuple[bytes, int, int]]:
    """Every chunk whole and its CRC right, compressed text and profiles bounded, the IEND there.

    Pillow checks none of the CRCs of the image data: one damaged byte there
    decodes to a picture that is half black, with no error.

    Returns the chunks up to the IEND, each as (type, offset of its data, length).
    """
    position, end = 8, len(data)
    view = memoryview(data)  # no copy of the image data per chunk
    crc32 = _crc32()
    chunks = []
    while position + 12 <= end:
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        name = kind.decode("latin-1")
        after = position + 12 + length
        if after > end:
            raise ImageLoadError(path, f"truncated PNG: the file ends inside its {name} chunk")
        body = view[position + 8 : position + 8 + length]
        if crc32(body, crc32(kind)) != int.from_bytes(data[after - 4 : after], "big"):
            raise ImageLoadError(path, f"corrupt PNG: its {name} chunk at byte {position} fails its CRC check")
        if kind in (b"zTXt", b"iCCP", b"iTXt"):
            _check_inflated_size(bytes(body), kind, path)
        chunks.append((kind, position + 8, length))
        if kind == b"IEND":
            return chunks
        position = after
    raise ImageLoadError(path, "truncated PNG: the file ends before its IEND chunk")


def _plain_png(data: bytes, chunks: list[tuple[bytes, int, int]], max_pixels: int) -> tuple[str, int, int, bool] | None:
    """(Pillow's mode, height, width, interlaced) of a plain PNG, decoded without Pillow; else None.

    Plain: 8-bit grey, RGB or RGBA (no palette, no transparency key, which OpenCV
    would turn into an alpha channel), within ``max_pixels``; its IHDR first,
    then only chunks that change neither the pixels nor the orientation and
    that Pillow's reader accepts as they are (the minimum lengths below are
    Pillow's), then one run of IDATs and the IEND. Any other file is Pillow's to
    vet, whose messages are the contract.
    """
    kind, start, length = chunks[0]
    if kind != b"IHDR" or length != 13:
        return None
    width, height = int.from_bytes(data[start : start + 4], "big"), int.from_bytes(data[start + 4 : start + 8], "big")
    depth, colour, compression, filtering, interlace = data[start + 8 : start + 13]
    mode = _PLAIN_PNG_MODES.get(colour)
    if depth != 8 or mode is None or compression or filtering or interlace > 1 or not 0 < width * height <= max_pixels:
        return None
    kinds = [kind for kind, _, _ in chunks]
    if b"IDAT" not in kinds:
        return None
    first_data = kinds.index(b"IDAT")
    if any(kind != b"IDAT" for kind in kinds[first_data:-1]):
        return None  # chunks among or after the image data: Pillow reads those as it decodes
    text = 0
    for kind, start, length in chunks[1:first_data]:
        if kind == b"tEXt":
            text += length
            if data[start : start + length].split(b"\0", 1)[0].decode("latin-1") in _ORIENTATION_KEYS:
                return None
        elif length < _INERT_CHUNKS.get(kind, 1 << 32):
            return None
    return (mode, height, width, bool(interlace)) if text <= _PLAIN_TEXT else None


def _check_inflated_size(body: bytes, kind: bytes, path: Path) -> None:
    """Refuse a compressed text or colour-profile chunk that inflates past Pillow's limit."""
    keyword_end = body.find(b"\0")
    if keyword_end < 0:
        return
    if kind == b"iTXt":
        if body[keyword_end + 1 : keyword_end + 2] != b"\1":
            return  # not compressed
        rest = body[keyword_end + 3 :]
        for _ in range(2):  # language tag, translated keyword
            rest = rest[rest.find(b"\0") + 1 :]
        stream = rest
    else:
        stream = body[keyword_end + 2 :]
    from PIL import PngImagePlugin

    limit = PngImagePlugin.MAX_TEXT_CHUNK
    try:
        inflated = zlib.decompressobj().decompress(stream, limit + 1)
    except zlib.error:
        raise ImageLoadError(path, f"corrupt PNG: its {kind.decode()} chunk does not inflate") from None
    if len(inflated) > limit:
        raise ImageLoadError(
            path,
            f"a PNG {kind.decode()} chunk inflates past {limit:,} bytes (a decompression bomb?); refused",
        )


def _jpeg_scans(data: bytes) -> int:
    """The scans of the first JPEG image in ``data``, counted up to one past the limit.

    Marker segments are skipped by their length, so a thumbnail inside EXIF
    is not counted; in entropy-coded data a 0xFF byte is always followed by
    0x00 (stuffing), a restart marker or the next marker.
    """
    scans, position = 0, 2
    while (found := _JPEG_MARKER.search(data, position)) is not None:
        code = data[found.start() + 1]
        position = found.start() + 2
        if 0xD0 <= code <= 0xD7 or code == 0x01:
            continue  # RSTn and TEM have no length
        if code == 0xD9:
            break  # EOI
        if code == 0xDA:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                break
        position += int.from_bytes(data[position : position + 2], "big")
    return scans


def _check_tiff_data(image: Image.Image, size: int, path: Path) -> None:
    """Every strip or tile of the first page lies inside the file."""
    tags = image.tag_v2
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if offsets is None or counts is None:
            continue
        offsets = offsets if isinstance(offsets, tuple) else (offsets,)
        counts = counts if isinstance(counts, tuple) else (counts,)
        if any(o + c > size for o, c in zip(offsets, counts, strict=False)):
            raise ImageLoadError(path, "truncated TIFF: its image data runs past the end of the file")


def _tiff_directory_offset(data: bytes) -> int:
    order = "little" if data[:2] == b"II" else "big"
    return int.from_bytes(data[4:8], order)


def _frame_count(image: Image.Image) -> int:
    try:
        return int(getattr(image, "n_frames", 1))
    except Exception:  # counting walks every frame header; a broken one is corrupt data
        return -1


def load_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read an image file for comparison.

    Everything that is decoded is validated first: PNG chunk CRCs and
    compressed-chunk sizes, the scan count of a progressive JPEG (a scan bomb
    takes seconds and a gigabyte per thousand scans), TIFF strips against the
    file size, and the frame count (an animation or a multi-page file is
    refused rather than compared on its first frame).

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
        Missing file, a directory, a pipe or device, a symbolic link loop, an
        empty or non-image file, corrupt or truncated data, several frames,
        or more than ``max_pixels`` pixels. The message starts with the path.
    """
    ahead = _AHEAD.pop((str(Path(path)), max_pixels), None)
    if ahead is not None:
        ahead.join()
        if ahead.loaded is not None:
            return ahead.loaded
    return _read_and_decode(Path(path), max_pixels)


def _read_and_decode(path: Path, max_pixels: int) -> LoadedImage:
    size = _what_is_there(path)
    data = _read(path)
    claimed = _sniff(data)
    if claimed == "PNG":  # checked before Pillow, which inflates text chunks as it opens
        chunks = _check_png(data, path)
        plain = _plain_png(data, chunks, max_pixels)
        if plain is not None:
            mode, height, width, interlaced = plain
            pixels = None
            if not interlaced and height * (1 + width * len(mode)) <= _INFLATE_AT_ONCE_BYTES:
                pixels = _inflate_plain_png(data, chunks, mode, (height, width))
            if pixels is None:
                pixels = _decode_plain_png(data, mode, (height, width))
            if pixels is not None:  # else Pillow decodes it, or says what is wrong with it, as ever
                return LoadedImage(pixels=pixels, path=str(path), format="PNG", mode=mode, orientation=1)
    with _pillow_quiet():
        return _load(path, data, size, claimed, max_pixels)


@contextlib.contextmanager
def _pillow_quiet() -> Iterator[None]:
    """Pillow's bomb guard off and its warnings ignored, one thread at a time.

    Pillow's bomb guard is a process-wide setting; we apply our limit
    ourselves from the header, so silence Pillow's and let ours speak. Its
    warnings (corrupt EXIF, odd TIFF tags) would be lines of their own on
    stderr: what matters in them is raised, as errors. Both settings are the
    whole process's, so two threads reading at once take turns here.
    """
    from PIL import Image

    with _PILLOW_SETTINGS:
        previous_limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous_limit


def _load(path: Path, data: bytes, size: int, claimed: str | None, max_pixels: int) -> LoadedImage:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if claimed == "TIFF" and _tiff_directory_offset(data) >= len(data):
            raise ImageLoadError(
                path, "truncated TIFF: the file ends before its image directory (cut short?)"
            ) from None
        if claimed is not None:
            raise ImageLoadError(path, f"truncated or corrupt {claimed} file (Pillow cannot read its header)") from None
        raise ImageLoadError(path, "not an image file Pillow can read") from None
    except Exception as exc:  # a plugin tripping over hostile data: corrupt, whatever it raised
        raise ImageLoadError(path, f"corrupt {claimed or 'image'} file ({exc})") from None

    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageLoadError(
                path,
                f"{width}x{height} is {width * height:,} pixels, over the limit of "
                f"{max_pixels:,}; raise max_pixels=... if the file is trusted",
            )
        if width == 0 or height == 0:
            raise ImageLoadError(path, f"image has no pixels ({width}x{height})")
        fmt = image.format
        if fmt == "PNG" and claimed != "PNG":
            _check_png(data, path)
        elif fmt in ("JPEG", "MPO") and _jpeg_scans(data) > MAX_JPEG_SCANS:
            raise ImageLoadError(
                path, f"JPEG with more than {MAX_JPEG_SCANS} scans (a scan bomb?); refused before decoding"
            )
        elif fmt == "TIFF":
            _check_tiff_data(image, size, path)
        frames = 1 if fmt == "MPO" else _frame_count(image)  # MPO: the first image; the rest are previews
        if frames < 0:
            raise ImageLoadError(path, f"corrupt {fmt} file (a frame header cannot be read)")
        if frames > 1:
            remedy = (
                "extract the page you mean"
                if fmt == "TIFF"
                else "compare animations with 'imgdiff video', or extract the frame you mean"
            )
            what = "pages" if fmt == "TIFF" else "frames"
            raise ImageLoadError(
                path, f"{fmt} with {frames} {what}; imgdiff compares still images, not just a first frame: {remedy}"
            )
        try:
            if _sixteen_bit_colour(image, data):
                pixels = _decode_with_opencv(data, path)
            else:
                image.load()  # before the EXIF lookup, which would load it and hide the error
                pixels = _decode_with_pillow(image, path)
        except ImageLoadError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as exc:  # Pillow decodes lazily: truncation is here
            raise ImageLoadError(path, f"corrupt or truncated image data ({exc})") from None
        try:
            orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1))
        except Exception:  # a broken EXIF block: the pixels are already validated
            orientation = 1
        mode = image.mode

    if orientation not in range(1, 9):
        orientation = 1
    return LoadedImage(
        pixels=apply_orientation(pixels, orientation),
        path=str(path),
        format=fmt,
        mode=mode,
        orientation=orientation,
    )


# -- reading ahead -------------------------------------------------------------------------------


class _ReadAhead(threading.Thread):
    """One file read and decoded on a thread of its own; ``loaded`` is None where that failed."""

    def __init__(self, path: Path, max_pixels: int) -> None:
        super().__init__(name=f"imgdiff-read-ahead-{path.name}", daemon=True)
        self.path, self.max_pixels = path, max_pixels
        self.loaded: LoadedImage | None = None

    def run(self) -> None:
        try:
            self.loaded = _read_and_decode(self.path, self.max_pixels)
        except Exception:  # load_image reads the file again, and reports the trouble in the caller's order
            pass


# (path, max_pixels) -> the thread reading it, until load_image takes it
_AHEAD: dict[tuple[str, int], _ReadAhead] = {}


@contextlib.contextmanager
def reading_ahead(
    paths: Iterable[str | os.PathLike[str] | None], *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[None]:
    """Read and decode ``paths`` on threads of their own while the block goes on.

    In the block, :func:`load_image` of one of these paths (with the same
    ``max_pixels``) waits for its thread and takes the image. Only images are
    kept: a file whose reading failed is read again by ``load_image``, which
    reports the trouble as it always does, in the order the caller asks. Decoding
    (OpenCV's, zlib's, libjpeg's) releases the GIL, so the two images of a pair
    decode at once, and beside the imports of whatever comes next. Leaving the
    block waits for the threads and forgets what was not taken.

    >>> with reading_ahead(["examples/left.png", "examples/right.png"]):
    ...     left = load_image("examples/left.png")
    >>> left.pixels.shape
    (300, 451, 3)
    """
    started: dict[tuple[str, int], _ReadAhead] = {}
    for path in paths:
        if path is None:
            continue
        key = (str(Path(path)), max_pixels)
        if key not in _AHEAD and key not in started:
            started[key] = _ReadAhead(Path(path), max_pixels)
            started[key].start()
    _AHEAD.update(started)
    try:
        yield
    finally:
        for key, thread in started.items():
            if _AHEAD.get(key) is thread:
                del _AHEAD[key]
            thread.join()
