"""Difference strength on the CPU: one fused pass, compiled with Numba.

From the two plane stacks and the SSIM map to the per-pixel strength that
:func:`imgdiff_gpu.detection.difference_mask` thresholds, without a single
full-size temporary: strips of rows with a halo, like ``_ssim_cpu.py``. Per
pixel it computes, with ``w *`` the SSIM window (borders reflected):

* luma shift ``|w * dY|`` and opacity shift ``|w * dA|``, over the luma threshold;
* chroma shift ``|(w * dCr, w * dCb)|``, over the chroma threshold;
* structure ``min((1 - S) / (1 - t_ssim), (w * |dY|) / t_texture)``;

the strength is the largest, and 0 unless a pixel that differs at all (and is
not excused by ``suppress``) lies within 3 px (Chebyshev), because smoothing
spreads evidence beyond the change.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._ssim_cpu import _reflect

STRIP_ROWS = 16
NEAR = 3  # pixels: how far evidence may stand from a changed pixel


@njit(inline="always", cache=True)
def _horizontal(taps, w, rows_in, rows_out, i, width, planes):
    for q in range(planes):
        for j in range(width):
            acc = 0.0
            for k in range(taps):
                acc += w[k] * rows_in[q, j + k]
            rows_out[q, i, j] = acc


@njit(inline="always", cache=True)
def _vertical(taps, w, rows_out, i, j, q):
    acc = 0.0
    for k in range(taps):
        acc += w[k] * rows_out[q, i + k, j]
    return acc


@njit(inline="always", cache=True)
def _pixel_strength(taps, w, filtered, r, j, colour, alpha, quantities, inv_luma, inv_chroma):
    """Luma, chroma and opacity shift at one pixel, each over its threshold."""
    strength = abs(_vertical(taps, w, filtered, r, j, 0)) * inv_luma
    if colour:
        s_cr = _vertical(taps, w, filtered, r, j, 2)
        s_cb = _vertical(taps, w, filtered, r, j, 3)
        strength = max(strength, np.sqrt(s_cr * s_cr + s_cb * s_cb) * inv_chroma)
    if alpha:
        strength = max(strength, abs(_vertical(taps, w, filtered, r, j, quantities - 1)) * inv_luma)
    return strength


@njit(parallel=True, nogil=True, fastmath={"contract"}, cache=True)
def _strength_kernel(left, right, ssim_map, w, inv_luma, inv_chroma, inv_texture, inv_ssim, suppress, out):
    height, width, planes = left.shape
    taps = w.shape[0]
    radius = taps // 2
    halo = max(radius, NEAR)
    colour = planes >= 3
    alpha = planes == 2 or planes == 4
    # filtered quantities: dY, |dY|, then dCr, dCb if colour, then dA if alpha
    quantities = 2 + (2 if colour else 0) + (1 if alpha else 0)
    use_suppress = suppress.shape[0] == height
    for strip in prange((height + STRIP_ROWS - 1) // STRIP_ROWS):
        top = strip * STRIP_ROWS
        bottom = min(top + STRIP_ROWS, height)
        rows = bottom - top + 2 * halo
        filtered = np.empty((quantities, rows, width), dtype=np.float32)
        near_row = np.empty((rows, width), dtype=np.uint8)
        row = np.empty((quantities, width + 2 * halo), dtype=np.float32)
        changed = np.empty(width + 2 * halo, dtype=np.uint8)
        for i in range(rows):
            source = _reflect(top - halo + i, height)
            for j in range(width + 2 * halo):
                column = _reflect(j - halo, width)
                d_y = left[source, column, 0] - right[source, column, 0]
                any_change = d_y != 0
                row[0, j] = d_y
                row[1, j] = abs(d_y)
                q = 2
                for p in range(1, planes):
                    d = left[source, column, p] - right[source, column, p]
                    any_change = any_change or d != 0
                    row[q, j] = d
                    q += 1
                if use_suppress and suppress[source, column]:
                    any_change = False
                changed[j] = 1 if any_change else 0
            offset = halo - radius  # the filter reads from the halo the window needs
            if taps == 11:
                _horizontal(11, w, row[:, offset:], filtered, i, width, quantities)
            else:
                _horizontal(taps, w, row[:, offset:], filtered, i, width, quantities)
            for j in range(width):
                hit = 0
                for k in range(halo - NEAR, halo + NEAR + 1):
                    hit |= changed[j + k]
                near_row[i, j] = hit
        for i in range(bottom - top):
            for j in range(width):
                hit = 0
                for k in range(halo - NEAR, halo + NEAR + 1):
                    hit |= near_row[i + k, j]
                if hit == 0:
                    out[top + i, j] = 0.0
                    continue
                r = i + halo - radius
                if taps == 11:
                    strength = _pixel_strength(11, w, filtered, r, j, colour, alpha, quantities, inv_luma, inv_chroma)
                    s_abs = _vertical(11, w, filtered, r, j, 1)
                else:
                    strength = _pixel_strength(taps, w, filtered, r, j, colour, alpha, quantities, inv_luma, inv_chroma)
                    s_abs = _vertical(taps, w, filtered, r, j, 1)
                structural = min((1.0 - ssim_map[top + i, j]) * inv_ssim, s_abs * inv_texture)
                out[top + i, j] = max(strength, structural)


def _inverse(threshold: float) -> float:
    return 1.0 / max(threshold, 1e-12)


def strength_map(
    left: np.ndarray,
    right: np.ndarray,
    ssim_map: np.ndarray,
    weights: np.ndarray,
    *,
    luma: float,
    chroma: float,
    texture: float,
    ssim_threshold: float,
    suppress: np.ndarray | None = None,
) -> np.ndarray:
    """Strength (float32, H x W) of two H x W x P float32 plane stacks."""
    out = np.empty(left.shape[:2], dtype=np.float32)
    _strength_kernel(
        np.ascontiguousarray(left, dtype=np.float32),
        np.ascontiguousarray(right, dtype=np.float32),
        np.ascontiguousarray(ssim_map),
        np.ascontiguousarray(weights, dtype=np.float64),
        _inverse(luma),
        _inverse(chroma),
        _inverse(texture),
        _inverse(1.0 - ssim_threshold),
        suppress if suppress is not None else np.zeros((0, 0), dtype=np.bool_),
        out,
    )
    return out
