"""SSIM speed and parity: scikit-image vs imgdiff-gpu (CPU and, where present, GPU and cuCIM).

Every ratio is against scikit-image measured in this same run, on this machine.
Inputs are a real photograph (scikit-image's astronaut, grey) resized to each size, and a
copy with Gaussian noise and a few edits, uint8. GPU times are CUDA-event medians with
the inputs already resident; the first call (kernel compile) is reported separately.

    python benchmarks/bench_ssim.py [--sizes 1080p,4k,8k] [--repeat 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from skimage import data
from skimage.metrics import structural_similarity as skimage_ssim

from imgdiff_gpu import structural_similarity
from imgdiff_gpu._device import gpu_available

SIZES = {"1080p": (1080, 1920), "4k": (2160, 3840), "8k": (4320, 7680)}
SETTINGS = {
    "gaussian": {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False},
    "uniform": {},
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({cv2.getNumberOfCPUs()} logical cores)"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_pair(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    left = cv2.resize(grey, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    right = np.clip(left + rng.normal(0, 4, shape), 0, 255).astype(np.uint8)
    right[shape[0] // 3 : shape[0] // 3 + 40, shape[1] // 2 : shape[1] // 2 + 60] = 255
    return left, right


def median_seconds(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gpu_median_seconds(fn, repeat: int) -> float:
    import cupy

    fn()
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(repeat):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) / 1000)
    return statistics.median(times)


def gpu_name() -> str | None:
    """The first GPU's name, or None where CuPy sees none."""
    if not gpu_available():
        return None
    import cupy

    return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()


def run(sizes: list[str], repeat: int) -> dict:
    rows = []
    has_gpu = gpu_available()
    gpu = gpu_name()
    try:
        import cucim.skimage.metrics as cucim_metrics
    except ImportError:
        cucim_metrics = None

    for size in sizes:
        left, right = make_pair(SIZES[size])
        for setting, kwargs in SETTINGS.items():
            t_sk = median_seconds(partial(skimage_ssim, left, right, full=True, **kwargs), max(1, repeat // 2))
            m_ref, S_ref = skimage_ssim(left, right, full=True, **kwargs)
            row = {"size": size, "setting": setting, "skimage_s": t_sk}

            t_cpu = median_seconds(
                partial(structural_similarity, left, right, full=True, device="cpu", **kwargs), repeat
            )
            m, S = structural_similarity(left, right, full=True, device="cpu", **kwargs)
            row.update(
                cpu_s=t_cpu,
                cpu_speedup=t_sk / t_cpu,
                cpu_max_map_error=float(np.abs(S - S_ref).max()),
                cpu_mean_error=abs(m - m_ref),
            )

            if has_gpu:
                import cupy

                a, b = cupy.asarray(left), cupy.asarray(right)
                start = time.perf_counter()
                structural_similarity(a, b, full=True, device="gpu", **kwargs)
                cupy.cuda.Device().synchronize()
                row["gpu_first_call_s"] = time.perf_counter() - start
                t_gpu = gpu_median_seconds(
                    partial(structural_similarity, a, b, full=True, device="gpu", **kwargs), repeat * 4
                )
                m_g, S_g = structural_similarity(a, b, full=True, device="gpu", **kwargs)
                row.update(
                    gpu_s=t_gpu,
                    gpu_speedup=t_sk / t_gpu,
                    gpu_max_map_error=float(np.abs(S_g.get() - S_ref).max()),
                    gpu_mean_error=abs(m_g - m_ref),
                )
                cupy.get_default_memory_pool().free_all_blocks()
                if cucim_metrics is not None:
                    t_cucim = gpu_median_seconds(
                        partial(cucim_metrics.structural_similarity, a, b, full=True, data_range=255, **kwargs),
                        repeat * 4,
                    )
                    row.update(cucim_s=t_cucim, gpu_vs_cucim=t_cucim / t_gpu)
            rows.append(row)
            print(_format_row(row), flush=True)
    batch = gpu_batch_throughput(repeat) if has_gpu else None
    return {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "gpu": gpu,
        "cucim": cucim_metrics is not None,
        "rows": rows,
        "gpu_batch": batch,
    }


def gpu_batch_throughput(repeat: int, count: int = 64) -> dict:
    """Scores of ``count`` resident 1080p pairs in one launch (issue 3: >= 20,000 pairs/s on an H100)."""
    import cupy

    from imgdiff_gpu._ssim_params import ssim_params
    from imgdiff_gpu.gpu.ssim import ssim_batch

    left, right = make_pair(SIZES["1080p"])
    a = cupy.asarray(np.broadcast_to(left, (count, *left.shape)).copy())
    b = cupy.asarray(np.broadcast_to(right, (count, *right.shape)).copy())
    params = ssim_params(left, right, **SETTINGS["gaussian"], win_size=None, data_range=None)
    seconds = gpu_median_seconds(partial(ssim_batch, a, b, params), repeat * 4)
    scores, _ = ssim_batch(a, b, params)
    reference = skimage_ssim(left, right, **SETTINGS["gaussian"])
    pool = cupy.get_default_memory_pool()
    pool.free_all_blocks()
    a4, b4 = (cupy.asarray(x) for x in make_pair(SIZES["4k"]))
    before = pool.total_bytes()
    structural_similarity(a4, b4, full=True, device="gpu", **SETTINGS["gaussian"])
    cupy.cuda.Device().synchronize()
    result = {
        "pairs": count,
        "seconds": seconds,
        "pairs_per_s": count / seconds,
        "max_score_error": float(abs(scores - reference).max()),
        "pool_bytes_for_4k_map_and_mean": int(pool.total_bytes() - before),
    }
    print(
        f"batch of {count} resident 1080p pairs: {result['pairs_per_s']:,.0f} pairs/s "
        f"(score error {result['max_score_error']:.1e}); 4K map + mean held "
        f"{result['pool_bytes_for_4k_map_and_mean'] / 2**20:.0f} MiB beyond the inputs",
        flush=True,
    )
    return result


def _format_row(row: dict) -> str:
    text = (
        f"{row['size']:>6} {row['setting']:<8} skimage {row['skimage_s'] * 1e3:8.1f} ms | "
        f"cpu {row['cpu_s'] * 1e3:7.1f} ms ({row['cpu_speedup']:5.1f}x, "
        f"map err {row['cpu_max_map_error']:.1e}, "
        f"mean err {row['cpu_mean_error']:.1e})"
    )
    if "gpu_s" in row:
        text += (
            f" | gpu {row['gpu_s'] * 1e3:7.3f} ms ({row['gpu_speedup']:7.1f}x, map err "
            f"{row['gpu_max_map_error']:.1e}, first call {row['gpu_first_call_s']:.2f} s)"
        )
    if "cucim_s" in row:
        text += f" | cuCIM {row['cucim_s'] * 1e3:7.3f} ms (gpu is {row['gpu_vs_cucim']:.1f}x cuCIM)"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1080p,4k")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}")
    result = run(args.sizes.split(","), args.repeat)
    print(f"GPU: {result['gpu'] or 'none visible to CuPy'}")
    out = (
        args.out
        or Path(__file__).parent / "results" / f"ssim-{result['date']}-{'gpu' if result['gpu'] else 'cpu'}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
