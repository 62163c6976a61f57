"""A frame's clip noise regions in one compiled pass (``c/term_regions.c``), for
:func:`imgdiff_gpu.clip_noise.region_peak`.

No GPU twin: a frame's noise peak is measured on the CPU whatever device compared the frames.
"""

from __future__ import annotations

import numpy as np

from .compiled import core


def term_regions(term: np.ndarray, cut: float, join: int) -> np.ndarray:
    """The regions of a float32 ``term``'s pixels reaching ``cut`` (compared in float32), dilated by ``join`` city-block
    steps and grouped 8-connected: one row ``[peak, top, left, bottom, right]`` a region (float64; its largest
    term, and its box after the dilation with bottom and right one past it), in the order scipy.ndimage.label
    numbers them (of each region's first pixel, row by row); no rows where no pixel reaches the cut.

    The same as ``binary_dilation(term >= cut, iterations=join)``, ``label`` with a 3 x 3 structure, the
    maximum of ``term`` over each label's pixels reaching the cut and ``find_objects``, but built from those
    pixels alone: a few hundred in a frame of codec noise, where scipy makes several passes over their band.
    """
    found = core.term_regions(np.ascontiguousarray(term), np.float32(cut), int(join))
    return np.frombuffer(found, np.float64).reshape(-1, 5)
