"""Where the whole ``imgdiff video`` process spends its CPU time, per frame pair: every thread accounted for.

``bench_video_stages`` replays a clip's pairs on one thread and times the screen's and the
full comparison's stages; ``bench_video_versions`` times the whole command. This sits
between them: it runs ``imgdiff video``'s own function (``compare_videos``, the defaults,
no pictures exported, as ``bench_video_versions`` does) on the clip, warm, in a fresh process
per installation, with its threads as the command runs them, and splits the process's CPU
time (``time.process_time``, every thread) into

* ``decode threads``: the two Python threads that decode the streams (PyAV, the GIL released),
  their conversion to RGB included, and of it ``conversion to RGB`` alone (``upright``);
* ``screen`` and ``full comparison``: the worker threads' calls of ``FrameScreen.measure_with_peak``
  and ``job.compare_with``, each in its own thread's CPU time;
* ``main thread``: the consumer (frame results, the report);
* ``rest``: what is left: the workers outside those two calls, the decoders' and swscale's
  own helper threads, the interpreter's garbage collector.

and counts each part's minor page faults (``RUSAGE_THREAD``; the process's for the total). Rounds
interleave the installations; medians. CPU time is what a shared machine's load changes least,
not at all: read the ratios between installations from the same rounds.

    python -m benchmarks.bench_video_account --clip DIR_WITH_a.*_AND_b.* \\
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

# Runs in the installation under test; prints one JSON line {part: [seconds, faults, calls], ...}.
ACCOUNT = r"""
import collections, json, resource, sys, threading, time
from pathlib import Path
import imgdiff_gpu.job as job, imgdiff_gpu.screening as screening, imgdiff_gpu.video as video
import imgdiff_gpu.video_frames as video_frames
from imgdiff_gpu.options import CompareOptions

clip, out = Path(sys.argv[1]), Path(sys.argv[2])
parts = collections.defaultdict(lambda: [0.0, 0, 0])
lock = threading.Lock()

def thread_faults():
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt

def counted(label, start, faults):
    with lock:
        part = parts[label]
        part[0] += time.thread_time() - start
        part[1] += thread_faults() - faults
        part[2] += 1

def timed(label, function):
    def wrapper(*args, **kwargs):
        start, faults = time.thread_time(), thread_faults()
        try:
            return function(*args, **kwargs)
        finally:
            counted(label, start, faults)
    return wrapper

def decoded(function):
    def wrapper(*args, **kwargs):  # a generator: its body runs on the decode thread, from its first item on
        start, faults = time.thread_time(), thread_faults()
        try:
            yield from function(*args, **kwargs)
        finally:
            counted("decode threads", start, faults)
    return wrapper

screening.FrameScreen.measure_with_peak = timed("screen", screening.FrameScreen.measure_with_peak)
job.compare_with = timed("full comparison", job.compare_with)
video_frames.upright = timed("conversion to RGB", video_frames.upright)
video.decode_frames = decoded(video.decode_frames)

left, right = next(clip.glob("a.*")), next(clip.glob("b.*"))
try:  # each installation at its own video defaults
    from dataclasses import replace
    from imgdiff_gpu.options import VIDEO_DEFAULTS
    options = replace(VIDEO_DEFAULTS, device="cpu")
except ImportError:  # named since 2026-11-26; before: low, the clip noise rule off
    options = CompareOptions(device="cpu", sensitivity="low")
video.compare_videos(left, right, out / "warm", options, end=3, worst_count=0)
time.sleep(0.5)  # the warm run's decode threads stop (they end on their own, after it returns)
parts.clear()
process, main, faults = time.process_time(), time.thread_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
main_faults = thread_faults()
summary = video.compare_videos(left, right, out / "run", options, worst_count=0)
parts["main thread"] = [time.thread_time() - main, thread_faults() - main_faults, 1]
parts["process"] = [time.process_time() - process, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults, 1]
print(json.dumps({"pairs": len(summary.frames), "parts": parts}))
"""
# the parts in the order printed; the decode threads include their conversion, so "rest" leaves that out
ORDER = ("process", "decode threads", "conversion to RGB", "screen", "full comparison", "main thread", "rest")


def account(python: str, checkout: Path, clip: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [python, "-c", ACCOUNT, str(clip), str(out)], cwd=checkout, env=env, check=True, capture_output=True, text=True
    )
    run = json.loads(done.stdout.strip().splitlines()[-1])
    parts = run["parts"]
    whole = parts["process"]
    counted = [parts.get(name, [0.0, 0, 0]) for name in ("decode threads", "screen", "full comparison", "main thread")]
    parts["rest"] = [whole[0] - sum(p[0] for p in counted), whole[1] - sum(p[1] for p in counted), 1]
    return run


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, required=True, help="a folder with a.* and b.* (benchmarks/video_set.py)")
    parser.add_argument("--installation", action="append", required=True, metavar="NAME=PYTHON:CHECKOUT")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    installations = named_installations(args.installation)
    runs: dict[str, list[dict]] = {name: [] for name in installations}
    with tempfile.TemporaryDirectory(prefix="imgdiff-account-") as scratch:
        for round_ in range(args.rounds):
            for name, (python, checkout) in installations.items():
                runs[name].append(account(python, checkout, args.clip, Path(scratch) / f"{name}-{round_}"))
    table = {}
    for name, these in runs.items():
        pairs = these[0]["pairs"]
        table[name] = {
            part: {
                "ms_per_pair": statistics.median(1000 * run["parts"].get(part, [0, 0, 0])[0] / pairs for run in these),
                "faults_per_pair": statistics.median(run["parts"].get(part, [0, 0, 0])[1] / pairs for run in these),
                "calls": these[0]["parts"].get(part, [0, 0, 0])[2],
            }
            for part in ORDER
        }
    pairs = runs[next(iter(runs))][0]["pairs"]
    print(f"CPU: {cpu_name()}; {args.clip.name}, {pairs} pairs, median of {args.rounds} rounds")
    print(f"{'part (CPU ms per pair, share, faults per pair)':<48}" + "".join(f"{name:>30}" for name in installations))
    for part in ORDER:
        cells = ""
        for name in installations:
            row, whole = table[name][part], table[name]["process"]["ms_per_pair"]
            cells += (
                f"{row['ms_per_pair']:>12.2f} {100 * row['ms_per_pair'] / whole:>5.1f} % {row['faults_per_pair']:>8.0f}"
            )
        print(f"{part:<48}{cells}")
    report = {"cpu": cpu_name(), "clip": args.clip.name, "rounds": args.rounds, "parts": table}
    report["installations"] = {name: f"{p}:{c}" for name, (p, c) in installations.items()}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
