"""SSIM on the CPU: separable float64 filtering with OpenCV, in row strips.

Mirrors ``kernels/ssim.cu``. scikit-image filters five full-size moment images
with scipy.ndimage on one core; this backend does the same float64 arithmetic
with three changes that do not alter the numbers beyond rounding (~1e-14):

* four moments, not five: the formula only needs ``vx + vy``, so x² + y² is
  filtered once instead of x² and y² separately;
* OpenCV's separable filters with BORDER_REFLECT, which is scipy's ``reflect``;
* strips of rows (plus a halo of the window radius) small enough to stay in
  cache, spread over a thread pool; OpenCV and NumPy release the GIL.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from .ssim import SSIMParams

# Rows per strip: 32 rows of a 4K float64 plane is 1 MB, and the eight planes a
# strip needs then fit in L2/L3 on common CPUs (measured best of 16/32/48/64).
STRIP_ROWS = 32


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="imgdiff-ssim")


def _window_filter(params: SSIMParams):
    """The moment filter: a box for the uniform window, else a separable kernel."""
    size = len(params.weights)
    if not params.gaussian:
        return lambda image: cv2.blur(image, (size, size), borderType=cv2.BORDER_REFLECT)
    kernel = params.weights.reshape(-1, 1)
    return lambda image: cv2.sepFilter2D(image, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def _ssim_block(x: np.ndarray, y: np.ndarray, params: SSIMParams, filt) -> np.ndarray:
    """The SSIM map of a block, same size as the block (its border rows are junk)."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    ux, uy = filt(x), filt(y)
    u_sq = filt(x * x + y * y)
    uxy = filt(x * y)
    ux_uy = ux * uy
    ux2_uy2 = ux * ux + uy * uy
    c = params.cov_norm
    twice_vxy_c2 = cv2.addWeighted(uxy, 2 * c, ux_uy, -2 * c, params.C2)  # 2 vxy + C2
    vx_vy_c2 = cv2.addWeighted(u_sq, c, ux2_uy2, -c, params.C2)  # vx + vy + C2
    numerator = (2 * ux_uy + params.C1) * twice_vxy_c2
    denominator = (ux2_uy2 + params.C1) * vx_vy_c2
    return numerator / denominator


def ssim_map_2d(x: np.ndarray, y: np.ndarray, params: SSIMParams) -> np.ndarray:
    """The float64 SSIM map of two 2-D images of any real dtype.

    Needs ``params.radius < min(x.shape)`` (one reflection covers the halo).
    """
    radius = params.radius
    height, width = x.shape
    filt = _window_filter(params)
    # Reflect only the rows: columns are whole in every strip, so OpenCV's own
    # BORDER_REFLECT is right there; the junk rows at each strip's cut are dropped.
    padded_x = cv2.copyMakeBorder(np.ascontiguousarray(x), radius, radius, 0, 0, cv2.BORDER_REFLECT)
    padded_y = cv2.copyMakeBorder(np.ascontiguousarray(y), radius, radius, 0, 0, cv2.BORDER_REFLECT)
    out = np.empty((height, width), dtype=np.float64)

    def one_strip(top: int) -> None:
        bottom = min(top + STRIP_ROWS, height)
        block = _ssim_block(
            padded_x[top : bottom + 2 * radius], padded_y[top : bottom + 2 * radius], params, filt
        )
        out[top:bottom] = block[radius : radius + bottom - top]

    for _ in _pool().map(one_strip, range(0, height, STRIP_ROWS)):
        pass
    return out


def _cropped_mean(S: np.ndarray, crop: int) -> float:
    inner = S[crop : S.shape[0] - crop, crop : S.shape[1] - crop] if crop else S
    return float(inner.mean(dtype=np.float64))


def ssim_cpu(
    im1: np.ndarray,
    im2: np.ndarray,
    params: SSIMParams,
    *,
    channel_axis: int | None,
    want_map: bool,
) -> tuple[float, np.ndarray | None]:
    """Mean SSIM (and the map when asked) of 2-D images, grey or per channel."""
    if channel_axis is None:
        S = ssim_map_2d(im1, im2, params)
        mssim = _cropped_mean(S, params.crop)
    else:
        S = np.empty(im1.shape, dtype=np.float64) if want_map else None
        scores = []
        for ch in range(im1.shape[channel_axis]):
            S_ch = ssim_map_2d(np.take(im1, ch, channel_axis), np.take(im2, ch, channel_axis), params)
            scores.append(_cropped_mean(S_ch, params.crop))
            if want_map:
                index = [slice(None)] * im1.ndim
                index[channel_axis] = ch
                S[tuple(index)] = S_ch
        # scikit-image averages the per-channel scores in the image's float type.
        mssim = float(np.asarray(scores, dtype=params.out_dtype).mean())
    if not want_map:
        return mssim, None
    return mssim, S.astype(params.out_dtype, copy=False)
