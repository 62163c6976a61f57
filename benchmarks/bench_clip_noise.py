"""What the clip noise rule (``imgdiff_gpu/clip_noise.py``) adds to ``imgdiff video``'s CPU time per frame pair.

Each clip is compared end to end (``imgdiff_gpu.video.compare_videos`` at the video defaults,
decoding included, no pictures) with the rule, and without it (no reference peak for ``low``:
no peaks measured, no frame held or compared again), interleaved, ``--rounds`` times each; the
medians of the process CPU time (every thread) and of the wall time per pair, and their ratio.

    python -m benchmarks.bench_clip_noise [--seed 2026] [--clips 0,4] [--rounds 3] [--out F.json]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bench_ssim import cpu_name
from benchmarks.video_set import build_clip
from imgdiff_gpu import clip_noise
from imgdiff_gpu.job import CompareOptions
from imgdiff_gpu.video import compare_videos

OPTIONS = CompareOptions(device="cpu", sensitivity="low")


@contextlib.contextmanager
def rule(on: bool):
    saved = dict(clip_noise.REFERENCE_PEAKS)
    if not on:
        clip_noise.REFERENCE_PEAKS.clear()
    try:
        yield
    finally:
        clip_noise.REFERENCE_PEAKS.update(saved)


def timed(clip, on: bool, out: Path) -> tuple[float, float, int]:
    with rule(on):
        wall, cpu = time.perf_counter(), time.process_time()
        summary = compare_videos(clip.left, clip.right, out, OPTIONS, worst_count=0, overwrite=True)
        return time.perf_counter() - wall, time.process_time() - cpu, len(summary.frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--clips", default="0,4", help="indices of the seed's clips")
    parser.add_argument("--size", default="720p")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="imgdiff-bench-clip-noise-"))
    print(f"CPU: {cpu_name()}; seed {args.seed}, {args.size}, {args.rounds} interleaved rounds")
    rows = []
    for index in (int(i) for i in args.clips.split(",")):
        clip = build_clip(args.seed, index, size=args.size, frames=120)
        timed(clip, True, work / "warm")  # imports, kernels, page cache
        runs: dict[bool, list] = {True: [], False: []}
        for _ in range(args.rounds):
            for on in (False, True):
                runs[on].append(timed(clip, on, work / f"{index}-{on}"))
        pairs = runs[True][0][2]
        row = {"clip": clip.name, "pairs": pairs}
        for on, name in ((False, "without"), (True, "with")):
            row[f"{name}_cpu_ms_per_pair"] = 1e3 * statistics.median(r[1] for r in runs[on]) / pairs
            row[f"{name}_wall_ms_per_pair"] = 1e3 * statistics.median(r[0] for r in runs[on]) / pairs
        row["cpu_ratio"] = row["with_cpu_ms_per_pair"] / row["without_cpu_ms_per_pair"]
        row["wall_ratio"] = row["with_wall_ms_per_pair"] / row["without_wall_ms_per_pair"]
        rows.append(row)
        print(
            f"{clip.name:<62} CPU {row['without_cpu_ms_per_pair']:6.1f} -> {row['with_cpu_ms_per_pair']:6.1f} ms/pair "
            f"({row['cpu_ratio']:.3f}x), wall {row['without_wall_ms_per_pair']:6.1f} -> "
            f"{row['with_wall_ms_per_pair']:6.1f} ms/pair ({row['wall_ratio']:.3f}x)"
        )
    report = {"date": dt.date.today().isoformat(), "cpu": cpu_name(), "seed": args.seed, "clips": rows}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
