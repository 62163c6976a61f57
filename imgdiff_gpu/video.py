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
import json
import queue
import re
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
from .html_report import REPORT_HTML, video_html
from .job import compare_with, encode_pictures, ignore_mask_for
from .options import CompareOptions
from .outputs import Outputs, checkpoint
from .regions import Region
from .report import SCHEMA_VERSION, to_json
from .screening import FrameScreen

FRAME_COLUMNS = ("frame", "timestamp", "score", "changed_fraction", "regions")
_QUEUE_DEPTH = 8
_FRAME_OUTPUT = re.compile(r"frames/[0-9]{6}/(?:left_marked|right_marked|right_filled|mask|diff)\.png")


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
                yield frame.time, _upright(frame, path, summary)
        except av.error.FFmpegError as exc:
            summary.problems.append(f"{path}: decoding stopped after {summary.decoded[side]} frames ({exc})")


def _upright(frame, path: Path, summary: VideoSummary) -> np.ndarray:
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

    def analyse(left, right, screening: bool):
        score = screen.measure(left, right) if screening else None
        return score, (compare_pair(left, right) if score is None else None)

    def finished(pair, screening: bool, future):
        score, result = future.result()
        if screening:
            screen.record(score)  # in frame order, so which pairs are screened never depends on timing
        return (*pair, score, result)

    workers = numba.get_num_threads()  # the cores Numba would use: NUMBA_NUM_THREADS, else all
    pending: collections.deque = collections.deque()
    with ThreadPoolExecutor(max_workers=workers, initializer=_one_numba_thread) as pool:
        for pair in pairs:
            screening = screen is not None and screen.wants()
            pending.append((pair, screening, pool.submit(analyse, pair[2], pair[3], screening)))
            if len(pending) >= 2 * workers:
                yield finished(*pending.popleft())
        while pending:
            yield finished(*pending.popleft())


DIFF_VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


class _SideBySideWriter:
    """The --diff-video: left with boxes | right with filled regions, H.264, into a staging file."""

    def __init__(self, path: Path, staging: Path, fps: float | None):
        import av

        self.path = path
        self.container = av.open(str(staging), mode="w", format=DIFF_VIDEO_FORMATS[path.suffix.lower()])
        self.stream = self.container.add_stream("libx264", rate=round(fps or 25))
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "20"}
        self.started = False
        self.closed = False

    def add(self, pictures: dict[str, np.ndarray]) -> None:
        import av

        left = pictures["left_marked.png"]
        right = pictures.get("right_filled.png", pictures["right_marked.png"])  # sizes differ: no fill
        height = max(left.shape[0], right.shape[0])
        side_by_side = np.hstack(
            [cv2.copyMakeBorder(p, 0, height - p.shape[0], 0, 0, cv2.BORDER_CONSTANT) for p in (left, right)]
        )
        if not self.started:
            height, width = side_by_side.shape[:2]
            self.stream.height, self.stream.width = height - height % 2, width - width % 2  # yuv420p: even sizes
            self.started = True
        if side_by_side.shape[:2] != (self.stream.height, self.stream.width):  # a size change mid-stream
            side_by_side = cv2.resize(
                side_by_side, (self.stream.width, self.stream.height), interpolation=cv2.INTER_AREA
            )
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(side_by_side, cv2.COLOR_BGR2RGB), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self, finish: bool) -> None:
        if self.closed:
            return
        self.closed = True
        if finish and self.started:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()


def previous_frame_outputs(out_dir: Path) -> list[Path]:
    """The frame pictures an earlier report in ``out_dir`` lists (frames/<index>/<picture> only)."""
    try:
        listed = json.loads((out_dir / "report.json").read_text()).get("outputs", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [out_dir / name for name in listed if isinstance(name, str) and _FRAME_OUTPUT.fullmatch(name)]


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
    workers: int | str | None = None,
    scheduler: str | None = None,
) -> VideoSummary:
    """Compare frame i of LEFT with frame i + offset of RIGHT, for i in [start, end).

    ``workers`` / ``scheduler``: compare ranges of frames on a Dask cluster
    (:func:`imgdiff_gpu.distributed.compare_videos_on_cluster`), same answers.

    Every output (frames.csv, report.json, the frame pictures, the diff video)
    is staged and committed together at the end: an error or an interrupt
    leaves none of them. A selection past the end of a video is a problem
    (trouble), not an empty success.
    """
    for path in (left, right):
        if not Path(path).is_file():
            raise ImageLoadError(path, "no such file" if not Path(path).exists() else "is not a file")
    if diff_video is not None and diff_video.suffix.lower() not in DIFF_VIDEO_FORMATS:
        raise OutputError(
            f"{diff_video}: diff_video=... writes H.264; name it with one of {', '.join(sorted(DIFF_VIDEO_FORMATS))}"
        )
    if diff_video is not None and not diff_video.parent.is_dir():
        raise OutputError(f"{diff_video.parent}: folder for diff_video=... does not exist")
    with Outputs(inputs=[left, right, options.ignore_mask], overwrite=overwrite) as outputs:
        outputs.check([out_dir / "frames.csv", out_dir / "report.json", out_dir / REPORT_HTML])
        outputs.check([diff_video] if diff_video else [])
        if overwrite:
            outputs.replaces(previous_frame_outputs(out_dir))
        if workers is not None or scheduler is not None:
            from .distributed import compare_videos_on_cluster

            if diff_video is not None:
                raise OutputError("--diff-video is encoded in frame order by one process; run it without --workers")
            summary = compare_videos_on_cluster(
                left,
                right,
                options,
                offset=offset,
                start=start,
                end=end,
                worst_count=worst_count,
                export_all=export_all,
                stage=lambda name, data: outputs.add(out_dir / name, data),
                workers=workers,
                scheduler=scheduler,
                progress=progress,
            )
        else:
            summary = _compare_streams(
                left,
                right,
                out_dir,
                options,
                outputs,
                offset,
                start,
                end,
                worst_count,
                export_all,
                diff_video,
                progress,
            )
        _write_summary(summary, left, right, out_dir, options, offset, start, end, outputs)
        outputs.commit()
    return summary


def _compare_streams(
    left, right, out_dir, options, outputs, offset, start, end, worst_count, export_all, diff_video, progress
) -> VideoSummary:
    """Every selected frame pair compared; pictures staged in ``outputs``, committed by the caller."""
    from .rendering import render

    summary = VideoSummary()
    left_frames = _prefetch(decode_frames(left, "left", summary))
    right_frames = _prefetch(decode_frames(right, "right", summary))
    writer = None  # started at the first frame, with the left stream's frame rate
    worst: list = []  # a heap of (changed_fraction, -index, frame, comparison) of the worst frames
    ignores: dict = {}  # by frame size: a stream may change size
    screen = None  # built at the first frame, when its size and the ignored pixels are known
    # screening proves "no regions" on the frames as given, so not when the full path would align them first
    screening = resolve_device(options.device) == "cpu" and options.align is None and diff_video is None
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
                ignores[shape] = ignore_mask_for(shape, options)
            if screening and first[2].shape == first[3].shape:
                screen = FrameScreen(shape, options.thresholds(), ignores.get(shape))
        on_cpu = resolve_device(options.device) == "cpu"

        def ignore_for(shape: tuple[int, int]) -> np.ndarray | None:
            if (options.ignore_boxes or options.ignore_mask) and shape not in ignores:
                ignores[shape] = ignore_mask_for(shape, options)
            return ignores.get(shape)

        def compare_pair(a, b):
            return compare_with(options, a, b, ignore=ignore_for(a.shape[:2]))

        analysed = _analyse_ahead(
            itertools.chain([first] if first else [], pairs), screen, compare_pair if on_cpu else None
        )
        for index, timestamp, a, b, score, result in analysed:
            checkpoint("frame")
            if score is not None:
                summary.frames.append(FrameResult(index, timestamp, score, 0.0, [], False))
                if progress:
                    progress(index)
                continue
            if result is None:
                result = compare_pair(a, b)
            fraction = float(result.mask.mean()) if result.mask is not None else 1.0
            frame = FrameResult(
                index, timestamp, result.score, fraction, result.regions, result.different, result.mismatch
            )
            summary.frames.append(frame)
            if diff_video is not None and writer is None:
                writer = _SideBySideWriter(
                    diff_video, outputs.staging_path(diff_video), summary.frame_rates.get("left")
                )
            pictures = None
            if writer is not None or (frame.different and export_all):
                pictures = render(result, color=options.color, thickness=options.thickness)
            if writer is not None:
                writer.add(pictures)
            if frame.different and export_all:
                summary.outputs += _export_frame(out_dir, index, pictures, outputs)
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
        if writer is not None:
            writer.close(finish=True)
    finally:
        if writer is not None:
            writer.close(finish=False)  # an error or interrupt: the staging file goes with the rest
    if not summary.frames and not summary.problems:
        counts = ", ".join(f"{side} {count}" for side, count in summary.decoded.items())
        summary.problems.append(
            f"no frame pairs to compare (frames decoded: {counts}; offset={offset}, start={start}"
            + (f", end={end}" if end is not None else "")
            + "): the selection is empty or lies past the end of a video"
        )
    for _, _, frame, result in sorted(worst, key=lambda e: e[:2], reverse=True):
        summary.worst.append(frame)
        pictures = render(result, color=options.color, thickness=options.thickness)
        summary.outputs += _export_frame(out_dir, frame.index, pictures, outputs)
    if export_all:
        summary.worst = sorted((f for f in summary.frames if f.different), key=lambda f: -f.changed_fraction)
        summary.worst = summary.worst[: max(worst_count, 0)]
    if writer is not None and writer.started:
        summary.outputs.append(str(diff_video))
    return summary


def _export_frame(out_dir: Path, index: int, pictures: dict[str, np.ndarray], outputs: Outputs) -> list[str]:
    files = encode_pictures(pictures, out_dir / "frames" / f"{index:06d}")
    for path, data in files.items():
        outputs.add(path, data)
    return [p.relative_to(out_dir).as_posix() for p in files]


def _write_summary(summary: VideoSummary, left, right, out_dir, options, offset, start, end, outputs: Outputs) -> None:
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
    outputs.add(out_dir / "frames.csv", table.getvalue().encode())
    outputs.add(out_dir / "report.json", to_json(report).encode())
    outputs.add(out_dir / REPORT_HTML, video_html(report, summary.frames, summary.outputs).encode())
