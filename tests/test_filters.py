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
needs_avx2 = pytest.mark.skipif(
    not filters.opencv_takes_the_vector_path(), reason="OpenCV rounds its filters otherwise without AVX2"
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
    assert filters.compiled_applies(plane.shape, row_taps, column_taps)
    out = np.full(shape, np.nan, np.float32)
    core.separable_filter(plane, row_taps, column_taps, out, square)
    expected = _opencv(plane, row_taps, column_taps, square)
    assert out.tobytes() == expected.tobytes()  # every bit, signed zeros included


@pytest.mark.parametrize("row_taps, column_taps, square", KERNELS)
@pytest.mark.parametrize("shape", [(40, 47), (3, 5), (64, 1283), (300, 2)])
def test_other_widths_go_to_opencv(row_taps, column_taps, square, shape):
    """OpenCV's scalar tails round otherwise, so a row of no multiple of 16 values is OpenCV's own: routed to it
    (``compiled_applies``), with the arguments it would have had (the squares, no row kernel as a 1-tap one)."""
    plane = _plane(shape, seed=1)
    assert not filters.compiled_applies(plane.shape, row_taps, column_taps)
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
        assert not filters.compiled_applies(plane.shape, row_taps, column_taps)
        out = filters.separable_filter(plane, row_taps, column_taps)
        assert out.tobytes() == _opencv(plane, row_taps, column_taps).tobytes()


def test_a_cpu_where_opencv_takes_another_path_gets_opencvs_values(monkeypatch):
    """Without AVX2 and FMA (or with them turned off by OPENCV_CPU_DISABLE) OpenCV rounds otherwise, so nothing
    is compiled: a result is OpenCV's own on every CPU."""
    plane = _plane((64, 128), seed=5)
    monkeypatch.setattr(filters, "opencv_takes_the_vector_path", lambda: False)
    assert not filters.compiled_applies(plane.shape, WINDOW, WINDOW)
    assert not filters.compiled_applies(plane.shape, LINE, ONE)
    assert not filters.compiled_applies(plane.shape, None, LINE)
    out = filters.separable_filter(plane, LINE, ONE)
    assert out.tobytes() == _opencv(plane, LINE, ONE).tobytes()


def test_compiled_filter_refuses_what_it_cannot_compute():
    plane = _plane((16, 16), seed=4)
    out = np.empty_like(plane)
    with pytest.raises(ValueError, match="odd and symmetric"):
        core.separable_filter(plane, WINDOW, np.array([0.2, 0.3, 0.5], np.float32), out, False)
    with pytest.raises(ValueError, match="odd and symmetric"):
        core.separable_filter(plane, WINDOW, np.array([0.5, 0.5], np.float32), out, False)


def _luma_pair(shape, seed):
    rng = np.random.default_rng(seed)
    left = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 2.0)
    right = np.clip(left + rng.normal(0, 0.02, shape).astype(np.float32), 0, 1).astype(np.float32)
    right[shape[0] // 3 : shape[0] // 3 + 2] += np.float32(0.08)  # a line
    return np.ascontiguousarray(left), np.ascontiguousarray(right)


@needs_avx2
@pytest.mark.parametrize("shape", [(720, 1280), (37, 64), (300, 160), (1, 32)])
@pytest.mark.parametrize("with_factors", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_contrast_of_planes_is_the_moments_and_contrast_scale(shape, with_factors, threads):
    """The fused moments (c/rules.c) against OpenCV's four filters and contrast_scale of the same rows."""
    from imgdiff_gpu.cpu.rules import contrast_of_planes, contrast_scale
    from imgdiff_gpu.cpu.threads import get_num_threads, set_num_threads

    left, right = _luma_pair(shape, seed=shape[1])
    k = np.float32(0.8 / (7.0 / 255))
    height = shape[0]
    spans = [(0, height), (height // 3, height // 3 + 1), (max(height - 20, 0), height), (height // 2, height)]
    before = get_num_threads()
    set_num_threads(threads)
    try:
        for first, last in spans:
            if first >= last:
                continue
            moments = [_opencv(plane, WINDOW, WINDOW, square) for plane in (left, right) for square in (False, True)]
            moments = tuple(m[first:last] for m in moments)
            factors = None
            if with_factors:
                rows, columns = detection.window_noise_factors(shape, WINDOW)
                factors = (rows[first:last], columns)
            expected = contrast_scale(moments, k, factors=factors)
            got = contrast_of_planes(left, right, WINDOW, k, rows=(first, last), factors=factors)
            for have, want in zip(got, expected, strict=True):
                assert (have is None) == (want is None)
                if have is not None:
                    assert have.tobytes() == want.tobytes()
    finally:
        set_num_threads(before)


@needs_avx2
@pytest.mark.parametrize("shape", [(720, 1280), (37, 64), (20, 96), (130, 336)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_line_evidence_of_shift_is_the_two_averages_and_line_evidence(shape, masked, threads):
    from imgdiff_gpu.cpu.rules import line_evidence, line_evidence_of_shift
    from imgdiff_gpu.cpu.threads import get_num_threads, set_num_threads

    left, right = _luma_pair(shape, seed=shape[0])
    shift = detection.luma_shift_map(left, right, WINDOW)
    rows, columns = detection.window_noise_factors(shape, WINDOW)
    line_rows, line_columns = detection.line_factors(shape, WINDOW)
    factors = (rows, line_columns, line_rows, columns)
    masking = (1.0 + np.random.default_rng(5).random(shape, dtype=np.float32)) if masked else None
    expected = line_evidence(_opencv(shift, LINE, ONE), _opencv(shift, None, LINE), factors, 0.013, masking=masking)
    before = get_num_threads()
    set_num_threads(threads)
    try:
        got = line_evidence_of_shift(shift, LINE, factors, 0.013, masking=masking)
    finally:
        set_num_threads(before)
    assert got.tobytes() == expected.tobytes()


def test_fused_passes_refuse_a_lopsided_window():
    plane = _plane((16, 32), seed=6)
    lopsided = np.array([0.1, 0.2, 0.3, 0.2, 0.2, 0.0, 0.0], np.float32)
    out = np.empty_like(plane)
    with pytest.raises(ValueError, match="odd and symmetric"):
        core.contrast_moments(plane, plane, lopsided, 1.0, 0, 16, None, None, out, None)
    factors = [np.ones(16, np.float32), np.ones(32, np.float32)] * 2
    with pytest.raises(ValueError, match="odd and symmetric"):
        core.line_of_shift(plane, lopsided, *factors, 1.0, None, out)


def _reference_line_samples(shift, weights, *, shape=None, top=0, rows=None):
    """detection.line_noise_samples as OpenCV and NumPy computed it (imgdiff_gpu b23352d)."""
    extra = detection.line_taps(weights)
    step = detection.LINE_SAMPLE
    shape = shift.shape if shape is None else shape
    first, last = rows if rows is not None else (0, shift.shape[0])
    first += -(top + first) % step
    sampled = slice(top + first, top + last, step)
    row_factors, column_factors = detection.window_noise_factors(shape, weights)
    line_rows, line_columns = detection.line_factors(shape, weights)
    some_rows = np.ascontiguousarray(shift[first:last:step])
    some_columns = np.ascontiguousarray(shift[:, ::step])
    along_rows = np.abs(cv2.sepFilter2D(some_rows, cv2.CV_32F, extra, ONE, borderType=cv2.BORDER_REFLECT))
    along_columns = np.abs(cv2.sepFilter2D(some_columns, cv2.CV_32F, ONE, extra, borderType=cv2.BORDER_REFLECT))
    along_rows = along_rows[:, ::step] / np.outer(row_factors[sampled], line_columns[::step])
    along_columns = along_columns[first:last:step] / np.outer(line_rows[sampled], column_factors[::step])
    line = np.maximum(along_rows, along_columns)
    noise = np.abs(shift[first:last:step, ::step]) / np.outer(row_factors[sampled], column_factors[::step])
    return line.ravel(), noise.ravel()


@needs_avx2
@pytest.mark.parametrize("threads", [1, 2])
def test_line_noise_samples_compiled_are_opencvs(threads):
    from imgdiff_gpu.cpu.threads import get_num_threads, set_num_threads

    left, right = _luma_pair((720, 1280), seed=7)
    shift = detection.luma_shift_map(left, right, WINDOW)
    cases = [
        (shift, {}),
        (shift[:130], {}),  # 64 rows a sample
        (shift[37:400], {"shape": shift.shape, "top": 37, "rows": (11, 300)}),  # a band with its halo
        (shift[:, :64], {}),
    ]
    before = get_num_threads()
    set_num_threads(threads)
    try:
        for plane, where in cases:
            plane = np.ascontiguousarray(plane)
            columns = len(range(0, plane.shape[1], detection.LINE_SAMPLE))
            assert filters.compiled_applies((plane.shape[0], columns), None, LINE)
            got = detection.line_noise_samples(plane, WINDOW, **where)
            expected = _reference_line_samples(plane, WINDOW, **where)
            for have, want in zip(got, expected, strict=True):
                assert have.tobytes() == want.tobytes()
    finally:
        set_num_threads(before)


def test_masked_maximum_is_numpys_division_and_maximum():
    from imgdiff_gpu.cpu.rules import masked_maximum

    rng = np.random.default_rng(8)
    shape = (37, 53)
    line = rng.random(shape, dtype=np.float32) * 3
    line[0, :4] = [np.nan, 0.0, -0.0, np.inf]
    masking = 1 + rng.random(shape, dtype=np.float32)
    coarse = rng.random(shape, dtype=np.float32) * 3
    coarse[1, :3] = [np.nan, 0.0, np.inf]
    coarse[0, 1:3] = 0.0  # zeros against zeros (both planes are magnitudes: no -0 against +0)
    line[0, 2] = 0.0
    expected_line = line / masking
    expected = np.maximum(coarse, expected_line)
    got_line, got = line.copy(), coarse.copy()
    masked_maximum(got_line, masking, got)
    assert got_line.tobytes() == expected_line.tobytes()
    assert got.tobytes() == expected.tobytes()
    strided_line, strided = np.asfortranarray(line), np.asfortranarray(coarse)  # NumPy's own calls
    masked_maximum(strided_line, masking, strided)
    assert strided.tobytes(order="A") == np.asfortranarray(expected).tobytes(order="A")


def test_coarse_chroma_takes_its_work_from_the_caller():
    from imgdiff_gpu.cpu.chroma import coarse_chroma_shift_cpu
    from imgdiff_gpu.detection import coarse_gaussian_taps

    rng = np.random.default_rng(9)
    left, right = (rng.random((43, 70, 3), dtype=np.float32) for _ in range(2))
    expected = np.empty((43, 70), np.float32)
    core.coarse_chroma(left, right, coarse_gaussian_taps(), expected)  # its own work, malloc'd
    assert coarse_chroma_shift_cpu(left, right).tobytes() == expected.tobytes()  # a scratch plane's
    with pytest.raises(ValueError, match="work needs"):
        core.coarse_chroma(left, right, coarse_gaussian_taps(), expected, np.empty(10, np.float32))
