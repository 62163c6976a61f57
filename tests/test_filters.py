"""The compiled separable filters (cpu/c/filters.c): OpenCV's sepFilter2D with reflected borders, bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from imgdiff_gpu import detection
from imgdiff_gpu.cpu import filters
from imgdiff_gpu.cpu.analysis import luma_ssim_params
from imgdiff_gpu.cpu.compiled import core

WINDOW = luma_ssim_params(np.zeros((64, 64))).weights.astype(np.float32)
LINE = detection.line_taps(WINDOW)
ONE = np.ones(1, np.float32)

# OpenCV's float32 filters take their FMA vector path (the order c/filters.c follows) on a CPU with AVX2
CV_CPU_AVX2 = 11  # OpenCV's feature number (cv::CPU_AVX2), which its Python module does not export
needs_avx2 = pytest.mark.skipif(
    not cv2.checkHardwareSupport(CV_CPU_AVX2), reason="OpenCV rounds its filters otherwise without AVX2"
)


def _plane(shape, seed, kind="noise"):
    rng = np.random.default_rng(seed)
    plane = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    if kind == "tiny":  # products that round to signed zeros and subnormals
        plane = (-np.abs(plane) * np.float32(1e-36)).astype(np.float32)
    if kind == "zeros":
        plane = np.where(rng.random(shape) < 0.5, np.float32(-0.0), np.float32(0.0)).astype(np.float32)
    return plane


def _opencv(plane, row_taps, column_taps, square=False):
    source = cv2.multiply(plane, plane) if square else plane
    row = ONE if row_taps is None else row_taps
    return cv2.sepFilter2D(source, cv2.CV_32F, row, column_taps, borderType=cv2.BORDER_REFLECT)


KERNELS = [
    pytest.param(WINDOW, WINDOW, False, id="window"),
    pytest.param(WINDOW, WINDOW, True, id="window-squares"),
    pytest.param(LINE, ONE, False, id="line-along-rows"),
    pytest.param(None, LINE, False, id="line-along-columns"),
]


@needs_avx2
@pytest.mark.parametrize("row_taps, column_taps, square", KERNELS)
@pytest.mark.parametrize("shape", [(720, 1280), (1, 16), (5, 32), (30, 48), (67, 160), (130, 336)])
@pytest.mark.parametrize("kind", ["noise", "tiny", "zeros"])
def test_compiled_filter_is_opencvs_bit_for_bit(row_taps, column_taps, square, shape, kind):
    plane = _plane(shape, seed=shape[0] * 7 + shape[1], kind=kind)
    assert filters._compiled_applies(plane, row_taps, column_taps)
    out = np.full(shape, np.nan, np.float32)
    core.separable_filter(plane, row_taps, column_taps, out, square)
    expected = _opencv(plane, row_taps, column_taps, square)
    assert out.tobytes() == expected.tobytes()  # every bit, signed zeros included


@pytest.mark.parametrize("row_taps, column_taps, square", KERNELS)
@pytest.mark.parametrize("shape", [(40, 47), (3, 5), (64, 1283), (300, 2)])
def test_other_widths_go_to_opencv(row_taps, column_taps, square, shape):
    """OpenCV's scalar tails round otherwise, so a row of no multiple of 16 values is OpenCV's own."""
    plane = _plane(shape, seed=1)
    assert not filters._compiled_applies(plane, row_taps, column_taps)
    out = filters.separable_filter(plane, row_taps, column_taps, square=square)
    assert out.tobytes() == _opencv(plane, row_taps, column_taps, square).tobytes()


@needs_avx2
def test_wrapper_takes_the_compiled_pass_and_any_thread_count():
    from imgdiff_gpu.cpu.threads import get_num_threads, set_num_threads

    plane = _plane((200, 64), seed=2)
    expected = _opencv(plane, LINE, ONE)
    before = get_num_threads()
    try:
        for threads in (1, 2, 3):
            set_num_threads(threads)
            assert filters.separable_filter(plane, LINE, ONE).tobytes() == expected.tobytes()
    finally:
        set_num_threads(before)


def test_kernels_opencv_filters_another_way_go_to_opencv():
    plane = _plane((32, 64), seed=3)
    small = np.array([0.25, 0.5, 0.25], np.float32)
    lopsided = np.array([0.1, 0.2, 0.3, 0.2, 0.2], np.float32)
    for row_taps, column_taps in ((small, WINDOW), (WINDOW, small), (WINDOW, lopsided)):
        assert not filters._compiled_applies(plane, row_taps, column_taps)
        out = filters.separable_filter(plane, row_taps, column_taps)
        assert out.tobytes() == _opencv(plane, row_taps, column_taps).tobytes()


def test_compiled_filter_refuses_what_it_cannot_compute():
    plane = _plane((16, 16), seed=4)
    out = np.empty_like(plane)
    with pytest.raises(ValueError, match="odd and symmetric"):
        core.separable_filter(plane, WINDOW, np.array([0.2, 0.3, 0.5], np.float32), out, False)
    with pytest.raises(ValueError, match="odd and symmetric"):
        core.separable_filter(plane, WINDOW, np.array([0.5, 0.5], np.float32), out, False)
