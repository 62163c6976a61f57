"""The coarse chroma term of ``low`` on the device (``gpu/noise_rules.py``) is the CPU's (``cpu/c/chroma.c``).

Marked ``gpu``: on a real GPU, or on the fake CuPy elsewhere (tests/fake_cupy.py). Sizes
that are no multiple of the coarse block, and grids smaller than the Gaussian, included.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_parity import on_real_gpu
from pictures import jpeg_roundtrip
from skimage import data

from imgdiff_gpu.detection import coarse_chroma_shift
from imgdiff_gpu.planes import prepare_pair

pytestmark = pytest.mark.gpu


def _planes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    left = np.ascontiguousarray(data.astronaut()[100 : 100 + height, 150 : 150 + width])
    right = left.copy()
    right[height // 3 : height // 3 + 12, width // 3 : width // 3 + 14, 0] += 30  # a colour patch
    pair = prepare_pair(left, jpeg_roundtrip(right, 75))
    return pair.left.planes, pair.right.planes


@pytest.mark.parametrize("shape", [(64, 96), (61, 94), (67, 99), (3, 5), (9, 30)])
def test_the_device_computes_the_cpus_coarse_chroma_term(shape):
    import cupy

    from imgdiff_gpu.gpu.chroma import _block_means, coarse_chroma_shift_gpu

    left, right = _planes(*shape)
    expected = coarse_chroma_shift(left, right)
    device_left, device_right = cupy.asarray(left), cupy.asarray(right)
    ours = coarse_chroma_shift_gpu(device_left, device_right).get()
    assert ours.dtype == np.float32 and ours.shape == shape
    # every step in chroma.c's order, each fma as one rounding (float64 then float32): the same bits
    # (on a device, allow an ulp in case its sqrt rounds otherwise; the term is about 0.1 at the patch)
    if on_real_gpu():
        assert np.abs(ours - expected).max() <= 1e-7 * max(float(expected.max()), 1.0)
    else:
        assert np.array_equal(ours, expected)
    # the block means are the C core's, bit for bit; the last block takes the rows left over
    delta = device_left[..., 1:3] - device_right[..., 1:3]
    means = _block_means(_block_means(delta, -2, shape[1]), -3, shape[0]).get()
    assert means.shape == (max(shape[0] // 4, 1), max(shape[1] // 4, 1), 2)
    last = (left[..., 1:3] - right[..., 1:3])[4 * (means.shape[0] - 1) :, 4 * (means.shape[1] - 1) :]
    assert np.allclose(means[-1, -1], last.reshape(-1, 2).mean(axis=0), rtol=1e-5, atol=1e-7)
