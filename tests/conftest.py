"""Shared fixtures: real photographs from scikit-image, and the GPU gate."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from imgdiff_gpu._device import gpu_available

# Real photographs that ship with scikit-image (no download needed).
PHOTOS = {
    "astronaut": data.astronaut,
    "chelsea": data.chelsea,
    "coffee": data.coffee,
    "camera": data.camera,
    "rocket": data.rocket,
}


@pytest.fixture(params=sorted(PHOTOS))
def photo(request) -> np.ndarray:
    return PHOTOS[request.param]()


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU visible to CuPy on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    bgr = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(decoded[..., ::-1]) if decoded.ndim == 3 else decoded


def luma_analysis(left: np.ndarray, right: np.ndarray):
    """What compare() computes before detection: planes, the window, SSIM params and the CPU map."""
    from imgdiff_gpu._ssim_cpu import ssim_map_2d
    from imgdiff_gpu.pairing import prepare_pair
    from imgdiff_gpu.pipeline import luma_ssim_params

    pair = prepare_pair(left, right)
    params = luma_ssim_params(pair.left.luma)
    return pair, params.weights, params, ssim_map_2d(pair.left.luma, pair.right.luma, params)
