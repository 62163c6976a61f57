"""The analysis stage of :func:`~imgdiff_gpu.compare`: pixels in, score and regions out.

Two twins with one signature and one result type, :class:`Analysis`:
``analyse_cpu`` (``cpu/analysis.py``: the compiled C core and OpenCV on the host) and
``analyse_gpu`` (``gpu/analysis.py``: the CUDA kernels and ``cupyx``, the pair
resident on the device). :func:`analyse` picks one for the device resolved at
the public boundary and owns the only fallback: a GPU that runs out of memory
even in bands hands the pair to the CPU, with a note saying so.
"""

from __future__ import annotations

import numpy as np

from ._device import Device
from .cpu.analysis import Analysis, analyse_cpu
from .cpu.strength import NEAR
from .detection import Thresholds

__all__ = ["Analysis", "analyse", "analyse_batch"]

# The strength kernel looks NEAR pixels around each pixel inside a window reflected
# once at the borders: an image under 2 * NEAR + 1 px on a side is done on the CPU.
SMALLEST_GPU_SIDE = 2 * NEAR + 1


def _not_on_the_gpu(shape: tuple[int, ...]) -> str | None:
    """Why a pair of this shape must be analysed on the CPU (None: it need not)."""
    if min(shape[:2]) < SMALLEST_GPU_SIDE:
        return "image smaller than the GPU kernels' window"
    return None


def analyse(
    device: Device,
    left: np.ndarray,
    right: np.ndarray,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
    min_area: int,
    merge_distance: int,
    keep_maps: bool = True,
) -> Analysis:
    """Score, SSIM threshold and regions of two same-sized integer images.

    Parameters
    ----------
    device : {'cpu', 'gpu'}
        Where to compute, already resolved (:func:`imgdiff_gpu._device.resolve_device`).
    left, right : ndarray
        H x W or H x W x 2/3/4 uint8/uint16 pixels, as stored.
    thresholds : Thresholds
    ignore : ndarray of bool, optional
        Pixels left out of the score, the threshold statistics and the regions.
    antialiasing : bool
        Leave out changes a sub-pixel edge shift explains.
    min_area, merge_distance : int
        See :func:`imgdiff_gpu.regions.find_regions`.
    keep_maps : bool
        Also return the SSIM map and the regions' mask (for pictures). Without
        them a GPU run brings back only the score, the threshold and the regions.

    Returns
    -------
    Analysis
        Computed on ``device``, or on the CPU with a note when the GPU ran out of memory.
    """
    options = dict(
        ignore=ignore,
        antialiasing=antialiasing,
        min_area=min_area,
        merge_distance=merge_distance,
        keep_maps=keep_maps,
    )
    if device == "gpu" and (reason := _not_on_the_gpu(left.shape)):
        on_cpu = analyse_cpu(left, right, thresholds, **options)
        on_cpu.notes.append(f"{reason}; computed on the CPU")
        return on_cpu
    if device == "gpu":
        from .gpu.analysis import GPUOutOfMemory, analyse_gpu

        try:
            return analyse_gpu(left, right, thresholds, **options)
        except GPUOutOfMemory as exc:
            fallback = analyse_cpu(left, right, thresholds, **options)
            fallback.notes.append(f"{exc}; computed on the CPU")
            return fallback
    return analyse_cpu(left, right, thresholds, **options)


def analyse_batch(
    device: Device,
    lefts,
    rights,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
    min_area: int,
    merge_distance: int,
    keep_maps: bool = False,
) -> list[Analysis]:
    """:func:`analyse` of N same-sized pairs (N x H x W [x C] stacks or sequences of arrays).

    On the GPU each stage is one launch over the whole batch; on the CPU the pairs go one by one.
    """
    options = dict(
        ignore=ignore,
        antialiasing=antialiasing,
        min_area=min_area,
        merge_distance=merge_distance,
        keep_maps=keep_maps,
    )
    if device == "gpu" and len(lefts) and not _not_on_the_gpu(lefts[0].shape):
        from .gpu.analysis import GPUOutOfMemory, analyse_batch_gpu

        try:
            return analyse_batch_gpu(lefts, rights, thresholds, **options)
        except GPUOutOfMemory:
            pass  # each pair then goes its own way, the CPU's fallback included
    return [analyse(device, left, right, thresholds, **options) for left, right in zip(lefts, rights, strict=True)]
