"""The window's noise factor at the frame's borders, measured on the pair instead of assumed.

The luma shift ``w * (Y1 - Y2)`` is averaged over a window reflected at the borders, so
within its radius of a border it averages fewer pixels and keeps more noise:
:func:`imgdiff_gpu.detection.window_noise_factor` raises the luma threshold there by as
much as independent noise would keep (1.38x at a border, for sigma 1.5). Codec noise is
not independent of the frame's edges, though: an encoder predicts the content that enters
a pan from a reference padded by repeating its edge, and at a high CRF keeps that flat
extension (x265 CRF 28: the last 4-6 columns of some rows copied from the one before,
``benchmarks/video_set.py``'s seed 7), and a frame that is no whole number of coding
blocks high codes its last rows in a partial block. The pair's noise in the rows and
columns where the window folds is then 1.2-2.4x its noise inside the frame, not 1.0-1.38x.

So each of those rows and columns takes the larger of the two: the white-noise factor, and
the pair's own, the median ``|w * dY|`` along that row (column) over the median inside the
frame. A median along a whole row or column of the border is the pair's, not an edit's
(an edit covers far less than half of it); inside the frame, every factor stays 1. The
factors only ever rise, so the luma threshold does too.

This is the same rule as the window factor's, for the same rows and columns: a border
strip of codec noise is judged against the noise the pair keeps there. It is no
per-row noise estimate over the whole frame (content moves a row's median by 10-40 %,
README "Video detection quality"): only the rows and columns whose window folds, where
the noise is known to differ, are measured.
"""

from __future__ import annotations

import numpy as np

# the pair's noise inside the frame is the median over every LINE_SAMPLE-th row and column: the line
# noise ratio's samples, which a huge pair in bands (cpu/bands.py) gathers once for both
from .detection import LINE_SAMPLE


def measured_window_factors(shift: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The window noise factors per row and per column (float32), each at least
    :func:`imgdiff_gpu.detection.window_noise_factors`' and, within the window's radius of a
    border, at least the pair's measured ratio there.

    ``shift``: ``w * (Y1 - Y2)`` of the whole frame, the pair's offset removed
    (:func:`imgdiff_gpu.detection.luma_shift_map`).

    Notes
    -----
    With ``f_r``, ``f_c`` the white-noise factors and ``n = median(|shift[i, j]| / (f_r[i] f_c[j]))``
    over every 4th row and column (float32 samples: :func:`imgdiff_gpu.detection.line_noise_samples`'
    second array), row ``i`` within ``radius`` of the top or bottom takes
    ``max(f_r[i], median(|shift[i, :]|) / n)`` and column ``j`` within ``radius`` of the left or
    right ``max(f_c[j], median(|shift[:, j]|) / n)`` (the ratio of two float32 medians, rounded to
    float32); where ``n`` is 0 the factors are the white-noise ones.
    """
    from .detection import window_noise_factors

    rows, columns = window_noise_factors(shift.shape, weights)
    step = LINE_SAMPLE
    inside = np.abs(shift[::step, ::step]) / np.outer(rows[::step], columns[::step])
    return factors_of(inside.ravel(), *border_samples(shift, weights), shift.shape, weights)


def border_indices(length: int, radius: int) -> list[int]:
    """The rows (columns) of a frame ``length`` high (wide) within ``radius`` of its first or last."""
    return sorted({*range(min(radius, length)), *range(max(length - radius, 0), length)})


def border_samples(
    shift: np.ndarray,
    weights: np.ndarray,
    *,
    shape: tuple[int, int] | None = None,
    top: int = 0,
    rows: tuple[int, int] | None = None,
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """``|shift|`` along the border rows and columns: ({row: values}, {column: values}), float32.

    With ``shape``, ``shift`` is rows ``top`` onwards of a map of that shape (a band with its
    halo) and ``rows`` (first, last + 1, of ``shift``) the band's own rows: the border rows among
    them whole, and the border columns' values at them, which the bands' together make whole
    (:func:`factors_of` takes them in any order).
    """
    shape = shift.shape if shape is None else shape
    first, last = rows if rows is not None else (0, shift.shape[0])
    radius = len(weights) // 2
    row_values = {i: np.abs(shift[i - top]) for i in border_indices(shape[0], radius) if first <= i - top < last}
    column_values = {j: np.abs(shift[first:last, j]) for j in border_indices(shape[1], radius)}
    return row_values, column_values


def factors_of(
    inside: np.ndarray,
    row_values: dict[int, np.ndarray],
    column_values: dict[int, np.ndarray],
    shape: tuple[int, int],
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`measured_window_factors` from its samples: ``inside`` (``|shift|`` over the window's
    factors at every 4th row and column, in any order) and :func:`border_samples`' values."""
    from .cpu.rules import median
    from .detection import window_noise_factors

    rows, columns = (f.copy() for f in window_noise_factors(shape, weights))
    noise = np.float32(median(np.ascontiguousarray(inside, np.float32)))
    if not noise > 0:
        return rows, columns
    for factors, values in ((rows, row_values), (columns, column_values)):
        for index, line in values.items():
            measured = np.float32(median(np.ascontiguousarray(line, np.float32)) / noise)
            factors[index] = max(factors[index], measured)
    return rows, columns
