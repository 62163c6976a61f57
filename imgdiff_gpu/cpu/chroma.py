"""The coarse chroma term of ``low`` on the CPU, compiled ahead of time (``c/chroma.c``).

:func:`imgdiff_gpu.detection.coarse_chroma_shift` defines it; ``c/chroma.c`` states every
step to the rounding. OpenCV computed it before (``INTER_AREA``, ``GaussianBlur``,
``magnitude``, ``INTER_LINEAR``): where the size is a multiple of 4 the steps are OpenCV's
vector paths, but its magnitude goes through IPP (within 2 ulp), its blur's scalar tail is
unfused (within 1 ulp, on rows that depend on the buffer's address), and at any other size
its grid of blocks spans fractions of rows, which no band of rows can reproduce. Here the
value of a pixel reads only the block rows within 7 of its own, at any size.
"""

from __future__ import annotations

import numpy as np

from ..detection import coarse_gaussian_taps
from .compiled import core


def coarse_chroma_shift_cpu(left: np.ndarray, right: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """The H x W float32 coarse chroma shift of two H x W x P (P >= 3) float32 plane stacks (into ``out`` where
    given: H x W float32, C-contiguous)."""
    left = np.ascontiguousarray(left, dtype=np.float32)
    right = np.ascontiguousarray(right, dtype=np.float32)
    if left.ndim != 3 or left.shape != right.shape or left.shape[2] < 3:
        raise ValueError(
            f"coarse_chroma_shift needs two H x W x P plane stacks of one shape with P >= 3, "
            f"got {left.shape} and {right.shape}"
        )
    if out is None:
        out = np.empty(left.shape[:2], dtype=np.float32)
    core.coarse_chroma(left, right, coarse_gaussian_taps(), out, _work(*left.shape[:2]))
    return out


def _work(height: int, width: int) -> np.ndarray:
    """The pass's working floats (``c/chroma.c``: five planes of blocks and a widened row per block row) in this
    thread's scratch (:mod:`imgdiff_gpu.cpu.scratch`), so a video's pairs reuse them."""
    from ..detection import COARSE_FACTOR
    from .scratch import scratch

    blocks = max(height // COARSE_FACTOR, 1), max(width // COARSE_FACTOR, 1)
    return scratch("coarse_chroma_work", (blocks[0] * blocks[1] * 5 + (blocks[0] + 1) * width,))
