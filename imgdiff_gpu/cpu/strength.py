"""Difference strength on the CPU: one fused pass, compiled ahead of time (``c/strength.c``).

From the two plane stacks and the SSIM map to the per-pixel strength that
:func:`imgdiff_gpu.detection.difference_mask` thresholds, without a single
full-size temporary: strips of rows with a halo, like ``cpu/ssim.py``. Per
pixel it computes, with ``w *`` the SSIM window (borders reflected):

* luma shift ``|w * dY|`` and opacity shift ``|w * dA|``, over the luma threshold;
* chroma shift ``|(w * dCr, w * dCb)|``, over the chroma threshold;
* structure ``min((1 - S) / (1 - t_ssim), (w * |dY|) / t_texture)``;

the strength is the largest, and 0 unless a pixel that differs at all (and is
not excused by ``suppress``) lies within 3 px (Chebyshev), because smoothing
spreads evidence beyond the change.
"""

from __future__ import annotations

import numpy as np

from ..detection import HYSTERESIS_HIGH, HYSTERESIS_LOW
from ..planes import PairLayout
from .compiled import core

# Rows per strip (16 to 64, by the thread count) and NEAR are compiled into the C;
# the GPU kernel and the analysis take NEAR from here.
NEAR = 3  # pixels: how far evidence may stand from a changed pixel


THRESHOLD_FLOOR = 1e-12  # a zero threshold ('exact') divides by this instead


def inverse_threshold(threshold: float) -> float:
    """1 / threshold, the form the CPU and GPU passes take their thresholds in."""
    return 1.0 / max(threshold, THRESHOLD_FLOOR)


def strength_map(
    left: np.ndarray,
    right: np.ndarray,
    ssim_map: np.ndarray,
    weights: np.ndarray,
    *,
    luma: float,
    chroma: float,
    texture: float,
    ssim_threshold: float,
    suppress: np.ndarray | None = None,
    luma_scale: np.ndarray | None = None,
    coarse: np.ndarray | None = None,
    luma_offset: float = 0.0,
    layout: PairLayout | None = None,
    levels: bool = False,
    luma_rows: np.ndarray | None = None,
) -> np.ndarray:
    """Strength (float32, H x W) of two H x W x P float32 plane stacks.

    With ``luma_scale`` (H x W float32) the luma threshold at a pixel is
    ``luma * luma_scale``; ``coarse`` (H x W float32) is further evidence,
    already divided by its threshold, taken into the maximum. ``luma_offset``
    is added to the right luma first (in float32, as
    :func:`imgdiff_gpu.detection.unbiased` adds it, without its copy). With
    ``layout`` (:func:`imgdiff_gpu.planes.pair_layout` of them), ``left`` and ``right``
    are the two images' integer pixels instead, and each row's planes are computed as
    the pass reads it: the values of the stacks, without the stacks. With ``levels``, the
    strength's levels instead (:func:`strength_levels_map`); then ``luma_rows`` (bool, one per
    row), where given, says which rows' luma term ``|w * dY| / (luma * luma_scale)`` may reach
    ``HYSTERESIS_LOW``: on the others it is not computed, which changes no level provided it does
    stay below there (``luma_scale`` >= 1, and the rows' largest ``|w * dY|`` below
    ``HYSTERESIS_LOW * luma`` by a margin over float32 rounding, as
    :func:`imgdiff_gpu.detection.difference_mask` gives them).
    """
    if luma_rows is not None and not levels:
        raise ValueError("luma_rows is for the levels alone: the strength itself needs every term")
    out = np.empty(left.shape[:2], dtype=np.uint8 if levels else np.float32)
    if layout is None:
        left, right = (np.ascontiguousarray(side, dtype=np.float32) for side in (left, right))
        sources = None
    else:  # integer pixels, H x W x C, as the planes kernel takes them
        left, right = (np.ascontiguousarray(side.reshape(*side.shape[:2], -1)) for side in (left, right))
        sources = (layout.left_scale, layout.right_scale, layout.colour, layout.alpha)
    core.strength(
        left,
        right,
        np.ascontiguousarray(ssim_map, dtype=np.float64),  # a float32 map widens exactly
        np.ascontiguousarray(weights, dtype=np.float64),
        inverse_threshold(luma),
        inverse_threshold(chroma),
        inverse_threshold(texture),
        inverse_threshold(1.0 - ssim_threshold),
        None if suppress is None else np.ascontiguousarray(suppress, dtype=np.bool_),
        None if luma_scale is None else np.ascontiguousarray(luma_scale, dtype=np.float32),
        None if coarse is None else np.ascontiguousarray(coarse, dtype=np.float32),
        out,
        float(np.float32(luma_offset)),
        HYSTERESIS_LOW,
        HYSTERESIS_HIGH,
        sources,
        None if luma_rows is None else np.ascontiguousarray(luma_rows, dtype=np.bool_),
    )
    return out


def strength_levels_map(left: np.ndarray, right: np.ndarray, ssim_map: np.ndarray, weights: np.ndarray, **options):
    """:func:`strength_map` (the same keywords) as its levels (uint8, H x W: 0 below ``HYSTERESIS_LOW``, 1
    from it, 2 from ``HYSTERESIS_HIGH``), each of the same float32 strength
    (:func:`imgdiff_gpu.detection.strength_levels`), written by the pass itself: a byte a pixel where the
    strength and the two comparisons that made levels of it took six, as ``kernels/strength.cu`` writes them."""
    return strength_map(left, right, ssim_map, weights, levels=True, **options)
