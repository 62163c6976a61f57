"""Video screening on the CPU: the luma planes of two RGB frames and the per-pixel steps.

One pass over the uint8 RGB frames gives both frames' luma planes, computed
from the same integers as ``cpu/planes.py`` (so bit for bit the image path's
luma), steps 2-4 below and, where asked, the sums of the RGB differences over
4 x 4 blocks (the pair's luma offset and the coarse chroma bound come from
those); the SSIM kernel of ``cpu/ssim.py``
(:func:`~imgdiff_gpu.cpu.ssim.ssim_map_and_screen`) then gives the map, 0-1
and the luma bounds. Together they are what :mod:`imgdiff_gpu.screening` needs
to prove a pair has no difference:

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

from .compiled import core


def frame_steps(
    left: np.ndarray,
    right: np.ndarray,
    *,
    reach: np.ndarray | None,
    out: tuple[np.ndarray, np.ndarray] | None = None,
    block_sums: np.ndarray | None = None,
    factor: int = 4,
) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Both H x W x 3 uint8 RGB frames' float32 luma planes and the steps 2-4 above.

    ``out``: two C-contiguous H x W float32 arrays for the luma planes (new ones if None).
    ``block_sums``: an H / factor x W / factor x 3 int32 array (both sides multiples of ``factor``)
    for the sums of ``left - right`` over each block of ``factor`` x ``factor`` pixels, in the same
    pass (:func:`block_difference_means` otherwise reads the frames again); None: not computed.
    """
    height, width = left.shape[:2]
    scale = 255.0
    if out is None:
        out = (np.empty((height, width), dtype=np.float32), np.empty((height, width), dtype=np.float32))
    luma_left, luma_right = out
    steps = np.empty((height, 3), dtype=np.int64)
    # all in integers (int64: the squared chroma step needs it) in the C (c/screen.c)
    core.frame_steps(
        np.ascontiguousarray(left),
        np.ascontiguousarray(right),
        None if reach is None else np.ascontiguousarray(reach, dtype=np.bool_),
        1.0 / (1000.0 * scale),  # as cpu/planes.py computes it for opaque pixels
        luma_left,
        luma_right,
        steps,
        factor,
        block_sums,
    )
    d_luma, d_chroma, d_rgb = steps.max(axis=0).astype(np.float64)
    return luma_left, luma_right, d_luma / (1000.0 * scale), np.sqrt(d_chroma) / (1e6 * scale), d_rgb


def block_difference_means(left: np.ndarray, right: np.ndarray, factor: int) -> np.ndarray | None:
    """The means of ``left - right`` (two H x W x 3 uint8 frames) over blocks of ``factor`` x ``factor``
    pixels (float64, H / factor x W / factor x 3, in levels), or None unless both sides are multiples
    of ``factor``: OpenCV's area resize of the frames' difference there, but exact (integer sums)."""
    sums = block_difference_sums(left, right, factor)
    return None if sums is None else sums / float(factor * factor)


def block_difference_sums(left: np.ndarray, right: np.ndarray, factor: int) -> np.ndarray | None:
    """The sums behind :func:`block_difference_means` (int32), or None where it gives None."""
    height, width = left.shape[:2]
    if height % factor or width % factor or height < factor or width < factor:
        return None
    sums = np.empty((height // factor, width // factor, 3), dtype=np.int32)
    core.block_differences(np.ascontiguousarray(left), np.ascontiguousarray(right), factor, sums)
    return sums


def block_chroma(sums: np.ndarray, factor: int) -> np.ndarray:
    """The blocks' chroma differences ``(0.713 (r - y), 0.564 (b - y))`` (float32, H x W x 2), ``r, g, b``
    the means of the block sums ``sums`` (int32, :func:`frame_steps`) in 0-1 and ``y`` their luma: what
    :func:`imgdiff_gpu.screening.coarse_chroma_bound` blurs, the same float operations in one compiled
    pass (``c/screen.c``), so the same values bit for bit, without NumPy's float64 and float32 copies."""
    chroma = np.empty((*sums.shape[:2], 2), np.float32)
    core.block_planes(np.ascontiguousarray(sums, np.int32), factor, chroma, None)
    return chroma


def block_luma_means(sums: np.ndarray, factor: int) -> np.ndarray:
    """Each block's mean of ``Y1 - Y2`` (float32, H x W, 0-1) from the block sums ``sums`` (int32,
    :func:`frame_steps`): the integer numerators ``299 R + 587 G + 114 B`` (below 2**24, so exact in
    float32) times ``1 / (1000 * 255 * factor**2)`` in float32 (``c/screen.c``)."""
    luma = np.empty(sums.shape[:2], np.float32)
    core.block_planes(np.ascontiguousarray(sums, np.int32), factor, None, luma)
    return luma


def sampled_line_noise_ratio(shift: np.ndarray, weights: np.ndarray) -> float:
    """:func:`imgdiff_gpu.detection.line_noise_ratio` of a float32 shift map, up to float rounding.

    The same samples (:func:`~imgdiff_gpu.detection.line_noise_samples`: the line evidence and
    ``|shift|`` at every ``LINE_SAMPLE``-th row and column, each over its window's noise factor) in
    one compiled pass (``c/screen.c``) that filters only the sampled rows, where OpenCV filters the
    sampled rows and every row of the sampled columns; summed in another order, so equal only up to
    rounding (~1e-7 of the values). A median moves no further than the values it is taken from, so
    neither does the ratio: close enough for the screen's bounds (``screening.MARGIN``), not to hand
    over to the full comparison.
    """
    from ..detection import (
        LINE_SAMPLE,
        line_factors,
        line_noise_ratio,
        line_noise_ratio_of,
        line_taps,
        window_noise_factors,
    )
    from .scratch import scratch

    height, width = shift.shape
    taps = line_taps(weights)
    if len(taps) // 2 >= min(height, width):
        # a frame narrower than the line window's radius: OpenCV's filters (reflecting as often as needed)
        return line_noise_ratio(shift, weights)
    row_factors, column_factors = window_noise_factors(shift.shape, weights)
    line_rows, line_columns = line_factors(shift.shape, weights)
    sampled = (-(-height // LINE_SAMPLE), -(-width // LINE_SAMPLE))
    line, noise = np.empty(sampled, np.float32), np.empty(sampled, np.float32)
    core.line_samples(
        np.ascontiguousarray(shift, np.float32),
        np.ascontiguousarray(taps, np.float32),
        row_factors,
        column_factors,
        line_rows,
        line_columns,
        LINE_SAMPLE,
        line,
        noise,
        scratch("line_samples_columns", (height, sampled[1])),  # the shift at the sampled columns
    )
    return line_noise_ratio_of(line.ravel(), noise.ravel(), weights)
