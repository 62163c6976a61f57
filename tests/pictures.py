"""Test helpers for images: real photographs, a JPEG round trip, the pipeline's luma analysis.

Imported by test modules (``from pictures import ...``); conftest.py holds only fixtures and hooks.
"""

from __future__ import annotations

import numpy as np
from skimage import data

# Real photographs that ship with scikit-image (no download needed).
PHOTOS = {
    "astronaut": data.astronaut,
    "chelsea": data.chelsea,
    "coffee": data.coffee,
    "camera": data.camera,
    "rocket": data.rocket,
}


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` saved as a JPEG of ``quality`` and decoded again (OpenCV's libjpeg, 4:2:0)."""
    import cv2

    bgr = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(decoded[..., ::-1]) if decoded.ndim == 3 else decoded


def luma_analysis(left: np.ndarray, right: np.ndarray):
    """What compare() computes before detection: planes, the window, SSIM params and the CPU map."""
    from imgdiff_gpu.cpu.ssim import ssim_map_2d
    from imgdiff_gpu.pipeline import luma_ssim_params
    from imgdiff_gpu.planes import prepare_pair

    pair = prepare_pair(left, right)
    params = luma_ssim_params(pair.left.luma)
    return pair, params.weights, params, ssim_map_2d(pair.left.luma, pair.right.luma, params)
