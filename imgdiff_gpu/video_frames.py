"""Frame pairs of two videos: decoded on their own threads, selected, and analysed a few ahead.

Each stream is decoded by PyAV on its own thread (the GIL released) into a
small bounded queue, so decoding runs while frames are compared. Frames are
counted by decoding, never from the container's claim.
"""

from __future__ import annotations

import collections
import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .errors import ImageLoadError
from .screening import FrameScreen
from .video_report import VideoSummary

_QUEUE_DEPTH = 8


def decode_frames(path: Path, side: str, summary: VideoSummary) -> Iterator[tuple[float | None, np.ndarray]]:
    """Frames of the first video stream as RGB arrays, with their time in seconds.

    Records in ``summary`` the stream's frame rate, the frames decoded and any problem.
    """
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ImageLoadError(path, f"cannot open as a video ({exc})") from None
    summary.decoded[side] = 0
    with container:
        if not container.streams.video:
            raise ImageLoadError(path, "has no video stream")
        stream = container.streams.video[0]
        # PyAV's default (slice threads) rather than frame threading: both streams
        # decode at once here, and on few cores frame threads cost more CPU time
        # per frame (15.8 vs 14.1 core-ms per 1080p pair on 2 cores) for nothing
        summary.frame_rates[side] = float(stream.average_rate) if stream.average_rate else None
        try:
            for frame in container.decode(stream):
                summary.decoded[side] += 1
                yield frame.time, upright(frame, path, summary)
        except av.error.FFmpegError as exc:
            summary.problems.append(f"{path}: decoding stopped after {summary.decoded[side]} frames ({exc})")


def upright(frame, path: Path, summary: VideoSummary) -> np.ndarray:
    """A frame's RGB pixels turned as its display matrix says, as players (and ffmpeg) show it."""
    pixels = frame.to_ndarray(format="rgb24")
    rotation = getattr(frame, "rotation", 0) or 0  # degrees counter-clockwise
    if rotation % 90:
        note = f"{path}: a display rotation of {rotation} degrees is not applied (only multiples of 90 are)"
        if note not in summary.problems:
            summary.problems.append(note)
        return pixels
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def prefetch(frames: Iterator, depth: int = _QUEUE_DEPTH) -> Iterator:
    """Run an iterator on a thread, ``depth`` items ahead; errors reach the consumer."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(done)
        except BaseException as exc:  # handed over, raised in the consumer
            items.put(exc)

    thread = threading.Thread(target=worker, daemon=True, name="imgdiff-decode")
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def selected(
    pairs: Iterator, start: int, end: int | None
) -> Iterator[tuple[int, float | None, np.ndarray, np.ndarray]]:
    """(index, timestamp, left, right) of the frame pairs with start <= index < end."""
    for index, ((timestamp, a), (_, b)) in enumerate(pairs):
        if end is not None and index >= end:
            return
        if index >= start:
            yield index, timestamp, a, b


def _one_kernel_thread() -> None:
    from .cpu.threads import set_num_threads

    set_num_threads(1)  # per thread: each screening worker runs its kernels on its own core


def analyse_ahead(pairs: Iterator, screen: FrameScreen | None, compare_pair: Callable | None) -> Iterator:
    """The pairs in order, each with its screened score and, where the screen cannot clear it, its comparison.

    With ``compare_pair`` (the CPU), pairs are screened and compared on one
    worker thread per core, each running its kernels single-threaded, a few
    pairs ahead of the consumer: on two cores this screens ~45 % more pairs per
    second than one pair at a time on both cores, since each pair's serial
    steps (NumPy, OpenCV, Python) overlap another's kernels; pairs that all
    differ (two encodes at other settings) are compared in parallel likewise.
    At most two pairs per worker are held, so memory stays bounded. Without it
    (the GPU) every pair is yielded with no score and no comparison.
    """
    if compare_pair is None:
        for pair in pairs:
            yield (*pair, None, None)
        return
    from .cpu.threads import get_num_threads

    def analyse(left, right, screening: bool):
        from .cpu.analysis import screened
        from .cpu.scratch import keeping_scratch

        # each worker keeps its scratch planes from one pair to the next (a fresh plane costs its page faults)
        with keeping_scratch():
            score, maps = screen.measure_keeping(left, right) if screening else (None, None)
            if score is not None:
                return score, None
            with screened(maps):  # what the screen computed of this pair is not computed again
                return None, compare_pair(left, right)

    def finished(pair, screening: bool, future):
        score, result = future.result()
        if screening:
            screen.record(score)  # in frame order, so which pairs are screened never depends on timing
        return (*pair, score, result)

    workers = get_num_threads()  # the cores the kernels would use: OMP_NUM_THREADS, else all
    pending: collections.deque = collections.deque()
    with ThreadPoolExecutor(max_workers=workers, initializer=_one_kernel_thread) as pool:
        for pair in pairs:
            screening = screen is not None and screen.wants()
            pending.append((pair, screening, pool.submit(analyse, pair[2], pair[3], screening)))
            if len(pending) >= 2 * workers:
                yield finished(*pending.popleft())
        while pending:
            yield finished(*pending.popleft())


def compared_frames(pairs: Iterator, options, *, screening: bool = True) -> Iterator[tuple]:
    """(FrameResult, comparison) of each frame pair ``(index, time, left, right)``, in frame order.

    The comparison is None for a pair the screen proved unchanged. The screen (CPU only, and
    not when frames are aligned before comparing, nor without ``screening``) is built at the
    first pair, when the frame size is known; the ignored pixels once per frame size, since
    a stream may change size.
    """
    from ._device import resolve_device
    from .job import compare_with, ignore_mask_for
    from .video_report import FrameResult

    ignores: dict = {}

    def ignore_for(shape: tuple[int, int]) -> np.ndarray | None:
        if (options.ignore_boxes or options.ignore_mask) and shape not in ignores:
            ignores[shape] = ignore_mask_for(shape, options)
        return ignores.get(shape)

    def compare_pair(a, b):
        return compare_with(options, a, b, ignore=ignore_for(a.shape[:2]))

    on_cpu = resolve_device(options.device) == "cpu"
    first = next(pairs, None)
    screen = None
    if first is not None:
        shape = first[2].shape[:2]
        ignore = ignore_for(shape)
        # screening proves "no regions" on the frames as given, so not when the full path aligns them first
        if screening and on_cpu and options.align is None and first[2].shape == first[3].shape:
            screen = FrameScreen(shape, options.thresholds(), ignore)
    ahead = itertools.chain([first] if first is not None else [], pairs)
    for index, timestamp, a, b, score, result in analyse_ahead(ahead, screen, compare_pair if on_cpu else None):
        if score is not None:
            yield FrameResult(index, timestamp, score, 0.0, [], False), None
            continue
        if result is None:
            result = compare_pair(a, b)
        # the mask's mean, exactly (an integer count over the size, as NumPy's float64 sum of 0s and 1s
        # gives it), without a float64 copy of the mask
        fraction = np.count_nonzero(result.mask) / result.mask.size if result.mask is not None else 1.0
        yield (
            FrameResult(index, timestamp, result.score, fraction, result.regions, result.different, result.mismatch),
            result,
        )
