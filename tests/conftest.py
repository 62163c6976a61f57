"""Shared fixtures: real photographs from scikit-image, and the GPU gate."""

from __future__ import annotations

import fake_cupy
import numpy as np
import pytest
from cuda_emulation import unavailable_reason as emulation_unavailable
from skimage import data

from imgdiff_gpu._device import _gpu_unavailable_reason, gpu_available

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


# The gpu gate: gpu-marked tests run on the real GPU where CuPy sees one, and
# elsewhere on the real kernels under the CPU emulation (tests/cuda_emulation,
# through tests/fake_cupy.py); skipped only where no C++ compiler exists.
REAL_GPU = gpu_available()
_gpu_unavailable_reason.cache_clear()


def pytest_collection_modifyitems(config, items):
    reason = None if REAL_GPU else emulation_unavailable()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"no CUDA GPU visible to CuPy and {reason}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def gpu_backend(request, monkeypatch):
    """For a gpu-marked test on a machine without a GPU: the fake CuPy over the emulated kernels."""
    if request.node.get_closest_marker("gpu") is None or REAL_GPU:
        yield None
        return
    yield fake_cupy.install(monkeypatch)
    fake_cupy.uninstall()


@pytest.fixture
def fake_gpu(monkeypatch):
    """The fake CuPy over the emulated kernels, even where a GPU exists (for its allocation limit)."""
    reason = emulation_unavailable()
    if reason is not None:
        pytest.skip(reason)
    yield fake_cupy.install(monkeypatch)
    fake_cupy.uninstall()


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
    from imgdiff_gpu.compare import luma_ssim_params
    from imgdiff_gpu.pairing import prepare_pair

    pair = prepare_pair(left, right)
    params = luma_ssim_params(pair.left.luma)
    return pair, params.weights, params, ssim_map_2d(pair.left.luma, pair.right.luma, params)
