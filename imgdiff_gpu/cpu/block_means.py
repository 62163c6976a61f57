"""The 4 x 4 block means of two luma planes' difference in one compiled pass (``c/block_means.c``), for the
pair's luma offset (:func:`imgdiff_gpu.detection.luma_bias`).

No GPU twin: the GPU path computes its offset on the device.
"""

from __future__ import annotations

import numpy as np

from ..detection import COARSE_FACTOR
from .compiled import core

assert core.block_means_side == COARSE_FACTOR, "c/block_means.c's block is the coarse grid's (rebuild the core)"


def difference_block_means(left_luma: np.ndarray, right_luma: np.ndarray) -> np.ndarray:
    """``cv2.resize(cv2.subtract(left_luma, right_luma), (W // 4, H // 4), interpolation=cv2.INTER_AREA)`` of two
    float32 planes whose sides are multiples of 4, bit for bit (OpenCV's "area fast" path: per block, its rows'
    differences summed in float32 in OpenCV's order, times 1 / 16), without the difference written out."""
    height, width = left_luma.shape
    out = np.empty((height // COARSE_FACTOR, width // COARSE_FACTOR), np.float32)
    core.block_means(np.ascontiguousarray(left_luma), np.ascontiguousarray(right_luma), out)
    return out
