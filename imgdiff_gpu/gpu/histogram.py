"""The SSIM map's histogram on the GPU: ``kernels/histogram.cu``, the twin of ``cpu/histogram.py``.

Counts straight into 256 bins per map, with no full-size temporary; a batch of
maps is one launch, and only the counts come back.
"""

from __future__ import annotations

import numpy as np

from .kernels import get_kernel, launch


def _get_histogram_kernel():
    return get_kernel("histogram.cu", "imgdiff_histogram")


def ssim_histogram_gpu(ssim_maps, valid):
    """Counts (uint64 CuPy, N x bins) of N x H x W (or H x W) CuPy maps at ``valid`` pixels (H x W, or None)."""
    import cupy

    from ..detection import SSIM_HISTOGRAM_BINS

    maps = cupy.ascontiguousarray(ssim_maps if ssim_maps.ndim == 3 else ssim_maps[None], dtype=cupy.float64)
    count, height, width = maps.shape
    counts = cupy.zeros((count, SSIM_HISTOGRAM_BINS), dtype=cupy.uint64)
    mask = cupy.ascontiguousarray(valid).view(cupy.uint8) if valid is not None else cupy.zeros(1, dtype=cupy.uint8)
    args = (maps, mask, np.int32(valid is not None), counts, np.int32(height), np.int32(width))
    launch(_get_histogram_kernel(), height, width, count, args)
    return counts
