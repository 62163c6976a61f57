"""The detection evidence written plainly with OpenCV, one full-size map at a time.

This is the definition the fused kernel (imgdiff_gpu/cpu/strength.py, and the
GPU twin to come) must reproduce; it is slow and kept only for tests.
"""

from __future__ import annotations

import cv2
import numpy as np


def _smooth(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    kernel = weights.reshape(-1, 1)
    return cv2.sepFilter2D(image.astype(np.float64), cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def reference_strength(
    left,
    right,
    ssim_map,
    weights,
    *,
    luma,
    chroma,
    texture,
    ssim_threshold,
    suppress=None,
    luma_scale=None,
    coarse=None,
):
    delta = left.astype(np.float64) - right.astype(np.float64)
    planes = delta.shape[2]
    strength = np.abs(_smooth(delta[..., 0], weights)) / (luma if luma_scale is None else luma * luma_scale)
    if coarse is not None:  # further evidence, already over its threshold
        strength = np.maximum(strength, coarse)
    if planes >= 3:
        chroma_shift = np.hypot(_smooth(delta[..., 1], weights), _smooth(delta[..., 2], weights))
        strength = np.maximum(strength, chroma_shift / chroma)
    if planes in (2, 4):
        strength = np.maximum(strength, np.abs(_smooth(delta[..., -1], weights)) / luma)
    structural = np.minimum(
        (1.0 - ssim_map) / (1.0 - ssim_threshold), _smooth(np.abs(delta[..., 0]), weights) / texture
    )
    strength = np.maximum(strength, structural)
    changed = (delta != 0).any(axis=2)
    if suppress is not None:
        changed &= ~suppress
    near = cv2.dilate(changed.astype(np.uint8), np.ones((7, 7), np.uint8), borderType=cv2.BORDER_REFLECT) > 0
    strength[~near] = 0
    return strength
