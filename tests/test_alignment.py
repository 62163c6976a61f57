"""Size reconciliation, alignment and anti-aliasing tolerance."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from imgdiff_gpu.alignment import AlignmentError, estimate_translation, reconcile
from imgdiff_gpu.pipeline import compare


def screenshot(offset=(0, 0), text="Total: 42", antialiased=True) -> np.ndarray:
    """A UI-like picture: white page, a header bar, text and a button.

    Drawn at 4x and scaled down, with area averaging (anti-aliased edges) or
    nearest-neighbour sampling (jagged edges), as two renderers would.
    """
    dx, dy = (4 * v for v in offset)
    page = np.full((960, 1440, 3), 255, np.uint8)
    cv2.rectangle(page, (0 + dx, 0 + dy), (1439 + dx, 160 + dy), (40, 60, 160), -1)
    cv2.putText(page, "Invoice", (48 + dx, 120 + dy), cv2.FONT_HERSHEY_SIMPLEX, 3.6, (255, 255, 255), 8)
    cv2.putText(page, text, (80 + dx, 440 + dy), cv2.FONT_HERSHEY_SIMPLEX, 4.0, (20, 20, 20), 8)
    cv2.rectangle(page, (800 + dx, 640 + dy), (1280 + dx, 800 + dy), (30, 150, 60), -1)
    sampling = cv2.INTER_AREA if antialiased else cv2.INTER_NEAREST
    return cv2.resize(page, (360, 240), interpolation=sampling)


def test_shifted_screenshot_is_no_difference_once_aligned():
    left, right = screenshot(), screenshot(offset=(5, 3))
    assert compare(left, right, device="cpu").different  # without alignment it lights up
    result = compare(left, right, device="cpu", align="translation")
    assert result.regions == []
    assert result.alignment.as_dict()["shift"] == [5.0, 3.0]


def test_aligned_screenshot_still_shows_a_real_change():
    result = compare(screenshot(), screenshot(offset=(5, 3), text="Total: 47"), device="cpu", align="translation")
    assert len(result.regions) == 1
    region = result.regions[0]
    assert region.x > 100 and 70 < region.y < 120  # the changed digit, in LEFT's coordinates


def test_subpixel_shift_of_a_photograph_aligns():
    # shift the whole photograph, then crop both, so every edge pixel is real content
    photo = data.camera()
    matrix = np.float32([[1, 0, 2.5], [0, 1, -1.5]])
    moved = cv2.warpAffine(photo, matrix, photo.shape[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    left, right = photo[16:-16, 16:-16], moved[16:-16, 16:-16]
    found = estimate_translation(left, right).as_dict()["shift"]
    assert found == pytest.approx([2.5, -1.5], abs=0.05)  # right(x + 2.5, y - 1.5) = left(x, y)
    assert compare(left, right, device="cpu", align="translation").regions == []


def test_homography_alignment_of_a_rotated_photograph():
    left = data.astronaut()
    centre = (left.shape[1] / 2, left.shape[0] / 2)
    matrix = cv2.getRotationMatrix2D(centre, 4.0, 1.02)
    right = cv2.warpAffine(left, matrix, left.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    assert compare(left, right, device="cpu").different
    result = compare(left, right, device="cpu", align="homography")
    assert result.alignment.method == "homography"
    assert len(result.regions) <= 1  # resampling twice softens fine texture; nothing big remains
    assert sum(r.area for r in result.regions) < 0.002 * left.shape[0] * left.shape[1]


def test_homography_needs_features():
    flat = np.full((100, 100), 128, np.uint8)
    with pytest.raises(AlignmentError, match="try align='translation'"):
        reconcile(flat, flat.copy(), size_mode=None, align="homography")


def test_resize_and_pad_reconcile_sizes():
    left = data.camera()
    half = cv2.resize(left, (256, 256), interpolation=cv2.INTER_AREA)
    assert compare(left, half, device="cpu").mismatch
    resized = compare(left, half, device="cpu", size_mode="resize")
    assert resized.mismatch is None and resized.score > 0.8
    taller = np.vstack([left, np.full((40, 512), 255, np.uint8)])
    padded = compare(left, taller, device="cpu", size_mode="pad")
    assert padded.mismatch is None
    (region,) = padded.regions  # the extra white band at the bottom
    assert region.y >= 505 and region.height <= 45


def test_antialiasing_tolerance_drops_edge_only_changes_but_keeps_real_ones():
    # 'exact' marks every changed pixel, which is where anti-aliasing noise hurts
    smooth, jagged = screenshot(antialiased=True), screenshot(antialiased=False)
    exact = {"device": "cpu", "sensitivity": "exact"}
    assert compare(smooth, jagged, **exact).different
    assert compare(smooth, jagged, **exact, antialiasing=True).regions == []
    changed = screenshot(antialiased=False, text="Total: 47")
    regions = compare(smooth, changed, **exact, antialiasing=True).regions
    assert regions and all(r.x > 100 and 70 < r.y < 120 for r in regions)
