"""Difference strength on the CPU: one fused pass, compiled with Numba.

From the two plane stacks and the SSIM map to the per-pixel strength that
:func:`imgdiff_gpu.detection.difference_mask` thresholds, without a single
full-size temporary: strips of rows with a halo, like ``cpu/ssim.py``. Per
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

from ._jit import njit, prange
from .ssim import _filter_across, _filter_along, _reflect

STRIP_ROWS = 16
NEAR = 3  # pixels: how far evidence may stand from a changed pixel


@njit(inline="always", cache=True)
def _load_differences(left_row, right_row, suppress_row, halo, row, changed):
    """One row of the filtered quantities' inputs and of "differs at all", borders reflected.

    Index ``halo + c`` holds column ``c``. One plane per loop, so each vectorizes.
    """
    width, planes = left_row.shape
    for c in range(width):
        d_y = left_row[c, 0] - right_row[c, 0]
        row[0, halo + c] = d_y
        row[1, halo + c] = abs(d_y)
        changed[halo + c] = d_y != 0
    for p in range(1, planes):
        for c in range(width):
            d = left_row[c, p] - right_row[c, p]
            row[p + 1, halo + c] = d
            changed[halo + c] |= d != 0
    if suppress_row is not None:
        for c in range(width):
            changed[halo + c] &= not suppress_row[c]
    for k in range(halo):  # scipy's 'reflect': column -1 - k is column k, width + k is width - 1 - k
        row[:, halo - 1 - k] = row[:, halo + k]
        changed[halo - 1 - k] = changed[halo + k]
        row[:, halo + width + k] = row[:, halo + width - 1 - k]
        changed[halo + width + k] = changed[halo + width - 1 - k]


@njit(parallel=True, nogil=True, fastmath={"contract"}, error_model="numpy", cache=True)
def _strength_kernel(
    left, right, ssim_map, w, inv_luma, inv_chroma, inv_texture, inv_ssim, suppress, luma_scale, coarse, out
):
    height, width, planes = left.shape
    taps = w.shape[0]
    radius = taps // 2
    halo = max(radius, NEAR)
    colour = planes >= 3
    alpha = planes == 2 or planes == 4
    # filtered quantities: dY, |dY|, then dCr, dCb if colour, then dA if alpha
    quantities = 2 + (2 if colour else 0) + (1 if alpha else 0)
    use_suppress = suppress.shape[0] == height
    use_luma_scale = luma_scale.shape[0] == height
    use_coarse = coarse.shape[0] == height
    for strip in prange((height + STRIP_ROWS - 1) // STRIP_ROWS):
        top = strip * STRIP_ROWS
        bottom = min(top + STRIP_ROWS, height)
        rows = bottom - top + 2 * halo
        filtered = np.empty((quantities, rows, width), dtype=np.float32)
        near_row = np.empty((rows, width), dtype=np.uint8)
        row = np.empty((quantities, width + 2 * halo), dtype=np.float32)
        changed = np.empty(width + 2 * halo, dtype=np.uint8)
        means = np.empty((quantities, width))
        near = np.empty(width, dtype=np.uint8)
        for i in range(rows):
            source = _reflect(top - halo + i, height)
            suppressed = suppress[source] if use_suppress else None
            _load_differences(left[source], right[source], suppressed, halo, row, changed)
            offset = halo - radius  # the filter reads from the halo the window needs
            for q in range(quantities):
                if taps == 11:
                    _filter_along(11, w, row[q, offset:], filtered[q, i], width)
                else:
                    _filter_along(taps, w, row[q, offset:], filtered[q, i], width)
            for j in range(width):
                hit = np.uint8(0)
                for k in range(halo - NEAR, halo + NEAR + 1):
                    hit |= changed[j + k]
                near_row[i, j] = hit
        for i in range(bottom - top):
            first = i + halo - radius
            for q in range(quantities):  # a row at a time, so it vectorizes
                if taps == 11:
                    _filter_across(11, w, filtered[q], first, means[q], width)
                else:
                    _filter_across(taps, w, filtered[q], first, means[q], width)
            for j in range(width):
                hit = np.uint8(0)
                for k in range(halo - NEAR, halo + NEAR + 1):
                    hit |= near_row[i + k, j]
                near[j] = hit
            out_row = out[top + i]
            ssim_row = ssim_map[top + i]
            if use_luma_scale:  # a luma threshold of its own at each pixel
                scale_row = luma_scale[top + i]
                for j in range(width):
                    means[0, j] = means[0, j] / scale_row[j]
            if use_coarse:
                coarse_row = coarse[top + i]
            for j in range(width):  # no branches but selects: it vectorizes
                strength = abs(means[0, j]) * inv_luma
                if use_coarse:
                    strength = max(strength, coarse_row[j])
                if colour:
                    strength = max(strength, np.sqrt(means[2, j] ** 2 + means[3, j] ** 2) * inv_chroma)
                if alpha:
                    strength = max(strength, abs(means[quantities - 1, j]) * inv_luma)
                structural = min((1.0 - ssim_row[j]) * inv_ssim, means[1, j] * inv_texture)
                out_row[j] = max(strength, structural) if near[j] else 0.0


THRESHOLD_FLOOR = 1e-12  # a zero threshold ('exact') divides by this instead


def inverse_threshold(threshold: float) -> float:
    """1 / threshold, the form the CPU and GPU passes take their thresholds in."""
    return 1.0 / max(threshold, THRESHOLD_FLOOR)


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
    luma_scale: np.ndarray | None = None,
    coarse: np.ndarray | None = None,
) -> np.ndarray:
    """Strength (float32, H x W) of two H x W x P float32 plane stacks.

    With ``luma_scale`` (H x W float32) the luma threshold at a pixel is
    ``luma * luma_scale``; ``coarse`` (H x W float32) is further evidence,
    already divided by its threshold, taken into the maximum.
    """
    empty = np.zeros((0, 0), dtype=np.float32)
    out = np.empty(left.shape[:2], dtype=np.float32)
    _strength_kernel(
        np.ascontiguousarray(left, dtype=np.float32),
        np.ascontiguousarray(right, dtype=np.float32),
        np.ascontiguousarray(ssim_map),
        np.ascontiguousarray(weights, dtype=np.float64),
        inverse_threshold(luma),
        inverse_threshold(chroma),
        inverse_threshold(texture),
        inverse_threshold(1.0 - ssim_threshold),
        suppress if suppress is not None else np.zeros((0, 0), dtype=np.bool_),
        empty if luma_scale is None else np.ascontiguousarray(luma_scale, dtype=np.float32),
        empty if coarse is None else np.ascontiguousarray(coarse, dtype=np.float32),
        out,
    )
    return out
