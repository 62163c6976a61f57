"""Shared fixtures and the GPU gate; helpers live in helper modules (pictures.py, gpu_parity.py)."""

from __future__ import annotations

import fake_cupy
import numpy as np
import pytest
from cuda_emulation import unavailable_reason as emulation_unavailable
from pictures import PHOTOS

from imgdiff_gpu._device import _gpu_unavailable_reason, gpu_available


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
