"""The noise-following rules of ``low`` on the device: twins of functions of ``detection.py``.

* :func:`luma_threshold_scale_gpu` is :func:`imgdiff_gpu.detection.luma_threshold_scale`:
  the per-pixel factor on the luma-shift threshold, from each image's local luma
  variance over the SSIM window (``cupyx.scipy.ndimage.correlate1d`` in place of
  OpenCV's ``sepFilter2D``; scipy's 'reflect' is OpenCV's ``BORDER_REFLECT``) and
  the window's noise factor, two 1-D vectors computed on the host.
* :func:`line_shift_gpu` is :func:`imgdiff_gpu.detection.line_shift`: the same
  windows (``correlate1d`` in the order ``sepFilter2D`` filters), medians and factors;
  :func:`noise_rules_gpu` folds it into the coarse term (with :mod:`imgdiff_gpu.gpu.chroma`'s), as
  ``difference_mask`` does.
* :func:`measured_window_factors_gpu` is :func:`imgdiff_gpu.border_noise.measured_window_factors`:
  the window's noise factors per row and column, raised where the window folds to the
  pair's own noise there (the same float32 medians, per pair).
* :func:`unbiased_gpu` is :func:`imgdiff_gpu.detection.unbiased` with
  :func:`imgdiff_gpu.detection.luma_bias`: the right planes with the pair's own luma
  offset added, the median of the same ``INTER_AREA`` reduction.

They take ``[N x] H x W x P`` float32 plane stacks (a batch's pairs never mix) and
return ``[N x] H x W`` float32 arrays, which ``kernels/strength.cu`` reads per pixel.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..border_noise import border_indices
from ..detection import (
    COARSE_FACTOR,
    HYSTERESIS_LOW,
    LINE_SAMPLE,
    Thresholds,
    _line_taps,
    line_factors,
    window_noise_factors,
)
from .chroma import coarse_chroma_shift_gpu


def luma_threshold_scale_gpu(left_planes, right_planes, weights: np.ndarray, thresholds: Thresholds):
    """The factor (>= 1) on the luma-shift threshold at each pixel, or None where the preset has none."""
    scale = _contrast_masking_gpu(left_planes, right_planes, weights, thresholds)
    if scale is None:
        return None
    scale *= _outer(*window_noise_factors(left_planes.shape[-3:-1], weights))
    return scale


def _outer(rows: np.ndarray, columns: np.ndarray):
    """The outer product of two float32 vectors in float32, as numpy.outer on the CPU."""
    import cupy

    return cupy.asarray(rows)[:, None] * cupy.asarray(columns)[None, :]


def _contrast_masking_gpu(left_planes, right_planes, weights: np.ndarray, thresholds: Thresholds):
    """``detection.contrast_masking``: ``1 + masking * contrast / luma_shift``, or None."""
    if thresholds.masking <= 0:
        return None
    contrast = _shared_contrast_gpu(left_planes[..., 0], right_planes[..., 0], weights)
    scale = contrast * np.float32(thresholds.masking / thresholds.luma_shift)
    scale += np.float32(1.0)
    return scale


def _luma_shift_gpu(left_planes, right_planes, weights: np.ndarray):
    """``detection.luma_shift_map``: ``w * (Y1 - Y2)``, float32, rows first as ``sepFilter2D``."""
    import cupy
    from cupyx.scipy import ndimage

    w = weights.astype(np.float32)
    delta = cupy.ascontiguousarray(left_planes[..., 0] - right_planes[..., 0])
    along = ndimage.correlate1d(delta, w, axis=-1, mode="reflect", output=np.float32)  # as sepFilter2D
    return ndimage.correlate1d(along, w, axis=-2, mode="reflect", output=np.float32)


def measured_window_factors_gpu(shift, weights: np.ndarray):
    """``border_noise.measured_window_factors`` of a CuPy ``[N x] H x W`` luma shift: (rows ``[N x] H``,
    columns ``[N x] W``), float32, each pair its own."""
    import cupy

    shape = shift.shape[-2:]
    rows, columns = window_noise_factors(shape, weights)
    batch = shift.shape[:-2]  # each pair its own factors, from the white-noise ones
    rows = cupy.zeros((*batch, shape[0]), dtype=np.float32) + cupy.asarray(rows)
    columns = cupy.zeros((*batch, shape[1]), dtype=np.float32) + cupy.asarray(columns)
    step = LINE_SAMPLE
    inside = (abs(shift) / _outer(*window_noise_factors(shape, weights)))[..., ::step, ::step]
    noise = cupy.median(inside.reshape((*inside.shape[:-2], -1)), axis=-1)  # [N]
    some = (noise > 0)[..., None]  # where the pair has no noise at all, the white-noise factors
    noise = cupy.where(some, noise[..., None], np.float32(1.0))
    radius = len(weights) // 2
    for factors, axis, length in ((rows, -2, shape[0]), (columns, -1, shape[1])):
        index = border_indices(length, radius)
        border = abs(cupy.take(shift, cupy.asarray(index), axis=axis))
        measured = cupy.median(border, axis=-1 if axis == -2 else -2) / noise
        theory = factors[..., index]
        factors[..., index] = cupy.where(some, cupy.maximum(theory, measured), theory)
    return rows, columns


def _outer_per_pair(rows, columns):
    """Each pair's outer product of its factors (``[N x] H`` and ``[N x] W``), float32."""
    return rows[..., :, None] * columns[..., None, :]


def line_shift_gpu(left_planes, right_planes, weights: np.ndarray, thresholds: Thresholds, masking=None, shift=None):
    """``detection.line_shift`` of CuPy plane stacks (the right one unbiased), each pair its own ratio;
    ``shift``: their :func:`_luma_shift_gpu`, where already computed."""
    import cupy
    from cupyx.scipy import ndimage

    if not thresholds.line:
        return None
    extra, _, white = _line_taps(tuple(float(v) for v in weights))
    if shift is None:
        shift = _luma_shift_gpu(left_planes, right_planes, weights)
    along_rows = abs(ndimage.correlate1d(shift, extra, axis=-1, mode="reflect", output=np.float32))
    along_columns = abs(ndimage.correlate1d(shift, extra, axis=-2, mode="reflect", output=np.float32))
    shape = left_planes.shape[-3:-1]
    rows, columns = window_noise_factors(shape, weights)
    line_rows, line_columns = line_factors(shape, weights)
    along_rows /= _outer(rows, line_columns)
    along_columns /= _outer(line_rows, columns)
    line = cupy.maximum(along_rows, along_columns)
    shift = abs(shift) / _outer(rows, columns)
    sample = (Ellipsis, slice(None, None, LINE_SAMPLE), slice(None, None, LINE_SAMPLE))

    def median(a):  # per pair
        a = a[sample]
        return cupy.median(a.reshape((*a.shape[:-2], -1)), axis=-1)

    noise, kept = median(shift), median(line)
    ratio = cupy.where(noise > 0, cupy.clip(kept / cupy.where(noise > 0, noise, 1), white, 1.0), 1.0)
    line /= (np.float32(thresholds.luma_shift) * ratio.astype(cupy.float32))[..., None, None]
    if masking is not None:
        line /= masking
    return line


def _shared_contrast_gpu(left_luma, right_luma, weights: np.ndarray):
    """The smaller of the two local luma standard deviations (``detection.shared_contrast``)."""
    import cupy
    from cupyx.scipy import ndimage

    w = weights.astype(np.float32)  # the CPU filters with the float32 window

    def smoothed(plane):  # rows first, then columns, each rounded to float32, as sepFilter2D
        along = ndimage.correlate1d(plane, w, axis=-1, mode="reflect", output=np.float32)
        return ndimage.correlate1d(along, w, axis=-2, mode="reflect", output=np.float32)

    def local_variance(plane):
        plane = cupy.ascontiguousarray(plane, dtype=cupy.float32)
        mean = smoothed(plane)
        return smoothed(plane * plane) - mean * mean

    variance = cupy.minimum(local_variance(left_luma), local_variance(right_luma))
    variance = cupy.maximum(variance, np.float32(0.0))  # rounding can take a flat patch's below 0
    return cupy.sqrt(variance)


@functools.cache
def _area_table(source: int, target: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, weights), target x taps: OpenCV's INTER_AREA reduction along one axis.

    computeResizeAreaTab's cells (of ``source / target`` pixels, partial ones at
    the ends weighted by their overlap); padding entries have weight 0.
    """
    scale = source / target
    entries: list[list[tuple[int, float]]] = []
    for d in range(target):
        start = d * scale
        end = start + scale
        cell = min(scale, source - start)
        first, last = math.ceil(start), math.floor(end)
        last = min(last, source - 1)
        first = min(first, last)
        row = []
        if first - start > 1e-3:
            row.append((first - 1, float(np.float32((first - start) / cell))))
        row += [(s, float(np.float32(1.0 / cell))) for s in range(first, last)]
        if end - last > 1e-3:
            row.append((last, float(np.float32(min(min(end - last, 1.0), cell) / cell))))
        entries.append(row)
    taps = max(len(row) for row in entries)
    indices = np.zeros((target, taps), dtype=np.int64)
    weights = np.zeros((target, taps), dtype=np.float64)
    for d, row in enumerate(entries):
        for k, (s, weight) in enumerate(row):
            indices[d, k], weights[d, k] = s, weight
    return indices, weights


def _gather_sum(array, axis: int, indices: np.ndarray, weights: np.ndarray):
    """``sum_k weights[:, k] * array[indices[:, k]]`` along ``axis`` (negative), in float64."""
    import cupy

    shape = (-1,) + (1,) * (-axis - 1)
    total = None
    for k in range(indices.shape[1]):
        taken = cupy.take(array, cupy.asarray(indices[:, k]), axis=axis).astype(cupy.float64)
        term = taken * cupy.asarray(weights[:, k]).reshape(shape)
        total = term if total is None else total + term
    return total


def unbiased_gpu(left_planes, right_planes, thresholds: Thresholds):
    """``detection.unbiased(right, detection.luma_bias(...))`` of CuPy plane stacks, each pair its own bias.

    The median of the luma difference's ``INTER_AREA`` 4 x 4 block means (as the
    coarse term reduces), clipped to ``HYSTERESIS_LOW`` times the luma threshold.
    """
    import cupy

    if not thresholds.luma_bias:
        return right_planes
    height, width = left_planes.shape[-3:-1]
    delta = left_planes[..., 0] - right_planes[..., 0]  # [N x] H x W, float32
    small = _gather_sum(delta, -2, *_area_table(height, max(height // COARSE_FACTOR, 1)))
    small = _gather_sum(small, -1, *_area_table(width, max(width // COARSE_FACTOR, 1))).astype(cupy.float32)
    largest = np.float32(HYSTERESIS_LOW * thresholds.luma_shift)
    bias = cupy.clip(cupy.median(small.reshape((*small.shape[:-2], -1)), axis=-1), -largest, largest)
    shifted = right_planes.copy()
    shifted[..., 0] += bias.astype(cupy.float32)[..., None, None]
    return shifted


def noise_rules_gpu(left_planes, right_planes, weights, thresholds: Thresholds):
    """(luma_scale, coarse) of two CuPy plane stacks, as ``detection.difference_mask`` computes them.

    ``coarse`` is the larger of the coarse chroma shift and the line evidence, as there.
    """
    import cupy

    masking = _contrast_masking_gpu(left_planes, right_planes, weights, thresholds)
    right = unbiased_gpu(left_planes, right_planes, thresholds)
    shift = None
    if thresholds.line or thresholds.border_noise:
        shift = _luma_shift_gpu(left_planes, right, weights)
    luma_scale = None
    if masking is not None and thresholds.border_noise:
        luma_scale = masking * _outer_per_pair(*measured_window_factors_gpu(shift, weights))
    elif masking is not None:
        luma_scale = masking * _outer(*window_noise_factors(left_planes.shape[-3:-1], weights))
    coarse = None
    if thresholds.coarse_chroma is not None and left_planes.shape[-1] >= 3:
        coarse = coarse_chroma_shift_gpu(left_planes, right_planes) / np.float32(thresholds.coarse_chroma)
    line = line_shift_gpu(left_planes, right, weights, thresholds, masking, shift=shift)
    if line is not None:
        coarse = line if coarse is None else cupy.maximum(coarse, line)
    return luma_scale, coarse
