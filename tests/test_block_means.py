"""The pair's luma offset's 4 x 4 block means: the compiled pass (cpu/block_means.py) where it is OpenCV's."""

from __future__ import annotations

import numpy as np
import pytest

from imgdiff_gpu.detection import luma_bias, luma_bias_of, luma_block_means, thresholds_for

LOW = thresholds_for("low")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_offset_keeps_the_planes_type(dtype):
    """float64 planes keep their float64 blocks (OpenCV's subtract and resize), so the offset is the old
    expression's: 3.5 / 255 exactly (-0.013725490196078431), not its float32 rounding (-0.013725490309298038)."""
    rng = np.random.default_rng(8)
    left = rng.uniform(0.1, 0.9, (96, 128)).astype(dtype)
    right = left + dtype(3.5 / 255)
    expected = luma_bias_of(luma_block_means(left, right), LOW)
    assert luma_bias(left, right, LOW) == expected
    assert abs(expected + 3.5 / 255) < (1e-15 if dtype == np.float64 else 1e-7)


def test_the_compiled_pass_takes_float32_alone():
    from imgdiff_gpu.cpu.block_means import difference_block_means

    planes = np.zeros((8, 8)), np.zeros((8, 8))
    with pytest.raises(TypeError):
        difference_block_means(*planes)
