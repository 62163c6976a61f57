"""SSIM on the CPU: one fused float64 pass per image, compiled with Numba.

Mirrors ``kernels/ssim.cu`` step for step: strips of rows (the CUDA tile) with a
halo of the window radius, reflected borders like scipy.ndimage's ``reflect``,
a horizontal then a vertical pass over four moments (x, y, x² + y², xy: the
formula needs only vx + vy), the formula, all in float64 and in cache. Strips
run in parallel on every core.

scikit-image instead filters five full-size images with scipy.ndimage on one
core; the arithmetic here is the same up to summation order (~1e-14).

The tap loops are unrolled for the two windows people use (11 taps: Gaussian
sigma 1.5; 7 taps: the uniform default) by calling an inlined helper with a
literal count; other windows take the same code with a run-time count.
Compiled code is cached on disk, so only the first run on a machine pays the
few seconds of compilation.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .ssim import SSIMParams

# Rows per strip: 16 rows (+ halo) of four float64 moment planes stay in L2.
STRIP_ROWS = 16


@njit(inline="always", cache=True)
def _reflect(i, n):
    """scipy.ndimage's 'reflect' (d c b a | a b c d), for one reflection."""
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - i - 1
    return i


@njit(inline="always", cache=True)
def _horizontal(taps, w, px, py, psq, pxy, hx, hy, hsq, hxy, i, width):
    for j in range(width):
        sx = 0.0
        sy = 0.0
        ssq = 0.0
        sxy = 0.0
        for k in range(taps):
            sx += w[k] * px[j + k]
            sy += w[k] * py[j + k]
            ssq += w[k] * psq[j + k]
            sxy += w[k] * pxy[j + k]
        hx[i, j] = sx
        hy[i, j] = sy
        hsq[i, j] = ssq
        hxy[i, j] = sxy


@njit(inline="always", cache=True)
def _vertical(taps, w, hx, hy, hsq, hxy, i, width, C1, C2, cov_norm, out, out_row, shift):
    """Row ``out_row`` of the map; ``shift`` gets w * (x - y) = ux - uy, which video screening bounds."""
    for j in range(width):
        ux = 0.0
        uy = 0.0
        usq = 0.0
        uxy = 0.0
        for k in range(taps):
            ux += w[k] * hx[i + k, j]
            uy += w[k] * hy[i + k, j]
            usq += w[k] * hsq[i + k, j]
            uxy += w[k] * hxy[i + k, j]
        shift[j] = ux - uy
        ux_uy = ux * uy
        ux2_uy2 = ux * ux + uy * uy
        twice_vxy_c2 = 2.0 * cov_norm * (uxy - ux_uy) + C2
        vx_vy_c2 = cov_norm * (usq - ux2_uy2) + C2
        out[out_row, j] = ((2.0 * ux_uy + C1) * twice_vxy_c2) / ((ux2_uy2 + C1) * vx_vy_c2)


@njit(parallel=True, nogil=True, fastmath={"contract"}, cache=True)
def _ssim_map_kernel(x, y, w, C1, C2, cov_norm, out):
    height, width = x.shape
    taps = w.shape[0]
    radius = taps // 2
    for strip in prange((height + STRIP_ROWS - 1) // STRIP_ROWS):
        top = strip * STRIP_ROWS
        bottom = min(top + STRIP_ROWS, height)
        rows = bottom - top + 2 * radius
        hx = np.empty((rows, width))
        hy = np.empty((rows, width))
        hsq = np.empty((rows, width))
        hxy = np.empty((rows, width))
        px = np.empty(width + 2 * radius)
        py = np.empty(width + 2 * radius)
        psq = np.empty(width + 2 * radius)
        pxy = np.empty(width + 2 * radius)
        shift = np.empty(width)
        for i in range(rows):
            source = _reflect(top - radius + i, height)
            for j in range(width + 2 * radius):
                column = _reflect(j - radius, width)
                a = np.float64(x[source, column])
                b = np.float64(y[source, column])
                px[j] = a
                py[j] = b
                psq[j] = a * a + b * b
                pxy[j] = a * b
            if taps == 11:
                _horizontal(11, w, px, py, psq, pxy, hx, hy, hsq, hxy, i, width)
            elif taps == 7:
                _horizontal(7, w, px, py, psq, pxy, hx, hy, hsq, hxy, i, width)
            else:
                _horizontal(taps, w, px, py, psq, pxy, hx, hy, hsq, hxy, i, width)
        for i in range(bottom - top):
            if taps == 11:
                _vertical(11, w, hx, hy, hsq, hxy, i, width, C1, C2, cov_norm, out, top + i, shift)
            elif taps == 7:
                _vertical(7, w, hx, hy, hsq, hxy, i, width, C1, C2, cov_norm, out, top + i, shift)
            else:
                _vertical(taps, w, hx, hy, hsq, hxy, i, width, C1, C2, cov_norm, out, top + i, shift)


def ssim_map_2d(x: np.ndarray, y: np.ndarray, params: SSIMParams) -> np.ndarray:
    """The float64 SSIM map of two 2-D images of any real dtype.

    Needs ``params.radius < min(x.shape)`` (one reflection covers the halo).
    """
    if x.dtype != y.dtype:
        x, y = x.astype(np.float64), y.astype(np.float64)
    out = np.empty(x.shape, dtype=np.float64)
    _ssim_map_kernel(
        np.ascontiguousarray(x),
        np.ascontiguousarray(y),
        np.ascontiguousarray(params.weights, dtype=np.float64),
        np.float64(params.C1),
        np.float64(params.C2),
        np.float64(params.cov_norm),
        out,
    )
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
