"""A pair the video screen cannot clear: the full comparison takes the screen's SSIM map and luma
terms instead of computing them again, and gives exactly what it gives without them."""

from __future__ import annotations

import numpy as np
import pytest
from pictures import PHOTOS, jpeg_roundtrip

from imgdiff_gpu.cpu import analysis
from imgdiff_gpu.cpu.analysis import screened
from imgdiff_gpu.detection import contiguous_luma, luma_bias, thresholds_for
from imgdiff_gpu.pipeline import compare
from imgdiff_gpu.planes import prepare_pair
from imgdiff_gpu.screening import FrameScreen


def _colour_photo(name: str) -> np.ndarray:
    photo = PHOTOS[name]()
    return np.ascontiguousarray(np.dstack([photo] * 3) if photo.ndim == 2 else photo[..., :3])


def _pairs():
    """(name, left, right) the screen cannot clear: a faint line (the line evidence computed),
    a darker patch with the pair's own luma offset, and a texture change."""
    astronaut = _colour_photo("astronaut")
    lined = astronaut.astype(int)
    lined[100:102, 220:370] += 14
    yield (
        "line",
        jpeg_roundtrip(astronaut, 90),
        jpeg_roundtrip(np.clip(lined, 0, 255).astype(np.uint8), 75),
    )
    coffee = _colour_photo("coffee")
    darker = coffee.astype(int) - 3
    darker[200:230, 100:160] -= 25
    yield "offset and patch", coffee, np.clip(darker, 0, 255).astype(np.uint8)
    chelsea = _colour_photo("chelsea")
    textured = chelsea.astype(int)
    textured[50:90, 60:120] += np.random.default_rng(5).integers(-40, 41, (40, 60, 1))
    yield "texture", chelsea, np.clip(textured, 0, 255).astype(np.uint8)


def _same(a, b):
    assert a.score == b.score
    assert a.ssim_threshold == b.ssim_threshold
    assert a.regions == b.regions
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.ssim_map, b.ssim_map)


@pytest.mark.parametrize(
    ("case", "sensitivity"), [(0, "low"), (1, "low"), (1, "normal"), (2, "low"), (2, "normal"), (2, "high")]
)
def test_the_full_comparison_of_a_screened_pair_is_the_same_and_computes_no_ssim(case, sensitivity, monkeypatch):
    name, left, right = list(_pairs())[case]
    thresholds = thresholds_for(sensitivity)
    score, maps = FrameScreen(left.shape[:2], thresholds).measure_keeping(left, right)
    assert score is None and maps is not None, name  # not cleared, and not before the SSIM pass
    # the pair's exact offset is handed over; the shift and line noise ratio are not (the screen's come
    # from its fused pass, equal to the full path's only up to rounding, so the full comparison computes them)
    assert maps.luma.shift is None and maps.luma.ratio is None
    assert maps.luma.bias == luma_bias(
        contiguous_luma(prepare_pair(left, right).left.planes),
        contiguous_luma(prepare_pair(left, right).right.planes),
        thresholds,
    )
    expected = compare(left, right, device="cpu", sensitivity=sensitivity)

    def no_ssim(*args, **kwargs):
        raise AssertionError("the SSIM map was computed again")

    monkeypatch.setattr("imgdiff_gpu.cpu.ssim.ssim_map_2d", no_ssim)
    with screened(maps):
        _same(compare(left, right, device="cpu", sensitivity=sensitivity), expected)


def test_what_the_screen_computed_is_taken_only_for_its_own_pair_and_thresholds(monkeypatch):
    _, left, right = next(_pairs())
    low = thresholds_for("low")
    _, maps = FrameScreen(left.shape[:2], low).measure_keeping(left, right)
    used = []
    original = analysis._screened_for

    def spy(*args):
        found = original(*args)
        used.append(found is not None)
        return found

    monkeypatch.setattr(analysis, "_screened_for", spy)
    with screened(maps):
        compare(left.copy(), right, device="cpu", sensitivity="low")  # equal pixels, another array
        compare(left, right, device="cpu", sensitivity="normal")
        compare(left, right, device="cpu", sensitivity="low")
    compare(left, right, device="cpu", sensitivity="low")  # outside the block
    assert used == [False, False, True, False]


def test_a_screened_pair_with_ignored_pixels_is_the_same(monkeypatch):
    """The screen's map is of every pixel (its ignored ones change only its bounds), so it serves
    the full comparison, which leaves the ignored pixels out itself."""
    _, left, right = list(_pairs())[1]
    ignore = np.zeros(left.shape[:2], dtype=bool)
    ignore[190:240, 90:130] = True  # part of the darker patch
    low = thresholds_for("low")
    score, maps = FrameScreen(left.shape[:2], low, ignore).measure_keeping(left, right)
    assert score is None and maps is not None
    expected = compare(left, right, device="cpu", sensitivity="low", ignore=ignore)
    assert expected.different

    def no_ssim(*args, **kwargs):
        raise AssertionError("the SSIM map was computed again")

    monkeypatch.setattr("imgdiff_gpu.cpu.ssim.ssim_map_2d", no_ssim)
    with screened(maps):
        _same(compare(left, right, device="cpu", sensitivity="low", ignore=ignore), expected)
