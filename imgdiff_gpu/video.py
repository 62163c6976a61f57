"""``imgdiff video``: two videos compared frame by frame, as one page.

The parts live beside it: frame pairs (decoding, selection, screening and
comparing a few ahead) in :mod:`imgdiff_gpu.video_frames`; the worst-frames
tracker, frame pictures and the side-by-side video in
:mod:`imgdiff_gpu.video_exports`; the per-frame results, the summary and its
report files in :mod:`imgdiff_gpu.video_report`.

On the CPU, each pair is first screened (:mod:`imgdiff_gpu.screening`): the
SSIM map and bounds that prove most pairs of two encodes have no difference,
and only the others go through the full comparison. The bounds decide which
path computes a frame's result, never the result itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import ImageLoadError, OutputError
from .html_report import REPORT_HTML
from .options import CompareOptions
from .outputs import Outputs, checkpoint
from .video_exports import DIFF_VIDEO_FORMATS, SideBySideWriter, WorstFrames, export_frame, previous_frame_outputs
from .video_frames import compared_frames, decode_frames, prefetch, selected
from .video_report import FrameResult, VideoSummary, stage_video_report

__all__ = ["FrameResult", "VideoSummary", "compare_videos", "decode_frames"]


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
                diff_video=(diff_video, outputs.staging_path(diff_video)) if diff_video else None,
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
        stage_video_report(summary, left, right, out_dir, options, offset, start, end, outputs)
        outputs.commit()
    return summary


def _compare_streams(
    left, right, out_dir, options, outputs, offset, start, end, worst_count, export_all, diff_video, progress
) -> VideoSummary:
    """Every selected frame pair compared; pictures staged in ``outputs``, committed by the caller."""
    from .rendering import render

    summary = VideoSummary()
    left_frames = prefetch(decode_frames(left, "left", summary))
    right_frames = prefetch(decode_frames(right, "right", summary))
    writer = None  # started at the first frame, with the left stream's frame rate
    worst = WorstFrames(worst_count)  # rendered at the end, only those that stay among the worst
    try:
        for _ in range(max(offset, 0)):
            next(right_frames, None)
        for _ in range(max(-offset, 0)):
            next(left_frames, None)
        pairs = selected(zip(left_frames, right_frames, strict=False), start, end)
        for frame, result in compared_frames(pairs, options, screening=diff_video is None):
            checkpoint("frame")
            summary.frames.append(frame)
            if result is not None:  # None: the screen proved the pair unchanged
                if diff_video is not None and writer is None:
                    rate = summary.frame_rates.get("left")
                    writer = SideBySideWriter(diff_video, outputs.staging_path(diff_video), rate)
                pictures = None
                if writer is not None or (frame.different and export_all):
                    pictures = render(result, color=options.color, thickness=options.thickness)
                if writer is not None:
                    writer.add(pictures)
                if frame.different and export_all:
                    summary.outputs += export_frame(out_dir, frame.index, pictures, outputs)
                elif frame.different:
                    worst.offer(frame, result)
            if progress:
                progress(frame.index)
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
    for frame, result in worst.most_changed_first():
        summary.worst.append(frame)
        pictures = render(result, color=options.color, thickness=options.thickness)
        summary.outputs += export_frame(out_dir, frame.index, pictures, outputs)
    if export_all:
        summary.worst = sorted((f for f in summary.frames if f.different), key=lambda f: -f.changed_fraction)
        summary.worst = summary.worst[: max(worst_count, 0)]
    if writer is not None and writer.started:
        summary.outputs.append(str(diff_video))
    return summary
