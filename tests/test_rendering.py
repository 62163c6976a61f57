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


def test_boxes_are_opencvs_rectangles_pixel_for_pixel():
    """rendering._rectangle against cv2.rectangle: random boxes, thicknesses 1-89, boxes of no width or
    height, and boxes reaching past every edge (a band of a picture draws its boxes so)."""
    from imgdiff_gpu.rendering import _rectangle

    rng = np.random.default_rng(15)
    for case in range(3000):
        height, width = (int(n) for n in rng.integers(1, 120, 2))
        thickness = int(rng.integers(1, 14 if case % 3 else 90))
        x1, x2 = sorted(int(n) for n in rng.integers(-60, width + 60, 2))
        y1, y2 = sorted(int(n) for n in rng.integers(-60, height + 60, 2))
        if case % 7 == 0:
            x2 = x1
        if case % 11 == 0:
            y2 = y1
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        picture = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        expected = cv2.rectangle(picture.copy(), (x1, y1), (x2, y2), color, thickness)
        ours = picture.copy()
        _rectangle(ours, (x1, y1), (x2, y2), color, thickness)
        np.testing.assert_array_equal(ours, expected, err_msg=f"case {case}: {thickness=} {(x1, y1, x2, y2)}")


def test_the_heat_maps_colour_table_is_opencvs_inferno():
    from imgdiff_gpu.rendering import _heat_colours, _inferno_bgr, _inferno_rgb

    levels = np.arange(256, dtype=np.uint8).reshape(256, 1)
    expected = cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO)
    np.testing.assert_array_equal(_inferno_bgr(), expected)
    np.testing.assert_array_equal(_inferno_rgb(), expected[..., ::-1])
    some = np.random.default_rng(3).integers(0, 256, (17, 23), dtype=np.uint8)
    np.testing.assert_array_equal(_heat_colours(some), cv2.applyColorMap(some, cv2.COLORMAP_INFERNO))
    np.testing.assert_array_equal(_heat_colours(some, rgb=True), cv2.applyColorMap(some, _inferno_rgb()))


def test_grey_pictures_are_their_grey_in_three_channels():
    from imgdiff_gpu.rendering import _display_rows

    grey = np.random.default_rng(4).integers(0, 256, (9, 13), dtype=np.uint8)
    np.testing.assert_array_equal(_display_rows(grey), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    np.testing.assert_array_equal(_display_rows(grey, rgb=True), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))


@pytest.mark.parametrize("thickness", [1, 2, 5, 13])
def test_pictures_differ_from_their_plain_inputs_only_in_the_rows_they_say(thickness):
    """The marked and filled pictures' ``shows`` spans cover every row drawn over (the encoder takes the
    other rows as deflated ahead from the plain inputs, so a row drawn outside them would be lost)."""
    from imgdiff_gpu.loading import LoadedImage
    from imgdiff_gpu.pipeline import Comparison
    from imgdiff_gpu.regions import Region
    from imgdiff_gpu.rendering import pictures, plain_picture

    rng = np.random.default_rng(thickness)
    for case in range(40):
        height, width = (int(n) for n in rng.integers(20, 90, 2))
        left, right = (rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(2))
        regions = []
        mask = np.zeros((height, width), bool)
        for _ in range(int(rng.integers(0, 4))):
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            w, h = int(rng.integers(1, width - x + 1)), int(rng.integers(1, height - y + 1))
            regions.append(Region(x, y, w, h, area=w * h, min_ssim=0.0, mean_ssim=0.0, mean_color_delta=0.0))
            mask[y + h // 2, x : x + w] = True
        left_image, right_image = (
            LoadedImage(p, path=None, format=None, mode="RGB", orientation=1) for p in (left, right)
        )
        comparison = Comparison(left_image, right_image, "cpu", thresholds=None, mask=mask, regions=regions)
        drawn = pictures(comparison, thickness=thickness)
        for name in ("left_marked.png", "right_marked.png", "right_filled.png"):
            picture = drawn[name]
            pixels, spans = picture.shows
            assert pixels is (left if name == "left_marked.png" else right)
            plain = plain_picture(pixels).png_rows(0, height)
            rows = picture.png_rows(0, height)
            outside = np.ones(height, bool)
            for top, bottom in spans:
                outside[top:bottom] = False
            np.testing.assert_array_equal(rows[outside], plain[outside], err_msg=f"{name} case {case}")
            for top in range(0, height, 7):  # by bands, some drawn over, some the pixels as they are
                np.testing.assert_array_equal(picture.png_rows(top, top + 7), picture.rows(top, top + 7)[..., ::-1])
            if regions and name != "right_filled.png":
                assert not outside.all()
