"""PNG decoding and encoding, one image at a time: what ``loading.py`` and ``png.py`` use, and the alternatives.

Inputs are the bundled example (``examples/left.png``) scaled bicubically to each
size, written by OpenCV at its defaults. Every number is the CPU time (user +
system, this process, all threads) of one call, the median of interleaved
rounds after a warm-up round, so that the load of a shared machine falls on
every codec alike; ratios are against the first row of each table, measured in
the same run. Decoders must give the same pixels and encoders files that decode
to the same pixels, or the script stops. Last, both files of a pair are read as
``imgdiff compare`` reads them, one after the other and on two threads
(``loading.reading_ahead``): wall time, since that is what the threads save.

    python benchmarks/bench_codecs.py [--sizes 64,1080p,4k] [--repeat 7] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.bench_one_pair import SIZES, cpu_name
from imgdiff_gpu.loading import (
    _check_png,
    _decode_plain_png,
    _inflate_plain_png,
    _pixels_in_strips,
    load_image,
    reading_ahead,
)
from imgdiff_gpu.png import encode_png

ROOT = Path(__file__).resolve().parents[1]
# OpenCV's PNG settings before png.py: zlib level 1, run-length strategy, Sub filter
OPENCV_BEFORE = [
    cv2.IMWRITE_PNG_COMPRESSION,
    1,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_RLE,
    cv2.IMWRITE_PNG_FILTER,
    cv2.IMWRITE_PNG_FILTER_SUB,
]


def decoders(data: bytes, shape: tuple[int, int], adaptive: bytes) -> dict:
    """Decoders of ``data`` (written by OpenCV: every row Sub-filtered) and, last, of ``adaptive``, the same
    pixels written by Pillow (libpng's choice of filter per row: Paeth for nearly every row of a photograph)."""

    def inflated(data):
        return lambda: _inflate_plain_png(data, _check_png(data, Path("photo.png")), "RGB", shape)

    def pillow_converted():
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def pillow():
        return np.asarray(Image.open(io.BytesIO(data)))

    def pillow_strips():
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return _pixels_in_strips(image)

    plans = {
        "Pillow, convert('RGB') (before)": pillow_converted,
        "Pillow, copied out in strips (loading.py's other files; its PNGs before)": pillow_strips,
        "Pillow, no converting copy (loading.py's other files)": pillow,
        "OpenCV imdecode, RGB in place (loading.py's interlaced or huge plain PNGs)": lambda: _decode_plain_png(
            data, "RGB", shape
        ),
        "libdeflate + the core's unfiltering, with the CRCs (loading.py's plain PNGs)": inflated(data),
        "Pillow-written file: OpenCV imdecode": lambda: _decode_plain_png(adaptive, "RGB", shape),
        "Pillow-written file: libdeflate + the core's unfiltering (Paeth rows)": inflated(adaptive),
    }
    try:  # not a dependency: measured where it is installed, as the alternative
        from imagecodecs import spng_decode
    except ImportError:
        print("skipping imagecodecs' libspng decoder: not installed (pip install imagecodecs)")
    else:
        plans["imagecodecs libspng (not used: an 80 MB wheel)"] = lambda: spng_decode(data)
    return plans


def pair_loaders(folder: Path, data: bytes) -> dict:
    """Two files of ``data`` read as ``imgdiff compare`` reads its pair (wall time: what threads are for)."""
    paths = [folder / "left.png", folder / "right.png"]
    for path in paths:
        path.write_bytes(data)

    def one_by_one():
        return [load_image(path).pixels for path in paths]

    def read_ahead():
        with reading_ahead(paths):
            return [load_image(path).pixels for path in paths]

    return {"load_image, one after the other": one_by_one, "load_image under reading_ahead (two threads)": read_ahead}


def encoders(bgr: np.ndarray) -> dict:
    def pillow(level):
        def encode():
            buffer = io.BytesIO()
            Image.fromarray(bgr[..., ::-1]).save(buffer, "PNG", compress_level=level)
            return buffer.getvalue()

        return encode

    return {
        "OpenCV zlib 1 RLE Sub (before)": lambda: cv2.imencode(".png", bgr, OPENCV_BEFORE)[1].tobytes(),
        "ISA-L 1 Sub (png.py)": lambda: encode_png(bgr),
        "Pillow zlib 1": pillow(1),
        "OpenCV stored (level 0, no filter)": lambda: cv2.imencode(
            ".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 0, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
        )[1].tobytes(),
    }


def cpu_seconds(call) -> tuple[float, object]:
    start = time.process_time()
    result = call()
    return time.process_time() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="64,1080p,4k", help="comma-separated, of " + ", ".join(SIZES))
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds (median reported)")
    parser.add_argument("--out", type=Path, help="JSON results (default benchmarks/results/codecs-DATE-cpu.json)")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if set(sizes) - set(SIZES):
        parser.error(f"unknown sizes {sorted(set(sizes) - set(SIZES))}; choose from {list(SIZES)}")
    cv2.setNumThreads(1)  # one image, one thread: as the pictures are encoded, one thread each

    photo = cv2.imread(str(ROOT / "examples" / "left.png"))
    results: dict = {"decode": {}, "encode": {}, "encoded_bytes": {}, "pair_wall": {}}
    print(f"CPU: {cpu_name()}; CPU time of one call, median of {args.repeat} interleaved rounds")
    for size in sizes:
        height, width = SIZES[size]
        bgr = cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC)
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        data = cv2.imencode(".png", bgr)[1].tobytes()
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "PNG", compress_level=1)
        plans = {"decode": decoders(data, (height, width), buffer.getvalue()), "encode": encoders(bgr)}
        times = {kind: {name: [] for name in plan} for kind, plan in plans.items()}
        sizes_out = {}
        for round_ in range(args.repeat + 1):
            for kind, plan in plans.items():
                for name, call in plan.items():
                    seconds, result = cpu_seconds(call)
                    if kind == "decode" and not np.array_equal(result, rgb):
                        raise SystemExit(f"{name} decoded other pixels at {size}")
                    if kind == "encode" and round_ == 0:
                        decoded = cv2.imdecode(np.frombuffer(result, np.uint8), cv2.IMREAD_UNCHANGED)
                        if not np.array_equal(decoded, bgr):
                            raise SystemExit(f"{name} wrote other pixels at {size}")
                        sizes_out[name] = len(result)
                    if round_:
                        times[kind][name].append(seconds)
        for kind in plans:
            medians = {name: statistics.median(v) for name, v in times[kind].items()}
            results[kind][size] = medians
            reference = next(iter(medians.values()))
            print(f"\n{kind}, {size} ({width}x{height}) photograph\n")
            print("| codec | CPU ms | ratio |" + (" MB |" if kind == "encode" else ""))
            print("|---|---|---|" + ("---|" if kind == "encode" else ""))
            for name, seconds in medians.items():
                extra = f" {sizes_out[name] / 1e6:.2f} |" if kind == "encode" else ""
                print(f"| {name} | {seconds * 1000:.1f} | {seconds / reference:.2f}x |{extra}")
        results["encoded_bytes"][size] = sizes_out

        with tempfile.TemporaryDirectory(prefix="bench-codecs-") as folder:
            loaders = pair_loaders(Path(folder), data)
            walls: dict[str, list[float]] = {name: [] for name in loaders}
            for round_ in range(args.repeat + 1):
                for name, call in loaders.items():
                    start = time.perf_counter()
                    pixels = call()
                    if round_:
                        walls[name].append(time.perf_counter() - start)
                    if not all(np.array_equal(p, rgb) for p in pixels):
                        raise SystemExit(f"{name} read other pixels at {size}")
        medians = {name: statistics.median(v) for name, v in walls.items()}
        results["pair_wall"][size] = medians
        reference = next(iter(medians.values()))
        print(f"\nboth files of a pair, {size}, wall time (the machine's load shows here)\n")
        print("| reading | wall ms | ratio |\n|---|---|---|")
        for name, seconds in medians.items():
            print(f"| {name} | {seconds * 1000:.1f} | {seconds / reference:.2f}x |")

    result = {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "pillow": Image.__version__,
        "repeat": args.repeat,
        "median_cpu_s": {"decode": results["decode"], "encode": results["encode"]},
        "pair_median_wall_s": results["pair_wall"],
        "encoded_bytes": results["encoded_bytes"],
    }
    path = args.out or ROOT / "benchmarks" / "results" / f"codecs-{result['date']}-cpu.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
