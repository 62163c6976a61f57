"""The pictures' rows deflated ahead (``job.deflating_ahead``) against none, in one process.

Both images of a pair are compared and their pictures written (``job.compare_files`` with
``--out``), in interleaved rounds, once with the thread that deflates the inputs' rows while the
comparison runs and once without it; one warm-up round first. ``compare_files`` starts that thread
only where the GPU compares (``job._compares_on_the_gpu``); here it is told the GPU does, in one
round of two, to measure what the thread does beside the CPU's comparison. A warm process, so the
rounds differ only in that thread (the start-up and first call of a whole process are
``bench_one_pair.py``'s). Prints the medians of the wall time and CPU time (user + system, all
threads) of the whole call, of the comparison (``compare_with``) and of what follows it (the
pictures, the report, the commit), and the ratios; writes
``benchmarks/results/pictures-ahead-*.json``.

    python benchmarks/bench_pictures_ahead.py [--sizes 1080p,4k] [--repeat 11] [--device cpu|gpu]

``--device gpu`` (``benchmarks/gpu_run.sh``) measures the case the thread is for: the GPU
comparing while the cores deflate.

The pair is ``bench_one_pair.py``'s (the bundled example scaled bicubically, PNG).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bench_one_pair import ROOT, SIZES, cpu_name, make_inputs
from benchmarks.bench_ssim import gpu_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1080p,4k", help="comma-separated, of " + ", ".join(SIZES))
    parser.add_argument("--repeat", type=int, default=11, help="timed rounds (median reported); at least 5")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="where the pair is compared")
    parser.add_argument("--out", type=Path, help="JSON results (default: results/pictures-ahead-DATE-DEVICE.json)")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if set(sizes) - set(SIZES) or args.repeat < 5:
        parser.error(f"sizes from {list(SIZES)}, --repeat at least 5")

    from imgdiff_gpu import job
    from imgdiff_gpu.options import CompareOptions

    on_the_gpu, compare_with = job._compares_on_the_gpu, job.compare_with
    marks: dict[str, float] = {}

    def timed_comparison(*args, **kwargs):
        start, cpu = time.perf_counter(), _cpu()
        try:
            return compare_with(*args, **kwargs)
        finally:
            marks["comparison"], marks["comparison_cpu"] = time.perf_counter() - start, _cpu() - cpu

    job.compare_with = timed_comparison
    options = CompareOptions(device=args.device)
    rows = ("with the thread ahead", "without")
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ahead-") as temp:
        pairs = make_inputs(Path(temp), sizes)
        for size in sizes:
            results[size] = {row: {"wall": [], "cpu": [], "comparison": [], "after": []} for row in rows}
            for round_ in range(args.repeat + 1):  # round 0 warms up
                for row in rows if round_ % 2 else rows[::-1]:
                    # started as if the GPU compared (on the CPU it does not start: this measures why)
                    job._compares_on_the_gpu = lambda device, on=row == rows[0]: on
                    out = Path(temp) / f"out-{round_}-{rows.index(row)}"
                    start, cpu = time.perf_counter(), _cpu()
                    job.compare_files(*pairs[size], options, out_dir=out)
                    wall, used = time.perf_counter() - start, _cpu() - cpu
                    shutil.rmtree(out)
                    if round_:
                        found = results[size][row]
                        found["wall"].append(wall)
                        found["cpu"].append(used)
                        found["comparison"].append(marks["comparison"])
                        found["after"].append(wall - marks["comparison"])
    job._compares_on_the_gpu, job.compare_with = on_the_gpu, compare_with

    medians = {
        size: {row: {k: statistics.median(v) for k, v in results[size][row].items()} for row in rows} for size in sizes
    }
    load = os.getloadavg()[0]
    where = "the CPU" if args.device == "cpu" else gpu_name()
    print(f"CPU: {cpu_name()}; load average {load:.1f}; compared on {where}; one process, ", end="")
    print(f"median of {args.repeat} interleaved rounds\n")
    print("| size | run | whole call, wall s (CPU s) | comparison, wall s | after it, wall s |")
    print("|---|---|---|---|---|")
    for size in sizes:
        for row in rows:
            m = medians[size][row]
            print(f"| {size} | {row} | {m['wall']:.3f} ({m['cpu']:.3f}) | {m['comparison']:.3f} | {m['after']:.3f} |")
    for size in sizes:
        a, b = medians[size][rows[0]], medians[size][rows[1]]
        print(f"{size}: with / without: wall {a['wall'] / b['wall']:.2f}x, CPU {a['cpu'] / b['cpu']:.2f}x")
    result = {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "device": args.device if args.device == "cpu" else gpu_name(),
        "repeat": args.repeat,
        "load_average_at_end": load,
        "inputs": "examples/left.png and right.png scaled bicubically, PNG",
        "median_s": medians,
        "runs_s": results,
    }
    path = args.out or ROOT / "benchmarks" / "results" / f"pictures-ahead-{result['date']}-{args.device}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {path}")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
