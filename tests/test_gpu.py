"""The GPU path against scikit-image and the CPU path.

Marked ``gpu``: on a machine where CuPy sees a GPU these run there on full-sized
photographs; elsewhere on the same CUDA sources under the CPU emulation
(tests/cuda_emulation, through tests/fake_cupy.py) on small crops with partial
tiles. Tolerances are stated in tests/gpu_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_parity import (
    DTYPES,
    GAUSSIAN,
    assert_same_regions,
    check_compare,
    check_compare_low,
    check_histogram,
    check_low_levels,
    check_measured_border_factors,
    check_noise_rules,
    check_planes,
    check_ssim,
    check_strength_levels,
    codec_noise_pair,
    edited_pair,
    on_real_gpu,
    photo_pair,
)
from skimage.metrics import structural_similarity as skimage_ssim

from imgdiff_gpu import structural_similarity

pytestmark = pytest.mark.gpu


@pytest.fixture
def size():
    """Whole photographs on a GPU; under the emulation 37 x 70 (partial tiles both ways)."""
    return None if on_real_gpu() else (37, 70)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_ssim_matches_skimage_and_the_cpu_for_every_dtype(dtype, size):
    check_ssim(dtype, "gaussian", colour=False, size=size)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("colour", [False, True], ids=["grey", "colour"])
def test_ssim_uniform_window_and_colour(dtype, colour, size):
    check_ssim(dtype, "uniform", colour=colour, size=size)


def test_ssim_gaussian_colour_float64(size):
    check_ssim(np.float64, "gaussian", colour=True, size=size)


def test_int16_with_negatives_is_not_wrapped(size):
    """The defect of issue 13: int16 went through uint16 and scored 0.9725 for scikit-image's 0.9834."""
    left, right = photo_pair(size, colour=False)
    left = (left.astype(np.int32) * 200 - 25000).astype(np.int16)
    right = (right.astype(np.int32) * 200 - 25000).astype(np.int16)
    assert left.min() < 0
    reference = skimage_ssim(left, right, data_range=65535)
    assert abs(structural_similarity(left, right, data_range=65535, device="gpu") - reference) <= 1e-9


def test_cupy_in_cupy_out():
    import cupy

    left, right = photo_pair((24, 40), colour=False)
    m, S = structural_similarity(cupy.asarray(left), cupy.asarray(right), full=True, device="gpu")
    assert type(S).__module__.startswith("cupy")
    assert abs(m - skimage_ssim(left, right)) <= 1e-9


def test_batch_equals_loop():
    from imgdiff_gpu._ssim_params import ssim_params
    from imgdiff_gpu.gpu.ssim import ssim_batch

    rng = np.random.default_rng(6)
    a = rng.integers(0, 256, (3, 20, 40), dtype=np.uint8)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    params = ssim_params(a[0], b[0], win_size=None, data_range=None, gaussian_weights=True, use_sample_covariance=False)
    for stacks in ((a, b), (list(a), list(b))):
        scores, maps = ssim_batch(*stacks, params, want_maps=True)
        for i in range(len(a)):
            m_ref, S_ref = skimage_ssim(a[i], b[i], full=True, **GAUSSIAN)
            assert abs(scores[i] - m_ref) <= 1e-9 and np.abs(maps[i] - S_ref).max() <= 1e-6


@pytest.mark.parametrize(
    ("channels", "antialiasing"), [(1, False), (2, False), (3, False), (3, True), (4, True)], ids=str
)
def test_strength_levels_are_the_cpu_pass_levels(channels, antialiasing):
    check_strength_levels(channels=channels, antialiasing=antialiasing, size=None if on_real_gpu() else (40, 72))


# 'low' (the noise-following rules) on edited photographs and on a JPEG round trip at quality 75
LOW_PAIRS = {
    "edited colour": lambda size: edited_pair(size, channels=3),
    "edited RGBA": lambda size: edited_pair(size, channels=4),
    "edited grey": lambda size: edited_pair(size, channels=1),
    "JPEG of an edit": lambda size: codec_noise_pair(size, edited=True),
}


@pytest.mark.parametrize("pair", ["edited colour", "edited RGBA", "JPEG of an edit"])
def test_low_noise_rules_on_the_device_are_the_cpu_rules(pair):
    check_noise_rules(*LOW_PAIRS[pair](None if on_real_gpu() else (64, 96)))


def test_measured_border_noise_factors_on_the_device_are_the_cpus():
    check_measured_border_factors()


@pytest.mark.parametrize("pair", list(LOW_PAIRS))
def test_low_strength_levels_are_the_cpu_pass_levels(pair):
    check_low_levels(*LOW_PAIRS[pair](None if on_real_gpu() else (64, 96)))


@pytest.mark.parametrize("pair", list(LOW_PAIRS))
def test_low_compare_finds_the_cpu_regions(pair):
    check_compare_low(*LOW_PAIRS[pair](None if on_real_gpu() else (64, 96)), regions=True)


def test_low_compare_with_a_raised_luma_threshold_finds_the_cpu_regions():
    """A video frame's clip noise factor (imgdiff_gpu/clip_noise.py) on the device: the CPU's regions."""
    left, right = LOW_PAIRS["edited colour"](None if on_real_gpu() else (64, 96))
    check_compare_low(left, right, regions=True, luma_factor=1.5)


def test_low_compare_finds_nothing_in_codec_noise_as_the_cpu():
    """The negative: a JPEG round trip at quality 75 of an unedited photograph."""
    check_compare_low(*codec_noise_pair(None if on_real_gpu() else (96, 128), edited=False), regions=False)


@pytest.mark.parametrize(
    "options",
    [{}, {"antialiasing": True}, {"sensitivity": "exact"}, {"threshold": 0.4, "sensitivity": "high"}],
    ids=str,
)
def test_compare_finds_the_cpu_regions(options):
    check_compare(options, size=None if on_real_gpu() else (56, 90))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16], ids=lambda d: d.__name__)
@pytest.mark.parametrize(
    ("channels", "colour", "alpha"),
    [
        (1, False, False),
        (1, True, False),
        (1, True, True),
        (2, False, True),
        (2, True, True),
        (3, True, False),
        (3, True, True),
        (4, True, True),
    ],
    ids=str,
)
def test_planes_kernel_gives_the_cpu_planes_bit_for_bit(dtype, channels, colour, alpha):
    check_planes(dtype, channels, colour, alpha)


@pytest.mark.parametrize("merge_distance", [0, 3, 8])
def test_regions_on_the_device_are_the_cpu_regions(merge_distance):
    import cupy

    from imgdiff_gpu.gpu.regions import find_regions_gpu
    from imgdiff_gpu.regions import find_regions

    rng = np.random.default_rng(merge_distance)
    shape = (300, 400) if on_real_gpu() else (90, 120)
    mask = rng.random(shape) < 0.02
    mask[10:30, 15:50] = rng.random((20, 35)) < 0.7  # a dense region among scattered noise
    mask[-12:, -25:] = True  # touching the corner
    ssim_map = rng.uniform(-1, 1, shape)
    left = rng.random((*shape, 3), dtype=np.float32)
    right = rng.random((*shape, 3), dtype=np.float32)
    for min_area in (1, 5, 40):
        expected, expected_mask = find_regions(
            mask, ssim_map, left, right, min_area=min_area, merge_distance=merge_distance
        )
        regions, kept = find_regions_gpu(
            *(cupy.asarray(a) for a in (mask, ssim_map, left, right)), min_area=min_area, merge_distance=merge_distance
        )
        assert expected, "the test mask must have regions"
        assert_same_regions(regions, expected)
        assert np.array_equal(kept.get(), expected_mask)


def test_hysteresis_on_the_device_is_the_cpu_hysteresis():
    import cupy

    from imgdiff_gpu.detection import hysteresis
    from imgdiff_gpu.gpu.regions import hysteresis_gpu

    rng = np.random.default_rng(2)
    weak = rng.random((80, 110)) < 0.45
    strong = weak & (rng.random(weak.shape) < 0.01)
    expected = hysteresis(weak, strong)
    assert 0 < expected.sum() < weak.sum()
    assert np.array_equal(hysteresis_gpu(cupy.asarray(weak), cupy.asarray(strong)).get(), expected)


def test_antialiasing_explanation_on_the_device_is_the_cpu_one():
    import cupy

    from imgdiff_gpu.detection import explained_by_antialiasing
    from imgdiff_gpu.gpu.analysis import explained_by_antialiasing_gpu
    from imgdiff_gpu.planes import prepare_pair

    pair = prepare_pair(*edited_pair((40, 72), channels=4))
    expected = explained_by_antialiasing(pair.left.planes, pair.right.planes)
    assert 0 < expected.sum() < expected.size
    found = explained_by_antialiasing_gpu(cupy.asarray(pair.left.planes), cupy.asarray(pair.right.planes))
    assert np.array_equal(found.get(), expected)


@pytest.mark.parametrize("jpeg_quality", [None, 75], ids=["lossless", "jpeg75"])
def test_detection_set_pairs_give_the_cpu_regions(jpeg_quality):
    """benchmarks/eval_detection.py's pairs: whole on a GPU; under the emulation a 64 x 96 crop around an edit."""
    from benchmarks.detection_set import positive_pairs
    from imgdiff_gpu.pipeline import compare

    photos = None if on_real_gpu() else ["camera", "chelsea", "coffee", "astronaut"]
    found_any = False
    for pair in positive_pairs(photos, pairs_per_photo=1, jpeg_quality=jpeg_quality):
        left, right = pair.left, pair.right
        if not on_real_gpu():
            x, y, w, h = pair.edits[0].box
            top = min(max(y + h // 2 - 32, 0), left.shape[0] - 64)
            start = min(max(x + w // 2 - 48, 0), left.shape[1] - 96)
            left, right = (np.ascontiguousarray(a[top : top + 64, start : start + 96]) for a in (left, right))
        cpu, gpu = compare(left, right, device="cpu"), compare(left, right, device="gpu")
        assert gpu.device == "gpu"
        assert_same_regions(gpu.regions, cpu.regions)
        assert abs(gpu.score - cpu.score) <= 1e-12 and gpu.ssim_threshold == cpu.ssim_threshold
        found_any |= bool(cpu.regions)
    assert found_any


@pytest.mark.parametrize(
    ("channels", "options"),
    [(3, {}), (1, {}), (4, {"antialiasing": True}), (3, {"sensitivity": "exact"}), (3, {"ignore": True})],
    ids=str,
)
def test_compare_batch_gives_what_compare_gives_pair_by_pair(channels, options):
    from imgdiff_gpu.pipeline import compare, compare_batch

    size = None if on_real_gpu() else (40, 72)
    first = edited_pair(size, channels=channels)
    second = (first[0], np.ascontiguousarray(first[0][:, ::-1]))  # mirrored: differs everywhere but the middle
    third = (first[0], first[0].copy())  # identical
    pairs = [first, second, third]
    options = dict(options)
    if options.pop("ignore", False):
        options["ignore"] = np.zeros(first[0].shape[:2], bool)
        options["ignore"][:, -20:] = True
    batch = compare_batch(
        [p[0] for p in pairs], np.stack([p[1] for p in pairs]), device="gpu", keep_maps=True, **options
    )
    assert len(batch) == 3 and batch[2].regions == [] and batch[0].regions
    for (left, right), result in zip(pairs, batch, strict=True):
        single = compare(left, right, device="cpu", **options)
        assert result.device == "gpu"
        assert_same_regions(result.regions, single.regions)
        assert abs(result.score - single.score) <= 1e-12 and result.ssim_threshold == single.ssim_threshold
        assert np.array_equal(result.mask, single.mask) and np.abs(result.ssim_map - single.ssim_map).max() <= 1e-12


def test_histogram_kernel_counts_what_the_cpu_counts():
    check_histogram()
