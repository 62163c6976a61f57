"""SSIM on the CPU: one fused float64 pass per image, compiled with Numba.

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
sigma 1.5; 7 taps: the uniform default) by calling an inlined helper with a
literal count; other windows take the same code with a run-time count.
Compiled code is cached on disk, so only the first run on a machine pays the
few seconds of compilation.
"""

from __future__ import annotations

import numpy as np

from .._ssim_params import SSIMParams, cropped_mean, kernel_input_dtype
from ._jit import njit, prange

# Output rows per strip, at most. A strip filters each of its input rows
# horizontally once, into a ring of the last `taps` rows of the four moments, so
# only its 2 * radius halo rows are filtered twice (by two strips): tall strips
# waste less, but there must be enough of them to keep every core busy.
MAX_STRIP_ROWS = 64
MIN_STRIP_ROWS = 16
# Columns per block: a strip is filtered one block of columns at a time so that
# its ring (2 * 11 rows x 4 moments x 256 float64, 180 KB) stays in L2.
BLOCK_COLUMNS = 256


def strip_rows_for(height: int) -> int:
    """Rows per strip for an image this tall: about four strips per thread, 16 to 64 rows."""
    import numba

    per_strip = -(-height // (4 * numba.get_num_threads()))
    return max(MIN_STRIP_ROWS, min(MAX_STRIP_ROWS, per_strip))


@njit(inline="always", cache=True)
def _reflect(i, n):
    """scipy.ndimage's 'reflect' (d c b a | a b c d), for one reflection."""
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - i - 1
    return i


# The filters run one moment at a time over plain rows: a loop with one input
# and one output array is one LLVM vectorizes (four pixels per instruction);
# one loop over all four moments at once has too many arrays that might alias.
# The kernels use NumPy's error model: Python's would test every division for
# zero, and that test alone keeps the formula's loop from vectorizing.


@njit(inline="always", cache=True)
def _filter_along(taps, w, source, target, count):
    """``target[j] = sum_k w[k] * source[j + k]`` for j < count: the horizontal pass."""
    for j in range(count):
        acc = 0.0
        for k in range(taps):
            acc += w[k] * source[j + k]
        target[j] = acc


@njit(inline="always", cache=True)
def _filter_across(taps, w, ring, first, target, count):
    """``target[j] = sum_k w[k] * ring[first + k, j]`` for j < count: the vertical pass."""
    for j in range(count):
        acc = 0.0
        for k in range(taps):
            acc += w[k] * ring[first + k, j]
        target[j] = acc


@njit(inline="always", cache=True)
def _horizontal(w, inputs, ring, slot, count):
    """Filter the four input rows into ring slot ``slot``, and its copy ``slot + taps`` (see the kernel)."""
    taps = w.shape[0]
    for m in range(4):
        if taps == 11:
            _filter_along(11, w, inputs[m], ring[m, slot], count)
        elif taps == 7:
            _filter_along(7, w, inputs[m], ring[m, slot], count)
        else:
            _filter_along(taps, w, inputs[m], ring[m, slot], count)
        for j in range(count):  # a loop, not a slice copy: Numba's copy checks for overlap and is slow here
            ring[m, slot + taps, j] = ring[m, slot, j]


@njit(inline="always", cache=True)
def _vertical(w, ring, first, means, count):
    """The four windowed means (ux, uy, u(x² + y²), uxy) of one output row, from its ring window."""
    taps = w.shape[0]
    for m in range(4):
        if taps == 11:
            _filter_across(11, w, ring[m], first, means[m], count)
        elif taps == 7:
            _filter_across(7, w, ring[m], first, means[m], count)
        else:
            _filter_across(taps, w, ring[m], first, means[m], count)


@njit(inline="always", cache=True)
def _formula(means, C1, C2, cov_norm, out_row, count):
    ux, uy, usq, uxy = means[0], means[1], means[2], means[3]
    for j in range(count):
        ux_uy = ux[j] * uy[j]
        ux2_uy2 = ux[j] * ux[j] + uy[j] * uy[j]
        twice_vxy_c2 = 2.0 * cov_norm * (uxy[j] - ux_uy) + C2
        vx_vy_c2 = cov_norm * (usq[j] - ux2_uy2) + C2
        out_row[j] = ((2.0 * ux_uy + C1) * twice_vxy_c2) / ((ux2_uy2 + C1) * vx_vy_c2)


@njit(inline="always", cache=True)
def _load(x, y, source, first_column, count, radius, inputs):
    """Inputs x, y, x² + y², xy of one row of a block of columns, borders reflected.

    Index ``c - (first_column - radius)`` of an input row holds column ``c``.
    """
    width = x.shape[1]
    offset = first_column - radius
    px, py, psq, pxy = inputs[0], inputs[1], inputs[2], inputs[3]
    for c in range(max(offset, 0), min(first_column + count + radius, width)):
        a = np.float64(x[source, c])
        b = np.float64(y[source, c])
        px[c - offset] = a
        py[c - offset] = b
        psq[c - offset] = a * a + b * b
        pxy[c - offset] = a * b
    for c in range(offset, 0):  # left of the image: column -1 - k is column k
        inputs[:, c - offset] = inputs[:, -c - 1 - offset]
    for c in range(width, first_column + count + radius):  # right: column width + k is width - 1 - k
        inputs[:, c - offset] = inputs[:, 2 * width - c - 1 - offset]


@njit(parallel=True, nogil=True, fastmath={"contract"}, error_model="numpy", cache=True)
def _ssim_kernel(x, y, counted, w, C1, C2, cov_norm, strip_rows, out, stats):
    """The SSIM map of the 2-D images x and y into ``out``.

    With ``stats`` of one row per strip, also records per strip the largest
    ``|ux - uy|`` (the luma shift, for video screening) and the smallest SSIM
    at pixels where ``counted`` is true (every pixel when it is empty).

    Each strip keeps a ring of its last ``taps`` horizontally filtered rows,
    each stored twice (slots s and s + taps), so the window of every output row
    is a run of consecutive slots.
    """
    height, width = x.shape
    taps = w.shape[0]
    radius = taps // 2
    want_stats = stats.shape[0] > 0
    every_pixel_counts = counted.shape[0] != height
    for strip in prange((height + strip_rows - 1) // strip_rows):
        top = strip * strip_rows
        bottom = min(top + strip_rows, height)
        inputs = np.empty((4, BLOCK_COLUMNS + 2 * radius))
        ring = np.empty((4, 2 * taps, BLOCK_COLUMNS))
        means = np.empty((4, BLOCK_COLUMNS))
        luma_shift = 0.0
        min_ssim = 1.0
        for first_column in range(0, width, BLOCK_COLUMNS):
            count = min(BLOCK_COLUMNS, width - first_column)
            for r in range(top - radius, bottom + radius):
                _load(x, y, _reflect(r, height), first_column, count, radius, inputs)
                _horizontal(w, inputs, ring, (r - top + radius) % taps, count)
                row = r - radius  # the output row whose window ends with input row r
                if row < top:
                    continue
                _vertical(w, ring, (row - top) % taps, means, count)
                out_row = out[row, first_column : first_column + count]
                _formula(means, C1, C2, cov_norm, out_row, count)
                if want_stats:
                    for j in range(count):
                        if every_pixel_counts or counted[row, first_column + j]:
                            luma_shift = max(luma_shift, abs(means[0, j] - means[1, j]))
                            min_ssim = min(min_ssim, out_row[j])
        if want_stats:
            stats[strip, 0] = luma_shift
            stats[strip, 1] = min_ssim


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


def _run(x, y, params: SSIMParams, *, counted, strip_stats: bool) -> tuple[np.ndarray, np.ndarray]:
    height = x.shape[0]
    strip_rows = strip_rows_for(height)
    out = np.empty(x.shape, dtype=np.float64)
    stats = np.empty((-(-height // strip_rows) if strip_stats else 0, 2), dtype=np.float64)
    _ssim_kernel(
        np.ascontiguousarray(x),
        np.ascontiguousarray(y),
        np.zeros((0, 0), dtype=np.bool_) if counted is None else np.ascontiguousarray(counted),
        np.ascontiguousarray(params.weights, dtype=np.float64),
        np.float64(params.C1),
        np.float64(params.C2),
        np.float64(params.cov_norm),
        strip_rows,
        out,
        stats,
    )
    return out, stats


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
