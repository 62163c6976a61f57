"""The noise-following rules of ``low`` on the device: twins of two functions of ``detection.py``.

* :func:`luma_threshold_scale_gpu` is :func:`imgdiff_gpu.detection.luma_threshold_scale`:
  the per-pixel factor on the luma-shift threshold, from each image's local luma
  variance over the SSIM window (``cupyx.scipy.ndimage.correlate1d`` in place of
  OpenCV's ``sepFilter2D``; scipy's 'reflect' is OpenCV's ``BORDER_REFLECT``) and
  the window's noise factor, two 1-D vectors computed on the host.
* :func:`coarse_chroma_shift_gpu` is :func:`imgdiff_gpu.detection.coarse_chroma_shift`
  as ``cpu/c/chroma.c`` defines it, step for step in its order: the 4 x 4 block
  means (the last block row and column taking the rows and columns left over), the
  13-tap Gaussian reflected at the grid's edges, the magnitude and the bilinear
  enlargement at exactly 4 pixels a block, each of the C core's ``fma`` done in
  float64 and rounded once to float32: the same bits (``tests/test_gpu_chroma.py``).

* :func:`line_shift_gpu` is :func:`imgdiff_gpu.detection.line_shift`: the same
  windows (``correlate1d`` in the order ``sepFilter2D`` filters), medians and factors;
  :func:`noise_rules_gpu` folds it into the coarse term, as ``difference_mask`` does.
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

from ..detection import (
    COARSE_FACTOR,
    HYSTERESIS_LOW,
    LINE_SAMPLE,
    Thresholds,
    _line_taps,
    coarse_gaussian_taps,
    line_factors,
    window_noise_factors,
)


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


def line_shift_gpu(left_planes, right_planes, weights: np.ndarray, thresholds: Thresholds, masking=None):
    """``detection.line_shift`` of CuPy plane stacks (the right one unbiased), each pair its own ratio."""
    import cupy
    from cupyx.scipy import ndimage

    if not thresholds.line:
        return None
    extra, _, white = _line_taps(tuple(float(v) for v in weights))
    w = weights.astype(np.float32)
    delta = cupy.ascontiguousarray(left_planes[..., 0] - right_planes[..., 0])
    along = ndimage.correlate1d(delta, w, axis=-1, mode="reflect", output=np.float32)  # as sepFilter2D
    shift = ndimage.correlate1d(along, w, axis=-2, mode="reflect", output=np.float32)
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


def coarse_chroma_shift_gpu(left_planes, right_planes):
    """``|(w6 * dCr, w6 * dCb)|`` at full resolution, averaged at the coarse scale (float32)."""
    import cupy

    height, width = left_planes.shape[-3:-1]
    delta = left_planes[..., 1:3] - right_planes[..., 1:3]  # [N x] H x W x 2, float32
    small = _block_means(delta, -2, width)  # each pixel row of a block first, as chroma.c
    small = _block_means(small, -3, height)
    small = _gaussian_along(small, -2)  # along the rows first, as chroma.c
    small = _gaussian_across(small, -3)
    cr, cb = small[..., 0], small[..., 1]
    magnitude = cupy.sqrt(_fused(cr, cr, cb * cb))
    wide = _linear(magnitude, -1, *_linear_table(magnitude.shape[-1], width))
    return _linear(wide, -2, *_linear_table(magnitude.shape[-2], height))


def _reflected(size: int, offset: int) -> np.ndarray:
    """Indices ``i + offset`` for i < size, reflected into [0, size) as OpenCV's BORDER_REFLECT (any depth)."""
    index = np.arange(size) + offset
    index = np.mod(index, 2 * size)
    return np.where(index < size, index, 2 * size - 1 - index)


def _gaussian_along(array, axis: int):
    """chroma.c's Gaussian along ``axis``: ``x[-6] * k[0]``, then ``fma(x[t - 6], k[t], acc)`` in order."""
    import cupy

    taps, size = coarse_gaussian_taps(), array.shape[axis]
    reach = len(taps) // 2
    acc = cupy.take(array, cupy.asarray(_reflected(size, -reach)), axis=axis) * taps[0]
    for t in range(1, len(taps)):
        acc = _fused(cupy.take(array, cupy.asarray(_reflected(size, t - reach)), axis=axis), taps[t], acc)
    return acc


def _gaussian_across(array, axis: int):
    """chroma.c's Gaussian across rows: ``x[0] * k[6]``, then ``fma(x[t] + x[-t], k[6 + t], acc)``."""
    import cupy

    taps, size = coarse_gaussian_taps(), array.shape[axis]
    reach = len(taps) // 2
    acc = array * taps[reach]
    for t in range(1, reach + 1):
        below = cupy.take(array, cupy.asarray(_reflected(size, t)), axis=axis)
        above = cupy.take(array, cupy.asarray(_reflected(size, -t)), axis=axis)
        acc = _fused(below + above, taps[reach + t], acc)
    return acc


def _fused(a, b, c):
    """``fma(a, b, c)`` of float32 values, in float64: ``a * b`` is exact there, and the sum rounded
    twice (to float64, then float32) differs from one rounding only when the first lands exactly
    halfway between two float32 values, which a sum of float32 values all but never does."""
    import cupy

    return (cupy.asarray(a, dtype=cupy.float64) * cupy.asarray(b, dtype=cupy.float64) + c).astype(cupy.float32)


@functools.cache
def _block_table(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, present, float32 1 / count), blocks x 7: the coarse blocks along an axis of ``size``.

    ``max(size // 4, 1)`` blocks of 4 from the start, the last one taking the 1 to 3 left over
    (or all of ``size`` below 4); padding entries repeat the block's first index, not present.
    """
    blocks = max(size // COARSE_FACTOR, 1)
    starts = np.arange(blocks) * COARSE_FACTOR
    stops = np.minimum(starts + COARSE_FACTOR, size)
    stops[-1] = size
    taps = int((stops - starts).max())
    offsets = np.arange(taps)
    present = offsets[None, :] < (stops - starts)[:, None]
    indices = np.where(present, starts[:, None] + offsets[None, :], starts[:, None])
    inverse = (1.0 / (stops - starts)).astype(np.float32)
    return indices, present, inverse


def _block_means(array, axis: int, size: int):
    """The block means along ``axis`` (negative): summed in order in float32, times float32(1 / count)."""
    import cupy

    indices, present, inverse = _block_table(size)
    shape = (-1,) + (1,) * (-axis - 1)
    total = cupy.take(array, cupy.asarray(indices[:, 0]), axis=axis)
    for k in range(1, indices.shape[1]):
        term = cupy.take(array, cupy.asarray(indices[:, k]), axis=axis)
        # a padding entry adds nothing: x + 0 is x
        total = total + term * cupy.asarray(present[:, k].astype(np.float32)).reshape(shape)
    return total * cupy.asarray(inverse).reshape(shape)


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


@functools.cache
def _linear_table(source: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first index, second index, weight of the second): the bilinear enlargement from ``source`` blocks
    to ``target`` pixels at exactly 4 pixels a block, half-pixel centres, clamped (``cpu/c/chroma.c``)."""
    pixels = np.arange(target)
    first = (pixels + 2) // COARSE_FACTOR - 1  # floor((p + 0.5) / 4 - 0.5)
    fraction = np.array([0.625, 0.875, 0.125, 0.375], dtype=np.float32)[pixels % COARSE_FACTOR]
    clamped = (first < 0) | (first >= source - 1)
    first = np.clip(first, 0, source - 1)
    fraction[clamped] = 0.0
    return first, np.minimum(first + 1, source - 1), fraction


def _linear(array, axis: int, first: np.ndarray, second: np.ndarray, fraction: np.ndarray):
    """``fma(f, b - a, a)`` with ``a = array[first]``, ``b = array[second]`` along ``axis`` (negative)."""
    import cupy

    shape = (-1,) + (1,) * (-axis - 1)
    low = cupy.take(array, cupy.asarray(first), axis=axis)
    high = cupy.take(array, cupy.asarray(second), axis=axis)
    return _fused(cupy.asarray(fraction).reshape(shape), high - low, low)


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
    luma_scale = None
    if masking is not None:
        luma_scale = masking * _outer(*window_noise_factors(left_planes.shape[-3:-1], weights))
    coarse = None
    if thresholds.coarse_chroma is not None and left_planes.shape[-1] >= 3:
        coarse = coarse_chroma_shift_gpu(left_planes, right_planes) / np.float32(thresholds.coarse_chroma)
    right = unbiased_gpu(left_planes, right_planes, thresholds)
    line = line_shift_gpu(left_planes, right, weights, thresholds, masking)
    if line is not None:
        coarse = line if coarse is None else cupy.maximum(coarse, line)
    return luma_scale, coarse
