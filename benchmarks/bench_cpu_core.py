"""The compiled CPU core against the Numba kernels it replaced: cold start and 1080p throughput.

Two installations, each a Python and a checkout (PYTHONPATH), are timed in the
same interleaved rounds, so the load of a shared machine falls on both alike:

* cold start: the whole ``imgdiff compare examples/left.png examples/right.png``
  process (report to stdout, no pictures), and the same with the warm-up thread
  (``cpu/warmup.py``) turned off, to see whether it still pays;
* throughput: :func:`imgdiff_gpu.compare` on a 1920 x 1080 RGB pair (the example
  scaled up, plus noise, so every stage runs in full), in a warm process.

Medians of the rounds; ratios are after / before.

    python benchmarks/bench_cpu_core.py --before /work/venv/bin/python:/work/main \\
        --after /work/venv-ccore/bin/python:. [--rounds 9] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "examples" / "left.png", ROOT / "examples" / "right.png")
CLI = "from imgdiff_gpu.cli import main; main()"
NO_WARMUP = (
    "import contextlib, imgdiff_gpu.cpu.warmup as w\n"
    "w.cpu_warmup = lambda device: contextlib.nullcontext()\n"
    "from imgdiff_gpu.cli import main; main()\n"
)
# Runs in the installation under test: times compare() on the 1080p pair, warm.
THROUGHPUT = """
import sys, time, numpy as np
from imgdiff_gpu import compare
pair = np.load(sys.argv[1])
left, right = pair["left"], pair["right"]
compare(left, right, device="cpu")
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    compare(left, right, device="cpu", keep_maps=False)
    times.append(time.perf_counter() - start)
print(min(times))
"""


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    return platform.processor() or "unknown CPU"


def installation(text: str) -> tuple[str, Path]:
    python, _, checkout = text.partition(":")
    return python, Path(checkout or ".").resolve()


def seconds(python: str, checkout: Path, code: str, *args: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    start = time.perf_counter()
    done = subprocess.run([python, "-c", code, *args], env=env, cwd=checkout, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{python} {checkout}: exit {done.returncode}\n{done.stderr}")
    return elapsed, done.stdout


def make_1080p_pair(folder: Path) -> Path:
    import cv2
    import numpy as np

    images = [cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1] for path in EXAMPLE]
    left, right = (cv2.resize(np.ascontiguousarray(im), (1920, 1080), interpolation=cv2.INTER_CUBIC) for im in images)
    noise = np.random.default_rng(1080).integers(-2, 3, left.shape)
    right = np.clip(right.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    path = folder / "pair-1080p.npz"
    np.savez(path, left=left, right=right)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, metavar="PYTHON:CHECKOUT", help="the Numba installation")
    parser.add_argument("--after", required=True, metavar="PYTHON:CHECKOUT", help="the C core installation")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=3, help="compare() calls per round (the best counts)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sides = {"before": installation(args.before), "after": installation(args.after)}
    compare_args = ["compare", str(EXAMPLE[0]), str(EXAMPLE[1]), "--device", "cpu", "--json", "-"]
    cold = {"before": CLI, "after": CLI, "after, no warm-up": NO_WARMUP}
    with tempfile.TemporaryDirectory() as folder:
        pair = make_1080p_pair(Path(folder))
        for python, checkout in sides.values():  # warm-up round: page cache, Numba's on-disk cache
            seconds(python, checkout, CLI, *compare_args)
        times: dict[str, list[float]] = {f"cold {k}": [] for k in cold} | {f"1080p {k}": [] for k in sides}
        outputs = {}
        for _ in range(args.rounds):
            for name, code in cold.items():
                python, checkout = sides[name.split(",")[0]]
                elapsed, outputs[name] = seconds(python, checkout, code, *compare_args)
                times[f"cold {name}"].append(elapsed)
            for name, (python, checkout) in sides.items():
                _, best = seconds(python, checkout, THROUGHPUT, str(pair), str(args.calls))
                times[f"1080p {name}"].append(float(best))
    same = len({json.dumps(json.loads(o)["regions"]) for o in outputs.values()}) == 1
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(f"{cpu_name()}; median of {args.rounds} interleaved rounds")
    print(f"  before: {args.before}\n  after:  {args.after}")
    for name, value in medians.items():
        print(f"{name:<28}{value:8.3f} s")
    ratios = {
        "cold start after/before": medians["cold after"] / medians["cold before"],
        "cold start no warm-up/with": medians["cold after, no warm-up"] / medians["cold after"],
        "1080p compare after/before": medians["1080p after"] / medians["1080p before"],
    }
    for name, value in ratios.items():
        print(f"{name:<28}{value:8.2f}x")
    print(f"same regions on the example: {same}")
    if args.out:
        result = {
            "date": dt.date.today().isoformat(),
            "cpu": cpu_name(),
            "rounds": args.rounds,
            "before": args.before,
            "after": args.after,
            "seconds": times,
            "medians": medians,
            "ratios": ratios,
            "same_regions": same,
        }
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
