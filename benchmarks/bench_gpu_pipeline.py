"""compare() end to end on the GPU against the CPU path, peak GPU memory, and the README's GPU table.

Issue 9, section 3, the figures this script measures (the SSIM kernel against cuCIM and the
batch throughput come from bench_ssim.py, video from bench_video.py; ``--readme`` gathers all):

* ``compare()`` at 4K from host uint8 arrays, report only (``keep_maps=False``: score and regions
  back), CPU path and GPU path, medians of interleaved runs;
* full comparisons with regions of 64 1080p pairs, pairs/s: ``compare()`` pair by pair on each
  device; on the GPU ``compare_pairs`` over the host pairs (pinned, double-buffered uploads) and
  ``compare_batch`` over the 64 pairs resident on the device (scores and regions back, no maps),
  checked against the CPU's regions;
* peak GPU memory (the memory pool's high-water mark) of a 4K pair and of a 20000 x 20000 pair,
  and whether the GPU found what the CPU found there.

    python benchmarks/bench_gpu_pipeline.py [--rounds 5] [--huge 20000] [--out PATH]
    python benchmarks/bench_gpu_pipeline.py --readme --ssim S.json --video V.json --pipeline P.json
    python benchmarks/bench_gpu_pipeline.py --smoke     # tiny sizes, CPU only: checks the script itself
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_ssim import cpu_name, gpu_name

README = Path(__file__).resolve().parent.parent / "README.md"
TABLE_START, TABLE_END = "<!-- gpu-table:start -->", "<!-- gpu-table:end -->"


def edited_pair(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A photograph tiled to height x width (RGB uint8) and a copy with two edits."""
    from skimage import data

    tile = data.chelsea()
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
    left = np.ascontiguousarray(np.tile(tile, reps)[:height, :width])
    right = left.copy()
    right[height // 3 : height // 3 + 40, width // 2 : width // 2 + 60] = 255
    right[2 * height // 3 : 2 * height // 3 + 2, 10 : width // 3] //= 2
    return left, right


def _boxes(result) -> list[tuple[int, int, int, int, int]]:
    return [(r.x, r.y, r.width, r.height, r.area) for r in result.regions]


def _synchronize(device: str) -> None:
    if device == "gpu":
        import cupy

        cupy.cuda.Device().synchronize()


def compare_end_to_end(shape: tuple[int, int], rounds: int, devices: list[str]) -> dict:
    """Median seconds of a report-only compare() per device, the devices interleaved in every round."""
    from imgdiff_gpu.pipeline import compare

    left, right = edited_pair(*shape)
    results = {device: compare(left, right, device=device, keep_maps=False) for device in devices}  # warm-up
    times: dict[str, list[float]] = {device: [] for device in devices}
    for _ in range(rounds):
        for device in devices:
            start = time.perf_counter()
            compare(left, right, device=device, keep_maps=False)
            _synchronize(device)
            times[device].append(time.perf_counter() - start)
    row = {"size": f"{shape[1]}x{shape[0]}", **{f"{d}_s": statistics.median(t) for d, t in times.items()}}
    if "cpu" in devices and "gpu" in devices:
        row["gpu_speedup"] = row["cpu_s"] / row["gpu_s"]
        row["same_regions"] = _boxes(results["gpu"]) == _boxes(results["cpu"])
        row["score_difference"] = abs(results["gpu"].score - results["cpu"].score)
    return row


def _pairs(shape: tuple[int, int], count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    left, right = edited_pair(*shape)
    return [(np.roll(left, 7 * i, axis=1), np.roll(right, 7 * i, axis=1)) for i in range(count)]


def full_comparison_throughput(shape: tuple[int, int], count: int, device: str) -> dict:
    """Pairs per second of compare() over ``count`` different same-sized pairs, one at a time."""
    from imgdiff_gpu.pipeline import compare

    pairs = _pairs(shape, count)
    compare(*pairs[0], device=device)
    start = time.perf_counter()
    for a, b in pairs:
        compare(a, b, device=device, keep_maps=False)
    _synchronize(device)
    seconds = time.perf_counter() - start
    return {"pairs": count, "size": f"{shape[1]}x{shape[0]}", "device": device, "pairs_per_s": count / seconds}


def staged_sequence_throughput(shape: tuple[int, int], count: int) -> dict:
    """Pairs per second of compare_pairs over host pairs: uploads staged through pinned double buffers."""
    from imgdiff_gpu.pipeline import compare_pairs

    pairs = _pairs(shape, count)
    list(compare_pairs(iter(pairs[:2]), device="gpu"))  # warm-up
    start = time.perf_counter()
    for _ in compare_pairs(iter(pairs), device="gpu"):
        pass
    _synchronize("gpu")
    seconds = time.perf_counter() - start
    return {
        "pairs": count,
        "size": f"{shape[1]}x{shape[0]}",
        "device": "gpu, compare_pairs, staged",
        "pairs_per_s": count / seconds,
    }


def resident_batch_throughput(shape: tuple[int, int], count: int, rounds: int) -> dict:
    """Pairs per second of compare_batch over ``count`` pairs already on the GPU (median of rounds)."""
    import cupy

    from imgdiff_gpu.pipeline import compare, compare_batch

    pairs = _pairs(shape, count)
    lefts = cupy.asarray(np.stack([a for a, _ in pairs]))
    rights = cupy.asarray(np.stack([b for _, b in pairs]))
    results = compare_batch(lefts, rights, device="gpu")  # warm-up, compile
    times = []
    for _ in range(rounds):
        _synchronize("gpu")
        start = time.perf_counter()
        compare_batch(lefts, rights, device="gpu")
        _synchronize("gpu")
        times.append(time.perf_counter() - start)
    checked = [0, count - 1]
    same = all(_boxes(results[i]) == _boxes(compare(*pairs[i], device="cpu")) for i in checked)
    seconds = statistics.median(times)
    return {
        "pairs": count,
        "size": f"{shape[1]}x{shape[0]}",
        "device": "gpu, compare_batch, resident",
        "pairs_per_s": count / seconds,
        "same_regions_as_cpu": same,
    }


def peak_gpu_memory(shape: tuple[int, int], *, check_cpu: bool) -> dict:
    """The GPU memory pool's high-water mark over one compare() (the pool keeps what it grew to)."""
    import cupy

    from imgdiff_gpu.pipeline import compare

    left, right = edited_pair(*shape)
    pool = cupy.get_default_memory_pool()
    pool.free_all_blocks()
    gpu = compare(left, right, device="gpu")
    _synchronize("gpu")
    row = {"size": f"{shape[1]}x{shape[0]}", "peak_bytes": int(pool.total_bytes()), "notes": gpu.notes}
    pool.free_all_blocks()
    if check_cpu:
        cpu = compare(left, right, device="cpu")
        row["same_regions"] = _boxes(gpu) == _boxes(cpu)
        row["score_difference"] = abs(gpu.score - cpu.score)
    return row


def measure(args) -> dict:
    gpu = gpu_name()
    devices = ["cpu", "gpu"] if gpu else ["cpu"]
    four_k = (40, 72) if args.smoke else (2160, 3840)
    hd = (24, 40) if args.smoke else (1080, 1920)
    result = {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "gpu": gpu,
        "compare_4k": compare_end_to_end(four_k, args.rounds, devices),
        "full_comparisons": [full_comparison_throughput(hd, args.pairs, device) for device in devices],
    }
    if gpu:
        result["full_comparisons"].append(staged_sequence_throughput(hd, args.pairs))
        result["full_comparisons"].append(resident_batch_throughput(hd, args.pairs, args.rounds))
        result["peak_memory"] = [peak_gpu_memory(four_k, check_cpu=False)]
        if args.huge:
            result["peak_memory"].append(peak_gpu_memory((args.huge, args.huge), check_cpu=True))
    return result


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:.2f} ms"


def readme_table(ssim: dict | None, video: dict | None, pipeline: dict | None) -> str:
    """The README's GPU table (markdown), from whichever results exist; targets of issue 9 beside them."""
    source = next((r for r in (pipeline, ssim, video) if r), {})
    lines = [
        f"GPU: {source.get('gpu') or 'none'}; CPU: {source.get('cpu', '?')}; {source.get('date', '?')}.",
        "",
        "| figure | target | measured |",
        "|---|---|---|",
    ]
    rows = {r["size"]: r for r in (ssim or {}).get("rows", []) if r.get("setting") == "gaussian"}
    four_k = rows.get("4k", {})
    if "gpu_vs_cucim" in four_k:
        lines.append(
            f"| SSIM map + mean, 4K, vs cuCIM `structural_similarity` | >= 30x | "
            f"{four_k['gpu_vs_cucim']:.1f}x ({_ms(four_k['gpu_s'])} vs {_ms(four_k['cucim_s'])}) |"
        )
    if "gpu_max_map_error" in four_k:
        lines.append(f"| max \\|map - scikit-image\\|, 4K | <= 1e-5 | {four_k['gpu_max_map_error']:.1e} |")
    batch = (ssim or {}).get("gpu_batch")
    if batch:
        lines.append(f"| SSIM, 64 resident 1080p pairs, one launch | >= 20,000 pairs/s | {batch['pairs_per_s']:,.0f} |")
    if pipeline:
        row = pipeline["compare_4k"]
        lines.append(
            f"| `compare()` 4K from host uint8, report only | <= 10 ms (GPU) | GPU {_ms(row.get('gpu_s'))}, "
            f"CPU {_ms(row.get('cpu_s'))} |"
        )
        for full in pipeline["full_comparisons"]:
            lines.append(
                f"| full comparisons with regions, 1080p, {full['device']} | >= 2,000 pairs/s (GPU batch) | "
                f"{full['pairs_per_s']:,.1f} pairs/s |"
            )
        for peak in pipeline.get("peak_memory", []):
            same = "" if "same_regions" not in peak else f", same regions as CPU: {peak['same_regions']}"
            target = "<= 200 MB" if peak["size"] == "3840x2160" else "<= 4 GiB"
            lines.append(
                f"| peak GPU memory, {peak['size']} | {target} | {peak['peak_bytes'] / 2**20:,.0f} MiB{same} |"
            )
    if video and video.get("decode_only_pairs_per_s") and video.get("imgdiff_video_pairs_per_s"):
        share = video["imgdiff_video_pairs_per_s"] / video["decode_only_pairs_per_s"]
        lines.append(f"| 1080p H.264 video, share of decode-only speed | >= 80 % | {share:.0%} |")
    return "\n".join(lines)


def write_readme(table: str, readme: Path = README) -> None:
    text = readme.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"{readme} has no {TABLE_START} ... {TABLE_END} block to fill")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    readme.write_text(f"{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}")


def _load(path: Path | None) -> dict | None:
    return json.loads(path.read_text()) if path and path.is_file() else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs of each device (median)")
    parser.add_argument("--pairs", type=int, default=64, help="1080p pairs for the full-comparison throughput")
    parser.add_argument("--huge", type=int, default=20000, help="side of the square pair for peak memory (0: skip)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script on any machine")
    parser.add_argument("--out", type=Path, help="where to write the JSON results")
    parser.add_argument("--readme", action="store_true", help="write the README's GPU table from result files")
    parser.add_argument("--ssim", type=Path, help="bench_ssim.py's JSON (with --readme)")
    parser.add_argument("--video", type=Path, help="bench_video.py's JSON (with --readme)")
    parser.add_argument("--pipeline", type=Path, help="this script's JSON (with --readme)")
    parser.add_argument("--readme-path", type=Path, default=README, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.pairs < 1 or args.huge < 0:
        parser.error("--rounds and --pairs must be at least 1, --huge at least 0")
    if args.readme:
        table = readme_table(_load(args.ssim), _load(args.video), _load(args.pipeline))
        write_readme(table, args.readme_path)
        print(table)
        return
    if args.smoke:
        args.pairs, args.huge = min(args.pairs, 3), min(args.huge, 48)
    result = measure(args)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
