"""The GPU half of compare(): SSIM of the luma plane on the device.

The evidence maps and the histogram still run on the CPU (detection.py); moving
them into kernels, so that only the uint8 mask crosses PCIe, is open work
(issue 3).
"""

from __future__ import annotations

import numpy as np

from .detection import evidence_cpu


def analyse_gpu(left: np.ndarray, right: np.ndarray, weights: np.ndarray, params):
    import cupy

    from ._ssim_gpu import ssim_planes

    _, maps = ssim_planes(cupy.asarray(left[None, ..., 0]), cupy.asarray(right[None, ..., 0]), params, want_map=True)
    return maps[0].get(), evidence_cpu(left, right, weights)
