"""The GPU half of compare(): SSIM map, its histogram and the strength levels on the device.

Mirrors the CPU path in compare.py and detection.py: the luma SSIM map
(kernels/ssim.cu), the 256-bin SSIM histogram (cupy.bincount) whose 256 counts
go to the host for Otsu, and the difference strength as one byte per pixel
(kernels/strength.cu). Hysteresis and regions run on the host (OpenCV). The
SSIM map also comes back, because the report's regions and the heat map use it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._kernels import get_kernel
from .detection import (
    HYSTERESIS_LOW,
    SSIM_HISTOGRAM_BINS,
    Thresholds,
    difference_mask,
    explained_by_antialiasing,
    mask_from_levels,
    otsu_ssim_threshold,
)

_TILE_W, _TILE_H = 32, 8
# kernels/strength.cu writes levels at strengths 0.5 (HYSTERESIS_LOW) and 1
_LEVEL_THRESHOLDS = (HYSTERESIS_LOW, 1.0)


def _ssim_histogram_gpu(ssim_map, valid):
    import cupy

    bins = ((ssim_map + 1.0) * (SSIM_HISTOGRAM_BINS / 2)).astype(cupy.int32)
    cupy.clip(bins, 0, SSIM_HISTOGRAM_BINS - 1, out=bins)
    if valid is not None:
        bins = bins[cupy.asarray(valid)]
    return cupy.bincount(bins.ravel(), minlength=SSIM_HISTOGRAM_BINS).get()


def analyse_gpu(
    left: np.ndarray,
    right: np.ndarray,
    params,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(SSIM map, difference mask, SSIM threshold) of two H x W x P float32 plane stacks."""
    import cupy

    from ._ssim_gpu import ssim_planes

    left_gpu, right_gpu = cupy.asarray(left), cupy.asarray(right)
    luma_params = replace(params, out_dtype=np.dtype(np.float64))  # float64, as on the CPU
    _, maps = ssim_planes(
        cupy.ascontiguousarray(left_gpu[..., 0])[None],
        cupy.ascontiguousarray(right_gpu[..., 0])[None],
        luma_params,
        want_map=True,
    )
    ssim_map = maps[0]
    if thresholds.exact:  # no windowed evidence: the plain per-pixel test on the host
        host_map = ssim_map.get()
        mask, threshold = difference_mask(
            host_map, left, right, weights, thresholds, ignore=ignore, antialiasing=antialiasing
        )
        return host_map, mask, threshold

    valid = None if ignore is None else ~ignore
    if thresholds.ssim is not None:
        threshold = thresholds.ssim
    else:
        threshold = otsu_ssim_threshold(_ssim_histogram_gpu(ssim_map, valid), thresholds.ssim_ceiling)
    if antialiasing:
        suppress = cupy.asarray(explained_by_antialiasing(left, right).view(np.uint8))
    else:
        suppress = cupy.zeros(1, dtype=cupy.uint8)  # not read: use_suppress is 0
    height, width, planes = left.shape
    levels = cupy.empty((height, width), dtype=cupy.uint8)
    kernel = get_kernel("strength.cu", "imgdiff_strength", IMGDIFF_RADIUS=len(weights) // 2)
    inverse = lambda t: np.float64(1.0 / max(t, 1e-12))  # noqa: E731
    kernel(
        ((width + _TILE_W - 1) // _TILE_W, (height + _TILE_H - 1) // _TILE_H, 1),
        (_TILE_W, _TILE_H, 1),
        (
            left_gpu,
            right_gpu,
            ssim_map,
            cupy.asarray(weights, dtype=cupy.float64),
            suppress,
            np.int32(1 if antialiasing else 0),
            levels,
            np.int32(height),
            np.int32(width),
            np.int32(planes),
            inverse(thresholds.luma_shift),
            inverse(thresholds.chroma_shift),
            inverse(thresholds.texture),
            inverse(1.0 - threshold),
        ),
    )
    host_levels = levels.get()
    if valid is not None:
        host_levels[~valid] = 0
    mask = mask_from_levels(host_levels)
    if valid is not None:
        mask &= valid
    return ssim_map.get(), mask, float(threshold)
