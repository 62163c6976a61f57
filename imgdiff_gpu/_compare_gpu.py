"""The GPU half of compare(): the luma SSIM map on the device.

The difference strength (imgdiff_gpu/_strength_cpu.py) and the histogram still
run on the CPU; moving them into kernels, so that only a uint8 mask crosses
PCIe, is open work (issue 3).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np


def luma_ssim_map_gpu(left_luma: np.ndarray, right_luma: np.ndarray, params) -> np.ndarray:
    """The float64 SSIM map of two float32 luma planes, computed on the GPU."""
    import cupy

    from ._ssim_gpu import ssim_planes

    a = cupy.asarray(np.ascontiguousarray(left_luma))[None]
    b = cupy.asarray(np.ascontiguousarray(right_luma))[None]
    # float64 like the CPU path, so the Otsu histogram sees the same values
    _, maps = ssim_planes(a, b, replace(params, out_dtype=np.dtype(np.float64)), want_map=True)
    return maps[0].get()
