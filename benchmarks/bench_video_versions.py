"""``imgdiff video`` of two installations against each other and FFmpeg, on differently encoded clips.

For each clip of ``benchmarks/video_set.py`` (A and B encoded differently), in
interleaved rounds so that a shared machine's load falls on all alike:

* ``imgdiff video``'s own function at its defaults (``low``, the clip noise rule on, no pictures
  exported), in each installation: a fresh process that warms up on three
  frames, then times the whole clip (decoding included), as
  ``benchmarks/eval_video.py`` does;
* ``ffmpeg -lavfi ssim -f null -`` on the same two files.

Prints medians and the ratios (after / FFmpeg, before / FFmpeg, after / before
in pairs per second), and checks that the two installations wrote the same
frames.csv, byte for byte. Each run's CPU time (all its threads) is recorded too,
and the ratio of the medians of before / after: on a machine shared with other
jobs, wall time follows their load, CPU time far less. How many cores other
processes kept busy during each run (the machine's busy time in ``/proc/stat``,
steal included, less the run's own) is recorded as ``others_cores``: read wall-time
ratios only from rounds where it is near 0 (``nice`` does not keep another login
session's jobs off the cores where the kernel's autogroups are on).

    python -m benchmarks.bench_video_versions --before /work/venv/bin/python:/path/to/old/checkout \\
        [--after PYTHON:CHECKOUT] [--seed 2026] [--size 720p] [--clips 2] [--rounds 3] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_ssim import cpu_name
from benchmarks.video_set import clip_set

ROOT = Path(__file__).resolve().parents[1]
# Runs in the installation under test: one clip, warm, at the video command's defaults.
TIMED = """
import sys, time
from pathlib import Path
from imgdiff_gpu.job import CompareOptions
from imgdiff_gpu.video import compare_videos
left, right, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
try:  # each installation at its own video defaults
    from dataclasses import replace
    from imgdiff_gpu.options import VIDEO_DEFAULTS
    options = replace(VIDEO_DEFAULTS, device="cpu")
except ImportError:  # named since 2026-11-26; before: low, the clip noise rule off
    options = CompareOptions(device="cpu", sensitivity="low")
compare_videos(left, right, out / "warm", options, end=3, worst_count=0)
start, cpu = time.perf_counter(), time.process_time()
compare_videos(left, right, out / "run", options, worst_count=0)
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def installation(text: str) -> tuple[str, Path]:
    """``PYTHON:CHECKOUT`` as (interpreter, checkout folder); either may be left empty (this Python, here)."""
    python, _, checkout = text.partition(":")
    return python or sys.executable, Path(checkout or ".").resolve()


def named_installations(texts: list[str]) -> dict[str, tuple[str, Path]]:
    """``NAME=PYTHON:CHECKOUT`` options as {name: (interpreter, checkout folder)}."""
    return {name: installation(where) for name, _, where in (text.partition("=") for text in texts)}


def imgdiff_seconds(python: str, checkout: Path, left: Path, right: Path, out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one timed run."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [python, "-c", TIMED, str(left), str(right), str(out)],
        cwd=checkout,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall, cpu = done.stdout.split()[-2:]
    return float(wall), float(cpu)


def busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy (steal included), from /proc/stat; None elsewhere."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle, iowait = fields[3], fields[4]
    return (sum(fields) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def others_cores(run) -> tuple[object, float | None]:
    """``run()``'s result, and the cores other processes kept busy meanwhile (busy time beyond ours
    and the run's, over its wall time); None where /proc/stat cannot be read."""
    busy, ours, children = busy_seconds(), time.process_time(), children_cpu_seconds()
    start = time.perf_counter()
    result = run()
    wall = time.perf_counter() - start
    after = busy_seconds()
    if busy is None or after is None:
        return result, None
    own = (time.process_time() - ours) + (children_cpu_seconds() - children)
    return result, max(after - busy - own, 0.0) / wall


def ffmpeg_seconds(left: Path, right: Path) -> float:
    command = ["ffmpeg", "-v", "error", "-i", str(left), "-i", str(right), "-lavfi", "ssim", "-f", "null", "-"]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, metavar="PYTHON:CHECKOUT")
    parser.add_argument("--after", default=f"{sys.executable}:{ROOT}", metavar="PYTHON:CHECKOUT")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--size", choices=("720p", "1080p"), default="720p")
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("needs ffmpeg on PATH")
    versions = {"before": installation(args.before), "after": installation(args.after)}
    clips = clip_set(args.seed, args.clips, size=args.size, frames=args.frames)
    print(f"CPU: {cpu_name()}; {len(clips)} clips of {args.frames} frames at {args.size}, seed {args.seed}")
    rows = []
    work = Path(tempfile.mkdtemp(prefix="imgdiff-bench-video-versions-"))
    try:
        for n, clip in enumerate(clips):
            times: dict[str, list[float]] = {"before": [], "after": [], "ffmpeg": []}
            cpu_times: dict[str, list[float]] = {"before": [], "after": []}
            others: dict[str, list[float | None]] = {"before": [], "after": [], "ffmpeg": []}
            for round_ in range(args.rounds):
                for name, (python, checkout) in versions.items():
                    out = work / f"{n}-{name}-{round_}"
                    (wall, cpu), busy = others_cores(
                        lambda: imgdiff_seconds(python, checkout, clip.left, clip.right, out)  # noqa: B023
                    )
                    times[name].append(wall)
                    cpu_times[name].append(cpu)
                    others[name].append(busy)
                wall, busy = others_cores(lambda: ffmpeg_seconds(clip.left, clip.right))  # noqa: B023
                times["ffmpeg"].append(wall)
                others["ffmpeg"].append(busy)
            same = filecmp.cmp(work / f"{n}-before-0/run/frames.csv", work / f"{n}-after-0/run/frames.csv", False)
            medians = {name: statistics.median(values) for name, values in times.items()}
            row = {
                "clip": clip.name,
                "frames": args.frames,
                "seconds": times,
                "cpu_seconds": cpu_times,
                "pairs_per_second": {name: args.frames / value for name, value in medians.items()},
                "before_vs_ffmpeg": medians["ffmpeg"] / medians["before"],
                "after_vs_ffmpeg": medians["ffmpeg"] / medians["after"],
                "after_vs_before": medians["before"] / medians["after"],
                "after_vs_before_cpu": statistics.median(cpu_times["before"]) / statistics.median(cpu_times["after"]),
                "frames_csv_identical": same,
                "others_cores": others,
            }
            rows.append(row)
            rate = row["pairs_per_second"]
            print(
                f"{clip.name:<62} before {rate['before']:5.1f}, after {rate['after']:5.1f}, "
                f"FFmpeg {rate['ffmpeg']:6.1f} pairs/s: {row['before_vs_ffmpeg']:.3f}x -> "
                f"{row['after_vs_ffmpeg']:.3f}x FFmpeg ({row['after_vs_before']:.2f}x, CPU time "
                f"{row['after_vs_before_cpu']:.2f}x); "
                f"frames.csv {'identical' if same else 'DIFFERENT'}"
            )
            busiest = max((value for values in others.values() for value in values if value is not None), default=None)
            if busiest is not None and busiest > 0.2:
                print(f"  other processes kept up to {busiest:.2f} cores busy during these runs: wall ratios are loose")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "seed": args.seed,
        "size": args.size,
        "rounds": args.rounds,
        "before": args.before,
        "after": args.after,
        "median_after_vs_ffmpeg": statistics.median(r["after_vs_ffmpeg"] for r in rows),
        "median_before_vs_ffmpeg": statistics.median(r["before_vs_ffmpeg"] for r in rows),
        "median_after_vs_before_cpu": statistics.median(r["after_vs_before_cpu"] for r in rows),
        "clips": rows,
    }
    print(
        f"median over clips: {report['median_before_vs_ffmpeg']:.3f}x -> "
        f"{report['median_after_vs_ffmpeg']:.3f}x FFmpeg; CPU time before / after "
        f"{report['median_after_vs_before_cpu']:.2f}x"
    )
    out = args.out or ROOT / "benchmarks" / "results" / f"video-versions-s{args.seed}-{args.size}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
