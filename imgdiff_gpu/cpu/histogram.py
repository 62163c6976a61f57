"""The SSIM map's histogram on the CPU in one parallel pass, compiled with Numba.

:func:`imgdiff_gpu.detection.ssim_histogram` defines it (256 equal bins over
[-1, 1], bin = floor((s + 1) * 128), strays clamped); with NumPy that takes
four full-size temporaries and a bincount, which at 4K cost twice the SSIM map
itself. Here each strip of rows counts into its own row of a small table.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit, prange

STRIP_ROWS = 64


@njit(parallel=True, nogil=True, cache=True)
def _histogram_kernel(ssim_map, valid, bins, counts):
    height, width = ssim_map.shape
    every_pixel = valid.shape[0] != height
    half = bins / 2
    for strip in prange(counts.shape[0]):
        for i in range(strip * STRIP_ROWS, min((strip + 1) * STRIP_ROWS, height)):
            for j in range(width):
                if every_pixel or valid[i, j]:
                    b = np.int64((ssim_map[i, j] + 1.0) * half)
                    counts[strip, min(max(b, 0), bins - 1)] += 1


def ssim_histogram_cpu(ssim_map: np.ndarray, valid: np.ndarray | None, bins: int) -> np.ndarray:
    """Counts (int64) of the 2-D map's values at ``valid`` pixels (every pixel if None) in ``bins`` bins."""
    height = ssim_map.shape[0]
    counts = np.zeros((-(-height // STRIP_ROWS), bins), dtype=np.int64)
    _histogram_kernel(
        np.ascontiguousarray(ssim_map),
        np.zeros((0, 0), dtype=np.bool_) if valid is None else np.ascontiguousarray(valid),
        bins,
        counts,
    )
    return counts.sum(axis=0)
