"""Separable float32 filters with reflected borders, compiled ahead of time (``c/filters.c``).

The ``low`` rules (:mod:`imgdiff_gpu.detection`) average their luma planes with OpenCV's
``sepFilter2D``: the contrast masking's local moments over the SSIM window, the line
evidence's 49-tap averages along rows and along columns. OpenCV's vector path keeps one
accumulator a vector, so each output waits on its chain of taps; ``c/filters.c`` computes
every value in the same order (the same float32 values, bit for bit) with 64 outputs side by
side, and squares the plane as it reads it where the moments want its squares. A plane whose
rows OpenCV's vector path does not cover whole (a width that is no multiple of 16: its
scalar tails round otherwise), a kernel it filters another way (a row kernel of 5 taps or fewer,
a column kernel that is even, lopsided or of 3 taps), or a CPU on which OpenCV does not take that
vector path (no AVX2 with FMA: it rounds otherwise there), goes to OpenCV as before; so a result
is OpenCV's own on every CPU, whichever code computes it.
"""

from __future__ import annotations

import functools

import numpy as np

from .compiled import core

WHOLE_VECTORS = 16
"""OpenCV's float32 column filter computes 16 values a step, its row filter 8: a row of a multiple of 16
values is computed by its vector path alone, in the order ``c/filters.c`` follows."""
SMALL_KERNEL = 5
"""OpenCV filters a symmetric kernel of this many taps or fewer with other code (``SymmRowSmallFilter``)."""
OPENCV_AVX2, OPENCV_FMA3 = 11, 12
"""OpenCV's numbers for these CPU features (``cv::CPU_AVX2``, ``cv::CPU_FMA3``), which its Python module does
not export."""


def separable_filter(
    plane: np.ndarray,
    row_taps: np.ndarray | None,
    column_taps: np.ndarray,
    *,
    out: np.ndarray | None = None,
    square: bool = False,
) -> np.ndarray:
    """``cv2.sepFilter2D(plane, cv2.CV_32F, row_taps, column_taps, borderType=cv2.BORDER_REFLECT)`` of a float32
    H x W plane, bit for bit: of ``plane * plane`` (each square rounded to float32, ``cv2.multiply``) with
    ``square``. ``row_taps`` None: no filter along the rows (OpenCV's 1-tap kernel of 1). ``out``: an H x W
    float32 array to write into (not ``plane``)."""
    plane = np.ascontiguousarray(plane, dtype=np.float32)
    column_taps = np.ascontiguousarray(column_taps, dtype=np.float32)
    row = None if row_taps is None else np.ascontiguousarray(row_taps, dtype=np.float32)
    if out is None:
        out = np.empty(plane.shape, np.float32)
    if compiled_applies(plane.shape, row, column_taps) and not np.shares_memory(plane, out):
        core.separable_filter(plane, row, column_taps, out, square)
        return out
    import cv2

    source = cv2.multiply(plane, plane) if square else plane
    row = np.ones(1, np.float32) if row is None else row
    return cv2.sepFilter2D(source, cv2.CV_32F, row, column_taps, dst=out, borderType=cv2.BORDER_REFLECT)


def compiled_applies(shape: tuple[int, ...], row_taps: np.ndarray | None, column_taps: np.ndarray) -> bool:
    """Whether ``c/filters.c`` computes OpenCV's values of a plane of ``shape`` and these kernels: every row in
    whole vectors, the row kernel longer than OpenCV's small ones, the column kernel odd, symmetric and not of 3
    taps, on a CPU where OpenCV takes its AVX2 path."""
    rows_fit = row_taps is None or len(row_taps) > SMALL_KERNEL
    columns = len(column_taps)
    symmetric = columns % 2 == 1 and columns != 3 and bool(np.array_equal(column_taps, column_taps[::-1]))
    shape_fits = len(shape) == 2 and shape[0] > 0 and shape[1] > 0 and shape[1] % WHOLE_VECTORS == 0
    return rows_fit and symmetric and shape_fits and opencv_takes_the_vector_path()


@functools.cache
def opencv_takes_the_vector_path() -> bool:
    """Whether OpenCV filters float32 with AVX2 and FMA here, the order ``c/filters.c`` follows (not where
    ``OPENCV_CPU_DISABLE`` turns them off: OpenCV then takes another path, and so must these filters)."""
    import cv2

    return bool(cv2.checkHardwareSupport(OPENCV_AVX2) and cv2.checkHardwareSupport(OPENCV_FMA3))
