"""The coarse chroma term of ``low`` on the device: the twin of ``cpu/c/chroma.c``.

:func:`coarse_chroma_shift_gpu` is :func:`imgdiff_gpu.detection.coarse_chroma_shift` as
``cpu/c/chroma.c`` defines it, step for step in its order: the 4 x 4 block means (the last
block row and column taking the rows and columns left over), the 13-tap Gaussian reflected at
the grid's edges, the magnitude and the bilinear enlargement at exactly 4 pixels a block, each
of the C core's ``fma`` done in float64 and rounded once to float32: the same bits
(``tests/test_gpu_chroma.py``). It takes ``[N x] H x W x P`` float32 plane stacks and returns
``[N x] H x W`` float32.
"""

from __future__ import annotations

import functools

import numpy as np

from ..detection import COARSE_FACTOR, coarse_gaussian_taps


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
