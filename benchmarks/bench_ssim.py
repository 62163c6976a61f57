"""SSIM speed and parity: scikit-image vs imgdiff-gpu (CPU and, where present, GPU and cuCIM).

Every ratio is against scikit-image measured in this same run, on this machine.
Inputs are a real photograph (scikit-image's astronaut, grey) resized to each size, and a
copy with Gaussian noise and a few edits, uint8. GPU times are CUDA-event medians with
the inputs already resident; the first call (kernel compile) is reported separately.

    python benchmarks/bench_ssim.py [--sizes 1080p,4k,8k] [--repeat 5] [--out PATH]

``--installation NAME=PYTHON:CHECKOUT`` (twice or more) times instead the CPU SSIM pass alone
(``cpu/ssim.py``'s compiled pass on float32 planes, the type ``compare`` and the video path give
it) in each installation, one worker process each, at 720p, 1080p and 4K on one thread and on
every core: the workers take turns call by call, in a shuffled order each round, and each reports
the wall and CPU (every thread) seconds of one call; medians of the rounds, ratios against the
first installation. Then each installation's largest |map - scikit-image| and |mean - scikit-image|
on scikit-image's photographs and on random data.

    python -m benchmarks.bench_ssim --installation before=/work/venv/bin/python:/work/main \\
        --installation after=/work/venv/bin/python:. [--sizes 720p,1080p,4k] [--repeat 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from skimage import data
from skimage.metrics import structural_similarity as skimage_ssim

from imgdiff_gpu import structural_similarity
from imgdiff_gpu._device import gpu_available

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920), "4k": (2160, 3840), "8k": (4320, 7680)}
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


# Runs in the installation under test: for every line "PAIR.npy THREADS" on stdin times one call of
# the pass on that float32 pair (loaded, and the pass run once, the first time) and prints "WALL CPU".
PASS_WORKER = """
import sys, time, numpy as np
from imgdiff_gpu._ssim_params import ssim_params
from imgdiff_gpu.cpu.ssim import ssim_map_2d
from imgdiff_gpu.cpu.threads import set_num_threads
pairs = {}
for line in sys.stdin:
    path, threads = line.split()
    if path not in pairs:
        left, right = np.load(path)
        params = ssim_params(left, right, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                             win_size=None, data_range=255)
        pairs[path] = left, right, params
        ssim_map_2d(left, right, params)
    set_num_threads(int(threads))
    left, right, params = pairs[path]
    wall, cpu = time.perf_counter(), time.process_time()
    ssim_map_2d(left, right, params)
    print(time.perf_counter() - wall, time.process_time() - cpu, flush=True)
"""

# Runs in the installation under test: prints one JSON line, for each picture and setting the largest
# |map - scikit-image| and |mean - scikit-image| (scikit-image's own photographs, grey, against a noisy
# copy, uint8; random uint8 and float64 pairs).
PARITY_WORKER = """
import json, numpy as np
from skimage import data
from skimage.metrics import structural_similarity as skimage_ssim
from imgdiff_gpu import structural_similarity
rng = np.random.default_rng(3)
pictures = {name: getattr(data, name)() for name in ("camera", "coins", "moon", "page", "text")}
pictures["astronaut"] = data.astronaut()[..., 1]
pictures["coffee"] = data.coffee()[..., 0]
pairs = {name: (p, np.clip(p + rng.normal(0, 6, p.shape), 0, 255).astype(np.uint8)) for name, p in pictures.items()}
pairs["random uint8"] = tuple(rng.integers(0, 256, (2, 300, 400), dtype=np.uint8))
pairs["random float64"] = tuple(rng.random((2, 300, 400)))
settings = {"gaussian": dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False), "uniform": {}}
result = {}
for name, (a, b) in pairs.items():
    extra = {"data_range": 1.0} if a.dtype == np.float64 else {}
    for setting, kwargs in settings.items():
        m_ref, s_ref = skimage_ssim(a, b, full=True, **kwargs, **extra)
        m, s = structural_similarity(a, b, full=True, device="cpu", **kwargs, **extra)
        result[f"{name} {setting}"] = [float(np.abs(s - s_ref).max()), abs(float(m) - float(m_ref))]
print(json.dumps(result))
"""


def parity(installations: dict[str, tuple[str, Path]]) -> dict:
    """{installation: {pair and setting: [largest |map - scikit-image|, |mean - scikit-image|]}}."""
    result = {}
    for name, (python, checkout) in installations.items():
        done = subprocess.run(
            [python, "-c", PARITY_WORKER],
            cwd=checkout,
            env={**os.environ, "PYTHONPATH": str(checkout)},
            check=True,
            capture_output=True,
            text=True,
        )
        result[name] = json.loads(done.stdout)
    cases = next(iter(result.values()))
    print(f"{'max |map - skimage|, |mean - skimage|':<40}" + "".join(f"{name:>24}" for name in result))
    for case in cases:
        print(f"{case:<40}" + "".join(f"{result[n][case][0]:>12.1e}{result[n][case][1]:>12.1e}" for n in result))
    return result


def time_pass(installations: dict[str, tuple[str, Path]], sizes: list[str], repeat: int) -> dict:
    """Medians of the pass's wall and CPU seconds per installation, size and thread count, interleaved."""
    folder = Path(tempfile.mkdtemp(prefix="bench-ssim-pass-"))
    paths = {}
    for size in sizes:
        paths[size] = folder / f"{size}.npy"
        np.save(paths[size], np.stack(make_pair(SIZES[size])).astype(np.float32))
    workers = {}
    for name, (python, checkout) in installations.items():
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        workers[name] = subprocess.Popen(
            [python, "-c", PASS_WORKER],
            cwd=checkout,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
    cases = [(size, threads) for size in sizes for threads in (1, os.cpu_count() or 1)]
    samples = {(name, *case): [] for name in installations for case in cases}
    rng = random.Random(0)
    for round_ in range(repeat + 1):  # round 0 warms up (and builds the pairs)
        order = [(name, *case) for name in installations for case in cases]
        rng.shuffle(order)
        for name, size, threads in order:
            worker = workers[name]
            worker.stdin.write(f"{paths[size]} {threads}\n")
            worker.stdin.flush()
            wall, cpu = (float(v) for v in worker.stdout.readline().split())
            if round_ > 0:
                samples[name, size, threads].append((wall, cpu))
    for worker in workers.values():
        worker.stdin.close()
        worker.wait()
    for path in paths.values():
        path.unlink()
    folder.rmdir()
    first = next(iter(installations))
    rows = []
    for size, threads in cases:
        row = {"size": size, "threads": threads}
        for name in installations:
            walls, cpus = zip(*samples[name, size, threads], strict=True)
            row[name] = {"wall_ms": statistics.median(walls) * 1e3, "cpu_ms": statistics.median(cpus) * 1e3}
        for name in installations:
            row[name]["cpu_ratio"] = row[name]["cpu_ms"] / row[first]["cpu_ms"]
            row[name]["wall_ratio"] = row[name]["wall_ms"] / row[first]["wall_ms"]
        rows.append(row)
        print(
            f"{size:>6} {threads:2d} thread(s) | "
            + " | ".join(
                f"{name} {row[name]['cpu_ms']:7.1f} ms CPU {row[name]['wall_ms']:7.1f} ms wall "
                f"({row[name]['cpu_ratio']:.3f}x CPU, {row[name]['wall_ratio']:.3f}x wall)"
                for name in installations
            ),
            flush=True,
        )
    return {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "rounds": repeat,
        "input": "float32 planes: make_pair's grey astronaut and its noisy, edited copy; Gaussian sigma 1.5",
        "installations": {name: f"{p}:{c}" for name, (p, c) in installations.items()},
        "rows": rows,
    }


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
    parser.add_argument("--installation", action="append", metavar="NAME=PYTHON:CHECKOUT")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}")
    if args.installation:
        from benchmarks.bench_video_versions import named_installations

        installations = named_installations(args.installation)
        result = time_pass(installations, args.sizes.split(","), args.repeat)
        result["parity"] = parity(installations)
        out = args.out or Path(__file__).parent / "results" / f"ssim-pass-{result['date']}-cpu.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
        return
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
