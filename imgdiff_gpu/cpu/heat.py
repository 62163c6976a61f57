"""The heat map's colours, compiled ahead of time (``c/heat.c``), for :mod:`imgdiff_gpu.rendering`.

No GPU twin: the pictures are drawn on the CPU, whatever device compared the images.
"""

from __future__ import annotations

import numpy as np

from .compiled import core


def heat_colours(ssim_map: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[heat_levels(ssim_map)]``: an H x W x 3 uint8 picture, in one pass.

    ``ssim_map`` is float32 or float64 (its levels computed as :func:`imgdiff_gpu.rendering.heat_levels`
    computes them, in the map's type), or uint8 levels already; ``table`` is 256 x 3 uint8.

    Raises
    ------
    TypeError
        A map of any other type.
    """
    ssim_map = np.ascontiguousarray(ssim_map)
    out = np.empty((*ssim_map.shape, 3), dtype=np.uint8)
    core.heat_colours(ssim_map, np.ascontiguousarray(table.reshape(256, 3)), out)
    return out
