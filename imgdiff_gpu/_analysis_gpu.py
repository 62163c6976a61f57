"""The GPU twin of the analysis stage (``analysis.analyse_gpu``): SSIM map, histogram, strength levels.

Mirrors ``analysis.analyse_cpu`` (``_ssim_cpu.py``, ``detection.py``): the luma SSIM map
(kernels/ssim.cu), the 256-bin SSIM histogram (cupy.bincount) whose counts go
to the host for Otsu, and the difference strength as one byte per pixel
(kernels/strength.cu, levels at strengths 0.5 and 1: detection.HYSTERESIS_LOW and 1);
hysteresis and regions run on the host (OpenCV). The
SSIM map comes back too, because the regions' statistics and the heat map use it.

Images too large for the memory budget go through in bands of rows with a halo
of the window radius. The kernels reflect only at a band's edges, which are
either the image's own edges or halo rows that are thrown away, so every kept
row is exactly what an untiled run gives. A GPU out-of-memory error shrinks the
bands; ``analysis.analyse`` falls back to the CPU if even small bands do not fit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._kernels import get_kernel, inverse_threshold, launch
from ._ssim_params import SSIMParams
from ._strength_cpu import NEAR
from .detection import (
    SSIM_HISTOGRAM_BINS,
    Thresholds,
    difference_mask,
    explained_by_antialiasing,
    mask_from_levels,
    otsu_ssim_threshold,
    ssim_histogram,
)

GPU_BUDGET_BYTES = 4 * 2**30
_SMALLEST_BAND = 64


class GPUOutOfMemory(Exception):
    """Even the smallest bands did not fit in GPU memory."""


def is_out_of_memory(exc: BaseException) -> bool:
    """CuPy's allocation failure, or a CUDA runtime error that says the same."""
    import cupy

    if isinstance(exc, cupy.cuda.memory.OutOfMemoryError):
        return True
    return "out of memory" in str(exc).lower() or "cudaErrorMemoryAllocation" in str(exc)


def _bands(height: int, band_rows: int, halo: int):
    """(top, bottom, lo, hi): rows [top, bottom) computed from rows [lo, hi)."""
    for top in range(0, height, band_rows):
        bottom = min(top + band_rows, height)
        yield top, bottom, max(top - halo, 0), min(bottom + halo, height)


def _ssim_band(cupy, left_luma, right_luma, params):
    from ._ssim_gpu import ssim_planes

    _, maps = ssim_planes(cupy.asarray(left_luma)[None], cupy.asarray(right_luma)[None], params, want_map=True)
    return maps[0]


def _levels_band(cupy, left, right, ssim_map, weights, suppress, thresholds, threshold):
    height, width, planes = left.shape
    levels = cupy.empty((height, width), dtype=cupy.uint8)
    kernel = get_kernel("strength.cu", "imgdiff_strength", IMGDIFF_RADIUS=len(weights) // 2)
    launch(
        kernel,
        height,
        width,
        1,
        (
            cupy.asarray(left),
            cupy.asarray(right),
            cupy.asarray(ssim_map),
            cupy.asarray(weights, dtype=cupy.float64),
            cupy.asarray(suppress) if suppress is not None else cupy.zeros(1, dtype=cupy.uint8),
            np.int32(1 if suppress is not None else 0),
            levels,
            np.int32(height),
            np.int32(width),
            np.int32(planes),
            inverse_threshold(thresholds.luma_shift),
            inverse_threshold(thresholds.chroma_shift),
            inverse_threshold(thresholds.texture),
            inverse_threshold(1.0 - threshold),
        ),
    )
    return levels.get()


def _analyse_in_bands(left, right, params, thresholds, valid, suppress, band_rows):
    """Two passes over bands: the SSIM map and its histogram, then (unless exact) the levels."""
    import cupy

    height = left.shape[0]
    weights = params.weights  # the evidence is averaged over the SSIM window
    halo = max(params.radius, NEAR)  # the rows a band's kept rows read
    luma_params = replace(params, out_dtype=np.dtype(np.float64))  # float64, as on the CPU
    left_luma, right_luma = np.ascontiguousarray(left[..., 0]), np.ascontiguousarray(right[..., 0])
    ssim_map = np.empty(left.shape[:2], dtype=np.float64)
    counts = np.zeros(SSIM_HISTOGRAM_BINS, dtype=np.int64)
    for top, bottom, lo, hi in _bands(height, band_rows, halo):
        band = _ssim_band(cupy, left_luma[lo:hi], right_luma[lo:hi], luma_params)[top - lo : bottom - lo]
        band_valid = cupy.asarray(valid[top:bottom]) if valid is not None else None
        counts += ssim_histogram(band, band_valid, xp=cupy).get()
        ssim_map[top:bottom] = band.get()
    threshold = thresholds.ssim if thresholds.ssim is not None else otsu_ssim_threshold(counts, thresholds.ssim_ceiling)
    if thresholds.exact:
        return ssim_map, None, threshold

    levels = np.empty(left.shape[:2], dtype=np.uint8)
    for top, bottom, lo, hi in _bands(height, band_rows, halo):
        band_suppress = suppress[lo:hi].view(np.uint8) if suppress is not None else None
        band_levels = _levels_band(
            cupy, left[lo:hi], right[lo:hi], ssim_map[lo:hi], weights, band_suppress, thresholds, threshold
        )
        levels[top:bottom] = band_levels[top - lo : bottom - lo]
    return ssim_map, levels, threshold


def analyse_on_device(
    left: np.ndarray,
    right: np.ndarray,
    params: SSIMParams,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
) -> tuple[np.ndarray, np.ndarray, float, list[str]]:
    """(SSIM map, difference mask, SSIM threshold, notes) of two H x W x P float32 plane stacks.

    Raises
    ------
    GPUOutOfMemory
        When bands of the smallest size still do not fit in GPU memory. Bands are
        sized to ``GPU_BUDGET_BYTES`` first and shrink on an out-of-memory error.
    """
    height, width, planes = left.shape
    valid = None if ignore is None else ~ignore
    # exact: the per-pixel test on the host works out the antialiasing itself, once
    suppress = explained_by_antialiasing(left, right) if antialiasing and not thresholds.exact else None
    # device bytes per image row at once: both stacks, luma copies, map, histogram bins, levels
    row_bytes = width * (2 * planes * 4 + 2 * 4 + 8 + 4 + 1 + 1)
    halo = max(params.radius, NEAR)
    band_rows = max(min(height, GPU_BUDGET_BYTES // row_bytes - 2 * halo), _SMALLEST_BAND)
    while True:
        try:
            ssim_map, levels, threshold = _analyse_in_bands(left, right, params, thresholds, valid, suppress, band_rows)
            break
        except Exception as exc:
            if not is_out_of_memory(exc) or band_rows <= _SMALLEST_BAND:
                if is_out_of_memory(exc):
                    raise GPUOutOfMemory(f"{width}x{height} does not fit in GPU memory even in bands") from exc
                raise
            band_rows = max(band_rows // 4, _SMALLEST_BAND)
            import cupy

            cupy.get_default_memory_pool().free_all_blocks()
    notes = [f"processed on the GPU in bands of {band_rows} rows"] if band_rows < height else []
    if thresholds.exact:  # no windowed evidence: the plain per-pixel test, on the host
        mask, threshold = difference_mask(
            ssim_map, left, right, params.weights, thresholds, ignore=ignore, antialiasing=antialiasing
        )
        return ssim_map, mask, threshold, notes
    if valid is not None:
        levels[~valid] = 0
    mask = mask_from_levels(levels)
    if valid is not None:
        mask &= valid
    return ssim_map, mask, float(threshold), notes
