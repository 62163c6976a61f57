"""The elementwise ends of the ``low`` rules, one compiled pass each (``c/rules.c``).

:mod:`imgdiff_gpu.detection` filters the luma planes with OpenCV; what follows each
filter (shared contrast's square root and masking, the line evidence's border factors,
maximum and thresholds) was a chain of NumPy and OpenCV calls, each writing a full-size
float32 temporary. These passes compute the same float32 expressions, operation for
operation, in one pass without them; the filters write into scratch planes
(:mod:`imgdiff_gpu.cpu.scratch`).
"""

from __future__ import annotations

import numpy as np

from .compiled import core


def contrast_scale(
    moments: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    k: float,
    *,
    factors: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(masking, scale) from the four local moments ``(mean_x, square_x, mean_y, square_y)`` (float32).

    ``masking = 1 + k * sqrt(max(min(square_x - mean_x**2, square_y - mean_y**2), 0))``
    (:func:`imgdiff_gpu.detection.contrast_masking`); with ``factors`` (per row, per
    column), also ``scale = masking * (row * column)`` (:func:`~imgdiff_gpu.detection.luma_threshold_scale`).
    """
    shape = moments[0].shape
    masking = np.empty(shape, np.float32)
    scale = None if factors is None else np.empty(shape, np.float32)
    rows, columns = (None, None) if factors is None else (_f32(factors[0]), _f32(factors[1]))
    core.contrast_scale(*(_f32(m) for m in moments), float(np.float32(k)), rows, columns, masking, scale)
    return masking, scale


def contrast_of_planes(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    taps: np.ndarray,
    k: float,
    *,
    rows: tuple[int, int],
    factors: tuple[np.ndarray, np.ndarray] | None = None,
    out: tuple[np.ndarray, np.ndarray | None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`contrast_scale` of rows ``rows`` (first, last + 1) of the four local moments of two float32 luma
    planes, the moments filtered in the same pass (``c/rules.c``): each plane and its squares averaged with the
    odd, symmetric ``taps`` along and across, borders reflected, as :func:`imgdiff_gpu.cpu.filters.separable_filter`
    computes OpenCV's ``sepFilter2D`` where it applies (only there: see
    :func:`~imgdiff_gpu.cpu.filters.compiled_applies`). No moment plane is written out: the same values as
    :func:`imgdiff_gpu.detection._local_moments` and :func:`contrast_scale` of those rows. ``factors``: per row
    of ``rows``, per column. ``out``: (masking, scale) to write into (C-contiguous float32 of those rows' shape,
    scale None without ``factors``), else new arrays."""
    first, last = rows
    shape = (last - first, left_luma.shape[1])
    if out is not None:
        masking, scale = out
    else:
        masking = np.empty(shape, np.float32)
        scale = None if factors is None else np.empty(shape, np.float32)
    row_factors, column_factors = (None, None) if factors is None else (_f32(factors[0]), _f32(factors[1]))
    core.contrast_moments(
        _f32(left_luma),
        _f32(right_luma),
        _f32(taps),
        float(np.float32(k)),
        first,
        last,
        row_factors,
        column_factors,
        masking,
        scale,
    )
    return masking, scale


def line_evidence(
    along_rows: np.ndarray,
    along_columns: np.ndarray,
    factors: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    threshold: float,
    *,
    masking: np.ndarray | None = None,
) -> np.ndarray:
    """``max(|along_rows| / (wr x lc), |along_columns| / (lr x wc)) / threshold``, then ``/ masking``
    where given (float32): :func:`imgdiff_gpu.detection.line_over_threshold` and
    :func:`~imgdiff_gpu.detection.line_shift` after their filters.

    ``factors``: (window per row, line per column, line per row, window per column), the
    border noise factors whose outer products :func:`~imgdiff_gpu.detection.factor_grid` gives.
    """
    out = np.empty(along_rows.shape, np.float32)
    core.line_evidence(
        _f32(along_rows),
        _f32(along_columns),
        *(_f32(f) for f in factors),
        float(np.float32(threshold)),
        None if masking is None else _f32(masking),
        out,
    )
    return out


def line_evidence_of_shift(
    shift: np.ndarray,
    taps: np.ndarray,
    factors: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    threshold: float,
    *,
    masking: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`line_evidence` of the luma shift's averages along its rows and along its columns with the odd,
    symmetric ``taps`` (borders reflected, as :func:`imgdiff_gpu.cpu.filters.separable_filter` computes OpenCV's
    ``sepFilter2D`` where it applies: only there, see :func:`~imgdiff_gpu.cpu.filters.compiled_applies`), both
    averages computed a row at a time in the same pass (``c/rules.c``) and never written out: the same values.
    ``out``: a C-contiguous float32 plane of the shift's shape to write into, else a new one."""
    if out is None:
        out = np.empty(shift.shape, np.float32)
    core.line_of_shift(
        _f32(shift),
        _f32(taps),
        *(_f32(f) for f in factors),
        float(np.float32(threshold)),
        None if masking is None else _f32(masking),
        out,
    )
    return out


def line_samples_of(
    shift: np.ndarray,
    taps: np.ndarray,
    first: int,
    step: int,
    factors: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    sampled: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """(line, noise), each ``sampled`` (rows, columns) float32: at rows ``first``, ``first + step``, ... and columns
    0, ``step``, ... of the shift, ``max(|along rows| / (wr x lc), |along columns| / (lr x wc))`` and
    ``|shift| / (wr x wc)``, the averages with the odd, symmetric ``taps`` (borders reflected within the shift,
    as :func:`imgdiff_gpu.cpu.filters.separable_filter` computes OpenCV's ``sepFilter2D`` where it applies) and
    ``factors`` (window per sampled row, line per sampled row, line per sampled column, window per sampled
    column): :func:`imgdiff_gpu.detection.line_noise_samples`' values, in one compiled pass (``c/rules.c``)."""
    line, noise = np.empty(sampled, np.float32), np.empty(sampled, np.float32)
    window_rows, line_rows, line_columns, window_columns = (_f32(f) for f in factors)
    core.line_samples_of(
        _f32(shift), _f32(taps), first, step, window_rows, line_rows, line_columns, window_columns, line, noise
    )
    return line, noise


def masked_maximum(line: np.ndarray, masking: np.ndarray, coarse: np.ndarray) -> None:
    """``line /= masking`` and then ``np.maximum(coarse, line, out=coarse)``, in place: in one compiled pass for
    C-contiguous float32 planes of one shape (the same values: NumPy's maximum, NaN kept from either), by
    those two NumPy calls otherwise."""
    planes = (line, masking, coarse)
    if all(p.dtype == np.float32 and p.flags.c_contiguous and p.shape == line.shape for p in planes):
        core.masked_maximum(line, masking, coarse)
        return
    line /= masking
    np.maximum(coarse, line, out=coarse)


def median(values: np.ndarray) -> np.floating:
    """``np.median(values)``, the same value and type, by one compiled selection (``c/rules.c``) for
    float32 values: NumPy's partition takes ~0.6 ms over the ~58,000 samples of a 720p pair's noise
    ratio, three times a pair (:func:`imgdiff_gpu.detection.luma_bias_of`,
    :func:`~imgdiff_gpu.detection.line_noise_ratio_of`); this ~0.15 ms. Other types and no values: NumPy's."""
    if values.dtype != np.float32 or values.size == 0:
        return np.median(values)
    return np.float32(core.median(np.ascontiguousarray(values).reshape(-1)))


def abs_peaks(plane: np.ndarray, divisor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(np.abs(plane).max(axis=1), np.abs(plane).max(axis=0))`` of a float32 plane, the same values, in
    one compiled pass without ``|plane|`` written out (the video screen's bounds, ``screening.py``); with
    ``divisor`` (float32, the plane's shape), of ``np.abs(plane) / divisor``."""
    plane = _f32(plane)
    rows, columns = np.empty(plane.shape[0], np.float32), np.empty(plane.shape[1], np.float32)
    if divisor is None:
        core.abs_peaks(plane, rows, columns)
    else:
        core.abs_peaks(plane, rows, columns, _f32(divisor))
    return rows, columns


def _f32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)
