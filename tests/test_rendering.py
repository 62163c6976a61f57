"""Pictures: the heat map is round(clip(1 - S, 0, 1) * 255) through Inferno, whatever the float type."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from imgdiff_gpu.rendering import heat_map


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_heat_map_levels_are_the_rounded_clipped_dissimilarity(dtype):
    levels = np.arange(256)
    ties = 1 - (levels + 0.5) / 255  # halves: rounded to even, as np.round does
    exact = 1 - levels / 255
    rng = np.random.default_rng(0)
    ssim_map = np.concatenate([ties, exact, rng.uniform(-1.5, 1.5, 4096), [-1.0, 0.0, 1.0, 1.5]]).astype(dtype)
    ssim_map = ssim_map.reshape(4, -1)
    expected = np.round(np.clip(1.0 - ssim_map, 0.0, 1.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(heat_map(ssim_map), cv2.applyColorMap(expected, cv2.COLORMAP_INFERNO))


@pytest.mark.parametrize("color", [5, (1, 2), (1, 2, 3, 4)])
def test_a_colour_that_is_not_three_channels_is_refused(color):
    from imgdiff_gpu.pipeline import compare
    from imgdiff_gpu.rendering import pictures

    left = np.zeros((40, 40, 3), np.uint8)
    right = left.copy()
    right[10:20, 10:20] = 200
    comparison = compare(left, right, keep_maps=True)
    with pytest.raises(ValueError, match="three channels"):
        pictures(comparison, color=color)


def test_grey_and_alpha_arrays_are_drawn_over_white_as_their_rgba_would_be():
    from imgdiff_gpu.pipeline import compare
    from imgdiff_gpu.rendering import render

    rng = np.random.default_rng(4)
    left = rng.integers(0, 256, (40, 50, 2), dtype=np.uint8)
    right = left.copy()
    right[10:20, 10:20, 0] ^= 0x80
    as_rgba = [np.dstack([p[..., :1]] * 3 + [p[..., 1:]]) for p in (left, right)]
    grey_alpha = render(compare(left, right, device="cpu", min_area=0))
    rgba = render(compare(*as_rgba, device="cpu", min_area=0))
    assert grey_alpha.keys() == rgba.keys()
    for name in grey_alpha:
        np.testing.assert_array_equal(grey_alpha[name], rgba[name])
