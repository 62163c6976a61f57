"""The analysis stage of :func:`~imgdiff_gpu.compare.compare`: SSIM map, threshold, difference mask.

Two twins with one signature and one result type: :func:`analyse_cpu` (Numba,
``_ssim_cpu.py`` and ``_strength_cpu.py``) and :func:`analyse_gpu`
(``_analysis_gpu.py``, the CUDA kernels). :func:`analyse` picks one for the
device resolved at the public boundary and owns the only fallback: a GPU that
runs out of memory even in bands hands the pair to the CPU, with a note saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._device import Device
from ._ssim_params import SSIMParams
from .detection import Thresholds, difference_mask
from .pairing import PreparedPair


@dataclass
class Analysis:
    """What the analysis of one prepared pair found."""

    ssim_map: np.ndarray
    """The luma SSIM map (float64, H x W)."""
    mask: np.ndarray
    """Pixels that differ (bool, H x W), before regions are formed."""
    ssim_threshold: float
    """The SSIM threshold the structural evidence used (Otsu's, capped, or explicit)."""
    device: Device
    """Where it was computed."""
    notes: list[str] = field(default_factory=list)


def analyse_cpu(
    pair: PreparedPair,
    params: SSIMParams,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
) -> Analysis:
    """The analysis on the CPU; see :func:`analyse`."""
    from ._ssim_cpu import ssim_map_2d

    ssim_map = ssim_map_2d(pair.left.luma, pair.right.luma, params)
    mask, threshold = difference_mask(
        ssim_map,
        pair.left.planes,
        pair.right.planes,
        params.weights,
        thresholds,
        ignore=ignore,
        antialiasing=antialiasing,
    )
    return Analysis(ssim_map, mask, threshold, "cpu")


def analyse_gpu(
    pair: PreparedPair,
    params: SSIMParams,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
) -> Analysis:
    """The analysis on the GPU; see :func:`analyse`.

    Raises
    ------
    GPUOutOfMemory
        When the pair does not fit in GPU memory even in the smallest bands.
    """
    from ._analysis_gpu import analyse_on_device

    ssim_map, mask, threshold, notes = analyse_on_device(
        pair.left.planes, pair.right.planes, params, thresholds, ignore=ignore, antialiasing=antialiasing
    )
    return Analysis(ssim_map, mask, threshold, "gpu", notes)


def analyse(
    device: Device,
    pair: PreparedPair,
    params: SSIMParams,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
) -> Analysis:
    """SSIM map, SSIM threshold and difference mask of a prepared pair.

    Parameters
    ----------
    device : {'cpu', 'gpu'}
        Where to compute, already resolved (:func:`imgdiff_gpu._device.resolve_device`).
    pair : PreparedPair
        The two images as plane stacks (:func:`imgdiff_gpu.pairing.prepare_pair`).
    params : SSIMParams
        SSIM of the luma planes; its window also averages the other evidence.
    thresholds : Thresholds
    ignore : ndarray of bool, optional
        Pixels left out of the threshold statistics and the mask.
    antialiasing : bool
        Leave out changes a sub-pixel edge shift explains.

    Returns
    -------
    Analysis
        Computed on ``device``, or on the CPU with a note when the GPU ran out of memory.
    """
    if device == "gpu":
        from ._analysis_gpu import GPUOutOfMemory

        try:
            return analyse_gpu(pair, params, thresholds, ignore=ignore, antialiasing=antialiasing)
        except GPUOutOfMemory as exc:
            fallback = analyse_cpu(pair, params, thresholds, ignore=ignore, antialiasing=antialiasing)
            fallback.notes.append(f"{exc}; computed on the CPU")
            return fallback
    return analyse_cpu(pair, params, thresholds, ignore=ignore, antialiasing=antialiasing)
