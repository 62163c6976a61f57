"""What half of FFmpeg's speed would take: the budget a pair, our parts' CPU a pair, and what relaxations buy.

Issue 12 asks ``imgdiff video`` (CPU path, its defaults) for at least half the frames a second of
``ffmpeg -lavfi ssim -f null -`` on the same files. This measures, per clip, in interleaved rounds
(medians), on the clip's real decoded pairs:

1. FFmpeg: its ``ssim`` filter (as ``bench_video_versions`` runs it) and decoding both files alone
   (``-map`` both streams to the null muxer, no filter): wall and process CPU (all its threads) a pair;
2. the budget: 0.5x allows ``2 x FFmpeg's wall a pair`` of wall, so at best (every core busy, perfect
   scaling) ``2 x FFmpeg's wall a pair x cores`` CPU ms a pair; each FFmpeg run starts when the machine
   is quiet (:func:`quiet`), as the other processes' load, recorded as in ``bench_video_versions``,
   lengthens its wall time (the budget at its fastest round is printed beside the median's);
3. our parts, CPU ms a pair, one thread (the kernels and OpenCV single-threaded; decoding with
   libavcodec's own slice threads, as ``video_frames.decode_frames`` runs it, so in process CPU time):
   PyAV decoding both streams into RGB (``decode_frames`` itself) and decoding alone; the two luma
   planes from RGB (``PixelPair.luma``); the float64 SSIM map of the luma planes, plain
   (``cpu.ssim.ssim_map_2d``) and as the screen runs it with its bounds (``ssim_map_and_screen``);
   the screen a call (``FrameScreen.measure_with_peak``); a full comparison a call (``job.compare_with``
   at ``VIDEO_DEFAULTS``, measuring the noise peak as the video path does), and for the pairs the screen
   could not clear after its SSIM pass, the full comparison that takes the screen's map
   (``cpu.analysis.screened``): what a full comparison costs beyond its SSIM map;
4. the floor under the present contract: decoding into RGB, the luma planes and the float64 SSIM map,
   which every pair needs, as a share of the budget; and the most a full comparison may cost beyond
   its SSIM map to fit the budget when 20 % or 100 % of the pairs need one (the others costing
   today's screen beyond its SSIM pass), and at 0 % the room the screen has beyond its SSIM pass;
5. relaxations, measured: the SSIM map with float32 moments, as a fused C kernel compiled here at run
   time with the system's cc (:data:`FLOAT32_SSIM_C`; its float64 twin from the same source separates
   the dtype from the kernel's design), and as OpenCV's float32 ``sepFilter2D`` over the four moments
   (as cuCIM filters in float32); each one's largest ``|difference|`` from scikit-image's
   ``structural_similarity`` (Gaussian, sigma 1.5, population covariance, data range 1) on the clip's
   luma planes, beside the float64 kernel's; and luma straight from the decoded Y plane
   (``frame.to_ndarray()``, no conversion to RGB and back), against decoding into RGB plus the luma
   planes.

    python -m benchmarks.bench_video_floor --clip DIR [--clip DIR ...] [--rounds 5] [--pairs 40] [--out PATH]
    python -m benchmarks.bench_video_floor --report PATH [--out PATH]   # a saved run, summarised again

(``DIR``: a folder with ``a.*`` and ``b.*``, as ``benchmarks/video_set.py`` writes them.) Without
``ffmpeg`` on PATH, FFmpeg's part and the budget are left out.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_ssim import cpu_name
from benchmarks.bench_video_versions import busy_seconds, children_cpu_seconds, ffmpeg_seconds, others_cores

FULL_SHARES = (0.2, 1.0)
"""Shares of pairs needing a full comparison at which the room for one is printed (0 % too, as the screen's)."""
QUIET_CORES, QUIET_PATIENCE = 0.25, 60.0
"""Each FFmpeg run waits up to QUIET_PATIENCE seconds for the other processes to keep under QUIET_CORES
cores busy (:func:`quiet`): its wall time, under their load, would widen the budget."""
SKIMAGE_PAIRS = 4
"""Pairs of each clip (spread over it) on which each map is compared with scikit-image's (~1 s a 720p pair)."""

FLOAT32_SSIM_C = r"""
/* Gaussian SSIM map (Wang et al. 2004) of two float planes, one thread, moments in REAL (float or
 * double), a window of TAPS taps (both fixed when compiled, so the tap loops unroll and the column
 * loops vectorize). A block of BLOCK columns at a time (64 in double, 128 in float: the ring, 22.5 KB
 * at 11 taps, stays in L1, and the two take the same bytes; measured against 32 and 128 in double,
 * 64 in float, on 720p planes here): each input row's four
 * moments (x, y, x^2 + y^2, xy) filtered along the row into a ring of the last TAPS rows, then each
 * output row filtered down the ring and the formula applied. With CENTRE, the moments are those of
 * x - CENTRE and y - CENTRE (the variances are the same; the means get CENTRE back), so that the
 * variances' cancellation loses less in float (mid-grey moments are small). Borders reflect as scipy.ndimage's
 * "reflect" (d c b a | a b c d). Benchmark-only prototype. */
#include <stdlib.h>

#define BLOCK ((int)(512 / sizeof(REAL)))
#ifndef CENTRE
#define CENTRE 0
#endif

static int reflect(int j, int n) { return j < 0 ? -j - 1 : (j >= n ? 2 * n - j - 1 : j); }

int ssim_map(const float *x, const float *y, float *out, int h, int w, const double *weights, double C1d,
             double C2d)
{
    enum { R = TAPS / 2, PW = BLOCK + 2 * R };
    const REAL C1 = (REAL)C1d, C2 = (REAL)C2d;
    REAL wt[TAPS];
    if (R >= w || R >= h) return -1;
    for (int k = 0; k < TAPS; k++) wt[k] = (REAL)weights[k];
    REAL px[PW], py[PW], pss[PW], pxy[PW];
    REAL *ring = malloc(sizeof(REAL) * 4 * TAPS * BLOCK);
    if (!ring) return -2;
    for (int c0 = 0; c0 < w; c0 += BLOCK) {
        const int bw = w - c0 < BLOCK ? w - c0 : BLOCK;
        int filled = -R - 1;  /* the last input row (reflected index) filtered into the ring */
        for (int i = 0; i < h; i++) {
            while (filled < i + R) {
                filled++;
                const int src = reflect(filled, h);
                const float *xr = x + (size_t)src * w, *yr = y + (size_t)src * w;
                if (c0 >= R && c0 + bw + R <= w) {  /* an inner block: no reflection, a plain copy */
                    const float *xs = xr + c0 - R, *ys = yr + c0 - R;
                    for (int c = 0; c < bw + 2 * R; c++) {
                        const REAL a = xs[c] - (REAL)CENTRE, b = ys[c] - (REAL)CENTRE;
                        px[c] = a; py[c] = b; pss[c] = a * a + b * b; pxy[c] = a * b;
                    }
                } else {
                    for (int c = 0; c < bw + 2 * R; c++) {
                        const int s = reflect(c0 + c - R, w);
                        const REAL a = xr[s] - (REAL)CENTRE, b = yr[s] - (REAL)CENTRE;
                        px[c] = a; py[c] = b; pss[c] = a * a + b * b; pxy[c] = a * b;
                    }
                }
                REAL *m = ring + ((filled + R) % TAPS) * 4 * BLOCK;
                for (int c = 0; c < bw; c++) {
                    REAL s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                    for (int k = 0; k < TAPS; k++) {
                        s0 += wt[k] * px[c + k]; s1 += wt[k] * py[c + k];
                        s2 += wt[k] * pss[c + k]; s3 += wt[k] * pxy[c + k];
                    }
                    m[c] = s0; m[BLOCK + c] = s1; m[2 * BLOCK + c] = s2; m[3 * BLOCK + c] = s3;
                }
            }
            const REAL *rows[TAPS];
            for (int k = 0; k < TAPS; k++) rows[k] = ring + ((i + k) % TAPS) * 4 * BLOCK;
            float *o = out + (size_t)i * w + c0;
            for (int c = 0; c < bw; c++) {
                REAL mx = 0, my = 0, uss = 0, uxy = 0;
                for (int k = 0; k < TAPS; k++) {
                    mx += wt[k] * rows[k][c]; my += wt[k] * rows[k][BLOCK + c];
                    uss += wt[k] * rows[k][2 * BLOCK + c]; uxy += wt[k] * rows[k][3 * BLOCK + c];
                }
                const REAL vsum = uss - mx * mx - my * my, vxy = uxy - mx * my;  /* the same whatever CENTRE */
                const REAL ux = mx + (REAL)CENTRE, uy = my + (REAL)CENTRE;
                o[c] = (float)(((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vsum + C2)));
            }
        }
    }
    free(ring);
    return 0;
}
"""
"""The prototype kernel: the structure of ``c/ssim.c`` (a ring of horizontally filtered rows, the formula
on ``vx + vy``), one thread, no parity constraint: built with ``-O3 -ffp-contract=fast`` for x86-64-v3
(AVX2 + FMA, the clone ``c/ssim.c`` runs here) where the CPU has it. Why C and not only OpenCV: OpenCV's
float32 filters are fast but make five full-size passes over memory, so the C twin is what tells what
float32 moments buy a fused kernel like the package's; OpenCV's is measured too, as the library route."""


def compiled_ssim(real: str, folder: Path, *, centre: float = 0.0):
    """The prototype with ``REAL`` = ``real`` (``float`` or ``double``) and ``CENTRE`` = ``centre``, as a
    function of two planes and :class:`SSIMParams`; built for each window length on first use."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()[0] if shutil.which(cc.split()[0]) else "cc"
    source = folder / "ssim_prototype.c"
    source.write_text(FLOAT32_SSIM_C)
    built: dict[int, object] = {}

    def kernel(taps: int):
        if taps not in built:
            library = folder / f"ssim_prototype_{real}_{taps}_{centre}.so"
            flags = ["-O3", "-ffp-contract=fast", "-fno-math-errno", "-shared", "-fPIC", f"-DREAL={real}"]
            flags += [f"-DTAPS={taps}", f"-DCENTRE={centre!r}"] + (["-march=x86-64-v3"] if _has_x86_64_v3() else [])
            subprocess.run([cc, *flags, "-o", str(library), str(source)], check=True, capture_output=True)
            function = ctypes.CDLL(str(library)).ssim_map
            function.restype = ctypes.c_int
            plane = np.ctypeslib.ndpointer(np.float32, flags="C")
            weights = np.ctypeslib.ndpointer(np.float64, flags="C")
            function.argtypes = [plane, plane, plane, ctypes.c_int, ctypes.c_int, weights]
            function.argtypes += [ctypes.c_double, ctypes.c_double]
            built[taps] = function
        return built[taps]

    def ssim_map(x: np.ndarray, y: np.ndarray, params) -> np.ndarray:
        out = np.empty(x.shape, np.float32)
        weights = np.ascontiguousarray(params.weights, np.float64)
        function = kernel(len(weights))
        status = function(x, y, out, x.shape[0], x.shape[1], weights, params.C1, params.C2)
        if status:
            raise RuntimeError(f"the prototype SSIM kernel failed ({status}) on a {x.shape} plane")
        return out

    return ssim_map


def _has_x86_64_v3() -> bool:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return all(flag in flags.split() for flag in ("avx2", "fma", "bmi2", "movbe"))


def opencv_float32_ssim(x: np.ndarray, y: np.ndarray, params) -> np.ndarray:
    """The SSIM map from OpenCV's float32 separable filter over the four moments (reflecting borders as
    scipy's ``reflect``), the formula in float32 NumPy: the cuCIM way, on the CPU."""
    import cv2

    kernel = np.asarray(params.weights, np.float32)

    def blur(plane):
        return cv2.sepFilter2D(plane, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REFLECT)

    ux, uy, uss, uxy = blur(x), blur(y), blur(x * x + y * y), blur(x * y)
    C1, C2 = np.float32(params.C1), np.float32(params.C2)
    uxuy = ux * uy
    squares = ux * ux + uy * uy
    return ((2 * uxuy + C1) * (2 * (uxy - uxuy) + C2)) / ((squares + C1) * (uss - squares + C2))


def y_plane(frame) -> np.ndarray:
    """A decoded frame's Y plane (uint8, H x W) from ``frame.to_ndarray()``: planar 4:4:4 comes as
    3 x H x W, 4:2:0 as the Y rows above the chroma rows."""
    pixels = frame.to_ndarray()
    return pixels[0] if pixels.ndim == 3 else pixels[: frame.height]


def clip_files(clip: Path) -> tuple[Path, Path]:
    """A clip folder's two videos, ``a.*`` and ``b.*`` (``benchmarks/video_set.py``'s layout)."""
    return next(clip.glob("a.*")), next(clip.glob("b.*"))


def ffmpeg_decode_seconds(left: Path, right: Path) -> float:
    """FFmpeg decoding both files, no filter, every frame handed to the null muxer (wall seconds)."""
    command = ["ffmpeg", "-v", "error", "-i", str(left), "-i", str(right)]
    command += ["-map", "0:v:0", "-map", "1:v:0", "-f", "null", "-"]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def quiet() -> None:
    """Waits (up to :data:`QUIET_PATIENCE` seconds) until the other processes keep fewer than
    :data:`QUIET_CORES` cores busy over half a second, so that FFmpeg's wall time, which sets the
    budget, is its own."""
    deadline = time.monotonic() + QUIET_PATIENCE
    while time.monotonic() < deadline:
        before = busy_seconds()
        if before is None:
            return
        time.sleep(0.5)
        if (busy_seconds() - before) / 0.5 < QUIET_CORES:
            return


def with_cpu(run) -> tuple[float, float]:
    """(wall, CPU) seconds of ``run()``, a child process whose wall seconds it returns."""
    before = children_cpu_seconds()
    wall = run()
    return wall, children_cpu_seconds() - before


def process_seconds(run) -> tuple[float, object]:
    """Process CPU seconds of ``run()`` (every thread: libavcodec's own included), and its result."""
    start = time.process_time()
    result = run()
    return time.process_time() - start, result


def decoded_rgb(path: Path) -> int:
    """Decodes a stream into RGB exactly as ``imgdiff video`` does; the frames decoded."""
    from imgdiff_gpu.video_frames import decode_frames
    from imgdiff_gpu.video_report import VideoSummary

    summary = VideoSummary()
    for _ in decode_frames(path, "left", summary):
        pass
    return summary.decoded["left"]


def decoded_only(path: Path, convert=None) -> int:
    """Decodes a stream (libavcodec's default threads, as ``decode_frames``), ``convert`` on each frame."""
    import av

    count = 0
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if convert is not None:
                convert(frame)
            count += 1
    return count


def y_luma(frame) -> np.ndarray:
    """The Y plane as float32 in data-range units: what the SSIM map would read without RGB."""
    return np.multiply(y_plane(frame), np.float32(1 / 255), dtype=np.float32)


class Clip:
    """One clip's pairs (``count`` of them, spread over the clip) held for the per-call parts."""

    def __init__(self, folder: Path, count: int):
        import av

        from imgdiff_gpu.cpu.analysis import luma_ssim_params
        from imgdiff_gpu.planes import PixelPair

        self.folder = folder
        self.left, self.right = clip_files(folder)

        def frames(path):
            with av.open(str(path)) as container:
                return [frame.to_ndarray(format="rgb24") for frame in container.decode(container.streams.video[0])]

        lefts, rights = frames(self.left), frames(self.right)
        self.total = min(len(lefts), len(rights))
        keep = np.unique(np.linspace(0, self.total - 1, min(count, self.total)).round().astype(int))
        self.pairs = [(lefts[i], rights[i]) for i in keep]
        del lefts, rights
        self.lumas = [PixelPair(a, b).luma for a, b in self.pairs]
        self.params = luma_ssim_params(self.lumas[0][0])
        self.shape = self.pairs[0][0].shape[:2]


def per_pair(function, items) -> float:
    """Thread CPU seconds of ``function(item)`` a call, over ``items``."""
    start = time.thread_time()
    for item in items:
        function(item)
    return (time.thread_time() - start) / len(items)


def measure_round(clip: Clip, ffmpeg: bool, prototypes: dict) -> dict:
    """One round of every part on one clip: seconds a pair (CPU unless named wall), counts of calls."""
    from imgdiff_gpu.clip_noise import measuring_peaks
    from imgdiff_gpu.cpu.analysis import screened
    from imgdiff_gpu.cpu.scratch import keeping_scratch
    from imgdiff_gpu.cpu.ssim import ssim_map_2d, ssim_map_and_screen
    from imgdiff_gpu.detection import window_noise_factors
    from imgdiff_gpu.job import compare_with
    from imgdiff_gpu.planes import PixelPair
    from imgdiff_gpu.screening import VARIANCE_SLACK, FrameScreen

    run: dict = {}
    pairs = clip.total
    if ffmpeg:
        quiet()
        (wall, cpu), busy = others_cores(lambda: with_cpu(lambda: ffmpeg_seconds(clip.left, clip.right)))
        run["ffmpeg ssim wall"], run["ffmpeg ssim"], run["ffmpeg ssim, others' cores"] = wall / pairs, cpu / pairs, busy
        quiet()
        (wall, cpu), busy = others_cores(lambda: with_cpu(lambda: ffmpeg_decode_seconds(clip.left, clip.right)))
        run["ffmpeg decode wall"], run["ffmpeg decode"], run["ffmpeg decode, others' cores"] = (
            wall / pairs,
            cpu / pairs,
            busy,
        )
    both = (clip.left, clip.right)
    run["decode + RGB"] = process_seconds(lambda: [decoded_rgb(p) for p in both])[0] / pairs
    run["decode only"] = process_seconds(lambda: [decoded_only(p) for p in both])[0] / pairs
    run["decode + Y plane"] = process_seconds(lambda: [decoded_only(p, y_luma) for p in both])[0] / pairs
    run["luma planes from RGB"] = per_pair(lambda pair: PixelPair(*pair).luma, clip.pairs)

    p, lumas = clip.params, clip.lumas
    run["ssim map float64"] = per_pair(lambda xy: ssim_map_2d(*xy, p), lumas)
    options = video_options()
    thresholds = options.thresholds()
    t = thresholds
    factors = window_noise_factors(clip.shape, p.weights)
    shift = np.empty(clip.shape, np.float32)
    run["ssim map float64, the screen's pass"] = per_pair(
        lambda xy: ssim_map_and_screen(
            *xy,
            p,
            counted=None,
            bias=0.0,
            masking=t.masking / t.luma_shift if t.masking > 0 else 0.0,
            floor=t.luma_shift if t.masking > 0 else np.inf,
            slack=VARIANCE_SLACK,
            factors=factors,
            shift=shift,
        ),
        lumas,
    )
    for name, function in prototypes.items():
        run[name] = per_pair(lambda xy: function(*xy, p), lumas)  # noqa: B023

    peaks = video_peaks(options)
    screen = FrameScreen(clip.shape, thresholds, None, peaks=peaks)
    handed, cleared = [], 0
    with keeping_scratch():
        start = time.thread_time()
        for left, right in clip.pairs:
            score, maps, _ = screen.measure_with_peak(left, right)
            cleared += score is not None
            if maps is not None:
                handed.append((left, right, maps))
        run["screen"] = (time.thread_time() - start) / len(clip.pairs)
        run["screen cleared"] = cleared / len(clip.pairs)
        start = time.thread_time()
        for left, right, maps in handed:
            with screened(maps), measuring(peaks, measuring_peaks):
                compare_with(options, left, right, ignore=None)
        after_screen = (time.thread_time() - start) / len(handed) if handed else None
        run["full comparison after the screen's map"] = after_screen
        run["full comparisons after the screen's map, calls"] = len(handed)

        def full(pair):
            with measuring(peaks, measuring_peaks):
                compare_with(options, *pair, ignore=None)

        run["full comparison"] = per_pair(full, clip.pairs)
    return run


def video_options():
    """``imgdiff video``'s defaults on the CPU."""
    from dataclasses import replace

    from imgdiff_gpu.options import VIDEO_DEFAULTS

    return replace(VIDEO_DEFAULTS, device="cpu")


def video_peaks(options) -> bool:
    """Whether the video path measures noise peaks at these options (the clip noise rule)."""
    from imgdiff_gpu.video_frames import clip_noise_reference

    return clip_noise_reference(options) is not None


def measuring(peaks: bool, measuring_peaks):
    return measuring_peaks() if peaks else contextlib.nullcontext([])


def skimage_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scikit-image's SSIM map of two luma planes in [0, 1], as the package's parity is stated against it
    (Gaussian window, sigma 1.5, population covariance), in float64."""
    from skimage.metrics import structural_similarity

    _, reference = structural_similarity(
        x.astype(np.float64),
        y.astype(np.float64),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        full=True,
    )
    return reference


def skimage_differences(clip: Clip, prototypes: dict) -> dict:
    """Each map's largest ``|difference|`` from scikit-image's (on the luma planes in float64) over
    :data:`SKIMAGE_PAIRS` of the clip's pairs, the whole map (borders included)."""
    from imgdiff_gpu.cpu.ssim import ssim_map_2d

    maps = {"ssim map float64": ssim_map_2d, **prototypes}
    chosen = np.unique(np.linspace(0, len(clip.lumas) - 1, min(SKIMAGE_PAIRS, len(clip.lumas))).round().astype(int))
    largest = dict.fromkeys(maps, 0.0)
    for index in chosen:
        x, y = clip.lumas[index]
        reference = skimage_map(x, y)
        for name, function in maps.items():
            difference = np.abs(function(x, y, clip.params).astype(np.float64) - reference).max()
            largest[name] = max(largest[name], float(difference))
    return {"pairs": len(chosen), "largest_difference": largest}


def summary_of(runs: list[dict], cores: int) -> dict:
    """Medians over rounds, the budget, the floor and the room left (milliseconds a pair)."""
    names = [name for name in runs[0] if not name.endswith(("calls", "cores")) and name != "screen cleared"]
    ms = {}
    for name in names:
        values = [run[name] for run in runs if run[name] is not None]
        ms[name] = 1000 * statistics.median(values) if values else None
    result: dict = {"ms_per_pair": ms, "screen_cleared": runs[0]["screen cleared"]}
    result["full_after_screen_calls"] = runs[0]["full comparisons after the screen's map, calls"]
    floor = ms["decode + RGB"] + ms["luma planes from RGB"] + ms["ssim map float64"]
    screen_beyond = ms["screen"] - ms["luma planes from RGB"] - ms["ssim map float64, the screen's pass"]
    full_beyond = ms["full comparison after the screen's map"]
    if full_beyond is None:  # the screen handed no pair over: the standalone call less its luma and map
        full_beyond = ms["full comparison"] - ms["luma planes from RGB"] - ms["ssim map float64"]
    result.update(
        floor_ms=floor,
        screen_beyond_ssim_ms=screen_beyond,
        full_beyond_ssim_ms=full_beyond,
        floors={
            "present contract (decode + RGB, luma, float64 map)": floor,
            "float32 moments (C prototype)": floor - ms["ssim map float64"] + ms["ssim map float32 (C prototype)"],
            "luma from the Y plane": ms["decode + Y plane"] + ms["ssim map float64"],
            "both": ms["decode + Y plane"] + ms["ssim map float32 (C prototype)"],
        },
    )
    if "ffmpeg ssim wall" in ms:
        # FFmpeg's wall time follows the other sessions' load (its CPU time far less): each run waited for
        # a quiet machine (quiet), the budget is its median's, the fastest round's kept beside it
        least = min(runs, key=lambda run: run["ffmpeg ssim wall"])
        fastest = 1000 * least["ffmpeg ssim wall"]
        wall_budget = 2 * ms["ffmpeg ssim wall"]
        cpu_budget = wall_budget * cores
        room = cpu_budget - floor
        result.update(
            cores=cores,
            ffmpeg_fastest_wall_ms=fastest,
            ffmpeg_fastest_others_cores=least["ffmpeg ssim, others' cores"],
            wall_budget_ms=wall_budget,
            cpu_budget_ms=cpu_budget,
            cpu_budget_at_fastest_wall_ms=2 * fastest * cores,
            room_ms=room,
            others_cores={name: [run[f"ffmpeg {name}, others' cores"] for run in runs] for name in ("ssim", "decode")},
        )
        result["room_for_full_beyond_ssim_ms"] = {
            f"{round(100 * share)} %": (room - (1 - share) * screen_beyond) / share for share in FULL_SHARES
        }
        result["room_for_screen_beyond_ssim_at_0_percent_ms"] = room
    result["today_ms"] = {
        f"{round(100 * share)} %": floor + (1 - share) * screen_beyond + share * full_beyond
        for share in (0.0, *FULL_SHARES)
    }
    return result


def print_clip(name: str, total: int, held: int, result: dict, differences: dict) -> None:
    ms = result["ms_per_pair"]
    print(f"\n{name}: {total} pairs ({held} held for the per-call parts); ms a pair, medians")
    if "cpu_budget_ms" in result:
        print(
            f"  FFmpeg ssim filter: {ms['ffmpeg ssim wall']:.2f} wall, {ms['ffmpeg ssim']:.2f} CPU; "
            f"FFmpeg decoding both alone: {ms['ffmpeg decode wall']:.2f} wall, {ms['ffmpeg decode']:.2f} CPU"
        )
        loads = [value for values in result["others_cores"].values() for value in values if value is not None]
        load = ""
        if loads:
            load = f"; other processes kept {min(loads):.2f}-{max(loads):.2f} cores busy during FFmpeg's runs"
            load += f", {result['ffmpeg_fastest_others_cores']:.2f} during the fastest"
        print(
            f"  budget at 0.5x: {result['wall_budget_ms']:.2f} wall, {result['cpu_budget_ms']:.2f} CPU on "
            f"{result['cores']} cores at perfect scaling (at FFmpeg's fastest round, "
            f"{result['ffmpeg_fastest_wall_ms']:.2f} wall: {result['cpu_budget_at_fastest_wall_ms']:.2f} CPU){load}"
        )
    else:
        print("  FFmpeg: not on PATH, no budget")
    print("  our parts (CPU, one thread; decoding in process CPU with libavcodec's threads):")
    for part in PARTS:
        value = ms.get(part)
        if value is not None:
            print(f"    {part:<48}{value:8.2f}")
    print(
        f"    screen cleared {100 * result['screen_cleared']:.0f} % of the held pairs; full comparison "
        f"beyond its SSIM map {result['full_beyond_ssim_ms']:.2f}; screen beyond its pass and luma "
        f"{result['screen_beyond_ssim_ms']:.2f}"
    )
    budget = result.get("cpu_budget_ms")
    print("  floor (what every pair needs):")
    for label, value in result["floors"].items():
        share = f" = {100 * value / budget:5.1f} % of the CPU budget" if budget else ""
        print(f"    {label:<52}{value:8.2f}{share}")
    if budget:
        print(f"  room beyond the floor: {result['room_ms']:.2f} CPU ms a pair")
        print(
            f"    at 0 % of pairs needing a full comparison: the screen beyond its pass may cost "
            f"{result['room_for_screen_beyond_ssim_at_0_percent_ms']:.2f} (today {result['screen_beyond_ssim_ms']:.2f})"
        )
        for share, room in result["room_for_full_beyond_ssim_ms"].items():
            print(
                f"    at {share:>5} needing one: a full comparison beyond its SSIM map may cost {room:8.2f} "
                f"(today {result['full_beyond_ssim_ms']:.2f})"
            )
    print(
        "  today's parts a pair (floor, screen beyond its pass, full comparison beyond its map), at "
        + ", ".join(f"{share}: {value:.2f}" for share, value in result["today_ms"].items())
        + " of pairs needing a full comparison"
    )
    print(f"  largest |difference| from skimage's map over {differences['pairs']} pairs:")
    for label, value in differences["largest_difference"].items():
        print(f"    {label:<48}{value:10.2e}")


PARTS = (
    "decode + RGB",
    "decode only",
    "decode + Y plane",
    "luma planes from RGB",
    "ssim map float64",
    "ssim map float64, the screen's pass",
    "ssim map float64 (C prototype)",
    "ssim map float32 (C prototype)",
    "ssim map float32, centred (C prototype)",
    "ssim map float32 (OpenCV)",
    "screen",
    "full comparison",
    "full comparison after the screen's map",
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, action="append", help="a folder with a.* and b.*")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=40, help="pairs of each clip held for the per-call parts")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--report", type=Path, help="a saved run (--out) to summarise and print again")
    args = parser.parse_args(argv)
    if args.report:
        return written(reprinted(json.loads(args.report.read_text())), args.out)
    if not args.clip:
        parser.error("give --clip (one or more), or --report")
    import cv2

    from imgdiff_gpu.cpu.threads import set_num_threads

    cv2.setNumThreads(1)
    set_num_threads(1)
    ffmpeg = shutil.which("ffmpeg") is not None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    clips = [Clip(folder, args.pairs) for folder in args.clip]
    with tempfile.TemporaryDirectory(prefix="imgdiff-floor-") as folder:
        prototypes = {
            "ssim map float64 (C prototype)": compiled_ssim("double", Path(folder)),
            "ssim map float32 (C prototype)": compiled_ssim("float", Path(folder)),
            "ssim map float32, centred (C prototype)": compiled_ssim("float", Path(folder), centre=0.5),
            "ssim map float32 (OpenCV)": opencv_float32_ssim,
        }
        runs: dict[str, list[dict]] = {clip.folder.name: [] for clip in clips}
        # round 0 warms up (OpenCV's first calls, the screen's factor grids, scratch planes), not counted
        for round_ in range(args.rounds + 1):
            for clip in clips:
                run = measure_round(clip, ffmpeg, prototypes)
                if round_:
                    runs[clip.folder.name].append(run)
        differences = {clip.folder.name: skimage_differences(clip, prototypes) for clip in clips}
    print(f"CPU: {cpu_name()}; {args.rounds} interleaved rounds; imgdiff_gpu from {package_checkout()}")
    report = {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "rounds": args.rounds,
        "checkout": str(package_checkout()),
        "python": sys.executable,
        "cores": cores,
        "clips": {},
    }
    for clip in clips:
        name = clip.folder.name
        result = summary_of(runs[name], cores)
        result.update(pairs=clip.total, held_pairs=len(clip.pairs), skimage=differences[name])
        result["rounds"] = runs[name]
        report["clips"][name] = result
        print_clip(name, clip.total, len(clip.pairs), result, differences[name])
    return written(report, args.out)


def written(report: dict, out: Path | None) -> dict:
    if out:
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")
    return report


def reprinted(report: dict) -> dict:
    """A saved run summarised again from its rounds (as this version summarises) and printed."""
    print(f"CPU: {report['cpu']}; {report['rounds']} interleaved rounds; imgdiff_gpu from {report['checkout']}")
    for name, saved in report["clips"].items():
        cores = report.get("cores") or saved["cores"]
        result = summary_of(saved["rounds"], cores)
        result.update(pairs=saved["pairs"], held_pairs=saved["held_pairs"], skimage=saved["skimage"])
        result["rounds"] = saved["rounds"]
        report["clips"][name] = result
        print_clip(name, saved["pairs"], saved["held_pairs"], result, saved["skimage"])
    report["cores"] = report.get("cores") or cores
    return report


def package_checkout() -> Path:
    import imgdiff_gpu

    return Path(imgdiff_gpu.__file__).resolve().parents[1]


if __name__ == "__main__":
    main()
