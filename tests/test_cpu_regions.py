"""The regions' grouping in the compiled core (cpu/c/regions.c) is OpenCV's: cv2.dilate's masks byte for
byte, cv2.connectedComponents's components pixel for pixel (numbered in the order of their first pixels)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from imgdiff_gpu.cpu.regions import grow_mask, label_components
from imgdiff_gpu.regions import find_regions


def _masks():
    """Random masks of every density and shape, 0/1 bytes, levels 0/1/2, bools and boxes of bigger masks."""
    rng = np.random.default_rng(15)
    for case in range(400):
        height, width = (int(n) for n in rng.integers(1, 48, 2))
        mask = (rng.random((height, width)) < rng.random() * 0.7).astype(np.uint8)
        if case % 4 == 1:
            mask = mask * rng.integers(1, 3, mask.shape).astype(np.uint8)  # the hysteresis's levels
        elif case % 4 == 2:
            mask = mask.astype(bool)
        elif case % 4 == 3:  # a box of a bigger mask: rows apart in memory
            bigger = np.zeros((height + 9, width + 9), dtype=np.uint8)
            bigger[4 : 4 + height, 3 : 3 + width] = mask
            mask = bigger[3 : 3 + height, 5 : 5 + width]
        yield case, mask


def _numbered_first_pixel_first(labels: np.ndarray) -> bool:
    found, firsts = np.unique(labels.ravel(), return_index=True)  # each label's first pixel, by label
    firsts = firsts[found > 0]  # the background's 0 aside
    return bool(np.all(np.diff(firsts) > 0)) and labels.max() == firsts.size


def test_labels_are_opencvs_components():
    for case, mask in _masks():
        count, labels = label_components(mask)
        expected_count, expected = cv2.connectedComponents(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=8)
        assert count == expected_count, case
        # the same partition: each of our labels meets exactly one of OpenCV's, and back
        pairs = np.unique(np.stack([labels.ravel().astype(np.int64), expected.ravel().astype(np.int64)]), axis=1)
        assert np.unique(pairs[0]).size == pairs.shape[1] == np.unique(pairs[1]).size, case
        assert labels.dtype == np.uint16 and _numbered_first_pixel_first(labels), case


@pytest.mark.parametrize("reach", [0, 1, 2, 3, 4, 5, 8, 13, 40])
def test_grown_masks_are_opencvs_dilation(reach):
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1, 2 * reach + 1))
    for case, mask in _masks():
        expected = cv2.dilate(np.ascontiguousarray(mask != 0, dtype=np.uint8), kernel)
        np.testing.assert_array_equal(grow_mask(mask, reach), expected, err_msg=f"case {case}")


def test_more_labels_than_two_bytes_hold_come_in_four():
    """A checkerboard of isolated pixels (every other one of every other row): 80,000 components."""
    mask = np.zeros((800, 800), dtype=np.uint8)
    mask[::2, ::2] = 1
    count, labels = label_components(mask)
    assert count == 400 * 400 + 1
    assert labels.dtype == np.int32 and _numbered_first_pixel_first(labels)
    assert labels[798, 798] == 400 * 400


def test_empty_and_full_masks():
    assert label_components(np.zeros((3, 4), np.uint8))[0] == 1
    count, labels = label_components(np.ones((3, 4), bool))
    assert count == 2 and (labels == 1).all()
    assert not grow_mask(np.zeros((5, 5), np.uint8), 3).any()


def test_wrong_arguments_are_refused():
    with pytest.raises(ValueError, match="reach must be >= 0"):
        grow_mask(np.zeros((3, 3), np.uint8), -1)
    with pytest.raises(ValueError, match="a mask is H x W"):
        label_components(np.zeros((3, 3, 3), np.uint8))


def test_find_regions_gives_what_opencvs_grouping_gave(monkeypatch):
    """The regions of random masks with the core's grouping and with OpenCV's, as before: the same."""
    import imgdiff_gpu.cpu.regions as core_regions

    rng = np.random.default_rng(7)
    for _ in range(60):
        mask = rng.random((60, 80)) < rng.random() * 0.1
        ssim_map = rng.random((60, 80)).astype(np.float32)
        planes = rng.random((60, 80, 3)).astype(np.float32), rng.random((60, 80, 3)).astype(np.float32)
        ours = find_regions(mask, ssim_map, *planes, min_area=3, merge_distance=4)
        with monkeypatch.context() as patched:
            patched.setattr(
                core_regions,
                "grow_mask",
                lambda m, r: cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))),
            )
            patched.setattr(core_regions, "label_components", lambda m: cv2.connectedComponents(m, connectivity=8))
            theirs = find_regions(mask, ssim_map, *planes, min_area=3, merge_distance=4)
        assert ours[0] == theirs[0]
        np.testing.assert_array_equal(ours[1], theirs[1])


def test_a_reach_past_the_image_grows_as_the_image_and_costs_no_more():
    mask = np.zeros((40, 60), dtype=np.uint8)
    mask[7, 9] = 1
    assert (grow_mask(mask, 10**12) == 1).all()
    assert np.array_equal(grow_mask(mask, 10**12), grow_mask(mask, 60))
