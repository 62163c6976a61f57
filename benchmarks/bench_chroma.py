"""The coarse chroma term of ``low``: the C core's (``cpu/c/chroma.c``) against OpenCV's steps it replaced.

Both on the same plane stacks of a JPEG pair (the example photograph scaled up):
``detection.coarse_chroma_shift`` (one C call) and the OpenCV pipeline the
project used before (``cv2.subtract`` of the stacks, ``INTER_AREA`` down by 4,
``GaussianBlur`` sigma 1.5, ``magnitude``, ``INTER_LINEAR`` back). Runs are
interleaved, after a warm-up; medians are printed with their ratio, and the
CPU and thread count are named.

    python -m benchmarks.bench_chroma [--sizes 720p 4K] [--rounds 15] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.bench_huge import machine
from imgdiff_gpu.cpu.compiled import core
from imgdiff_gpu.detection import coarse_chroma_shift
from imgdiff_gpu.planes import prepare_pair

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920), "4K": (2160, 3840)}
ROOT = Path(__file__).resolve().parents[1]


def opencv_coarse_chroma_shift(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The term as the project computed it with OpenCV before chroma.c."""
    height, width = left.shape[:2]
    small_size = (max(width // 4, 1), max(height // 4, 1))
    delta = cv2.subtract(np.ascontiguousarray(left, np.float32), np.ascontiguousarray(right, np.float32))
    small = cv2.resize(delta, small_size, interpolation=cv2.INTER_AREA)[..., 1:3]
    small = cv2.GaussianBlur(np.ascontiguousarray(small), (0, 0), 1.5, borderType=cv2.BORDER_REFLECT)
    magnitude = cv2.magnitude(np.ascontiguousarray(small[..., 0]), np.ascontiguousarray(small[..., 1]))
    return cv2.resize(magnitude, (width, height), interpolation=cv2.INTER_LINEAR)


def planes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    image = cv2.imread(str(ROOT / "examples" / "left.png"))[..., ::-1]
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 75])
    assert ok
    pair = prepare_pair(image, cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])
    return pair.left.planes, pair.right.planes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["720p", "4K"], choices=list(SIZES))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    print(f"machine: {machine()}; {core.get_num_threads()} threads (C core), {cv2.getNumThreads()} (OpenCV)")
    results = {"machine": machine(), "date": dt.date.today().isoformat(), "threads": core.get_num_threads()}
    ways = {"C core": coarse_chroma_shift, "OpenCV": opencv_coarse_chroma_shift}
    for size in args.sizes:
        left, right = planes(*SIZES[size])
        outputs = {name: way(left, right) for name, way in ways.items()}  # warm-up
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, way in ways.items():
                start = time.perf_counter()
                way(left, right)
                times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(values) for name, values in times.items()}
        difference = float(np.abs(outputs["C core"] - outputs["OpenCV"]).max())
        print(
            f"{size:>6}: C core {medians['C core'] * 1e3:7.2f} ms, OpenCV {medians['OpenCV'] * 1e3:7.2f} ms "
            f"(OpenCV / C core {medians['OpenCV'] / medians['C core']:.2f}x); largest difference {difference:.2e}"
        )
        results[size] = {"median_seconds": medians, "opencv_over_c": medians["OpenCV"] / medians["C core"]}
        results[size]["largest_difference"] = difference
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
