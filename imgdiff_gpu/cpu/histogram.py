"""The SSIM map's histogram on the CPU in one parallel pass, compiled ahead of time (``c/histogram.c``).

:func:`imgdiff_gpu.detection.ssim_histogram` defines it (256 equal bins over
[-1, 1], bin = floor((s + 1) * 128), strays clamped); with NumPy that takes
four full-size temporaries and a bincount, which at 4K cost twice the SSIM map
itself. Here each strip of rows counts into its own row of a small table.
"""

from __future__ import annotations

import numpy as np

from .compiled import core

STRIP_ROWS = 64  # as histogram.c's: the counts have a row per strip


def ssim_histogram_cpu(ssim_map: np.ndarray, valid: np.ndarray | None, bins: int) -> np.ndarray:
    """Counts (int64) of the 2-D map's values at ``valid`` pixels (every pixel if None) in ``bins`` bins."""
    height = ssim_map.shape[0]
    counts = np.zeros((-(-height // STRIP_ROWS), bins), dtype=np.int64)
    core.histogram(
        np.ascontiguousarray(ssim_map),
        None if valid is None else np.ascontiguousarray(valid, dtype=np.bool_),
        bins,
        counts,
    )
    return counts.sum(axis=0)
