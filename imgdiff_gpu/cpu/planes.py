"""Integer pixels to float32 planes (Y, Cr, Cb, A), each value the same wherever computed.

The BT.601 luma weights (0.299, 0.587, 0.114) and OpenCV's chroma scales
(0.713, 0.564) are whole thousandths, so for integer pixels

    1000 * scale * Y            = 299 R + 587 G + 114 B                  (= N)
    10**6 * scale * (Cr - 0.5)  = 713 (1000 R - N)
    10**6 * scale * (Cb - 0.5)  = 564 (1000 B - N)

are integers, exact in float64 whatever order or fused multiply-adds the
compiler picks, and one multiplication by a fixed reciprocal turns each into
its plane value. So a plane value is a function of the pixel alone: the video
screening kernel (``cpu/screen.py``) derives luma from RGB with the same
integer sums (``c/screen.c``, beside ``c/planes.c``) and gets, bit for
bit, the luma of the image path. (OpenCV's float ``cvtColor`` rounds at every step, and whether it fuses
them depends on the CPU it dispatches to.)

Premultiplied alpha multiplies each numerator by A and puts one more
``scale`` under it; 16-bit RGBA stays below 2**53, so still exact.
"""

from __future__ import annotations

import numpy as np

from .compiled import core


def _planes_kernel(pixels: np.ndarray, scale: float, colour: bool, alpha: bool, out: np.ndarray) -> None:
    """Planes of H x W x C uint8 or uint16 pixels into ``out``, any layout (premultiplied alpha)."""
    core.planes(pixels, scale, colour, alpha, out, True)


def _opaque_rgb_planes_kernel(pixels: np.ndarray, scale: float, out: np.ndarray) -> None:
    """:func:`_planes_kernel` for the common case, RGB without alpha to Y, Cr, Cb (or Y alone, where
    ``out`` has one plane), in straight loops.

    The same expressions (``a`` = 1 drops out exactly), so the same values; a
    row at a time without per-pixel branches, so it vectorizes.
    """
    core.planes(pixels, scale, out.shape[2] == 3, False, out)


def plane_stack(pixels: np.ndarray, *, colour: bool, alpha: bool, scale: float) -> np.ndarray:
    """H x W x P float32 planes (Y, then Cr, Cb if ``colour``, then A if ``alpha``) of integer pixels."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    planes = 1 + (2 if colour else 0) + (1 if alpha else 0)
    out = np.empty((*pixels.shape[:2], planes), dtype=np.float32)
    # the kernel takes the straight loops of opaque RGB where they apply (every plane, or the luma alone)
    core.planes(np.ascontiguousarray(pixels), float(scale), colour, alpha, out)
    return out
