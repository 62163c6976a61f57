"""Batch and video throughput on a local Dask cluster of 1 and 2 workers, against the in-process run.

Makes a batch of 720p screenshot pairs (the astronaut at shifting crops, a
changed patch in every other pair) and two 720p H.264 clips (a keyframe every 60 frames), starts a local
cluster of 1 and then one of 2 worker processes (one thread each; one cluster
alive at a time, started and warmed up before timing, so their start-up and
first imports are not counted: a long run pays them once), and times,
interleaved, ``repeats`` times each:

* ``imgdiff batch --force`` in process, on 1 worker and on 2 workers (pairs/s);
* ``imgdiff video`` in process, on 1 worker and on 2 workers (frame pairs/s);
* the per-task overhead: a round trip of 400 empty tasks through each cluster.

Reports medians, each ratio against the in-process run measured in the same
interleaved rounds, and the machine; writes benchmarks/results/distributed-<date>-cpu.json.

    python benchmarks/bench_distributed.py [--pairs 24] [--frames 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

from benchmarks.bench_ssim import cpu_name
from imgdiff_gpu.batch import run_batch
from imgdiff_gpu.options import CompareOptions
from imgdiff_gpu.video import compare_videos

SHAPE = (720, 1280)


def make_pairs(root: Path, count: int) -> tuple[Path, Path]:
    photo = cv2.cvtColor(cv2.resize(data.astronaut(), (SHAPE[1] + 4 * count, SHAPE[0] + 2 * count)), cv2.COLOR_RGB2BGR)
    left, right = root / "left", root / "right"
    left.mkdir(parents=True)
    right.mkdir(parents=True)
    for i in range(count):
        picture = np.ascontiguousarray(photo[2 * i : 2 * i + SHAPE[0], 4 * i : 4 * i + SHAPE[1]])
        cv2.imwrite(str(left / f"{i:04d}.png"), picture)
        if i % 2:
            picture = picture.copy()
            picture[200:260, 300:420] = (20, 20, 240)
        cv2.imwrite(str(right / f"{i:04d}.png"), picture)
    return left, right


def make_clip(path: Path, frames: int, changed: set[int], *, keyframe_every: int = 60) -> None:
    """bench_video.py's pan at 720p, with a keyframe every 2 s (30 fps), as streaming encodes have."""
    photo = cv2.resize(data.astronaut(), (SHAPE[1] + 4 * frames, SHAPE[0] + 2 * frames))
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.height, stream.width = SHAPE
        stream.pix_fmt = "yuv420p"
        stream.gop_size = keyframe_every
        stream.options = {"crf": "20", "preset": "veryfast"}
        for i in range(frames):
            frame = np.ascontiguousarray(photo[2 * i : 2 * i + SHAPE[0], 4 * i : 4 * i + SHAPE[1]])
            if i in changed:
                frame[200:260, 300:420] = (240, 20, 20)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _noop(x):
    return x


def task_overhead(client, tasks: int = 400) -> float:
    """Seconds per empty task, submitted at once and gathered (scheduling, transfer, bookkeeping)."""
    started = time.perf_counter()
    client.gather(client.map(_noop, range(tasks), pure=False))
    return (time.perf_counter() - started) / tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    root = Path(tempfile.mkdtemp(prefix="imgdiff-bench-distributed-"))
    try:
        left, right = make_pairs(root, args.pairs)
        clip_a, clip_b = root / "a.mp4", root / "b.mp4"
        make_clip(clip_a, args.frames, set())
        make_clip(clip_b, args.frames, set(range(5, args.frames, 50)))
        options, video_options = CompareOptions(), CompareOptions(sensitivity="low")
        warm_left, warm_right = make_pairs(root / "warm", 2)

        def batch(scheduler=None):
            run_batch(left, right, root / "out", options, force=True, overwrite=True, scheduler=scheduler)

        def video(scheduler=None):
            compare_videos(clip_a, clip_b, root / "video", video_options, overwrite=True, scheduler=scheduler)

        def warm_up(scheduler=None):  # Numba's kernels loaded in every process, first outputs written
            run_batch(
                warm_left, warm_right, root / "warm-out", options, force=True, overwrite=True, scheduler=scheduler
            )
            compare_videos(
                clip_a, clip_b, root / "warm-video", video_options, end=20, overwrite=True, scheduler=scheduler
            )

        warm_up()
        times: dict[str, list[float]] = {}

        def timed(name: str, job, *arguments) -> None:
            started = time.perf_counter()
            job(*arguments)
            times.setdefault(name, []).append(time.perf_counter() - started)

        for _ in range(args.repeats):
            timed("batch in process", batch)
            timed("video in process", video)
            for workers in (1, 2):
                # one cluster alive at a time, started and warmed up untimed; each worker's Numba
                # gets its share of the cores, as the cluster --workers N starts
                threads = str(max(1, (os.cpu_count() or 1) // workers))
                env = {"NUMBA_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
                with (
                    LocalCluster(
                        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=env
                    ) as cluster,
                    Client(cluster) as client,
                ):
                    warm_up(cluster.scheduler_address)
                    timed(f"batch {workers}", batch, cluster.scheduler_address)
                    timed(f"video {workers}", video, cluster.scheduler_address)
                    times.setdefault(f"task overhead {workers}", []).append(task_overhead(client))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    median = {name: statistics.median(values) for name, values in times.items()}
    rows = {}
    for kind, count, unit in (("batch", args.pairs, "pairs/s"), ("video", args.frames, "frame pairs/s")):
        serial = count / median[f"{kind} in process"]
        for where in ("in process", 1, 2):
            rate = count / median[f"{kind} {where}"]
            label = f"{kind}, {where if where == 'in process' else f'{where} worker' + ('s' if where > 1 else '')}"
            rows[label] = {unit: round(rate, 2), "vs in process": round(rate / serial, 2)}
    for workers in (1, 2):
        rows[f"per-task overhead, {workers} worker{'s' if workers > 1 else ''}"] = {
            "ms": round(1e3 * median[f"task overhead {workers}"], 3)
        }
    machine = f"{cpu_name()}, {os.cpu_count()} cores (shared)"
    print(f"{machine}; medians of {args.repeats} interleaved runs")
    print(f"batch: {args.pairs} pairs of {SHAPE[1]}x{SHAPE[0]} PNGs with all outputs; video: {args.frames} frames 720p")
    for label, row in rows.items():
        print(f"  {label:34s} " + "  ".join(f"{value} {unit}" for unit, value in row.items()))
    results = Path(__file__).resolve().parent / "results"
    stamp = dt.date.today().isoformat()
    (results / f"distributed-{stamp}-cpu.json").write_text(
        json.dumps(
            {
                "machine": machine,
                "repeats": args.repeats,
                "pairs": args.pairs,
                "frames": args.frames,
                "size": f"{SHAPE[1]}x{SHAPE[0]}",
                "results": rows,
                "seconds": times,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
