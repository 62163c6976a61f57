"""The heat map's colours in one pass (cpu/c/heat.c) are OpenCV's colour map of NumPy's levels, byte for byte."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from imgdiff_gpu.cpu.heat import heat_colours
from imgdiff_gpu.rendering import _inferno_bgr, _inferno_rgb, heat_levels


def _maps(dtype) -> np.ndarray:
    rng = np.random.default_rng(5)
    values = rng.uniform(-1.5, 1.5, (40, 57)).astype(dtype)
    # every level's rounding edge (k + 0.5) / 255 on both sides, and the specials
    edges = 1 - (np.arange(256) + 0.5) / 255
    values.flat[: 3 * 256] = np.concatenate([edges, np.nextafter(edges, 2), np.nextafter(edges, -2)]).astype(dtype)
    values.flat[-6:] = [np.nan, np.inf, -np.inf, 1.0, 0.0, -0.0]
    return values


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_the_colours_are_opencvs_map_of_the_levels(dtype, order):
    ssim_map = _maps(dtype)
    with np.errstate(invalid="ignore"):  # NumPy's cast of NaN to a level: 0, as the core gives it
        levels = heat_levels(ssim_map)
    bgr = cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO)
    expected = bgr if order == "bgr" else bgr[..., ::-1]
    table = _inferno_bgr() if order == "bgr" else _inferno_rgb()
    assert np.array_equal(heat_colours(ssim_map, table), expected)
    assert np.array_equal(heat_colours(levels, table), expected)  # levels kept in bands


def test_rows_of_a_map_are_those_rows_of_its_colours():
    ssim_map = _maps(np.float32)
    whole = heat_colours(ssim_map, _inferno_bgr())
    assert np.array_equal(heat_colours(ssim_map[7:19], _inferno_bgr()), whole[7:19])


def test_another_type_is_refused():
    with pytest.raises(TypeError, match="ssim_map"):
        heat_colours(np.zeros((3, 3), np.float16), _inferno_bgr())
