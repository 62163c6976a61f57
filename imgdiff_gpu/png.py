"""Writing the pictures as PNG, fast: rows filtered with NumPy, deflated by ISA-L in segments.

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

The image data is deflated in segments of whole rows (:data:`SEGMENT_BYTES`),
each on its own, with no history before it, and ending on a byte boundary (a
sync flush), so the segments of one picture simply follow each other in its
zlib stream. Two things follow. The pictures of a pair often share most rows:
the marked left and right images are the inputs, the same outside the edits where
one was edited from the other (a screenshot, a render), and the filled right image
is the right one but for the regions. :func:`encode_pngs` deflates a segment once
for every picture of a family whose filtered rows there are byte for byte the same
(a 4K pair with four edits: 151 of 297 segments of its three photographs, half
their deflate; a re-encoded pair shares nothing, and comparing costs about 7 ms at
4K). And a picture can be deflated by several threads at once, a span of segments
each. A segment starts with no history, which costs a photograph 0.1 % in size at
256 KiB.

A huge picture is never whole in memory here: the rows are drawn a band at a time
(:data:`BAND_BYTES`), filtered into one band buffer and deflated from it, so a
picture costs its compressed bytes and a band. The bytes of a picture are the
same however its rows were drawn, shared or split among threads: its segments
lie on one grid of rows, from its top.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
import zlib
from collections.abc import Callable, Hashable, Sequence

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 3: 2}  # channels -> PNG colour type: grey, RGB
_SUB = 1  # the filter type byte that starts each row
_MAX_CHUNK = 1 << 30  # image data is split into IDAT chunks no larger than this (the format allows 2**31 - 1)
_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window, the fastest level (RFC 1950)
_FINAL_BLOCK = b"\x03\x00"  # an empty last block (fixed codes): the segments before it all end with a sync flush
_ADLER_BASE = 65521

BAND_BYTES = 1 << 21
"""Pixels asked of a picture's drawer at once: a 4K photograph comes in 12 bands. A band's drawing
(its copy of the pixels, the heat map's float levels) is filtered while it is still in the caches,
and the next band's reuses the memory the allocator got back from it instead of faulting in fresh
pages (a 4K pair's pictures: half the page faults of whole pictures; figures in
``benchmarks/RESULTS.md``, "One pair"). A band is whole segments, one at least."""

SEGMENT_BYTES = 1 << 18
"""Filtered rows deflated on their own, about (22 rows of a 4K photograph). Smaller finds more rows
shared between the pictures of a pair and costs more calls and size: 4K, three photographs, the
deflate's CPU at 2 MiB, 512, 256, 128 and 64 KiB: 100, 94, 81, 85, 93 ms; 256 KiB costs 0.1 % in
size against one deflate of the whole picture."""


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
    return encode_pngs([PngRows(shape, rows, rgb=rgb)])[0]


class PngRows:
    """A picture to encode (:func:`encode_pngs`): its shape and the drawer of its rows.

    A plain class: a dataclass or a NamedTuple costs 0.4-2 ms to make when this module is imported,
    on every ``--out`` run.
    """

    __slots__ = ("family", "rgb", "rows", "same_as", "shape")

    def __init__(
        self,
        shape: tuple[int, ...],
        rows: Callable[[int, int], np.ndarray],
        *,
        rgb: bool = False,
        family: Hashable = None,
        same_as: tuple[Hashable, Sequence[tuple[int, int]]] | None = None,
    ) -> None:
        self.shape = tuple(shape)
        """H x W (grey) or H x W x 3."""
        self.rows = rows
        """Rows [top, bottom) of the picture, uint8."""
        self.rgb = rgb
        """The rows of a colour picture come in RGB order (PNG's), not BGR."""
        self.family = family
        """Pictures of one family and shape mostly share rows (those of one pair of images): a segment
        of rows that several of them have, byte for byte, is deflated once. None: a family of its own."""
        self.same_as = same_as
        """(key, spans): this picture's rows are those of the picture deflated ahead under ``key``
        (:class:`DeflatedAhead`) but in the row spans [top, bottom): a segment clear of them is taken
        from there, neither drawn nor deflated again. None: nothing known."""


def encode_pngs(pictures: Sequence[PngRows], *, threads: int = 1, ahead: _Ahead | None = None) -> list[bytes]:
    """The PNG files of ``pictures``, in their order, deflated on up to ``threads`` threads.

    Each picture's bytes are those :func:`encode_png_rows` gives it alone: a segment shared
    with another picture of its family is the same segment, deflated once, and a segment that
    a picture has as ``ahead`` (:meth:`DeflatedAhead.finish`) has it deflated already
    (:attr:`PngRows.same_as`) is taken from there.

    Raises
    ------
    ValueError
        A shape that is not uint8 H x W or H x W x 3, or a drawer giving rows of another shape.
    """
    families: dict[Hashable, list[int]] = {}
    for index, picture in enumerate(pictures):
        _check(np.dtype(np.uint8), picture.shape)
        key = (picture.family, tuple(picture.shape)) if picture.family is not None else ("own", index)
        families.setdefault(key, []).append(index)
    tasks: list[tuple[int, list[int], int, int]] = []  # (weight, pictures, top, bottom)
    for members in families.values():
        shape = pictures[members[0]].shape
        height = shape[0]
        segment = _segment_rows(shape)
        # a span per thread, on the segments' grid: every span ends where a segment does
        count = min(max(threads, 1), -(-height // segment))
        edges = [min(round(height / segment * k / count) * segment, height) for k in range(count)] + [height]
        for top, bottom in itertools.pairwise(edges):
            if top < bottom:
                tasks.append((len(members) * (bottom - top) * _row_bytes(shape), members, top, bottom))
    tasks.sort(key=lambda task: -task[0])  # the heaviest first, so that the threads end together
    spans = _run(
        [
            lambda m=members, t=top, b=bottom: _deflate(pictures, m, t, b, ahead=ahead)
            for _, members, top, bottom in tasks
        ],
        threads,
    )
    deflated: dict[int, list[tuple[int, _Span]]] = {}
    for (_, members, top, _), found in zip(tasks, spans, strict=True):
        for index, span in zip(members, found, strict=True):
            deflated.setdefault(index, []).append((top, span))
    return [
        _png_file(pictures[index].shape, [span for _, span in sorted(deflated[index], key=lambda t: t[0])])
        for index in range(len(pictures))
    ]


class _Span:
    """Consecutive segments of one picture's image data: raw deflate, each ending on a byte, with
    each segment's Adler-32 and length (of its filtered rows)."""

    __slots__ = ("checks", "parts")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.checks: list[tuple[int, int]] = []

    def add(self, data: bytes, adler: int, length: int) -> None:
        self.parts.append(data)
        self.checks.append((adler, length))


def _row_bytes(shape: tuple[int, ...]) -> int:
    return shape[1] * (1 if len(shape) == 2 else shape[2])


def _segment_rows(shape: tuple[int, ...]) -> int:
    return max(SEGMENT_BYTES // (1 + _row_bytes(shape)), 1)


def _deflate(
    pictures: Sequence[PngRows], members: list[int], top: int, bottom: int, *, ahead: _Ahead | None = None
) -> list[_Span]:
    """Rows [top, bottom) of some pictures of one shape, deflated a segment at a time; a segment
    whose filtered bytes an earlier picture of ``members`` has is deflated once, and one that a
    picture has as it was deflated ahead (:attr:`PngRows.same_as`) is taken from ``ahead``, its
    rows neither drawn nor filtered."""
    shape = pictures[members[0]].shape
    segment = _segment_rows(shape)
    band_rows = max(BAND_BYTES // _row_bytes(shape) // segment, 1) * segment
    sources = [_deflated_ahead(pictures[index], ahead, segment) for index in members]
    filtered: list[np.ndarray | None] = [None for _ in members]  # a band buffer each, once needed
    spans = [_Span() for _ in members]
    for band_top in range(top, bottom, band_rows):
        band_bottom = min(band_top + band_rows, bottom)
        starts = range(band_top, band_bottom, segment)
        # each member's segments of this band as deflated ahead, None where they are deflated here
        known = [[source(start // segment) for start in starts] for source in sources]
        for k, index in enumerate(members):
            if all(found is not None for found in known[k]):
                continue
            if filtered[k] is None:
                filtered[k] = np.empty((min(band_rows, bottom - top), 1 + _row_bytes(shape)), dtype=np.uint8)
            _filter_rows(pictures[index], band_top, band_bottom, filtered[k])
        for j, start in enumerate(starts):
            done: list[tuple[np.ndarray, bytes, int]] = []  # this segment of the pictures before, deflated
            for k, span in enumerate(spans):
                if known[k][j] is not None:
                    span.add(*known[k][j])
                    continue
                rows = filtered[k][start - band_top : min(start + segment, band_bottom) - band_top]
                span.add(*_deflated_once(rows, done))
    return spans


def _filter_rows(picture: PngRows, top: int, bottom: int, out: np.ndarray) -> None:
    """Rows [top, bottom) of ``picture``, drawn and filtered into the first rows of ``out``."""
    band = picture.rows(top, bottom)
    if band.dtype != np.uint8 or band.shape != (bottom - top, *picture.shape[1:]):
        raise ValueError(f"rows {top} to {bottom} of a {picture.shape} picture came as {band.dtype} {band.shape}")
    sub_filtered(band, out=out[: bottom - top], rgb=picture.rgb)


def _deflated_once(rows: np.ndarray, done: list[tuple[np.ndarray, bytes, int]]) -> tuple[bytes, int, int]:
    """A segment's filtered rows deflated, with their Adler-32 and length; or the deflate of the same
    rows in ``done`` (the segment of the pictures before), to which a new one is added."""
    from isal import isal_zlib  # only where pictures are written

    for other, data, adler in done:
        if np.array_equal(other, rows):
            return data, adler, rows.nbytes
    compressor = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)
    data = compressor.compress(rows) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)
    adler = isal_zlib.adler32(rows)
    done.append((rows, data, adler))
    return data, adler, rows.nbytes


_Ahead = dict[Hashable, tuple[tuple[int, ...], dict[int, tuple[bytes, int, int]]]]
"""What :meth:`DeflatedAhead.finish` hands over: by key, the picture's shape and its segments deflated,
by index from the top: (raw deflate, Adler-32, length of the filtered rows)."""


def _deflated_ahead(picture: PngRows, ahead: _Ahead | None, segment: int) -> Callable[[int], tuple | None]:
    """The segment (by its index from the top) of ``picture`` as deflated ahead, where it was and the
    picture's rows there are those deflated; else None."""
    found = None if ahead is None or picture.same_as is None else ahead.get(picture.same_as[0])
    if found is None or found[0] != tuple(picture.shape):
        return lambda index: None
    segments = found[1]
    changed = {k for top, bottom in picture.same_as[1] for k in range(top // segment, (bottom - 1) // segment + 1)}
    return lambda index: None if index in changed else segments.get(index)


AHEAD_MARGIN_ROWS = 16
"""Rows either side of a segment where two inputs that differ may have a box drawn over the segment: a
region reaches past its differing pixels by about the SSIM window's radius (5), a box past its region
by twice its thickness and one (5 at the default 2)."""


class DeflatedAhead:
    """Pictures deflated on a thread of their own while the caller does something else: the plain
    inputs of a comparison, while it runs, for the pictures that show them with a few rows drawn
    over (:attr:`PngRows.same_as`).

    A core that the comparison leaves idle (its serial stages) deflates the rows of the marked and
    filled pictures before they are drawn. :meth:`finish` stops it and hands over what it did, for
    :func:`encode_pngs` (``ahead``); the bytes of every picture are the same with or without it.
    The pictures are one family (one shape, their shared rows deflated once).

    Given ``alike(top, bottom)``, whether the pictures' rows [top, bottom) are all the same, byte for
    byte (the two inputs of a pair, the same outside its edits), a segment alike with
    :data:`AHEAD_MARGIN_ROWS` either side is drawn and deflated once for all; the others, where the
    pictures drawn from these will likely draw boxes and regions, are left to them, where they are
    fewer than half (deflated ahead, they would likely be deflated again: the 4K example, 32 of 99
    segments, 23 of them under a box or a region). Where they are most of the picture (a pair
    re-encoded), the few boxes cover little of them, and all are deflated ahead.
    """

    def __init__(self, pictures: dict[Hashable, PngRows], *, alike: Callable[[int, int], bool] | None = None) -> None:
        shapes = {tuple(picture.shape) for picture in pictures.values()}
        if len(shapes) != 1:
            raise ValueError(f"pictures deflated ahead together have one shape, got {sorted(shapes)}")
        for picture in pictures.values():
            _check(np.dtype(np.uint8), picture.shape)
        self._pictures = pictures
        self._alike = alike
        self._stopped = False
        self._segments: list[dict[int, tuple[bytes, int, int]]] = [{} for _ in pictures]
        threading.Thread(target=self._deflate, name="imgdiff-png-ahead", daemon=True).start()

    def _deflate(self) -> None:
        pictures = list(self._pictures.values())
        shape = pictures[0].shape
        height, segment = shape[0], _segment_rows(shape)
        starts = range(0, height, segment)
        try:
            order, alike = list(starts), [False for _ in starts]
            if self._alike is not None:
                margin = AHEAD_MARGIN_ROWS
                alike = [self._alike(max(start - margin, 0), min(start + segment + margin, height)) for start in starts]
                if 2 * alike.count(False) <= len(alike):  # the edits of a pair: their boxes will cover most of these
                    order = [start for start in starts if alike[start // segment]]
            filtered = [np.empty((segment, 1 + _row_bytes(shape)), dtype=np.uint8) for _ in pictures]
            for start in order:
                bottom = min(start + segment, height)
                done: list[tuple[np.ndarray, bytes, int]] = []
                drawn = pictures[:1] if alike[start // segment] else pictures
                found = []
                for picture, out in zip(drawn, filtered, strict=False):
                    _filter_rows(picture, start, bottom, out)
                    found.append(_deflated_once(out[: bottom - start], done))
                found += found[:1] * (len(pictures) - len(drawn))  # the same rows: the same segment
                if self._stopped:  # no lock to hand over with: one held by a thread put aside would stall the caller
                    return
                for segments, deflated in zip(self._segments, found, strict=True):
                    segments[start // segment] = deflated
        except Exception:  # whatever it is happens again where the pictures are drawn, and is raised there
            pass

    def finish(self) -> _Ahead:
        """What was deflated until now, by key (see ``encode_pngs(ahead=...)``): copies, which a
        segment the thread stores after this cannot change (it stores none once it sees the stop).
        The thread is not waited for (on a loaded machine it may wait for a core meanwhile)."""
        self._stopped = True
        return {
            key: (tuple(picture.shape), dict(segments))
            for (key, picture), segments in zip(self._pictures.items(), self._segments, strict=True)
        }


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings one after the other, from theirs (zlib's adler32_combine)."""
    rem = second_length % _ADLER_BASE
    sum1 = ((first & 0xFFFF) + (second & 0xFFFF) + _ADLER_BASE - 1) % _ADLER_BASE
    sum2 = (rem * (first & 0xFFFF) + (first >> 16) + (second >> 16) + _ADLER_BASE - rem) % _ADLER_BASE
    return sum1 | (sum2 << 16)


def _png_file(shape: tuple[int, ...], spans: list[_Span]) -> bytes:
    """The file, joined once from its pieces: the segments go into their IDAT chunks as they are, each
    chunk's CRC run over them (a joined stream first was a second copy of every picture: 6 MB and
    1,500 page faults a 4K photograph)."""
    height, width = shape[:2]
    channels = 1 if len(shape) == 2 else shape[2]
    adler = 1  # of no bytes
    for span in spans:
        for check, length in span.checks:
            adler = _adler32_combine(adler, check, length)
    stream = [_ZLIB_HEADER, *(part for span in spans for part in span.parts), _FINAL_BLOCK, adler.to_bytes(4, "big")]
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    parts = [_SIGNATURE, _chunk(b"IHDR", header)]
    body: list[memoryview] = []  # the IDAT chunk being filled, at most _MAX_CHUNK bytes
    size = 0
    for piece in map(memoryview, stream):
        while len(piece):
            body.append(piece[: _MAX_CHUNK - size])
            size += len(body[-1])
            piece = piece[len(body[-1]) :]
            if size == _MAX_CHUNK:
                parts += _idat(body, size)
                body, size = [], 0
    if size:
        parts += _idat(body, size)
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _idat(body: list[memoryview], size: int) -> list:
    """An IDAT chunk of the pieces ``body`` (``size`` bytes in all), as pieces of the file."""
    from isal import isal_zlib

    crc = zlib.crc32(b"IDAT")
    for piece in body:
        crc = isal_zlib.crc32(piece, crc)  # ISA-L's: a fifteenth of zlib's time
    return [struct.pack(">I", size), b"IDAT", *body, struct.pack(">I", crc)]


def _run(tasks: list[Callable[[], object]], threads: int) -> list:
    """Every task's result, in order, the tasks run on up to ``threads`` threads, this one among them.

    An exception in a task stops the others taking new ones and is raised here. One raised in this
    thread (an interrupt) is raised at once: the helpers end after the task they are in, unwaited
    for, and their results are dropped. Plain threads, not a pool: importing ``concurrent.futures``
    costs more than a small picture's encoding.
    """
    if threads <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    results: list = [None] * len(tasks)
    pending = iter(range(len(tasks)))
    lock = threading.Lock()
    failed: list[BaseException] = []
    stopped: list[bool] = []

    def work(helper: bool) -> None:
        while not failed and not stopped:
            with lock:
                index = next(pending, None)
            if index is None:
                return
            if not helper:  # the calling thread: what its task raises (an interrupt) leaves at once
                results[index] = tasks[index]()
                continue
            try:
                results[index] = tasks[index]()
            except BaseException as exc:  # a helper's: the calling thread raises it after the join
                failed.append(exc)
                return

    helpers = [
        threading.Thread(target=work, args=(True,), name=f"imgdiff-png-{k}", daemon=True)
        for k in range(min(threads, len(tasks)) - 1)
    ]
    try:
        for helper in helpers:
            helper.start()
        work(False)
    except BaseException:
        stopped.append(True)  # the helpers take no further task
        raise
    for helper in helpers:
        helper.join()
    if failed:
        raise failed[0]
    return results


def cores() -> int:
    """The threads to encode on: the cores this process may run on, and no more than the compiled
    kernels' count for the calling thread (``OMP_NUM_THREADS``, or the share a Dask worker sets),
    so that processes sharing the cores share them for pictures too."""
    from .cpu.threads import get_num_threads

    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    return max(1, min(available, get_num_threads()))


def _check(dtype: np.dtype, shape: tuple[int, ...]) -> None:
    channels = 1 if len(shape) == 2 else shape[2] if len(shape) == 3 else 0
    if dtype != np.uint8 or channels not in _COLOUR_TYPE or 0 in shape:
        raise ValueError(f"a picture to write as PNG is uint8 H x W or H x W x 3, got {dtype} {tuple(shape)}")
