"""Difference strength as levels on the GPU: ``kernels/strength.cu``, the twin of ``cpu/strength.py``.

One launch turns two plane stacks and the SSIM map (a batch of pairs as grid
z-slices, each with its own SSIM threshold) into the uint8 strength levels that
hysteresis reads; see ``cpu/strength.py`` for what a pixel's strength is.
"""

from __future__ import annotations

import numpy as np

from .kernels import get_kernel, inverse_threshold, launch


def _get_strength_kernel(radius: int):
    return get_kernel("strength.cu", "imgdiff_strength", IMGDIFF_RADIUS=radius)


def strength_levels_gpu(
    cupy, left, right, ssim_map, weights, suppress, thresholds, threshold, noise_rules=(None, None)
):
    """Strength levels (uint8 CuPy, [N x] H x W) of two [N x] H x W x P plane stacks, NumPy or CuPy.

    ``threshold``: the SSIM threshold, one per pair of a batch. ``noise_rules``: the
    per-pixel luma threshold factor and coarse chroma evidence ([N x] H x W float32,
    NumPy or CuPy, or None each) of a sensitivity that follows the pair's noise.
    """
    luma_scale, coarse = noise_rules
    unused = cupy.zeros(1, dtype=cupy.float32)
    height, width, planes = left.shape[-3:]
    count = left.shape[0] if left.ndim == 4 else 1
    levels = cupy.empty(left.shape[:-1], dtype=cupy.uint8)
    inverse_ssim = cupy.asarray([inverse_threshold(1.0 - t) for t in np.atleast_1d(threshold)], dtype=cupy.float64)
    kernel = _get_strength_kernel(len(weights) // 2)
    launch(
        kernel,
        height,
        width,
        count,
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
            inverse_threshold(thresholds.luma_shift * thresholds.luma_factor),
            inverse_threshold(thresholds.chroma_shift),
            inverse_threshold(thresholds.texture),
            inverse_ssim,
            unused if luma_scale is None else cupy.asarray(luma_scale, dtype=cupy.float32),
            np.int32(luma_scale is not None),
            unused if coarse is None else cupy.asarray(coarse, dtype=cupy.float32),
            np.int32(coarse is not None),
        ),
    )
    return levels
