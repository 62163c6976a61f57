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

    python benchmarks/bench_codecs.py [--sizes 64,1080p,4k] [--repeat 7] [--baseline DIR] [--out PATH]

With ``--baseline DIR`` (another checkout, its core built), the unfiltering of both files'
inflated rows by this checkout's compiled core and by DIR's, loaded side by side in this
process, in the same interleaved rounds.
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


def baseline_core(checkout: Path):
    """The compiled core of another checkout, loaded beside this one's under another name."""
    import importlib.util

    found = sorted((checkout / "imgdiff_gpu" / "cpu").glob("_core*.so"))
    if not found:
        raise SystemExit(f"no compiled core in {checkout}: build it there (python setup.py build_ext --inplace)")
    spec = importlib.util.spec_from_file_location("baseline._core", found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unfilterings(files: dict[str, bytes], shape: tuple[int, int], cores: dict) -> dict:
    """Each core's png_unfilter of each file's inflated rows (a fresh copy each call, made outside the timing)."""
    import deflate

    plans = {}
    for file_name, data in files.items():
        chunks = _check_png(data, Path("photo.png"))
        stream = b"".join(data[start : start + length] for kind, start, length in chunks if kind == b"IDAT")
        rows = bytes(deflate.zlib_decompress(stream, shape[0] * (1 + shape[1] * 3)))
        for core_name, core in cores.items():

            def unfilter(core=core, rows=rows):
                buffer = bytearray(rows)
                start = time.process_time()
                core.png_unfilter(buffer, shape[0], shape[1], 3)
                return time.process_time() - start, buffer

            plans[f"{file_name}, {core_name}"] = unfilter
    return plans


def pieces(data: bytes, shape: tuple[int, int]) -> dict:
    """Parts of reading and drawing, each beside what it replaced: the chunk CRCs of the file, and the
    heat picture of an SSIM map of the size (float32, mostly near 1, as a photograph pair's), drawn in
    png.BAND_BYTES bands as rendering.py draws it."""
    import zlib

    import deflate

    from imgdiff_gpu.cpu.heat import heat_colours
    from imgdiff_gpu.png import BAND_BYTES
    from imgdiff_gpu.rendering import _inferno_bgr, heat_levels

    ssim_map = 1 - np.random.default_rng(0).exponential(0.02, shape).astype(np.float32)
    rows = max(BAND_BYTES // (shape[1] * 3), 1)
    bands = range(0, shape[0], rows)
    return {
        "CRC-32 of the file, zlib (loading.py before)": lambda: zlib.crc32(data),
        "CRC-32 of the file, libdeflate (loading.py)": lambda: deflate.crc32(data),
        "heat picture, NumPy levels + OpenCV's map (rendering.py before)": lambda: [
            cv2.applyColorMap(heat_levels(ssim_map[top : top + rows]), cv2.COLORMAP_INFERNO) for top in bands
        ],
        "heat picture, cpu/c/heat.c (rendering.py)": lambda: [
            heat_colours(ssim_map[top : top + rows], _inferno_bgr()) for top in bands
        ],
    }


def cpu_seconds(call) -> tuple[float, object]:
    start = time.process_time()
    result = call()
    return time.process_time() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="64,1080p,4k", help="comma-separated, of " + ", ".join(SIZES))
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds (median reported)")
    parser.add_argument("--baseline", type=Path, help="another checkout whose core's unfiltering is timed alongside")
    parser.add_argument("--out", type=Path, help="JSON results (default benchmarks/results/codecs-DATE-cpu.json)")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if set(sizes) - set(SIZES):
        parser.error(f"unknown sizes {sorted(set(sizes) - set(SIZES))}; choose from {list(SIZES)}")
    cv2.setNumThreads(1)  # one image, one thread: as the pictures are encoded, one thread each

    photo = cv2.imread(str(ROOT / "examples" / "left.png"))
    results: dict = {"decode": {}, "encode": {}, "encoded_bytes": {}, "pair_wall": {}, "unfilter": {}, "pieces": {}}
    from imgdiff_gpu.cpu.compiled import core

    cores = {"this checkout's core": core}
    if args.baseline is not None:
        cores[f"{args.baseline}'s core"] = baseline_core(args.baseline)
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

        plan = pieces(data, (height, width))
        timed: dict[str, list[float]] = {name: [] for name in plan}
        for round_ in range(args.repeat + 1):
            for name, call in plan.items():
                seconds, _ = cpu_seconds(call)
                if round_:
                    timed[name].append(seconds)
        medians = {name: statistics.median(v) for name, v in timed.items()}
        results["pieces"][size] = medians
        print(f"\npieces, {size}: CPU ms (each against the row before it)\n")
        print("| piece | CPU ms | ratio |\n|---|---|---|")
        names = list(medians)
        for index, name in enumerate(names):
            ratio = f"{medians[name] / medians[names[index - 1]]:.2f}x" if index % 2 else "1.00x"
            print(f"| {name} | {medians[name] * 1000:.2f} | {ratio} |")

        files = {"OpenCV's file (Sub rows)": data, "Pillow's file (Paeth rows)": buffer.getvalue()}
        plan = unfilterings(files, (height, width), cores)
        unfiltered: dict[str, list[float]] = {name: [] for name in plan}
        for round_ in range(args.repeat + 1):
            for name, call in plan.items():
                seconds, pixels = call()
                if np.frombuffer(pixels, np.uint8, count=rgb.size).reshape(rgb.shape).tobytes() != rgb.tobytes():
                    raise SystemExit(f"{name} unfiltered other pixels at {size}")
                if round_:
                    unfiltered[name].append(seconds)
        medians = {name: statistics.median(v) for name, v in unfiltered.items()}
        results["unfilter"][size] = medians
        print(f"\nunfiltering the inflated rows, {size}: CPU ms (ratio to the first row of the file)\n")
        print("| file, core | CPU ms | ratio |\n|---|---|---|")
        for name, seconds in medians.items():
            first = medians[next(n for n in medians if n.split(", ")[0] == name.split(", ")[0])]
            print(f"| {name} | {seconds * 1000:.1f} | {seconds / first:.2f}x |")

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
        "baseline": str(args.baseline) if args.baseline else None,
        "median_cpu_s": {
            "decode": results["decode"],
            "encode": results["encode"],
            "unfilter": results["unfilter"],
            "pieces": results["pieces"],
        },
        "pair_median_wall_s": results["pair_wall"],
        "encoded_bytes": results["encoded_bytes"],
    }
    path = args.out or ROOT / "benchmarks" / "results" / f"codecs-{result['date']}-cpu.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
