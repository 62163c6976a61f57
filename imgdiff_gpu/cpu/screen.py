"""Video screening on the CPU: the luma planes of two RGB frames and the per-pixel steps.

One pass over the uint8 RGB frames gives both frames' luma planes, computed
from the same integers as ``cpu/planes.py`` (so bit for bit the image path's
luma), and steps 2-4 below; the SSIM kernel of ``cpu/ssim.py``
(:func:`~imgdiff_gpu.cpu.ssim.ssim_map_and_bounds`) then gives the map and
0-1. Together they are what :mod:`imgdiff_gpu.screening` needs to prove a pair
has no difference:

0. the largest luma shift ``|w * dY| = |ux - uy|`` at a counted pixel;
1. the smallest SSIM at a counted pixel;
2. the largest per-pixel luma step ``|dY|`` within reach of a counted pixel;
3. the largest per-pixel chroma step ``|(dCr, dCb)|`` within reach;
4. the largest step of any RGB channel, in pixel levels, within reach.

"Counted" pixels are those not ignored; "within reach" are those a counted
pixel's window covers (the caller dilates the counted mask by the radius).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit, prange
from .planes import numerators


@njit(parallel=True, nogil=True, error_model="numpy", cache=True)
def _luma_and_steps_kernel(left, right, reach, to_luma, luma_left, luma_right, steps):
    """Both frames' luma planes, and per row the largest luma, squared chroma and RGB steps within reach.

    All in integers (int64: the squared chroma step needs it), since integer
    maxima vectorize where float ones do not.
    """
    height, width, _ = left.shape
    every_pixel = reach.shape[0] != height
    for i in prange(height):
        x = left[i].ravel()
        y = right[i].ravel()
        luma_x = luma_left[i]
        luma_y = luma_right[i]
        within = reach[i] if not every_pixel else np.ones(width, dtype=np.bool_)
        d_luma = np.int64(0)
        d_chroma = np.int64(0)
        d_rgb = np.int64(0)
        for j in range(width):
            r_x, g_x, b_x = np.int32(x[3 * j]), np.int32(x[3 * j + 1]), np.int32(x[3 * j + 2])
            r_y, g_y, b_y = np.int32(y[3 * j]), np.int32(y[3 * j + 1]), np.int32(y[3 * j + 2])
            n_x, _, _ = numerators(r_x, g_x, b_x)
            n_y, _, _ = numerators(r_y, g_y, b_y)
            luma_x[j] = np.float64(n_x) * to_luma
            luma_y[j] = np.float64(n_y) * to_luma
            counts = np.int64(within[j])
            d_n, d_cr, d_cb = numerators(r_x - r_y, g_x - g_y, b_x - b_y)
            d_luma = max(d_luma, abs(d_n) * counts)
            d_chroma = max(d_chroma, (d_cr * d_cr + d_cb * d_cb) * counts)
            d_rgb = max(d_rgb, max(abs(r_x - r_y), max(abs(g_x - g_y), abs(b_x - b_y))) * counts)
        steps[i, 0] = d_luma
        steps[i, 1] = d_chroma
        steps[i, 2] = d_rgb


def frame_steps(
    left: np.ndarray, right: np.ndarray, *, reach: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Both H x W x 3 uint8 RGB frames' float32 luma planes and the steps 2-4 above."""
    height, width = left.shape[:2]
    scale = 255.0
    luma_left = np.empty((height, width), dtype=np.float32)
    luma_right = np.empty((height, width), dtype=np.float32)
    steps = np.empty((height, 3), dtype=np.int64)
    _luma_and_steps_kernel(
        np.ascontiguousarray(left),
        np.ascontiguousarray(right),
        np.zeros((0, 0), dtype=np.bool_) if reach is None else np.ascontiguousarray(reach),
        1.0 / (1000.0 * scale),  # as _planes_cpu computes it for opaque pixels
        luma_left,
        luma_right,
        steps,
    )
    d_luma, d_chroma, d_rgb = steps.max(axis=0).astype(np.float64)
    return luma_left, luma_right, d_luma / (1000.0 * scale), np.sqrt(d_chroma) / (1e6 * scale), d_rgb
