"""Frame pairs of two videos: decoded on their own threads, selected, and analysed a few ahead.

Each stream is decoded by PyAV on its own thread (the GIL released) into a
small bounded queue, so decoding runs while frames are compared. Frames are
counted by decoding, never from the container's claim.
"""

from __future__ import annotations

import collections
import contextlib
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
    from av.video.reformatter import VideoReformatter

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
        reformatter = VideoReformatter()  # one conversion context for the stream's frames (see rgb_pixels)
        try:
            for frame in container.decode(stream):
                summary.decoded[side] += 1
                yield frame.time, upright(frame, path, summary, reformatter)
        except av.error.FFmpegError as exc:
            summary.problems.append(f"{path}: decoding stopped after {summary.decoded[side]} frames ({exc})")


def upright(frame, path: Path, summary: VideoSummary, reformatter) -> np.ndarray:
    """A frame's RGB pixels turned as its display matrix says, as players (and ffmpeg) show it.

    ``reformatter``: the :class:`av.video.reformatter.VideoReformatter` kept for the stream's frames
    (:func:`rgb_pixels`)."""
    pixels = rgb_pixels(frame, reformatter)
    rotation = getattr(frame, "rotation", 0) or 0  # degrees counter-clockwise
    if rotation % 90:
        note = f"{path}: a display rotation of {rotation} degrees is not applied (only multiples of 90 are)"
        if note not in summary.problems:
            summary.problems.append(note)
        return pixels
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def rgb_pixels(frame, reformatter) -> np.ndarray:
    """A decoded frame's pixels as H x W x 3 RGB uint8 (a view of the converted frame's buffer).

    ``frame.to_ndarray(format="rgb24")`` converts with a new swscale context for every frame,
    and with ``threads=0`` each context starts its own slice threads (one per core) and stops
    them again, while the video's decoding and comparing already keep every core busy. One
    ``reformatter`` for the stream and one thread: 0.42 against 0.49 CPU ms a 720p 4:2:0 frame,
    0.68 against 0.78 at 1080p (medians of 7 interleaved runs, 2-core EPYC); a 4:4:4 frame
    takes swscale's unvectorised path, ~9.5 ms at 1080p either way. The same pixels, bit for bit
    (swscale's slices split rows, not the arithmetic): 16 streams of ``benchmarks/video_set.py``,
    and tests/test_video.py on 4:2:0, 4:4:4 and odd sizes.
    """
    return reformatter.reformat(frame, format="rgb24", threads=1).to_ndarray()


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


def analyse_ahead(
    pairs: Iterator,
    screen: FrameScreen | None,
    compare_pair: Callable | None,
    peak_of: Callable | None = None,
    *,
    keep_first: bool = False,
) -> Iterator:
    """The pairs in order, each with its screened score, where the screen cannot clear it its comparison,
    its noise peak (:mod:`imgdiff_gpu.clip_noise`) where ``peak_of`` asks for peaks, and with ``keep_first``,
    of a pair its comparison flags, what that computed before its strength pass
    (:class:`imgdiff_gpu.cpu.analysis.FirstComparison`, for comparing it again at another luma factor).

    With ``compare_pair`` (the CPU), pairs are screened and compared on one
    worker thread per core, each running its kernels single-threaded, a few
    pairs ahead of the consumer: on two cores this screens ~45 % more pairs per
    second than one pair at a time on both cores, since each pair's serial
    steps (NumPy, OpenCV, Python) overlap another's kernels; pairs that all
    differ (two encodes at other settings) are compared in parallel likewise.
    At most two pairs per worker are held, so memory stays bounded. Without it
    (the GPU) every pair is yielded with no score, no comparison and no peak.
    A pair's peak is the screen's where it measured one, else ``peak_of(left, right)``.
    """
    if compare_pair is None:
        for pair in pairs:
            yield (*pair, None, None, None, None)
        return
    from .cpu.threads import get_num_threads

    def analyse(left, right, screening: bool):
        from .clip_noise import measuring_peaks
        from .cpu.analysis import keeping_first_comparisons, screened
        from .cpu.scratch import keeping_scratch

        # each worker keeps its scratch planes from one pair to the next (a fresh plane costs its page faults)
        with keeping_scratch():
            score, maps, peak = screen.measure_with_peak(left, right) if screening else (None, None, None)
            result = first = None
            if score is None:
                # what the screen computed of this pair is not computed again, and the full comparison
                # measures the peak where the screen did not
                # (not of frames of two sizes, whose peak is 0 on every path: see peak_of)
                wanted = peak is None and peak_of is not None and left.shape == right.shape
                measuring = measuring_peaks() if wanted else contextlib.nullcontext([])
                keeping = keeping_first_comparisons() if keep_first else contextlib.nullcontext([])
                with screened(maps), measuring as peaks, keeping as firsts:
                    result = compare_pair(left, right)
                if peak is None and peaks:
                    peak = peaks[-1]
                if firsts and result.different:
                    first = firsts[-1].detached()  # before this thread's next pair writes its scratch planes
            if peak is None and peak_of is not None:
                peak = peak_of(left, right)
            return score, result, peak, first

    def finished(pair, screening: bool, future):
        score, result, peak, first = future.result()
        if screening:
            screen.record(score)  # in frame order, so which pairs are screened never depends on timing
        return (*pair, score, result, peak, first)

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


def compared_frames(pairs: Iterator, options, *, screening: bool = True, clip_noise: bool = True) -> Iterator[tuple]:
    """(FrameResult, comparison) of each frame pair ``(index, time, left, right)``, in frame order.

    The comparison is None for a pair the screen proved unchanged. The screen (CPU only, and
    not when frames are aligned before comparing, nor without ``screening``) is built at the
    first pair, when the frame size is known; the ignored pixels once per frame size, since
    a stream may change size.

    Under a preset with a reference noise peak (``low``) and without alignment, each frame is
    judged with its clip's noise factor (:mod:`imgdiff_gpu.clip_noise`): the pairs are analysed
    with factor 1, each frame is held until the peaks of the ``REACH`` frames after it are known,
    and a frame flagged at 1 whose factor is above 1 is compared again with the luma threshold
    times its factor (the others' results stand: a higher threshold only clears), from what its
    first comparison computed before the strength pass (:class:`imgdiff_gpu.cpu.analysis.FirstComparison`:
    the SSIM map and every term the factor does not act on; the same result as comparing it anew). So up
    to ``REACH`` frames are held at once, and of those flagged their pixels, first result and luma scale and
    coarse evidence (~7 MB a 720p frame beside the first result's maps). Without ``clip_noise``,
    each frame is judged at factor 1 and carries its peak, for a caller that sees the whole clip
    (the cluster's client, :func:`imgdiff_gpu.distributed.compare_videos_on_cluster`).
    """
    from ._device import resolve_device
    from .clip_noise import ClipNoise, frame_peak_of
    from .cpu.analysis import comparing_again
    from .job import compare_with, ignore_mask_for

    ignores: dict = {}

    def ignore_for(shape: tuple[int, int]) -> np.ndarray | None:
        if (options.ignore_boxes or options.ignore_mask) and shape not in ignores:
            ignores[shape] = ignore_mask_for(shape, options)
        return ignores.get(shape)

    def compare_pair(a, b, luma_factor: float = 1.0):
        return compare_with(options, a, b, ignore=ignore_for(a.shape[:2]), luma_factor=luma_factor)

    thresholds = options.thresholds()

    def peak_of(a, b) -> float:
        if a.shape != b.shape:
            # sizes differ: a mismatch whatever the threshold, and no noise of the pair's to measure
            # (the full comparison's own, of padded or resized frames, is not taken either)
            return 0.0
        return frame_peak_of(a, b, thresholds, ignore_for(a.shape[:2]))

    reference = clip_noise_reference(options)
    on_cpu = resolve_device(options.device) == "cpu"
    first = next(pairs, None)
    screen = None
    if first is not None:
        shape = first[2].shape[:2]
        ignore = ignore_for(shape)
        # screening proves "no regions" on the frames as given, so not when the full path aligns them first
        if screening and on_cpu and options.align is None and first[2].shape == first[3].shape:
            screen = FrameScreen(shape, thresholds, ignore, peaks=reference is not None)
    ahead = itertools.chain([first] if first is not None else [], pairs)
    judged_again = reference is not None and clip_noise
    analysed = analyse_ahead(
        ahead,
        screen,
        compare_pair if on_cpu else None,
        peak_of if reference is not None else None,
        keep_first=judged_again,
    )
    if not judged_again:
        for index, timestamp, a, b, score, result, peak, _ in analysed:
            frame, result = _frame_result(index, timestamp, score, result, compare_pair, a, b)
            if reference is not None:
                frame.noise_peak = peak if peak is not None else peak_of(a, b)
            yield frame, result
        return
    noise = ClipNoise(reference)
    held: collections.deque = collections.deque()  # (frame, comparison, its pixels where flagged, first comparison)

    def finalised(frame, result, pixels, first, peak: float, factor: float):
        if factor > 1.0 and frame.different and pixels is not None:
            with comparing_again(first):
                frame, result = _frame_result(frame.index, frame.timestamp, None, None, compare_pair, *pixels, factor)
        frame.noise_peak, frame.noise_factor = peak, factor
        return frame, result

    for index, timestamp, a, b, score, result, peak, first in analysed:
        frame, result = _frame_result(index, timestamp, score, result, compare_pair, a, b)
        flagged = frame.different
        held.append((frame, result, (a, b) if flagged else None, first if flagged else None))
        noise.add(peak if peak is not None else peak_of(a, b))
        for peak_k, factor in noise.ready():
            yield finalised(*held.popleft(), peak_k, factor)
    noise.end()
    for peak_k, factor in noise.ready():
        yield finalised(*held.popleft(), peak_k, factor)


def clip_noise_reference(options) -> float | None:
    """The reference noise peak that the clip noise rule judges these options' frames against, or None
    where it does not apply (not asked for, a preset without one, or frames aligned before comparing)."""
    from .clip_noise import REFERENCE_PEAKS

    if not options.clip_noise or options.align is not None:
        return None
    return REFERENCE_PEAKS.get(options.sensitivity)


def frame_result(index: int, timestamp: float | None, result):
    """The FrameResult of one frame pair's comparison."""
    return _frame_result(index, timestamp, None, result, None, None, None)[0]


def _frame_result(index, timestamp, score, result, compare_pair, a, b, luma_factor: float = 1.0):
    """(FrameResult, comparison) of one analysed pair: the screen's score, else its comparison (made
    here where the analysis left it to the caller)."""
    from .video_report import FrameResult

    if score is not None:
        return FrameResult(index, timestamp, score, 0.0, [], False), None
    if result is None:
        result = compare_pair(a, b, luma_factor)
    # the mask's mean, exactly (an integer count over the size, as NumPy's float64 sum of 0s and 1s
    # gives it), without a float64 copy of the mask
    fraction = np.count_nonzero(result.mask) / result.mask.size if result.mask is not None else 1.0
    return (
        FrameResult(index, timestamp, result.score, fraction, result.regions, result.different, result.mismatch),
        result,
    )
