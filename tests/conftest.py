"""Shared fixtures and the GPU gate; helpers live in helper modules (pictures.py)."""

from __future__ import annotations

import numpy as np
import pytest
from pictures import PHOTOS

from imgdiff_gpu._device import gpu_available


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
