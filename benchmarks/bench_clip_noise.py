"""What the clip noise rule (``imgdiff_gpu/clip_noise.py``) adds to ``imgdiff video``'s CPU time per frame pair.

Each clip is compared end to end (``imgdiff_gpu.video.compare_videos`` at the video defaults,
decoding included, no pictures) with the rule, and without it (no reference peak for ``low``:
no peaks measured, no frame held or compared again), interleaved, ``--rounds`` times each; the
medians of the process CPU time (every thread) and of the wall time per pair, and their ratio.

With ``--against DIR`` (another checkout of the package, its CPU core built: the code before a
change), each run is a fresh process that warms up on the clip's first frames, and each round
also times DIR's code with the rule and without it: the change's ratios, measured in the same run.

    python -m benchmarks.bench_clip_noise [--seed 2026] [--clips 0,4] [--rounds 3] [--against DIR] [--out F.json]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imgdiff_gpu import clip_noise
from imgdiff_gpu.job import CompareOptions
from imgdiff_gpu.video import compare_videos

OPTIONS = CompareOptions(device="cpu", sensitivity="low", clip_noise=True)
"""The video defaults (``options.VIDEO_DEFAULTS``, spelt out so that a checkout from before they were
named runs it too): the rule on, and off where :func:`rule` removes its reference."""


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
    return timed_files(clip.left, clip.right, on, out)


def timed_files(left: Path, right: Path, on: bool, out: Path, end: int | None = None) -> tuple[float, float, int]:
    with rule(on):
        wall, cpu = time.perf_counter(), time.process_time()
        summary = compare_videos(left, right, out, OPTIONS, end=end, worst_count=0, overwrite=True)
        return time.perf_counter() - wall, time.process_time() - cpu, len(summary.frames)


def timed_in_process(code: Path, clip, on: bool, out: Path) -> tuple[float, float, int]:
    """:func:`timed` in a fresh process running the package from ``code`` (warmed up on 8 frames first)."""
    environment = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, __file__, "--one", str(clip.left), str(clip.right), "--rule", "on" if on else "off"]
    command += ["--out", str(out)]
    done = subprocess.run(command, env=environment, cwd=code, check=True, capture_output=True, text=True)
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def one(arguments) -> None:
    left, right = (Path(name) for name in arguments.one)
    timed_files(left, right, True, arguments.out, end=8)  # imports, kernels, page cache
    print(json.dumps(timed_files(left, right, arguments.rule == "on", arguments.out)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--clips", default="0,4", help="indices of the seed's clips")
    parser.add_argument("--size", default="720p")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", type=Path, help="a checkout of the code before: its rule timed too")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--one", nargs=2, metavar=("LEFT", "RIGHT"), help=argparse.SUPPRESS)  # one timed run
    parser.add_argument("--rule", choices=("on", "off"), default="on", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args)
    from benchmarks.bench_ssim import cpu_name
    from benchmarks.video_set import build_clip

    work = Path(tempfile.mkdtemp(prefix="imgdiff-bench-clip-noise-"))
    print(f"CPU: {cpu_name()}; seed {args.seed}, {args.size}, {args.rounds} interleaved rounds")
    here = Path(__file__).resolve().parents[1]
    rows = []
    for index in (int(i) for i in args.clips.split(",")):
        clip = build_clip(args.seed, index, size=args.size, frames=120)
        # (name, code, rule on): in this process, or each in a fresh one where another checkout is timed too
        variants = [("without", None, False), ("with", None, True)]
        if args.against is not None:
            before = args.against.resolve()
            variants = [("without", here, False), ("with", here, True), ("before", before, True)]
            variants.append(("before_without", before, False))  # what a change of both paths does to each
        else:
            timed(clip, True, work / "warm")  # imports, kernels, page cache
        runs: dict[str, list] = {name: [] for name, _, _ in variants}
        for _ in range(args.rounds):
            for name, code, on in variants:
                out = work / f"{index}-{name}"
                runs[name].append(timed(clip, on, out) if code is None else timed_in_process(code, clip, on, out))
        pairs = runs["with"][0][2]
        row = {"clip": clip.name, "pairs": pairs}
        for name in runs:
            row[f"{name}_cpu_ms_per_pair"] = 1e3 * statistics.median(r[1] for r in runs[name]) / pairs
            row[f"{name}_wall_ms_per_pair"] = 1e3 * statistics.median(r[0] for r in runs[name]) / pairs
        row["cpu_ratio"] = row["with_cpu_ms_per_pair"] / row["without_cpu_ms_per_pair"]
        row["wall_ratio"] = row["with_wall_ms_per_pair"] / row["without_wall_ms_per_pair"]
        line = (
            f"{clip.name:<62} CPU {row['without_cpu_ms_per_pair']:6.1f} -> {row['with_cpu_ms_per_pair']:6.1f} ms/pair "
            f"({row['cpu_ratio']:.3f}x), wall {row['without_wall_ms_per_pair']:6.1f} -> "
            f"{row['with_wall_ms_per_pair']:6.1f} ms/pair ({row['wall_ratio']:.3f}x)"
        )
        if "before" in runs:
            row["before_cpu_ratio"] = row["before_cpu_ms_per_pair"] / row["without_cpu_ms_per_pair"]
            row["with_vs_before_cpu"] = row["with_cpu_ms_per_pair"] / row["before_cpu_ms_per_pair"]
            row["before_rule_cpu_ratio"] = row["before_cpu_ms_per_pair"] / row["before_without_cpu_ms_per_pair"]
            row["without_vs_before_cpu"] = row["without_cpu_ms_per_pair"] / row["before_without_cpu_ms_per_pair"]
            line += (
                f"; before: CPU {row['before_without_cpu_ms_per_pair']:6.1f} -> {row['before_cpu_ms_per_pair']:6.1f}"
                f" ms/pair ({row['before_rule_cpu_ratio']:.3f}x); now/before with the rule "
                f"{row['with_vs_before_cpu']:.3f}x, without {row['without_vs_before_cpu']:.3f}x"
            )
        rows.append(row)
        print(line)
    report = {"date": dt.date.today().isoformat(), "cpu": cpu_name(), "seed": args.seed, "clips": rows}
    if args.against is not None:
        report["against"] = str(args.against)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
