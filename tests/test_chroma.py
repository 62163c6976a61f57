"""The coarse chroma term of ``low`` (``detection.coarse_chroma_shift``, ``cpu/c/chroma.c``): what it computes.

Its banded runs are held to the whole image's in test_bands.py, and the device's to the
CPU's in test_gpu_chroma.py; here the definition itself: OpenCV's numbers where the size
is a multiple of 4, the blocks that take the rows left over elsewhere, and the same bits
whatever the buffer's address or the thread count.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pictures import PHOTOS, jpeg_roundtrip

from imgdiff_gpu.cpu.compiled import core
from imgdiff_gpu.detection import _block_means_in_order, coarse_block_means, coarse_chroma_shift, coarse_gaussian_taps
from imgdiff_gpu.planes import prepare_pair


def _planes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    photo = PHOTOS["astronaut"]()[:height, :width]
    edited = photo.copy()
    edited[100:130, 200:240, 0] += 40  # a colour patch
    pair = prepare_pair(photo, jpeg_roundtrip(edited, 75))
    return pair.left.planes, pair.right.planes


def _opencv(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The term as OpenCV computed it before (INTER_AREA, GaussianBlur, magnitude, INTER_LINEAR)."""
    height, width = left.shape[:2]
    small = cv2.resize(cv2.subtract(left, right), (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(np.ascontiguousarray(small[..., 1:3]), (0, 0), 1.5, borderType=cv2.BORDER_REFLECT)
    magnitude = cv2.magnitude(np.ascontiguousarray(small[..., 0]), np.ascontiguousarray(small[..., 1]))
    return cv2.resize(magnitude, (width, height), interpolation=cv2.INTER_LINEAR)


def test_the_taps_are_opencvs():
    assert np.array_equal(coarse_gaussian_taps(), cv2.getGaussianKernel(13, 1.5, cv2.CV_32F).ravel())


@pytest.mark.parametrize("shape", [(512, 512), (256, 384)])
def test_at_multiples_of_4_the_term_is_opencvs_but_for_its_rounding(shape):
    """OpenCV's steps, but for its magnitude (IPP: within 2 ulp) and its blur's unfused scalar tail."""
    left, right = _planes(*shape)
    ours, theirs = coarse_chroma_shift(left, right), _opencv(left, right)
    assert np.abs(ours - theirs).max() <= 3e-7 * float(theirs.max())
    assert (ours == theirs).mean() > 0.6  # most values are the same bits
    # the block means, in chroma.c's order, are INTER_AREA's, bit for bit
    delta = cv2.subtract(left, right)
    area = cv2.resize(delta, (shape[1] // 4, shape[0] // 4), interpolation=cv2.INTER_AREA)
    assert np.array_equal(_block_means_in_order(delta), area)
    assert np.array_equal(coarse_block_means(delta), area)


@pytest.mark.parametrize(("height", "width"), [(7, 4), (9, 6), (4, 11), (2, 3), (1, 1)])
def test_the_last_blocks_take_the_rows_and_columns_left_over(height, width):
    """One chroma step in the last pixel row and column: its block's mean is the step over its size."""
    left = np.zeros((height, width, 3), np.float32)
    right = left.copy()
    left[-1, -1, 1] = 0.6
    block_rows = height - 4 * (max(height // 4, 1) - 1)
    block_columns = width - 4 * (max(width // 4, 1) - 1)
    means = coarse_block_means(left - right)
    assert means.shape == (max(height // 4, 1), max(width // 4, 1), 3)
    assert means[-1, -1, 1] == pytest.approx(0.6 / (block_rows * block_columns), rel=1e-6)
    assert np.count_nonzero(means) == 1
    term = coarse_chroma_shift(left, right)
    assert term.shape == (height, width) and term.dtype == np.float32
    if means.shape == (1, 1, 3):  # one block: the Gaussian reflects it into itself, a flat term
        assert np.allclose(term, 0.6 / (block_rows * block_columns), rtol=1e-6)


def test_the_same_bits_at_any_address_and_thread_count():
    """OpenCV's blur of the small grid changed by an ulp with the buffer's address; this does not."""
    left, right = _planes(347, 510)
    expected = coarse_chroma_shift(left, right)
    for offset in (1, 2, 3):  # the same values, 4 to 12 bytes off their alignment
        buffers = [np.empty(left.size + offset, np.float32) for _ in range(2)]
        shifted = [buffer[offset:].reshape(left.shape) for buffer in buffers]
        shifted[0][...], shifted[1][...] = left, right
        assert np.array_equal(coarse_chroma_shift(*shifted), expected)
    threads = core.get_num_threads()
    try:
        core.set_num_threads(1)
        assert np.array_equal(coarse_chroma_shift(left, right), expected)
    finally:
        core.set_num_threads(threads)


def test_a_pair_of_the_wrong_shape_is_an_error():
    left = np.zeros((8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="P >= 3"):
        coarse_chroma_shift(left, left)
    with pytest.raises(ValueError, match="of one shape"):
        coarse_chroma_shift(np.zeros((8, 8, 3), np.float32), np.zeros((8, 9, 3), np.float32))
