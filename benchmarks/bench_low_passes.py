"""The full comparison's compiled ``low`` passes against the OpenCV and NumPy chains they replace, one thread.

Each pass of ``cpu/rules.py`` and ``cpu/filters.py`` that the full comparison of a video
pair runs (the contrast masking's moments, the line evidence, the line noise ratio's samples),
timed in the thread's CPU time against the chain that computed the
same values before (OpenCV's ``sepFilter2D``, NumPy), alternately in one process on a
synthetic pair of the size given, with the results checked bit for bit. Prints the medians
and their ratio.

    python -m benchmarks.bench_low_passes [--size 720p] [--rounds 30] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.bench_ssim import cpu_name

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920)}


def _pair(shape):
    rng = np.random.default_rng(2026)
    left = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 2.0)
    right = np.clip(left + rng.normal(0, 0.02, shape).astype(np.float32), 0, 1).astype(np.float32)
    return np.ascontiguousarray(left), np.ascontiguousarray(right)


def cases(shape):
    """{name: (before, after)}, each a function of no arguments returning arrays to compare."""
    from imgdiff_gpu import detection
    from imgdiff_gpu.cpu import rules
    from imgdiff_gpu.cpu.analysis import luma_ssim_params

    left, right = _pair(shape)
    weights = luma_ssim_params(left).weights
    w = weights.astype(np.float32)
    line = detection.line_taps(weights)
    one = np.ones(1, np.float32)
    shift = detection.luma_shift_map(left, right, weights)
    rows, columns = detection.window_noise_factors(shape, weights)
    line_rows, line_columns = detection.line_factors(shape, weights)
    k = np.float32(0.8 / (7.0 / 255))

    def opencv(plane, row_taps, column_taps):
        return cv2.sepFilter2D(plane, cv2.CV_32F, row_taps, column_taps, borderType=cv2.BORDER_REFLECT)

    def moments_before():
        moments = [opencv(left, w, w), opencv(cv2.multiply(left, left), w, w)]
        moments += [opencv(right, w, w), opencv(cv2.multiply(right, right), w, w)]
        return rules.contrast_scale(tuple(moments), k, factors=(rows, columns))

    def moments_after():
        return rules.contrast_of_planes(left, right, w, k, rows=(0, shape[0]), factors=(rows, columns))

    factors = (rows, line_columns, line_rows, columns)

    def line_before():
        return (rules.line_evidence(opencv(shift, line, one), opencv(shift, one, line), factors, 0.02),)

    def line_after():
        return (rules.line_evidence_of_shift(shift, line, factors, 0.02),)

    def samples_before():
        step = detection.LINE_SAMPLE
        along_rows = np.abs(opencv(np.ascontiguousarray(shift[::step]), line, one))[:, ::step]
        along_columns = np.abs(opencv(np.ascontiguousarray(shift[:, ::step]), one, line))[::step]
        along_rows = along_rows / np.outer(rows[::step], line_columns[::step])
        along_columns = along_columns / np.outer(line_rows[::step], columns[::step])
        noise = np.abs(shift[::step, ::step]) / np.outer(rows[::step], columns[::step])
        return np.maximum(along_rows, along_columns).ravel(), noise.ravel()

    def samples_after():
        return detection.line_noise_samples(shift, weights)

    return {
        "contrast masking (moments + scale)": (moments_before, moments_after),
        "line evidence (two 49-tap averages)": (line_before, line_after),
        "line noise ratio's samples": (samples_before, samples_after),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="720p")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from imgdiff_gpu.cpu.threads import set_num_threads

    cv2.setNumThreads(1)
    set_num_threads(1)
    shape = SIZES[args.size]
    report = {"cpu": cpu_name(), "size": args.size, "rounds": args.rounds, "passes": {}}
    print(f"CPU: {cpu_name()}; {args.size}, one thread, thread CPU ms, median of {args.rounds} interleaved rounds")
    for name, (before, after) in cases(shape).items():
        for got, want in zip(after(), before(), strict=True):
            if got is not None and want is not None and np.asarray(got).tobytes() != np.asarray(want).tobytes():
                raise SystemExit(f"{name}: the compiled pass differs from the chain it replaces")
        times: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            for label, run in (("before", before), ("after", after)):
                start = time.thread_time()
                run()
                times[label].append(1000 * (time.thread_time() - start))
        medians = {label: statistics.median(values) for label, values in times.items()}
        ratio = medians["after"] / medians["before"]
        report["passes"][name] = {**medians, "ratio": ratio}
        print(f"{name:<46} before {medians['before']:7.2f}  after {medians['after']:7.2f}  after/before {ratio:.2f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
