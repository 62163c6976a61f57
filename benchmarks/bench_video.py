"""Video throughput, stage by stage, against decoding alone and FFmpeg's ssim filter.

Makes two 1080p H.264 clips (a pan across scikit-image's astronaut, the second
with a changed patch in a few frames), then measures on this machine:

* decode only: both streams through PyAV to RGB, as ``imgdiff video`` decodes;
* each stage of one frame pair: pairing (to planes), SSIM, evidence + mask +
  regions, rendering + PNG encoding (only differing frames pay this);
* ``imgdiff video`` end to end (threaded decoding overlapping comparison);
* ``ffmpeg -i a -i b -lavfi ssim -f null -`` (8x8 block sums, no regions).

    python benchmarks/bench_video.py [--frames 120] [--size 1080p]
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

from benchmarks.bench_ssim import cpu_name
from imgdiff_gpu.compare import luma_ssim_params
from imgdiff_gpu.detection import difference_mask, thresholds_for
from imgdiff_gpu.job import CompareOptions
from imgdiff_gpu.pairing import prepare_pair
from imgdiff_gpu.regions import find_regions
from imgdiff_gpu.video import compare_videos

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
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)]


def time_decode(a: Path, b: Path) -> float:
    start = time.perf_counter()
    for path in (a, b):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                frame.to_ndarray(format="rgb24")
    return time.perf_counter() - start


def stage_times(left: np.ndarray, right: np.ndarray, repeat: int = 7) -> dict[str, float]:
    from imgdiff_gpu._ssim_cpu import ssim_map_2d
    from imgdiff_gpu.compare import Comparison
    from imgdiff_gpu.loading import LoadedImage
    from imgdiff_gpu.rendering import render

    thresholds = thresholds_for("low")  # the video default
    times: dict[str, list[float]] = {k: [] for k in ("pairing", "ssim", "evidence_mask_regions", "render_encode")}
    for _ in range(repeat):
        t0 = time.perf_counter()
        pair = prepare_pair(left, right)
        t1 = time.perf_counter()
        params = luma_ssim_params(pair.left.luma)
        ssim_map = ssim_map_2d(pair.left.luma, pair.right.luma, params)
        t2 = time.perf_counter()
        mask, _ = difference_mask(ssim_map, pair.left.planes, pair.right.planes, params.weights, thresholds)
        regions, kept = find_regions(mask, ssim_map, pair.left.planes, pair.right.planes)
        t3 = time.perf_counter()
        image = lambda p: LoadedImage(pixels=p, path=None, format=None, mode="array", orientation=1)  # noqa: E731
        result = Comparison(image(left), image(right), "cpu", thresholds, 0.0, ssim_map, kept, regions)
        for picture in render(result).values():
            cv2.imencode(".png", picture)
        t4 = time.perf_counter()
        for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            times[key].append(value)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", choices=sorted(SIZES), default="1080p")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    shape = SIZES[args.size]
    work = Path(tempfile.mkdtemp(prefix="imgdiff-bench-"))
    try:
        a, b = work / "a.mp4", work / "b.mp4"
        make_clip(a, shape, args.frames, set())
        make_clip(b, shape, args.frames, {10, 11, 12, 60})
        n = args.frames
        print(f"CPU: {cpu_name()}; {n} frame pairs of {shape[1]}x{shape[0]} H.264")

        decode_s = time_decode(a, b)
        lefts, rights = decode_all(a)[:3], decode_all(b)[10:13]
        stages = stage_times(lefts[0], rights[0])
        compare_videos(a, b, work / "warm", CompareOptions(device="cpu"), end=3)  # compile and warm up
        start = time.perf_counter()
        summary = compare_videos(a, b, work / "out", CompareOptions(device="cpu", sensitivity="low"))
        video_s = time.perf_counter() - start
        ffmpeg_s = None
        if shutil.which("ffmpeg"):
            start = time.perf_counter()
            subprocess.run(
                ["ffmpeg", "-v", "error", "-i", str(a), "-i", str(b), "-lavfi", "ssim", "-f", "null", "-"], check=True
            )
            ffmpeg_s = time.perf_counter() - start
        result = {
            "date": dt.date.today().isoformat(),
            "cpu": cpu_name(),
            "size": args.size,
            "frame_pairs": n,
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
                f"(imgdiff is {ratio:.2f}x of it; target >= 0.25)"
            )
        print(f"frames flagged: {result['frames_flagged']}")
        out = args.out or Path(__file__).parent / "results" / f"video-{args.size}-{result['date']}-cpu.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
