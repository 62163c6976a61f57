"""Video screening on the CPU: the SSIM map of two RGB frames and the bounds it needs, in one pass.

Reads the uint8 RGB frames directly: luma is derived inside the SSIM pass with
the plane helpers of ``_planes_cpu.py``, so the map is bit for bit the one the
image path computes from its planes, without building the planes. Alongside
the map each strip of rows reports what :mod:`imgdiff_gpu.screening` needs to
prove a pair has no difference:

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
from numba import njit, prange

from ._planes_cpu import numerators
from ._ssim_cpu import STRIP_ROWS, _horizontal, _reflect, _vertical


@njit(inline="always", cache=True)
def _load_row(left_row, right_row, to_luma, px, py, psq, pxy, radius):
    """One row of both frames as the SSIM pass's inputs (luma, luma², products), borders reflected."""
    width = left_row.shape[0]
    for j in range(width):  # no branches, so it vectorizes
        n_x, _, _ = numerators(np.float64(left_row[j, 0]), np.float64(left_row[j, 1]), left_row[j, 2])
        n_y, _, _ = numerators(np.float64(right_row[j, 0]), np.float64(right_row[j, 1]), right_row[j, 2])
        # the float32 luma of the image path's planes, then float64 as its SSIM pass reads it
        a = np.float64(np.float32(n_x * to_luma))
        b = np.float64(np.float32(n_y * to_luma))
        px[j + radius] = a
        py[j + radius] = b
        psq[j + radius] = a * a + b * b
        pxy[j + radius] = a * b
    for k in range(radius):  # scipy's 'reflect': column -1 - k is column k, width + k is width - 1 - k
        inside, outside = radius + k, radius - 1 - k
        px[outside], py[outside], psq[outside], pxy[outside] = px[inside], py[inside], psq[inside], pxy[inside]
        inside, outside = radius + width - 1 - k, radius + width + k
        px[outside], py[outside], psq[outside], pxy[outside] = px[inside], py[inside], psq[inside], pxy[inside]


@njit(parallel=True, nogil=True, fastmath={"contract"}, cache=True)
def _ssim_kernel(left, right, counted, scale, w, C1, C2, cov_norm, out, stats):
    """The SSIM map, and per strip the largest |ux - uy| and the smallest SSIM at counted pixels."""
    height, width, _ = left.shape
    taps = w.shape[0]
    radius = taps // 2
    to_luma = 1.0 / (1000.0 * scale)
    every_pixel_counts = counted.shape[0] != height
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
            _load_row(left[source], right[source], to_luma, px, py, psq, pxy, radius)
            if taps == 11:
                _horizontal(11, w, px, py, psq, pxy, hx, hy, hsq, hxy, i, width)
            else:
                _horizontal(taps, w, px, py, psq, pxy, hx, hy, hsq, hxy, i, width)
        luma_shift = 0.0
        min_ssim = 1.0
        for i in range(bottom - top):
            if taps == 11:
                _vertical(11, w, hx, hy, hsq, hxy, i, width, C1, C2, cov_norm, out, top + i, shift)
            else:
                _vertical(taps, w, hx, hy, hsq, hxy, i, width, C1, C2, cov_norm, out, top + i, shift)
            for j in range(width):
                if every_pixel_counts or counted[top + i, j]:
                    luma_shift = max(luma_shift, abs(shift[j]))
                    min_ssim = min(min_ssim, out[top + i, j])
        stats[strip, 0] = luma_shift
        stats[strip, 1] = min_ssim


@njit(inline="always", cache=True)
def _pixel_steps(left, right, i, j):
    """|1000 * scale * dY|, |10**6 * scale * (dCr, dCb)|² and the largest RGB step of one pixel."""
    d_r = np.int32(left[i, j, 0]) - np.int32(right[i, j, 0])
    d_g = np.int32(left[i, j, 1]) - np.int32(right[i, j, 1])
    d_b = np.int32(left[i, j, 2]) - np.int32(right[i, j, 2])
    d_n = 299 * d_r + 587 * d_g + 114 * d_b  # numerators() in integers: the steps' numerators
    d_cr = np.float32(1000 * d_r - d_n)
    d_cb = np.float32(1000 * d_b - d_n)
    chroma = np.float32(713.0**2) * d_cr * d_cr + np.float32(564.0**2) * d_cb * d_cb
    return abs(d_n), chroma, max(abs(d_r), abs(d_g), abs(d_b))


@njit(parallel=True, nogil=True, fastmath=True, cache=True)
def _steps_kernel(left, right, reach, steps):
    """Per row: the largest luma, chroma and RGB step within reach (see :func:`_pixel_steps`).

    Integer steps and float32 squares, eight pixels to a vector, no branches in
    the loops: a bound only needs its relative error (~1e-7) well inside the
    screening margin.
    """
    height, width, _ = left.shape
    every_pixel = reach.shape[0] != height
    for i in prange(height):
        luma = np.int32(0)
        chroma = np.float32(0.0)
        channel = np.int32(0)
        if every_pixel:
            for j in range(width):
                d_y, d_c, d_rgb = _pixel_steps(left, right, i, j)
                luma = max(luma, d_y)
                chroma = max(chroma, d_c)
                channel = max(channel, d_rgb)
        else:
            for j in range(width):
                d_y, d_c, d_rgb = _pixel_steps(left, right, i, j)
                within = np.int32(reach[i, j])
                luma = max(luma, d_y * within)
                chroma = max(chroma, d_c * within)
                channel = max(channel, d_rgb * within)
        steps[i, 0] = luma
        steps[i, 1] = chroma
        steps[i, 2] = channel


def screen_frames(
    left: np.ndarray,
    right: np.ndarray,
    weights: np.ndarray,
    C1: float,
    C2: float,
    cov_norm: float,
    *,
    counted: np.ndarray | None,
    reach: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The float64 SSIM map of two H x W x 3 uint8 RGB frames and the five statistics (see above)."""
    height = left.shape[0]
    out = np.empty(left.shape[:2], dtype=np.float64)
    stats = np.empty(((height + STRIP_ROWS - 1) // STRIP_ROWS, 2), dtype=np.float64)
    steps = np.empty((height, 3), dtype=np.float64)
    none = np.zeros((0, 0), dtype=np.bool_)
    left, right = np.ascontiguousarray(left), np.ascontiguousarray(right)
    scale = 255.0
    _steps_kernel(left, right, none if reach is None else np.ascontiguousarray(reach), steps)
    _ssim_kernel(
        left,
        right,
        none if counted is None else np.ascontiguousarray(counted),
        scale,
        np.ascontiguousarray(weights, dtype=np.float64),
        np.float64(C1),
        np.float64(C2),
        np.float64(cov_norm),
        out,
        stats,
    )
    luma_step, chroma_step, channel_step = steps.max(axis=0)
    combined = np.array(
        [
            stats[:, 0].max(),
            stats[:, 1].min(),
            luma_step / (1000.0 * scale),
            np.sqrt(chroma_step) / (1e6 * scale),
            channel_step,
        ]
    )
    return out, combined
