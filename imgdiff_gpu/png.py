"""Writing the pictures as PNG, fast: rows filtered with NumPy, deflated by ISA-L.

A comparison's pictures are written on every run, three of them full-size
photographs, so their encoding is most of the cost of ``--out``. PNG leaves
the encoder two choices, the per-row filter and the deflate compressor; the
pixels decode the same whatever they are. Here every row gets the Sub filter
(each byte minus the same channel of the pixel to its left), which costs one
subtraction over whole rows and suits photographs and flat pictures alike, and the filtered
rows are deflated by Intel's ISA-L (the ``isal`` package) at its level 1, which
releases the GIL, so the pictures of a run are encoded on as many threads.

Measured by ``benchmarks/bench_codecs.py`` on a 4K photograph, CPU time on this
project's 2-core AMD EPYC: ISA-L level 1, 59 ms for 5.85 MB; zlib level 1 with
the run-length strategy and the same filter (OpenCV's settings before), 220 ms
for 5.91 MB; Pillow (zlib level 1), 544 ms for 6.39 MB; stored, no filter,
46 ms for 24.9 MB. Flat pictures come out a little larger than zlib's run-length
coding made them (the 4K example's heat map 0.27 MB instead of 0.22 MB, its mask
40 kB instead of 15 kB). ISA-L's other levels, timed once by hand: 0 as fast for
a photograph 21 % larger, 2 no faster for one 0.02 % smaller.

A huge picture is never whole in memory here: :func:`encode_png_rows` asks its
drawer for a band of rows at a time (:data:`BAND_BYTES`) and filters each into
the one buffer that is deflated, so a picture costs its filtered rows (its
size plus a byte a row) and one band. The deflate sees the same buffer however
the rows were drawn: the bytes are those of :func:`encode_png` of the whole.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 3: 2}  # channels -> PNG colour type: grey, RGB
_SUB = 1  # the filter type byte that starts each row
_MAX_CHUNK = 1 << 30  # image data is split into IDAT chunks no larger than this (the format allows 2**31 - 1)

BAND_BYTES = 1 << 21
"""Pixels asked of a picture's drawer at once (:func:`encode_png_rows`): a 4K photograph comes in 12
bands. A band's drawing (its copy of the pixels, the heat map's float levels) is filtered while it is
still in the caches, and the next band's reuses the memory the allocator got back from it instead of
faulting in fresh pages (a 4K pair's pictures: half the page faults of whole pictures; figures in
``benchmarks/RESULTS.md``, "One pair")."""


def _chunk(kind: bytes, body) -> bytes:
    return struct.pack(">I", len(body)) + kind + bytes(body) + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def sub_filtered(picture: np.ndarray, out: np.ndarray | None = None, *, rgb: bool = False) -> np.ndarray:
    """The rows of an 8-bit grey or BGR picture as PNG stores them: RGB, Sub-filtered, each after its filter byte.

    Returns an H x (1 + W * channels) uint8 array (``out`` when given); byte
    arithmetic wraps modulo 256, as the format's filters do. With ``rgb`` a colour
    picture is in RGB order already, and is filtered as it is.
    """
    height, width = picture.shape[:2]
    channels = 1 if picture.ndim == 2 else picture.shape[2]
    picture = np.ascontiguousarray(picture)
    if channels == 3 and not rgb:  # OpenCV's swap, then one subtraction on whole rows: ten times a strided one
        import cv2

        picture = cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)
    pixels = picture.reshape(height, width * channels)
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8) if out is None else out
    rows[:, 0] = _SUB
    rows[:, 1 : 1 + channels] = pixels[:, :channels]
    np.subtract(pixels[:, channels:], pixels[:, :-channels], out=rows[:, 1 + channels :])
    return rows


def encode_png(picture: np.ndarray) -> bytes:
    """An 8-bit grey (H x W) or BGR (H x W x 3) picture as the bytes of a PNG file.

    Parameters
    ----------
    picture : numpy.ndarray
        uint8 pixels, in OpenCV's channel order (as :func:`imgdiff_gpu.rendering.render` gives them).

    Returns
    -------
    bytes
        A PNG file (colour type 0 or 2, 8 bits, not interlaced) holding exactly these pixels.

    Raises
    ------
    ValueError
        For any other dtype or layout.
    """
    _check(picture.dtype, picture.shape)
    return encode_png_rows(picture.shape, lambda top, bottom: picture[top:bottom])


def encode_png_rows(shape: tuple[int, ...], rows: Callable[[int, int], np.ndarray], *, rgb: bool = False) -> bytes:
    """:func:`encode_png` of a picture of ``shape`` drawn a band at a time: ``rows(top, bottom)``
    gives its rows [top, bottom), about :data:`BAND_BYTES` of them at once. The same bytes.

    With ``rgb`` the rows of a colour picture come in RGB order (PNG's) rather than BGR.
    """
    from isal import isal_zlib  # only where pictures are written

    _check(np.dtype(np.uint8), shape)
    height, width = shape[:2]
    channels = 1 if len(shape) == 2 else shape[2]
    band_rows = max(BAND_BYTES // (width * channels), 1)
    filtered = np.empty((height, 1 + width * channels), dtype=np.uint8)
    for top in range(0, height, band_rows):
        bottom = min(top + band_rows, height)
        band = rows(top, bottom)
        if band.dtype != np.uint8 or band.shape != (bottom - top, *shape[1:]):
            raise ValueError(f"rows {top} to {bottom} of a {shape} picture came as {band.dtype} {band.shape}")
        sub_filtered(band, out=filtered[top:bottom], rgb=rgb)
        del band
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    data = memoryview(isal_zlib.compress(filtered, 1))
    del filtered
    parts = [_SIGNATURE, _chunk(b"IHDR", header)]
    parts += [_chunk(b"IDAT", data[start : start + _MAX_CHUNK]) for start in range(0, len(data), _MAX_CHUNK)]
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _check(dtype: np.dtype, shape: tuple[int, ...]) -> None:
    channels = 1 if len(shape) == 2 else shape[2] if len(shape) == 3 else 0
    if dtype != np.uint8 or channels not in _COLOUR_TYPE or 0 in shape:
        raise ValueError(f"a picture to write as PNG is uint8 H x W or H x W x 3, got {dtype} {tuple(shape)}")
