"""SSIM on the CPU: one fused float64 pass per image, compiled ahead of time (``c/ssim.c``).

Computes what ``kernels/ssim.cu`` computes, organised for a CPU's caches:
strips of output rows run in parallel on every core; each strip walks its
input rows once (borders reflected like scipy.ndimage's ``reflect``), filters
the four moments (x, y, x² + y², xy: the formula needs only vx + vy)
horizontally into a small ring of rows, and as soon as a window of rows is in
the ring filters it vertically and applies the formula, all in float64. Strips
are processed a block of columns at a time so the ring stays in L2.

scikit-image instead filters five full-size images with scipy.ndimage on one
core; the arithmetic here is the same up to summation order (~1e-14).

The tap loops are unrolled for the two windows people use (11 taps: Gaussian
sigma 1.5; 7 taps: the uniform default); other windows take the same code with
a run-time count. The C is built with the package (nothing is compiled at run
time) and gives, bit for bit, what the Numba kernel it replaced gave: fused
multiply-adds exactly where that kernel's ``fastmath={"contract"}`` fused them
(see ``c/core.h``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._ssim_params import SSIMParams, cropped_mean, kernel_input_dtype
from .compiled import core

# Output rows per strip, at most. A strip filters each of its input rows
# horizontally once, into a ring of the last `taps` rows of the four moments, so
# only its 2 * radius halo rows are filtered twice (by two strips): tall strips
# waste less, but there must be enough of them to keep every core busy.
MAX_STRIP_ROWS = 64
MIN_STRIP_ROWS = 16
# (Columns per block, in the C: 256, so a strip's ring of 2 * 12 rows x 4 moments
# x 256 float64, 196 KB, stays in L2.)


def strip_rows_for(height: int) -> int:
    """Rows per strip for an image this tall: about four strips per thread, 16 to 64 rows."""
    per_strip = -(-height // (4 * core.get_num_threads()))
    return max(MIN_STRIP_ROWS, min(MAX_STRIP_ROWS, per_strip))


def ssim_map_2d(x: np.ndarray, y: np.ndarray, params: SSIMParams) -> np.ndarray:
    """The float64 SSIM map of two 2-D images of any real dtype.

    The images are read in the dtype policy's kernel type (``_ssim_params.KERNEL_INPUT``),
    as on the GPU. Needs ``params.radius < min(x.shape)`` (one reflection covers the halo).
    """
    common = kernel_input_dtype(x.dtype, y.dtype)
    x, y = x.astype(common, copy=False), y.astype(common, copy=False)
    ssim_map, _ = _run(x, y, params, counted=None, strip_stats=False)
    return ssim_map


def ssim_map_and_bounds(
    x: np.ndarray, y: np.ndarray, params: SSIMParams, *, counted: np.ndarray | None
) -> tuple[np.ndarray, float, float]:
    """:func:`ssim_map_2d` of two same-typed images, the largest ``|ux - uy|`` and the smallest SSIM.

    The two statistics are over the pixels where ``counted`` is true (every pixel if None).
    """
    ssim_map, stats = _run(x, y, params, counted=counted, strip_stats=True)
    return ssim_map, float(stats[:, 0].max()), float(stats[:, 1].min())


@dataclass
class ScreenBounds:
    """What :func:`ssim_map_and_screen` gives besides the map: the video screen's luma bounds."""

    luma_shift: float
    """The largest ``|ux - uy|`` at a counted pixel (no offset removed)."""
    min_ssim: float
    """The smallest SSIM at a counted pixel."""
    masked_shift: float
    """The largest ``|ux - uy - bias|`` over a lower bound of the luma threshold's scale at a counted
    pixel, or ``|ux - uy - bias|`` itself (in float32) where that is below ``floor``."""
    shift: np.ndarray
    """``ux - uy - bias`` (float32; the float64 means' difference, rounded once)."""
    peaks: tuple[np.ndarray, np.ndarray]
    """The largest ``|shift|`` of each row and of each column, over every pixel (float32)."""
    row_masked: np.ndarray | None = None
    """Each row's own ``masked_shift`` (float32, rounded up: still a bound), where asked for (``rows``)."""


def ssim_map_and_screen(
    x: np.ndarray,
    y: np.ndarray,
    params: SSIMParams,
    *,
    counted: np.ndarray | None,
    bias: float,
    masking: float,
    floor: float,
    slack: float,
    factors: tuple[np.ndarray, np.ndarray],
    shift: np.ndarray,
    rows: bool = False,
) -> tuple[np.ndarray, ScreenBounds]:
    """:func:`ssim_map_and_bounds` of two float32 luma planes, and in the same pass the video screen's
    luma bounds (``c/ssim.c``'s ``screen_row``): the map is bit for bit :func:`ssim_map_2d`'s.

    ``masking``: the threshold's rise per unit of shared contrast, over the luma threshold (0: none);
    ``slack``: what each window variance loses first, times its second moment (the full path's float32
    rounding of it);
    ``factors``: the window's border noise factors per row and per column (float32); ``shift``: a
    C-contiguous H x W float32 array for ``ux - uy - bias``; ``rows``: the masked bound of each row too.
    """
    height, width = x.shape
    strip_rows = strip_rows_for(height)
    strips = -(-height // strip_rows)
    out = np.empty(x.shape, dtype=np.float64)
    stats = np.empty((strips, 3), dtype=np.float64)
    row_peaks = np.empty(height, np.float32)
    column_peaks = np.empty((strips, width), np.float32)
    row_masked = np.empty(height, np.float32) if rows else None
    row_factors, column_factors = factors
    core.ssim_screen(
        *_pass_inputs(x, y, params, counted, strip_rows),
        out,
        stats,
        float(bias),
        float(masking),
        float(floor),
        float(slack),
        np.ascontiguousarray(row_factors, np.float32),
        np.ascontiguousarray(column_factors, np.float32),
        shift,
        row_peaks,
        column_peaks,
        row_masked,
    )
    bounds = ScreenBounds(
        luma_shift=float(stats[:, 0].max()),
        min_ssim=float(stats[:, 1].min()),
        masked_shift=float(stats[:, 2].max()),
        shift=shift,
        peaks=(row_peaks, column_peaks.max(axis=0)),
        row_masked=row_masked,
    )
    return out, bounds


def _run(x, y, params: SSIMParams, *, counted, strip_stats: bool) -> tuple[np.ndarray, np.ndarray]:
    height = x.shape[0]
    strip_rows = strip_rows_for(height)
    out = np.empty(x.shape, dtype=np.float64)
    stats = np.empty((-(-height // strip_rows) if strip_stats else 0, 2), dtype=np.float64)
    core.ssim(*_pass_inputs(x, y, params, counted, strip_rows), out, stats if strip_stats else None)
    return out, stats


def _pass_inputs(x, y, params: SSIMParams, counted, strip_rows: int) -> tuple:
    """The arguments the compiled SSIM passes (``ssim``, ``ssim_screen``) begin with: the planes in any
    strides (a plane of a stack is read in place, not copied), the counted pixels, the window and
    constants, the rows per strip."""
    return (
        x,
        y,
        None if counted is None else np.ascontiguousarray(counted, dtype=np.bool_),
        np.ascontiguousarray(params.weights, dtype=np.float64),
        float(params.C1),
        float(params.C2),
        float(params.cov_norm),
        strip_rows,
    )


def ssim_cpu(
    im1: np.ndarray,
    im2: np.ndarray,
    params: SSIMParams,
    *,
    channel_axis: int | None,
    want_map: bool,
) -> tuple[float, np.ndarray | None]:
    """Mean SSIM (and the map when asked) of 2-D images, grey or per channel."""
    if channel_axis is None:
        S = ssim_map_2d(im1, im2, params)
        mssim = cropped_mean(S, params.crop)
    else:
        S = np.empty(im1.shape, dtype=np.float64) if want_map else None
        scores = []
        for ch in range(im1.shape[channel_axis]):
            S_ch = ssim_map_2d(np.take(im1, ch, channel_axis), np.take(im2, ch, channel_axis), params)
            scores.append(cropped_mean(S_ch, params.crop))
            if want_map:
                index = [slice(None)] * im1.ndim
                index[channel_axis] = ch
                S[tuple(index)] = S_ch
        # scikit-image averages the per-channel scores in the image's float type.
        mssim = float(np.asarray(scores, dtype=params.out_dtype).mean())
    if not want_map:
        return mssim, None
    return mssim, S.astype(params.out_dtype, copy=False)
