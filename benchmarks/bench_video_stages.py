"""Where a video pair's CPU time goes: each stage of the screen and of the full comparison, per installation.

``imgdiff video`` analyses pairs on worker threads, so a profiler of the whole
command mixes them; this replays one clip's pairs on one thread instead (the
kernels and OpenCV single-threaded, the screen deciding as the command's does,
pausing after misses, the scratch planes kept from one pair to the next as the
command's workers keep them) and times each named stage in the thread's own CPU
time, which another job's load on a shared machine changes far less than wall time.
Decoding is left out (it runs on its own threads in the command).

For each installation (``PYTHON:CHECKOUT``) a fresh process; the rounds interleave
them. Prints per stage the median milliseconds per pair over all pairs (a stage
that runs for some pairs only is averaged over all) and its calls. Stages nest (the
screen's ``masked_line_shift`` includes a ``contrast_masking``; ``difference_mask``
the rules it applies), so the two "(all of it)" lines are the totals.

    python -m benchmarks.bench_video_stages --clip DIR_WITH_a.*_AND_b.* \\
        --installation before=/work/venv/bin/python:/old/checkout --installation after=... [--rounds 3] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

from benchmarks.bench_ssim import cpu_name
from benchmarks.bench_video_versions import named_installations

ROOT = Path(__file__).resolve().parents[1]

# Runs in the installation under test; prints one JSON line {stage: [seconds, calls]}.
REPLAY = r"""
import collections, json, sys, time
from pathlib import Path
import cv2
cv2.setNumThreads(1)
from imgdiff_gpu.cpu.threads import set_num_threads
from imgdiff_gpu.cpu.scratch import keeping_scratch
set_num_threads(1)
import imgdiff_gpu.cpu.analysis as analysis, imgdiff_gpu.cpu.screen as cpu_screen, imgdiff_gpu.cpu.ssim as cpu_ssim
import imgdiff_gpu.detection as detection, imgdiff_gpu.job as job, imgdiff_gpu.planes as planes
import imgdiff_gpu.screening as screening
from imgdiff_gpu.options import CompareOptions

clip, limit = Path(sys.argv[1]), int(sys.argv[2])
modules = (detection, screening, analysis, planes, cpu_screen, cpu_ssim, job)
STAGES = {
    detection: ["contrast_masking", "_masking_and_scale", "coarse_chroma_shift", "luma_bias", "line_shift",
                "line_over_threshold", "evidence_strength", "hysteresis", "structural_threshold",
                "luma_shift_map", "line_noise_ratio", "evidence_levels", "mask_from_levels"],
    screening: ["masked_line_shift", "masked_luma_shift", "coarse_chroma_bound", "block_luma_bias"],
    cpu_screen: ["frame_steps", "sampled_line_noise_ratio"],
    cpu_ssim: ["ssim_map_and_bounds", "ssim_map_and_screen", "ssim_map_2d"],
    planes: ["prepare_pair"], analysis: ["find_regions", "difference_mask", "score_of"],
}
seconds, calls = collections.Counter(), collections.Counter()

def timed(label, function):
    def wrapper(*args, **kwargs):
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[label] += time.thread_time() - start
            calls[label] += 1
    return wrapper

for home, names in STAGES.items():
    for name in names:
        original = getattr(home, name, None)
        if original is None:
            continue
        wrapped = timed(name, original)
        for module in modules:  # every module that imported it by name
            if getattr(module, name, None) is original:
                setattr(module, name, wrapped)

import av

def frames(path):
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            yield frame.to_ndarray(format="rgb24")

pairs = list(zip(frames(next(clip.glob("a.*"))), frames(next(clip.glob("b.*")))))[:limit]
options = CompareOptions(device="cpu", sensitivity="low")

def replay():
    with keeping_scratch():  # as the command's workers keep their scratch planes from one pair to the next
        replay_pairs()

def replay_pairs():
    screen = screening.FrameScreen(pairs[0][0].shape[:2], options.thresholds())
    for left, right in pairs:
        start = time.thread_time()
        wanted = screen.wants()
        score, maps = screen.measure_keeping(left, right) if wanted else (None, None)
        if wanted:
            screen.record(score)
        seconds["screen (all of it)"] += time.thread_time() - start
        calls["screen (all of it)"] += wanted
        if score is None:
            start = time.thread_time()
            with analysis.screened(maps):
                job.compare_with(options, left, right, ignore=None)
            seconds["full comparison (all of it)"] += time.thread_time() - start
            calls["full comparison (all of it)"] += 1

replay()  # warm: caches of factor grids, scratch planes, OpenCV's first calls
seconds.clear(); calls.clear()
replay()
print(json.dumps({"pairs": len(pairs), "stages": {k: [seconds[k], calls[k]] for k in seconds}}))
"""


def replay(python: str, checkout: Path, clip: Path, limit: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [python, "-c", REPLAY, str(clip), str(limit)], cwd=checkout, env=env, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, required=True, help="a folder with a.* and b.* (benchmarks/video_set.py)")
    parser.add_argument("--installation", action="append", required=True, metavar="NAME=PYTHON:CHECKOUT")
    parser.add_argument("--pairs", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    installations = named_installations(args.installation)
    runs: dict[str, list[dict]] = {name: [] for name in installations}
    for _ in range(args.rounds):
        for name, (python, checkout) in installations.items():
            runs[name].append(replay(python, checkout, args.clip, args.pairs))
    stages = sorted({stage for these in runs.values() for run in these for stage in run["stages"]})
    table = {}
    for name, these in runs.items():
        pairs = these[0]["pairs"]
        table[name] = {
            stage: {
                "ms_per_pair": statistics.median(1000 * run["stages"].get(stage, [0, 0])[0] / pairs for run in these),
                "calls": these[0]["stages"].get(stage, [0, 0])[1],
            }
            for stage in stages
        }
    print(f"CPU: {cpu_name()}; {args.clip.name}, {args.pairs} pairs, one thread, median of {args.rounds} rounds")
    print(f"{'stage (ms CPU per pair, calls)':<34}" + "".join(f"{name:>22}" for name in installations))
    order = sorted(stages, key=lambda s: -max(table[n][s]["ms_per_pair"] for n in installations))
    for stage in order:
        cells = "".join(f"{table[n][stage]['ms_per_pair']:>15.2f} ({table[n][stage]['calls']:>3})" for n in table)
        print(f"{stage:<34}{cells}")
    report = {"cpu": cpu_name(), "clip": args.clip.name, "pairs": args.pairs, "rounds": args.rounds, "stages": table}
    report["installations"] = {name: f"{p}:{c}" for name, (p, c) in installations.items()}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
