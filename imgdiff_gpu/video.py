"""``imgdiff video``: two videos compared frame by frame.

Each stream is decoded by PyAV on its own thread (the GIL released) into a
small bounded queue, so decoding runs while frames are compared. Frames are
counted by decoding, never from the container's claim. A stream that stops
decoding early is reported and the frames that did decode are compared.

On the CPU, each pair is first screened (:mod:`imgdiff_gpu.screening`): the
SSIM map and bounds that prove most pairs of two encodes have no difference,
and only the others go through the full comparison. The bounds
decide which path computes a frame's result, never the result itself.
"""

from __future__ import annotations

import collections
import csv
import heapq
import io
import itertools
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ._device import resolve_device
from .errors import ImageLoadError, OutputError
from .exit_status import exit_status
from .job import CompareOptions, compare_with, encode_pictures, ignore_mask_for
from .outputs import check_destinations, write_all
from .regions import Region
from .report import SCHEMA_VERSION, to_json
from .screening import FrameScreen

FRAME_COLUMNS = ("frame", "timestamp", "score", "changed_fraction", "regions")
_QUEUE_DEPTH = 8


@dataclass
class FrameResult:
    index: int
    timestamp: float | None
    score: float | None
    changed_fraction: float
    regions: list[Region]
    different: bool
    reason: str | None = None


@dataclass
class VideoSummary:
    frames: list[FrameResult] = field(default_factory=list)
    decoded: dict[str, int] = field(default_factory=dict)
    frame_rates: dict[str, float | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    worst: list[FrameResult] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    fully_decoded: bool = False
    """Both streams were decoded to the end (not with --end), so their counts are real."""

    @property
    def count_mismatch(self) -> bool:
        return self.fully_decoded and len(set(self.decoded.values())) > 1

    @property
    def different(self) -> bool:
        return self.count_mismatch or any(f.different for f in self.frames)

    @property
    def exit_status(self) -> int:
        return exit_status(different=self.different, trouble=bool(self.problems))


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
                yield frame.time, frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            summary.problems.append(f"{path}: decoding stopped after {summary.decoded[side]} frames ({exc})")


def _prefetch(frames: Iterator, depth: int = _QUEUE_DEPTH) -> Iterator:
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


def _selected(
    pairs: Iterator, start: int, end: int | None
) -> Iterator[tuple[int, float | None, np.ndarray, np.ndarray]]:
    """(index, timestamp, left, right) of the frame pairs with start <= index < end."""
    for index, ((timestamp, a), (_, b)) in enumerate(pairs):
        if end is not None and index >= end:
            return
        if index >= start:
            yield index, timestamp, a, b


def _one_numba_thread() -> None:
    import numba

    numba.set_num_threads(1)  # per thread: each screening worker runs its kernels on its own core


def _analyse_ahead(pairs: Iterator, screen: FrameScreen | None, compare_pair: Callable | None) -> Iterator:
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
    import numba

    def analyse(left, right):
        score = screen(left, right) if screen is not None else None
        return score, (compare_pair(left, right) if score is None else None)

    workers = numba.get_num_threads()  # the cores Numba would use: NUMBA_NUM_THREADS, else all
    pending: collections.deque = collections.deque()
    with ThreadPoolExecutor(max_workers=workers, initializer=_one_numba_thread) as pool:
        for pair in pairs:
            pending.append((pair, pool.submit(analyse, pair[2], pair[3])))
            if len(pending) >= 2 * workers:
                pair, future = pending.popleft()
                yield (*pair, *future.result())
        while pending:
            pair, future = pending.popleft()
            yield (*pair, *future.result())


class _SideBySideWriter:
    """The --diff-video: left with boxes | right with filled regions, H.264."""

    def __init__(self, path: Path, fps: float | None):
        import av

        self.path = path
        fd, self.temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".mp4", dir=path.parent)
        os.close(fd)
        self.container = av.open(self.temp, mode="w")
        self.stream = self.container.add_stream("libx264", rate=round(fps or 25))
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "20"}
        self.started = False

    def add(self, pictures: dict[str, np.ndarray]) -> None:
        import av

        side_by_side = np.hstack([pictures["left_marked.png"], pictures["right_filled.png"]])
        height, width = side_by_side.shape[:2]
        side_by_side = side_by_side[: height - height % 2, : width - width % 2]  # yuv420p wants even sizes
        if not self.started:
            self.stream.height, self.stream.width = side_by_side.shape[:2]
            self.started = True
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(side_by_side, cv2.COLOR_BGR2RGB), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self, keep: bool) -> None:
        if self.started:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()
        if keep and self.started:
            os.replace(self.temp, self.path)
        else:
            os.unlink(self.temp)


def compare_videos(
    left: Path,
    right: Path,
    out_dir: Path,
    options: CompareOptions,
    *,
    offset: int = 0,
    start: int = 0,
    end: int | None = None,
    worst_count: int = 5,
    export_all: bool = False,
    diff_video: Path | None = None,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> VideoSummary:
    """Compare frame i of LEFT with frame i + offset of RIGHT, for i in [start, end)."""
    from .rendering import render

    for path in (left, right):
        if not Path(path).is_file():
            raise ImageLoadError(path, "no such file" if not Path(path).exists() else "is not a file")
    targets = [out_dir / "frames.csv", out_dir / "report.json"] + ([diff_video] if diff_video else [])
    check_destinations(targets, inputs=[left, right], overwrite=overwrite)
    if diff_video is not None and not diff_video.parent.is_dir():
        raise OutputError(f"{diff_video.parent}: folder for --diff-video does not exist")

    summary = VideoSummary()
    left_frames = _prefetch(decode_frames(left, "left", summary))
    right_frames = _prefetch(decode_frames(right, "right", summary))
    writer = None  # started at the first frame, with the left stream's frame rate
    worst: list = []  # a heap of (changed_fraction, -index, frame, comparison) of the worst frames
    ignore = None
    screen = None  # built at the first frame, when its size and the ignored pixels are known
    # screening proves "no regions" on the frames as given, so not when the full path would align them first
    screening = resolve_device(options.device) == "cpu" and options.align is None and diff_video is None
    kept_ok = False
    try:
        for _ in range(max(offset, 0)):
            next(right_frames, None)
        for _ in range(max(-offset, 0)):
            next(left_frames, None)
        pairs = _selected(zip(left_frames, right_frames, strict=False), start, end)
        first = next(pairs, None)
        if first is not None:
            shape = first[2].shape[:2]
            if options.ignore_boxes or options.ignore_mask:
                ignore = ignore_mask_for(shape, options)
            if screening:
                screen = FrameScreen(shape, options.thresholds(), ignore)
        on_cpu = resolve_device(options.device) == "cpu"

        def compare_pair(a, b):
            return compare_with(options, a, b, ignore=ignore)

        analysed = _analyse_ahead(
            itertools.chain([first] if first else [], pairs), screen, compare_pair if on_cpu else None
        )
        for index, timestamp, a, b, score, result in analysed:
            if score is not None:
                summary.frames.append(FrameResult(index, timestamp, score, 0.0, [], False))
                if progress:
                    progress(index)
                continue
            if result is None:
                result = compare_with(options, a, b, ignore=ignore)
            fraction = float(result.mask.mean()) if result.mask is not None else 1.0
            frame = FrameResult(
                index, timestamp, result.score, fraction, result.regions, result.different, result.mismatch
            )
            summary.frames.append(frame)
            if diff_video is not None and writer is None:
                writer = _SideBySideWriter(diff_video, summary.frame_rates.get("left"))
            pictures = None
            if writer is not None or (frame.different and export_all):
                pictures = render(result, color=options.color, thickness=options.thickness)
            if writer is not None:
                writer.add(pictures)
            if frame.different and export_all:
                summary.outputs += _export_frame(out_dir, index, pictures)
            elif frame.different and worst_count > 0:
                # keep the comparison, render only the frames that stay among the worst
                entry = (fraction, -index, frame, result)
                if len(worst) < worst_count:
                    heapq.heappush(worst, entry)
                elif entry[:2] > worst[0][:2]:
                    heapq.heapreplace(worst, entry)
            if progress:
                progress(index)
        if end is None:  # count the rest by decoding, so a length mismatch is real
            for _ in left_frames:
                pass
            for _ in right_frames:
                pass
            summary.fully_decoded = True
        kept_ok = True
    finally:
        if writer is not None:
            writer.close(keep=kept_ok)
    for _, _, frame, result in sorted(worst, key=lambda e: e[:2], reverse=True):
        summary.worst.append(frame)
        pictures = render(result, color=options.color, thickness=options.thickness)
        summary.outputs += _export_frame(out_dir, frame.index, pictures)
    if export_all:
        summary.worst = sorted((f for f in summary.frames if f.different), key=lambda f: -f.changed_fraction)
        summary.worst = summary.worst[: max(worst_count, 0)]
    if writer is not None and writer.started:
        summary.outputs.append(str(diff_video))
    _write_summary(summary, left, right, out_dir, options, offset, start, end)
    return summary


def _export_frame(out_dir: Path, index: int, pictures: dict[str, np.ndarray]) -> list[str]:
    files = encode_pictures(pictures, out_dir / "frames" / f"{index:06d}")
    write_all(files)
    return [str(p.relative_to(out_dir)) for p in files]


def _write_summary(summary: VideoSummary, left, right, out_dir, options, offset, start, end) -> None:
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(FRAME_COLUMNS)
    for f in summary.frames:
        writer.writerow(
            [
                f.index,
                "" if f.timestamp is None else f"{f.timestamp:.6f}",
                "" if f.score is None else f"{f.score:.6f}",
                f"{f.changed_fraction:.6f}",
                len(f.regions),
            ]
        )
    reason = None
    if summary.count_mismatch:
        reason = f"frame counts differ: left {summary.decoded.get('left')}, right {summary.decoded.get('right')}"
    report = {
        "schema_version": SCHEMA_VERSION,
        "left": str(left),
        "right": str(right),
        "frames_decoded": summary.decoded,
        "fully_decoded": summary.fully_decoded,
        "frames_compared": len(summary.frames),
        "frames_different": sum(f.different for f in summary.frames),
        "frame_count_mismatch": summary.count_mismatch,
        "different": summary.different,
        "reason": reason,
        "offset": offset,
        "start": start,
        "end": end,
        "worst_frames": [
            {
                "frame": f.index,
                "timestamp": f.timestamp,
                "score": f.score,
                "changed_fraction": f.changed_fraction,
                "reason": f.reason,
                "regions": [r.as_dict() for r in f.regions],
            }
            for f in summary.worst
        ],
        "problems": summary.problems,
        "outputs": ["frames.csv", *summary.outputs],
        "settings": options.settings(),
    }
    write_all({out_dir / "frames.csv": table.getvalue().encode(), out_dir / "report.json": to_json(report).encode()})
