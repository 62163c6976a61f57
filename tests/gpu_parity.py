"""Parity checks of the GPU path against scikit-image and the CPU path.

Used by tests/test_gpu.py (on a GPU, or on the real kernels under the CPU
emulation) and by tests/test_kernel_mutations.py, which expects each of them to
fail on a deliberately broken kernel. Images are small under the emulation
(about 1 s per 50 tiles of 32 x 8) and full-sized on a GPU.

Tolerances:
* against scikit-image: integer and float64 input, mean within 1e-9 and map
  within 1e-6; float16/float32 input, mean within 1e-4 (scikit-image filters
  them in float32) and map within 1e-6 of scikit-image's float64 run;
* against the CPU path: the float64 map within 1e-12 under the emulation (the
  same operations in another summation order), 1e-10 on a GPU (whose compiler
  fuses multiply-adds, and 16/32-bit inputs cancel ~1e9-sized moments), a
  float32 map within one float32 rounding; strength levels, region boxes and
  areas identical; region statistics and the score within 1e-12.
"""

from __future__ import annotations

import warnings

import numpy as np
from skimage import data
from skimage.metrics import structural_similarity as skimage_ssim

from imgdiff_gpu import structural_similarity

GAUSSIAN = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
SETTINGS = {"uniform": {}, "gaussian": GAUSSIAN}
DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float16, np.float32, np.float64)


def on_real_gpu() -> bool:
    import cupy

    return not hasattr(cupy, "fake")


def cpu_tolerance() -> float:
    """How far the GPU's float64 SSIM may stand from the CPU's (see above)."""
    return 1e-12 if not on_real_gpu() else 1e-10


def photo_pair(size: tuple[int, int] | None, *, colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """A photograph and a noisy copy, uint8; cropped to ``size`` (None: whole) at an odd offset."""
    left = data.astronaut()
    if size is not None:
        left = left[101 : 101 + size[0], 150 : 150 + size[1]]
    left = np.ascontiguousarray(left if colour else left[..., 1])
    rng = np.random.default_rng(11)
    right = np.clip(left + rng.normal(0, 10, left.shape), 0, 255).astype(np.uint8)
    return left, right


def as_dtype(image: np.ndarray, dtype) -> np.ndarray:
    """uint8 values spread over ``dtype``'s range, negatives included for signed types."""
    values = image.astype(np.float64)
    if dtype is np.uint8:
        return image
    if dtype is np.int8:
        return (values - 128).astype(np.int8)
    if dtype is np.uint16:
        return (values * 257).astype(np.uint16)
    if dtype is np.int16:
        return (values * 257 - 32768).astype(np.int16)
    if dtype is np.int32:  # not exact in float32: must be read as float64
        return (values * 8_388_609 - 2**30 - 7).astype(np.int32)
    return (values / 255).astype(dtype)


def check_ssim(dtype, setting: str, *, colour: bool, size: tuple[int, int] | None) -> None:
    """The GPU's mean and map against scikit-image and against the CPU path."""
    left, right = photo_pair(size, colour=colour)
    left, right = as_dtype(left, dtype), as_dtype(right, dtype)
    kwargs = dict(SETTINGS[setting], channel_axis=2 if colour else None)
    if np.dtype(dtype).kind == "f":
        kwargs["data_range"] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the data_range notice of 16/32-bit integers
        m_ref, S_ref = skimage_ssim(left, right, full=True, **kwargs)
        m, S = structural_similarity(left, right, full=True, device="gpu", **kwargs)
        m_cpu, S_cpu = structural_similarity(left, right, full=True, device="cpu", **kwargs)
        low_precision = np.dtype(dtype) in (np.float16, np.float32)
        if low_precision:  # scikit-image filters these in float32; hold the map to its float64 run
            _, S_ref = skimage_ssim(left.astype(np.float64), right.astype(np.float64), full=True, **kwargs)
    assert type(S) is np.ndarray and S.dtype == S_cpu.dtype and S.shape == S_ref.shape
    assert abs(m - m_ref) <= (1e-4 if low_precision else 1e-9), (m, m_ref)
    assert np.abs(S - S_ref).max() <= 1e-6
    assert abs(m - m_cpu) <= cpu_tolerance(), (m, m_cpu)
    ulp = 0.0 if S.dtype == np.float64 else float(np.finfo(np.float32).eps)
    assert np.abs(S.astype(np.float64) - S_cpu).max() <= cpu_tolerance() + ulp


def edited_pair(size: tuple[int, int] | None, *, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """A photograph and an edited copy: a moved patch, a faint line, a colour-only change, a bar moved 1 px.

    ``channels``: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
    """
    rgb = data.chelsea()
    if size is None:
        left = rgb.copy()
    else:
        left = np.ascontiguousarray(rgb[40 : 40 + size[0], 60 : 60 + size[1]])
    height, width = left.shape[:2]
    right = left.copy()
    h, w = height, width
    right[h // 4 : h // 4 + 9, w // 3 : w // 3 + 14] = left[h // 2 : h // 2 + 9, 5:19]
    right[h - 12 : h - 10, 4 : w // 2] = np.clip(right[h - 12 : h - 10, 4 : w // 2].astype(int) + 16, 0, 255)
    right[2:10, w - 20 : w - 6] = right[2:10, w - 20 : w - 6, ::-1]  # red and blue swapped: chroma
    # a sharp bar on flat grey, one pixel further right on the right: what antialiasing excuses
    left[h // 2 : h // 2 + 8, 30:50] = right[h // 2 : h // 2 + 8, 30:50] = 40
    left[h // 2 + 1 : h // 2 + 7, 38:41] = 230
    right[h // 2 + 1 : h // 2 + 7, 39:42] = 230
    if channels in (1, 2):
        left, right = left[..., 1], right[..., 1]
    if channels in (2, 4):
        alpha = np.full(left.shape[:2], 255, np.uint8)
        alpha_right = alpha.copy()
        alpha_right[h - 8 : h - 2, w - 30 : w - 10] = 120
        left = np.dstack([left, alpha])
        right = np.dstack([right, alpha_right])
    return np.ascontiguousarray(left), np.ascontiguousarray(right)


def _cpu_levels(left, right, ssim_map, weights, thresholds, ssim_threshold: float, **rules) -> np.ndarray:
    """The CPU pass's strength as the levels strength.cu writes: 0, 1 (weak) or 2 (strong)."""
    from imgdiff_gpu.detection import evidence_strength, strength_levels

    return strength_levels(evidence_strength(left, right, ssim_map, weights, thresholds, ssim_threshold, **rules))


def _assert_same_levels(levels: np.ndarray, expected: np.ndarray) -> None:
    mismatched = np.argwhere(levels != expected)
    assert mismatched.size == 0, f"{len(mismatched)} pixels differ, first at {mismatched[:5].tolist()}"


def check_strength_levels(*, channels: int, antialiasing: bool, size: tuple[int, int] | None) -> None:
    """strength.cu's levels identical to the levels of the CPU pass's strength."""
    import cupy
    from pictures import luma_analysis

    from imgdiff_gpu.detection import explained_by_antialiasing, thresholds_for
    from imgdiff_gpu.gpu.strength import strength_levels_gpu

    pair, weights, _, ssim_map = luma_analysis(*edited_pair(size, channels=channels))
    left, right = pair.left.planes, pair.right.planes
    thresholds = thresholds_for("normal")
    suppress = explained_by_antialiasing(left, right) if antialiasing else None
    expected = _cpu_levels(left, right, ssim_map, weights, thresholds, 0.6, suppress=suppress)
    assert expected.max() == 2 and (expected == 1).any(), "the test pair must reach both levels"
    device_suppress = suppress.view(np.uint8) if suppress is not None else None
    levels = strength_levels_gpu(cupy, left, right, ssim_map, weights, device_suppress, thresholds, 0.6).get()
    _assert_same_levels(levels, expected)


def codec_noise_pair(size: tuple[int, int] | None, *, edited: bool) -> tuple[np.ndarray, np.ndarray]:
    """A photograph and its JPEG round trip at quality 75 (codec noise), optionally of a brightened patch."""
    from pictures import jpeg_roundtrip

    left = data.coffee()
    if size is not None:
        left = np.ascontiguousarray(left[30 : 30 + size[0], 40 : 40 + size[1]])
    right = left.copy()
    if edited:
        h, w = right.shape[:2]
        patch = right[h // 4 : h // 4 + 24, w // 4 : w // 4 + 30].astype(int)
        right[h // 4 : h // 4 + 24, w // 4 : w // 4 + 30] = np.clip(patch + 12, 0, 255)
    return left, jpeg_roundtrip(right, 75)


def check_noise_rules(left: np.ndarray, right: np.ndarray) -> None:
    """The device's luma threshold factor, coarse chroma shift and line evidence against detection.py's (OpenCV).

    The coarse chroma term within 1e-6 of its threshold (float32 rounding of OpenCV's resize
    and blur, done in another order); the line evidence within 1e-5 given the same masking,
    and within 2 % with the device's own; the luma factor within 2 % (see
    ``check_low_levels``: OpenCV's float32 filter and ours round E[Y^2] - E[Y]^2
    differently, and the cancellation magnifies that where the local contrast is ~0).
    """
    import cupy

    from imgdiff_gpu.border_noise import measured_window_factors
    from imgdiff_gpu.detection import (
        coarse_chroma_shift,
        contiguous_luma,
        contrast_masking,
        line_shift,
        luma_bias,
        luma_shift_map,
        thresholds_for,
        unbiased,
    )
    from imgdiff_gpu.gpu.chroma import coarse_chroma_shift_gpu
    from imgdiff_gpu.gpu.noise_rules import line_shift_gpu, measured_window_factors_gpu, noise_rules_gpu, unbiased_gpu
    from imgdiff_gpu.pipeline import luma_ssim_params
    from imgdiff_gpu.planes import prepare_pair

    pair = prepare_pair(left, right)
    planes = pair.left.planes, pair.right.planes
    weights = luma_ssim_params(pair.left.luma).weights
    thresholds = thresholds_for("low")
    luma_scale, coarse = noise_rules_gpu(cupy.asarray(planes[0]), cupy.asarray(planes[1]), weights, thresholds)
    expected_coarse = coarse_chroma_shift(*planes) / thresholds.coarse_chroma
    # the line evidence is folded into the coarse term, as difference_mask does
    masking = contrast_masking(planes[0][..., 0], planes[1][..., 0], weights, thresholds)
    right = unbiased(planes[1], luma_bias(planes[0][..., 0], planes[1][..., 0], thresholds))
    line = line_shift(planes[0][..., 0], right[..., 0], weights, thresholds, masking=masking)
    # the luma factor: the masking times the border noise factors the pair's own shift measures
    shift = luma_shift_map(contiguous_luma(planes[0]), contiguous_luma(right), weights)
    factors = measured_window_factors(shift, weights)
    expected_scale = masking * np.outer(*factors)
    assert luma_scale.dtype == coarse.dtype == np.float32
    assert np.abs(luma_scale.get() / expected_scale - 1).max() <= 0.02
    # the measured factors themselves, from the CPU's shift: the same float32 medians
    device_factors = measured_window_factors_gpu(cupy.asarray(shift), weights)
    for ours, theirs in zip(device_factors, factors, strict=True):
        assert ours.dtype == np.float32 and np.array_equal(ours.get(), theirs)
    batch = measured_window_factors_gpu(cupy.asarray(np.stack([shift, shift * np.float32(0.5)])), weights)
    for ours, theirs in zip(batch, factors, strict=True):  # each pair its own (a scaled shift, the same ratios)
        assert np.array_equal(ours.get()[0], theirs) and np.allclose(ours.get()[1], theirs, rtol=1e-6)
    device_planes = cupy.asarray(planes[0]), cupy.asarray(planes[1])
    coarse_chroma = coarse_chroma_shift_gpu(*device_planes) / np.float32(thresholds.coarse_chroma)
    assert np.abs(coarse_chroma.get() - expected_coarse).max() <= 1e-6
    # the line evidence given the CPU's masking: float32 rounding of the filters (and so of the medians)
    device_line = line_shift_gpu(
        device_planes[0], unbiased_gpu(*device_planes, thresholds), weights, thresholds, cupy.asarray(masking)
    )
    assert np.abs(device_line.get() - line).max() <= 1e-5
    # together, with the device's own masking: within its 2 %
    expected = np.maximum(expected_coarse, line)
    assert np.abs(coarse.get() - expected).max() <= 0.02 * max(float(expected.max()), 1.0)


def check_low_levels(left: np.ndarray, right: np.ndarray) -> None:
    """strength.cu's levels with the rules of 'low' identical to the CPU pass's, given the same rules.

    The per-pixel luma factor and coarse term are the CPU's (OpenCV) here, so only
    the kernel is under test; ``check_noise_rules`` holds the device's own.
    """
    import cupy
    from pictures import luma_analysis

    from imgdiff_gpu.detection import coarse_chroma_shift, luma_threshold_scale, thresholds_for
    from imgdiff_gpu.gpu.strength import strength_levels_gpu

    pair, weights, _, ssim_map = luma_analysis(left, right)
    left, right = pair.left.planes, pair.right.planes
    thresholds = thresholds_for("low")
    luma_scale = luma_threshold_scale(left[..., 0], right[..., 0], weights, thresholds)
    coarse = coarse_chroma_shift(left, right) / thresholds.coarse_chroma if left.shape[2] >= 3 else None
    expected = _cpu_levels(left, right, ssim_map, weights, thresholds, 0.3, luma_scale=luma_scale, coarse=coarse)
    assert (expected == 1).any(), "the test pair must reach level 1"
    levels = strength_levels_gpu(cupy, left, right, ssim_map, weights, None, thresholds, 0.3, (luma_scale, coarse))
    _assert_same_levels(levels.get(), expected)


def check_compare_low(left: np.ndarray, right: np.ndarray, *, regions: bool, luma_factor: float = 1.0) -> None:
    """compare(..., sensitivity='low') on the GPU: the CPU's regions, mask and score (1e-12)."""
    from imgdiff_gpu.pipeline import compare

    cpu = compare(left, right, device="cpu", sensitivity="low", luma_factor=luma_factor)
    gpu = compare(left, right, device="gpu", sensitivity="low", luma_factor=luma_factor)
    assert gpu.device == "gpu" and bool(cpu.regions) == regions, "the test pair must have regions, or none"
    assert_same_regions(gpu.regions, cpu.regions)
    assert np.array_equal(gpu.mask, cpu.mask)
    assert abs(gpu.score - cpu.score) <= cpu_tolerance() and gpu.ssim_threshold == cpu.ssim_threshold


def assert_same_regions(ours: list, theirs: list) -> None:
    """Boxes and areas identical, statistics within 1e-12."""
    assert [(r.x, r.y, r.width, r.height, r.area) for r in ours] == [
        (r.x, r.y, r.width, r.height, r.area) for r in theirs
    ]
    for mine, other in zip(ours, theirs, strict=True):
        for name in ("min_ssim", "mean_ssim", "mean_color_delta"):
            assert abs(getattr(mine, name) - getattr(other, name)) <= 1e-12, (name, mine, other)


def check_compare(options: dict, *, size: tuple[int, int] | None) -> None:
    """compare() on the GPU finds the CPU's regions: boxes and areas identical, statistics within 1e-12."""
    from imgdiff_gpu.pipeline import compare

    left, right = edited_pair(size, channels=3)
    ignore = np.zeros(left.shape[:2], bool)
    ignore[-3:, :] = True
    cpu = compare(left, right, device="cpu", ignore=ignore, **options)
    gpu = compare(left, right, device="gpu", ignore=ignore, **options)
    assert gpu.device == "gpu" and cpu.regions, "the test pair must have regions"
    assert_same_regions(gpu.regions, cpu.regions)
    assert np.array_equal(gpu.mask, cpu.mask)
    assert abs(gpu.score - cpu.score) <= 1e-12 and gpu.ssim_threshold == cpu.ssim_threshold


def check_planes(dtype, channels: int, colour: bool, alpha: bool) -> None:
    """planes.cu gives the CPU planes bit for bit, extremes included."""
    from imgdiff_gpu.cpu.planes import plane_stack
    from imgdiff_gpu.gpu.planes import plane_stack_gpu

    rng = np.random.default_rng(channels)
    limit = np.iinfo(dtype).max
    shape = (517, 389) if on_real_gpu() else (21, 45)
    pixels = rng.integers(0, limit + 1, (*shape, channels), dtype=dtype)
    pixels[0, :4] = limit  # extremes, including fully opaque and fully transparent
    pixels[1, :4] = 0
    pixels = pixels[..., 0] if channels == 1 else pixels
    expected = plane_stack(pixels, colour=colour, alpha=alpha, scale=float(limit))
    planes = plane_stack_gpu(pixels, colour=colour, alpha=alpha, scale=float(limit)).get()
    assert planes.dtype == np.float32 and planes.shape == expected.shape
    assert np.array_equal(planes.view(np.uint32), expected.view(np.uint32))


def check_histogram() -> None:
    """histogram.cu counts what the CPU counts: bin edges, both ends, rounding strays, a mask."""
    import cupy

    from imgdiff_gpu.cpu.histogram import ssim_histogram_cpu
    from imgdiff_gpu.gpu.histogram import ssim_histogram_gpu

    rng = np.random.default_rng(9)
    maps = rng.uniform(-1.0, 1.0, (2, 37, 70))
    edges = np.arange(-128, 129) / 128.0  # values exactly on bin edges, and both ends
    maps[0, 0, :65] = edges[::4]
    maps[1, 1, :4] = [-1.0 - 1e-12, 1.0 + 1e-12, -1.0, 1.0]  # rounding strays are clamped
    valid = rng.random((37, 70)) < 0.8
    for mask in (None, valid):
        counts = ssim_histogram_gpu(cupy.asarray(maps), None if mask is None else cupy.asarray(mask)).get()
        for plane in range(2):
            assert np.array_equal(counts[plane], ssim_histogram_cpu(maps[plane], mask, 256))


def check_measured_border_factors() -> None:
    """``measured_window_factors_gpu`` of a batch is each pair's ``border_noise.measured_window_factors``,
    bit for bit: a shift whose border rows and columns are noisier than its inside (raised there), and
    one with no noise at all (the white-noise factors)."""
    import cupy

    from imgdiff_gpu.border_noise import measured_window_factors
    from imgdiff_gpu.detection import window_noise_factors
    from imgdiff_gpu.gpu.noise_rules import measured_window_factors_gpu
    from imgdiff_gpu.pipeline import luma_ssim_params

    rng = np.random.default_rng(5)
    weights = luma_ssim_params(np.zeros((64, 96), np.float32)).weights
    noisy = (rng.standard_normal((64, 96)) * 0.01).astype(np.float32)
    noisy[:, -4:] *= np.float32(3.0)  # a codec's strip along the right border
    noisy[:2] *= np.float32(2.0)  # and along the top
    quiet = np.zeros((64, 96), np.float32)
    rows, columns = measured_window_factors_gpu(cupy.asarray(np.stack([noisy, quiet])), weights)
    white = window_noise_factors(noisy.shape, weights)
    for n, shift in enumerate((noisy, quiet)):
        expected = measured_window_factors(shift, weights)
        assert np.array_equal(rows.get()[n], expected[0]) and np.array_equal(columns.get()[n], expected[1])
    assert (rows.get()[0][:2] > white[0][:2]).all() and (columns.get()[0][-4:] > white[1][-4:]).all()
    assert np.array_equal(rows.get()[1], white[0]) and np.array_equal(columns.get()[1], white[1])
