"""The compiled ends of the low rules (cpu/c/rules.c), the screen's block sums and the strength's
luma offset: bit for bit the NumPy/OpenCV chains they replace."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from imgdiff_gpu import detection
from imgdiff_gpu.cpu import rules
from imgdiff_gpu.cpu.analysis import luma_ssim_params
from imgdiff_gpu.cpu.screen import block_difference_means
from imgdiff_gpu.cpu.strength import strength_map
from imgdiff_gpu.screening import coarse_chroma_bound

LOW = detection.thresholds_for("low")


def _pair(shape, seed=0, noise=0.02):
    rng = np.random.default_rng(seed)
    left = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 2.0)
    right = np.clip(left + rng.normal(0, noise, shape).astype(np.float32), 0, 1).astype(np.float32)
    right[shape[0] // 3 : shape[0] // 3 + 2] += np.float32(0.08)  # a line
    return np.ascontiguousarray(left), np.ascontiguousarray(right)


def _reference_masking(left_luma, right_luma, weights, thresholds):
    """contrast_masking as NumPy and OpenCV computed it, step by step (imgdiff_gpu 5323355)."""
    w = weights.astype(np.float32)

    def local_variance(plane):
        mean = cv2.sepFilter2D(plane, cv2.CV_32F, w, w, borderType=cv2.BORDER_REFLECT)
        square = cv2.sepFilter2D(cv2.multiply(plane, plane), cv2.CV_32F, w, w, borderType=cv2.BORDER_REFLECT)
        return cv2.subtract(square, cv2.multiply(mean, mean))

    variance = cv2.min(local_variance(left_luma), local_variance(right_luma))
    np.maximum(variance, 0.0, out=variance)
    contrast = np.sqrt(variance, out=variance)
    scale = contrast * np.float32(thresholds.masking / thresholds.luma_shift)
    scale += np.float32(1.0)
    return scale


def _reference_line(shift, weights, thresholds, ratio):
    """line_over_threshold as NumPy and OpenCV computed it (imgdiff_gpu 5323355)."""
    extra, _, _ = detection._line_taps(tuple(float(v) for v in weights))
    one = np.ones(1, np.float32)
    along_rows = np.abs(cv2.sepFilter2D(shift, cv2.CV_32F, extra, one, borderType=cv2.BORDER_REFLECT))
    along_columns = np.abs(cv2.sepFilter2D(shift, cv2.CV_32F, one, extra, borderType=cv2.BORDER_REFLECT))
    along_rows /= detection.factor_grid(shift.shape, weights, "line_rows")
    along_columns /= detection.factor_grid(shift.shape, weights, "line_columns")
    line = np.maximum(along_rows, along_columns, out=along_rows)
    line /= np.float32(thresholds.luma_shift * ratio)
    return line


@pytest.mark.parametrize("shape", [(96, 130), (37, 61), (8, 300)])
def test_masking_and_luma_scale_are_the_numpy_chains_bit_for_bit(shape):
    left, right = _pair(shape)
    weights = luma_ssim_params(left).weights
    masking = _reference_masking(left, right, weights, LOW)
    assert np.array_equal(detection.contrast_masking(left, right, weights, LOW), masking)
    scale = masking * detection.factor_grid(shape, weights, "window")
    assert np.array_equal(detection.luma_threshold_scale(left, right, weights, LOW), scale)
    rows = (shape[0] // 4, shape[0] // 2 + 1)
    some = detection.luma_threshold_scale(left, right, weights, LOW, rows=rows)
    assert np.array_equal(some, scale[rows[0] : rows[1]])


@pytest.mark.parametrize("shape", [(96, 130), (40, 64)])
def test_the_line_evidence_is_the_numpy_chain_bit_for_bit(shape):
    left, right = _pair(shape, seed=3)
    weights = luma_ssim_params(left).weights
    shift = detection.luma_shift_map(left, right, weights)
    reference = _reference_line(shift, weights, LOW, 0.37)
    assert np.array_equal(detection.line_over_threshold(shift, weights, LOW, 0.37), reference)
    masking = _reference_masking(left, right, weights, LOW)
    masked = detection.line_shift(left, right, weights, LOW, masking=masking)
    ratio = detection.line_noise_ratio(shift, weights)
    assert np.array_equal(masked, _reference_line(shift, weights, LOW, ratio) / masking)


def test_the_passes_refuse_arrays_of_other_shapes():
    plane = np.zeros((10, 12), np.float32)
    with pytest.raises(ValueError, match="axis"):
        rules.contrast_scale((plane, plane, plane, np.zeros((10, 11), np.float32)), 1.0)
    with pytest.raises(ValueError, match="factors"):
        rules.core.contrast_scale(plane, plane, plane, plane, 1.0, None, None, plane.copy(), plane.copy())
    factors = (np.ones(10, np.float32), np.ones(12, np.float32), np.ones(10, np.float32), np.ones(11, np.float32))
    with pytest.raises(ValueError, match="window_columns"):
        rules.line_evidence(plane, plane, factors, 1.0)


def test_the_strength_reads_the_right_luma_with_the_offset_as_unbiased_writes_it():
    rng = np.random.default_rng(5)
    left = rng.random((40, 50, 3), dtype=np.float32)
    right = np.clip(left + rng.normal(0, 0.03, left.shape), 0, 1).astype(np.float32)
    weights = luma_ssim_params(left[..., 0]).weights
    ssim_map = rng.random((40, 50))
    settings = dict(luma=7 / 255, chroma=36 / 255, texture=32 / 255, ssim_threshold=0.3)
    bias = -0.0091
    shifted = strength_map(left, right, ssim_map, weights, luma_offset=bias, **settings)
    copied = strength_map(left, detection.unbiased(right, bias), ssim_map, weights, **settings)
    assert np.array_equal(shifted, copied)
    assert not np.array_equal(shifted, strength_map(left, right, ssim_map, weights, **settings))


@pytest.mark.parametrize("shape", [(36, 48, 3), (720, 1280, 3)])
def test_block_sums_are_exact_and_the_coarse_bound_is_the_float_ones(shape):
    rng = np.random.default_rng(7)
    left = rng.integers(0, 256, shape, dtype=np.uint8)
    right = np.clip(left.astype(np.int16) + rng.integers(-30, 31, shape), 0, 255).astype(np.uint8)
    means = block_difference_means(left, right, 4)
    delta = left.astype(np.int64) - right.astype(np.int64)
    exact = delta.reshape(shape[0] // 4, 4, shape[1] // 4, 4, 3).sum(axis=(1, 3)) / 16
    assert np.array_equal(means, exact)
    # the bound the float frames' area resize gave (imgdiff_gpu 5323355), within float rounding
    size = (shape[1] // 4, shape[0] // 4)
    small = cv2.subtract(
        cv2.resize(left.astype(np.float32), size, interpolation=cv2.INTER_AREA),
        cv2.resize(right.astype(np.float32), size, interpolation=cv2.INTER_AREA),
    ) * np.float32(1.0 / 255)
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    chroma = np.dstack([0.713 * (r - y), 0.564 * (b - y)]).astype(np.float32)
    chroma = cv2.GaussianBlur(chroma, (0, 0), 1.5, borderType=cv2.BORDER_REFLECT)
    reference = float(np.hypot(chroma[..., 0], chroma[..., 1]).max())
    assert coarse_chroma_bound(left, right) == pytest.approx(reference, rel=1e-5)


def test_frames_whose_sides_are_no_multiple_of_the_block_take_the_area_resize():
    left = np.zeros((30, 41, 3), np.uint8)
    right = left.copy()
    right[10:20, 10:20] = (200, 40, 40)
    assert block_difference_means(left, right, 4) is None
    assert coarse_chroma_bound(left, right) > 0.05


def test_an_image_narrower_than_the_line_window_is_compared_at_low():
    """The line window (~59 px with the SSIM window) reflects more than once across a narrow image,
    as OpenCV's filters do; its border noise factors did not (an IndexError before)."""
    from imgdiff_gpu import compare

    rng = np.random.default_rng(0)
    left = rng.integers(0, 256, (40, 23, 3), dtype=np.uint8)
    right = left.copy()
    right[5:12, 5:12] = 0
    result = compare(left, right, device="cpu", sensitivity="low")
    assert result.different and result.regions
    factors = detection.line_factors((40, 23), luma_ssim_params(left[..., 0]).weights)
    assert all(np.isfinite(f).all() and (f >= 1).all() for f in factors)


def _samples(kind: str, size: int, rng) -> np.ndarray:
    if kind == "normal":
        values = rng.normal(0, 1, size)
    elif kind == "ties":  # a few values, many times each (block means of a flat frame)
        values = rng.integers(-3, 4, size) / 8
    elif kind == "sorted":  # correlated like an image's samples in raster order
        values = np.sort(rng.normal(0, 1, size))
    elif kind == "constant":
        values = np.full(size, 2.5)
    else:  # "wide": every exponent, both signs, the infinities at the ends (never both middle values)
        values = rng.normal(0, 1, size) * 10.0 ** rng.integers(-30, 30, size)
        if size >= 4:
            values[:2] = np.inf, -np.inf
    return values.astype(np.float32)


@pytest.mark.parametrize("kind", ["normal", "ties", "sorted", "constant", "wide"])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 10, 4097, 57600, 57601])
def test_the_median_is_numpys_value_and_type(kind, size):
    values = _samples(kind, size, np.random.default_rng(size))
    expected, got = np.median(values), rules.median(values)
    assert type(got) is type(expected) is np.float32
    assert got == expected or (np.isnan(got) and np.isnan(expected))
    assert np.array_equal(values, _samples(kind, size, np.random.default_rng(size)))  # read, never reordered


def test_the_median_of_values_with_a_nan_is_nan_and_other_types_are_numpys():
    values = np.random.default_rng(2).normal(0, 1, 1000).astype(np.float32)
    values[500] = np.nan
    assert np.isnan(rules.median(values))
    doubles = np.random.default_rng(3).normal(0, 1, 1001)
    assert rules.median(doubles) == np.median(doubles) and rules.median(doubles).dtype == np.float64
    with pytest.raises(ValueError, match="median of no values"):
        rules.core.median(np.zeros(0, np.float32))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_masking_on_the_rows_where_it_counts_leaves_every_level_as_the_whole_frames(seed):
    # a noisy pair with a faint line and a strong patch in texture: some rows reach the weak cut-off, most do not
    shape = (160, 200)
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 1.0)
    left = np.stack([base, base * 0.5, base * 0.25], axis=2).astype(np.float32)
    right = left + rng.normal(0, 0.006, left.shape).astype(np.float32)
    right[40:42, 20:180, 0] += np.float32(0.02)  # a faint line
    right[100:110, 60:70, 0] += np.float32(0.05)  # a patch
    right = np.ascontiguousarray(right)
    weights = luma_ssim_params(left[..., 0]).weights
    left_luma, right_luma = detection.contiguous_luma(left), detection.contiguous_luma(right)
    shift = detection.luma_shift_map(left_luma, right_luma, weights)
    line = detection.line_over_threshold(shift, weights, LOW, detection.line_noise_ratio(shift, weights))
    masking, scale = detection._masking_where_it_counts(left_luma, right_luma, weights, LOW, shift, line)
    factors = detection.border_factors(shift, shape, weights, LOW)  # the pair's measured border noise too
    whole_masking, whole_scale = detection._masking_and_scale(left_luma, right_luma, weights, LOW, factors=factors)
    computed = (masking != 1).any(axis=1)
    assert 0 < computed.sum() < shape[0]  # some rows computed, some not: both branches taken
    assert np.array_equal(masking[computed], whole_masking[computed])
    assert np.array_equal(scale[computed], whole_scale[computed])
    ssim_map = rng.uniform(0.9, 1.0, shape)

    def levels(masking, scale):
        settings = dict(luma=LOW.luma_shift, chroma=LOW.chroma_shift, texture=LOW.texture, ssim_threshold=0.3)
        strength = strength_map(left, right, ssim_map, weights, luma_scale=scale, coarse=line / masking, **settings)
        return detection.strength_levels(strength)

    expected = levels(whole_masking, whole_scale)
    assert (expected > 0).any() and np.array_equal(levels(masking, scale), expected)


def test_the_levels_compute_the_luma_term_only_on_the_rows_where_its_masked_peak_reaches():
    """difference_mask hands the levels pass the rows whose largest |shift| / luma_scale may reach the weak
    cut-off (detection._luma_rows): far fewer than those of the unmasked |shift| between two noisy copies
    with shared texture, every row of a faint line among them, and the levels those of every row's term."""
    from imgdiff_gpu.cpu.strength import strength_levels_map

    rng = np.random.default_rng(3)
    shape = (240, 320)
    texture = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 0.7) * np.float32(0.6)
    left = np.stack([texture, texture * 0.5, texture * 0.25], axis=2).astype(np.float32)
    right = left + rng.normal(0, 0.03, left.shape).astype(np.float32)  # noise where the texture can hide it
    right[120:124, 20:300, 0] += np.float32(0.08)  # a line
    right = np.ascontiguousarray(right)
    weights = luma_ssim_params(left[..., 0]).weights
    left_luma, right_luma = detection.contiguous_luma(left), detection.contiguous_luma(right)
    shift = detection.luma_shift_map(left_luma, right_luma, weights)
    peaks = rules.abs_peaks(shift)[0]
    _, scale = detection._masking_where_it_counts(left_luma, right_luma, weights, LOW, shift, None)
    rows = detection._luma_rows(detection._luma_peaks(shift, scale, peaks), LOW)
    unmasked = detection._reaching(peaks, LOW.luma_shift)
    assert rows[120:124].all() and not (rows & ~unmasked).any() and rows.sum() < 0.5 * unmasked.sum()
    ssim_map = rng.uniform(0.95, 1.0, shape)
    settings = dict(luma=LOW.luma_shift, chroma=LOW.chroma_shift, texture=LOW.texture, ssim_threshold=0.3)
    expected = strength_levels_map(left, right, ssim_map, weights, luma_scale=scale, **settings)
    assert (expected[120:124] == 2).any()
    levels = strength_levels_map(left, right, ssim_map, weights, luma_scale=scale, luma_rows=rows, **settings)
    np.testing.assert_array_equal(levels, expected)


@pytest.mark.parametrize("shape", [(720, 1280), (37, 61), (5, 3), (1, 17)])
def test_the_abs_peaks_are_numpys_row_and_column_maxima(shape):
    plane = np.random.default_rng(shape[1]).normal(0, 1, shape).astype(np.float32)
    rows, columns = rules.abs_peaks(plane)
    assert np.array_equal(rows, np.abs(plane).max(axis=1)) and np.array_equal(columns, np.abs(plane).max(axis=0))
    with pytest.raises(ValueError, match="column_peaks"):
        rules.core.abs_peaks(plane, rows, np.empty(shape[1] + 1, np.float32))
    divisor = np.random.default_rng(1).uniform(1, 3, shape).astype(np.float32)
    rows, columns = rules.abs_peaks(plane, divisor)
    ratio = np.abs(plane) / divisor
    assert np.array_equal(rows, ratio.max(axis=1)) and np.array_equal(columns, ratio.max(axis=0))
    with pytest.raises(ValueError, match="divisor"):
        rules.core.abs_peaks(plane, rows, columns, divisor[:, :-1].copy())
