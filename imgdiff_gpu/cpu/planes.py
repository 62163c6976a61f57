"""Integer pixels to float32 planes (Y, Cr, Cb, A), each value the same wherever computed.

The BT.601 luma weights (0.299, 0.587, 0.114) and OpenCV's chroma scales
(0.713, 0.564) are whole thousandths, so for integer pixels

    1000 * scale * Y            = 299 R + 587 G + 114 B                  (= N)
    10**6 * scale * (Cr - 0.5)  = 713 (1000 R - N)
    10**6 * scale * (Cb - 0.5)  = 564 (1000 B - N)

are integers, exact in float64 whatever order or fused multiply-adds the
compiler picks, and one multiplication by a fixed reciprocal turns each into
its plane value. So a plane value is a function of the pixel alone: the video
screening kernel (``cpu/screen.py``) derives luma from RGB inside its SSIM
pass with :func:`numerators` and gets, bit for bit, the luma of the image
path. (OpenCV's float ``cvtColor`` rounds at every step, and whether it fuses
them depends on the CPU it dispatches to.)

Premultiplied alpha multiplies each numerator by A and puts one more
``scale`` under it; 16-bit RGBA stays below 2**53, so still exact.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit, prange


@njit(inline="always", cache=True)
def numerators(r, g, b):
    """1000 * scale * Y, 10**6 * scale * (Cr - 0.5), 10**6 * scale * (Cb - 0.5) of RGB.

    Exact for integer arguments (int64) and for float64 ones; linear, so the
    numerators of two pixels' difference are those of the difference.
    """
    n = 299 * r + 587 * g + 114 * b
    return n, 713 * (1000 * r - n), 564 * (1000 * b - n)


@njit(parallel=True, nogil=True, error_model="numpy", cache=True)
def _planes_kernel(pixels, scale, colour, alpha, out):
    height, width, channels = pixels.shape
    has_alpha = channels == 2 or channels == 4
    # premultiplying by alpha puts one more `scale` under every numerator
    denominator = scale * scale if has_alpha else scale
    to_luma = 1.0 / (1000.0 * denominator)
    to_chroma = 1.0 / (1e6 * denominator)
    for i in prange(height):
        for j in range(width):
            a = np.float64(pixels[i, j, channels - 1]) if has_alpha else 1.0
            if channels <= 2:
                out[i, j, 0] = (pixels[i, j, 0] * a) * (1.0 / denominator)
                cr = 0.0
                cb = 0.0
            else:
                n, n_cr, n_cb = numerators(np.float64(pixels[i, j, 0]), np.float64(pixels[i, j, 1]), pixels[i, j, 2])
                out[i, j, 0] = (n * a) * to_luma
                cr = (n_cr * a) * to_chroma
                cb = (n_cb * a) * to_chroma
            if colour:
                out[i, j, 1] = 0.5 + cr
                out[i, j, 2] = 0.5 + cb
            if alpha:
                out[i, j, out.shape[2] - 1] = a * (1.0 / scale) if has_alpha else 1.0


@njit(parallel=True, nogil=True, error_model="numpy", cache=True)
def _opaque_rgb_planes_kernel(pixels, scale, out):
    """:func:`_planes_kernel` for the common case, RGB without alpha to Y, Cr, Cb, in straight loops.

    The same expressions (``a`` = 1 drops out exactly), so the same values; a
    row at a time without per-pixel branches, so it vectorizes.
    """
    height, width, _ = pixels.shape
    to_luma = 1.0 / (1000.0 * scale)
    to_chroma = 1.0 / (1e6 * scale)
    for i in prange(height):
        row = pixels[i]
        planes = out[i]
        for j in range(width):
            n, n_cr, n_cb = numerators(np.float64(row[j, 0]), np.float64(row[j, 1]), row[j, 2])
            planes[j, 0] = n * to_luma
            planes[j, 1] = 0.5 + n_cr * to_chroma
            planes[j, 2] = 0.5 + n_cb * to_chroma


def plane_stack(pixels: np.ndarray, *, colour: bool, alpha: bool, scale: float) -> np.ndarray:
    """H x W x P float32 planes (Y, then Cr, Cb if ``colour``, then A if ``alpha``) of integer pixels."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    planes = 1 + (2 if colour else 0) + (1 if alpha else 0)
    out = np.empty((*pixels.shape[:2], planes), dtype=np.float32)
    if pixels.shape[2] == 3 and colour and not alpha:
        _opaque_rgb_planes_kernel(np.ascontiguousarray(pixels), float(scale), out)
    else:
        _planes_kernel(np.ascontiguousarray(pixels), float(scale), colour, alpha, out)
    return out
