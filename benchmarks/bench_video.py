"""Video throughput, stage by stage, against decoding alone and FFmpeg's ssim filter.

Makes two 1080p H.264 clips (a pan across scikit-image's astronaut, the second
with a changed patch in a few frames), then measures on this machine:

* decode only: both streams through PyAV to RGB, with ``imgdiff video``'s own decoder;
* each stage of one frame pair: the screen every pair goes through (luma,
  SSIM map, score, bounds), the full comparison of a pair the screen cannot
  clear, and rendering + PNG encoding of an exported frame;
* ``imgdiff video`` end to end (threaded decoding overlapping comparison);
* ``ffmpeg -i a -i b -lavfi ssim -f null -`` (8x8 block sums, no regions).

With ``--device gpu`` the stages are the GPU's (upload from pageable and from
pinned memory, the full comparison) and ``imgdiff video`` runs on the GPU.

    python benchmarks/bench_video.py [--frames 120] [--size 1080p] [--device cpu|gpu]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

from benchmarks.bench_ssim import cpu_name, gpu_name
from imgdiff_gpu.detection import thresholds_for
from imgdiff_gpu.options import CompareOptions
from imgdiff_gpu.video import VideoSummary, compare_videos, decode_frames

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920)}


def make_clip(path: Path, shape, frames: int, changed: set[int]) -> None:
    photo = cv2.resize(data.astronaut(), (shape[1] + 4 * frames, shape[0] + 2 * frames))
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.height, stream.width = shape
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for i in range(frames):
            frame = np.ascontiguousarray(photo[2 * i : 2 * i + shape[0], 4 * i : 4 * i + shape[1]])
            if i in changed:
                frame[200:260, 300:420] = (240, 20, 20)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decode_all(path: Path) -> list[np.ndarray]:
    return [frame for _, frame in decode_frames(path, "left", VideoSummary())]


def time_decode(a: Path, b: Path) -> float:
    """Seconds to decode both streams one after the other, as ``imgdiff video`` decodes each."""
    start = time.perf_counter()
    for path in (a, b):
        for _ in decode_frames(path, "left", VideoSummary()):
            pass
    return time.perf_counter() - start


def _medians(stages: dict, repeat: int, synchronise=lambda: None) -> dict[str, float]:
    times = {}
    for name, stage in stages.items():
        stage()  # compile / warm up
        synchronise()
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            stage()
            synchronise()
            samples.append(time.perf_counter() - start)
        times[name] = statistics.median(samples)
    return times


def stage_times_gpu(differing: tuple, repeat: int = 7) -> dict[str, float]:
    """Median seconds of each GPU stage for one pair of frames (every pair takes the full path there)."""
    import cupy

    from imgdiff_gpu.pipeline import compare

    pair = np.stack(differing)
    pinned = pinned_copy(pair)
    device_pair = cupy.empty(pair.shape, pair.dtype)
    stream = cupy.cuda.Stream(non_blocking=True)

    def pinned_upload():
        device_pair.set(pinned, stream=stream)
        stream.synchronize()

    return _medians(
        {
            "upload_pageable": lambda: cupy.asarray(pair),
            "upload_pinned": pinned_upload,
            "full_comparison": lambda: compare(*differing, device="gpu", sensitivity="low"),
        },
        repeat,
        synchronise=cupy.cuda.Device().synchronize,
    )


def pinned_copy(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` in page-locked host memory (what a pinned staging buffer is)."""
    import cupyx

    pinned = cupyx.empty_pinned(array.shape, array.dtype)
    pinned[...] = array
    return pinned


def stage_times(clean: tuple, differing: tuple, repeat: int = 7) -> dict[str, float]:
    """Median seconds of each stage of the CPU pipeline, for one pair of frames."""
    from imgdiff_gpu.job import encode_pictures
    from imgdiff_gpu.pipeline import compare
    from imgdiff_gpu.rendering import render
    from imgdiff_gpu.screening import FrameScreen

    screen = FrameScreen(clean[0].shape[:2], thresholds_for("low"))  # the video default
    result = compare(*differing, device="cpu", sensitivity="low")
    pictures = render(result)
    stages = {
        # every pair: luma + per-pixel steps, the SSIM map, the score and the bounds
        "screen": lambda: screen(*clean),
        # pairs the screen cannot clear: the image path (planes, SSIM, strength, Otsu, regions)
        "full_comparison": lambda: compare(*differing, device="cpu", sensitivity="low"),
        # exported frames only: the five pictures, rendered and PNG-encoded
        "render": lambda: render(result),
        "png_encode": lambda: encode_pictures(pictures, Path("frame")),
    }
    times = _medians(stages, repeat)
    assert screen(*clean) is not None, "the clean pair should pass the screen"
    assert screen(*differing) is None and result.different
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", choices=sorted(SIZES), default="1080p")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each end-to-end measurement (median)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.frames < 13:
        parser.error("--frames must be at least 13 (frames 10-12 are the changed ones)")
    if args.device == "gpu" and gpu_name() is None:
        parser.error("--device gpu: no GPU visible to CuPy on this machine")
    shape = SIZES[args.size]
    work = Path(tempfile.mkdtemp(prefix="imgdiff-bench-"))
    try:
        a, b = work / "a.mp4", work / "b.mp4"
        make_clip(a, shape, args.frames, set())
        make_clip(b, shape, args.frames, {10, 11, 12, 60})
        n = args.frames
        gpu = gpu_name() if args.device == "gpu" else None
        print(f"CPU: {cpu_name()}; GPU: {gpu or 'not used'}; {n} frame pairs of {shape[1]}x{shape[0]} H.264")

        lefts, rights = decode_all(a), decode_all(b)
        if args.device == "gpu":
            stages = stage_times_gpu((lefts[10], rights[10]))
        else:
            stages = stage_times((lefts[5], rights[5]), (lefts[10], rights[10]))
        del lefts, rights
        options = CompareOptions(device=args.device, sensitivity="low")
        compare_videos(a, b, work / "warm", options, end=12)  # compile and warm up, a differing frame included

        def run_imgdiff(round_: int):
            return compare_videos(a, b, work / f"out{round_}", options)

        def run_ffmpeg(_round: int):
            command = ["ffmpeg", "-v", "error", "-i", str(a), "-i", str(b), "-lavfi", "ssim", "-f", "null", "-"]
            subprocess.run(command, check=True)

        # the three are interleaved and repeated: this machine's speed drifts between runs
        timings: dict[str, list[float]] = {"decode": [], "imgdiff": [], "ffmpeg": []}
        for round_ in range(args.rounds):
            for name, job in (
                ("decode", lambda _: time_decode(a, b)),
                ("imgdiff", run_imgdiff),
                ("ffmpeg", run_ffmpeg if shutil.which("ffmpeg") else None),
            ):
                if job is None:
                    continue
                start = time.perf_counter()
                outcome = job(round_)
                timings[name].append(time.perf_counter() - start)
                if name == "imgdiff":
                    summary = outcome
        decode_s = statistics.median(timings["decode"])
        video_s = statistics.median(timings["imgdiff"])
        ffmpeg_s = statistics.median(timings["ffmpeg"]) if timings["ffmpeg"] else None
        result = {
            "date": dt.date.today().isoformat(),
            "cpu": cpu_name(),
            "gpu": gpu,
            "device": args.device,
            "size": args.size,
            "frame_pairs": n,
            "rounds": args.rounds,
            "decode_only_pairs_per_s": n / decode_s,
            "stage_ms_per_pair": {k: v * 1000 for k, v in stages.items()},
            "imgdiff_video_pairs_per_s": n / video_s,
            "frames_flagged": sorted(f.index for f in summary.frames if f.different),
            "ffmpeg_ssim_pairs_per_s": n / ffmpeg_s if ffmpeg_s else None,
        }
        print(f"decode only (both streams, PyAV -> RGB): {result['decode_only_pairs_per_s']:7.1f} pairs/s")
        for stage, ms in result["stage_ms_per_pair"].items():
            print(f"  stage {stage:<22} {ms:8.1f} ms/pair")
        print(
            f"imgdiff video end to end:                 {result['imgdiff_video_pairs_per_s']:7.1f} pairs/s "
            f"({result['imgdiff_video_pairs_per_s'] / result['decode_only_pairs_per_s']:.0%} of decode only)"
        )
        if ffmpeg_s:
            ratio = result["imgdiff_video_pairs_per_s"] / result["ffmpeg_ssim_pairs_per_s"]
            print(
                f"ffmpeg -lavfi ssim:                       {result['ffmpeg_ssim_pairs_per_s']:7.1f} pairs/s "
                f"(imgdiff is {ratio:.2f}x of it; CPU target >= 0.25)"
            )
        if args.device == "gpu":
            share = result["imgdiff_video_pairs_per_s"] / result["decode_only_pairs_per_s"]
            print(f"GPU target: >= 80% of decode only; measured {share:.0%}")
        print(f"frames flagged: {result['frames_flagged']}")
        name = f"video-{args.size}-{n}-{result['date']}-{args.device}.json"
        out = args.out or Path(__file__).parent / "results" / name
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
