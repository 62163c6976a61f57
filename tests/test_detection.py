"""compare() finds what a person would call a difference, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from pictures import jpeg_roundtrip
from skimage import data
from skimage.metrics import structural_similarity as skimage_ssim

from imgdiff_gpu.pipeline import compare
from imgdiff_gpu.planes import prepare_pair
from imgdiff_gpu.regions import find_regions


def _boxes_overlap(region, x, y, w, h) -> bool:
    return region.x < x + w and x < region.x + region.width and region.y < y + h and y < region.y + region.height


def test_identical_images_have_no_regions(photo):
    result = compare(photo, photo.copy(), device="cpu")
    assert result.regions == [] and not result.different
    assert result.score == pytest.approx(1.0)


@pytest.mark.parametrize("quality", [75, 90])
def test_jpeg_reencoding_is_not_a_difference(photo, quality):
    result = compare(photo, jpeg_roundtrip(photo, quality), device="cpu")
    assert result.regions == [], [r.as_dict() for r in result.regions]


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right", "centre"])
def test_tiny_strong_patch_is_found_anywhere(corner):
    left = data.chelsea()
    right = left.copy()
    h, w = left.shape[:2]
    y, x = {
        "top-left": (0, 0),
        "top-right": (0, w - 6),
        "bottom-left": (h - 6, 0),
        "bottom-right": (h - 6, w - 6),
        "centre": (h // 2, w // 2),
    }[corner]
    right[y : y + 6, x : x + 6] = (250, 20, 200)
    result = compare(left, right, device="cpu")
    assert len(result.regions) == 1
    assert _boxes_overlap(result.regions[0], x, y, 6, 6)


@pytest.mark.parametrize("delta", [15, -18, 20])
def test_faint_thin_line_is_found(delta):
    left = data.camera()
    right = left.copy()
    line = right[100:102, 100:300].astype(int) + delta
    right[100:102, 100:300] = np.clip(line, 0, 255)
    result = compare(left, right, device="cpu")
    assert len(result.regions) == 1
    assert _boxes_overlap(result.regions[0], 100, 100, 200, 2)


def test_colour_only_change_is_found_where_grey_ssim_sees_nothing():
    left = np.full((120, 160, 3), (200, 40, 40), np.uint8)  # red
    left += np.random.default_rng(0).integers(0, 6, left.shape, dtype=np.uint8)
    right = left.copy()
    # green of the same BT.601 luma: 0.299*200 + 0.587*40 + 0.114*40 = 87.9
    right[40:70, 50:90] = (0, 140, 50)
    grey_left = (left @ [0.299, 0.587, 0.114]).round().astype(np.uint8)
    grey_right = (right @ [0.299, 0.587, 0.114]).round().astype(np.uint8)
    assert skimage_ssim(grey_left, grey_right) > 0.97  # the seed's grey SSIM misses it
    result = compare(left, right, device="cpu")
    assert len(result.regions) == 1 and _boxes_overlap(result.regions[0], 50, 40, 40, 30)


def test_region_area_counts_pixels_not_polygon_area():
    mask = np.zeros((50, 80), bool)
    mask[20, 5:70] = True  # a 1-px line: cv2.contourArea would say 0
    ssim_map = np.ones(mask.shape)
    planes = np.zeros((*mask.shape, 1), np.float32)
    regions, kept = find_regions(mask, ssim_map, planes, planes, min_area=40)
    assert [r.area for r in regions] == [65]
    assert kept.sum() == 65


def test_fragments_are_merged_and_regions_sorted_by_size():
    mask = np.zeros((100, 200), bool)
    mask[10:20, 10:20] = True  # 100 px
    mask[10:20, 25:35] = True  # 5 px gap: merged with the first
    mask[60:90, 120:170] = True  # 1500 px, far away
    planes = np.zeros((*mask.shape, 1), np.float32)
    regions, _ = find_regions(mask, np.ones(mask.shape), planes, planes, min_area=1, merge_distance=8)
    assert [(r.area, r.x) for r in regions] == [(1500, 120), (200, 10)]
    separate, _ = find_regions(mask, np.ones(mask.shape), planes, planes, min_area=1, merge_distance=2)
    assert len(separate) == 3


def test_region_statistics_describe_the_region():
    left = data.camera()
    right = left.copy()
    right[200:230, 300:340] = 255 - right[200:230, 300:340]
    (region,) = compare(left, right, device="cpu").regions
    assert region.min_ssim < region.mean_ssim < 1.0
    assert region.min_ssim < 0.5
    assert region.mean_color_delta > 0.1


def test_negative_ssim_is_not_wrapped_around():
    left = data.camera()
    right = left.copy()
    right[200:260, 200:260] = 255 - right[200:260, 200:260]
    result = compare(left, right, device="cpu")
    assert result.ssim_map.min() < 0  # the seed's uint8 cast would wrap this to ~255
    (region,) = result.regions
    assert region.min_ssim < 0


def test_ignored_pixels_leave_score_threshold_and_regions():
    left = data.camera()
    right = left.copy()
    right[50:80, 50:80] = 0
    ignore = np.zeros(left.shape, bool)
    ignore[40:90, 40:90] = True
    plain = compare(left, right, device="cpu")
    ignored = compare(left, right, device="cpu", ignore=ignore)
    assert len(plain.regions) == 1 and ignored.regions == []
    assert plain.score < 1.0 and ignored.score == pytest.approx(1.0)


def test_exact_sensitivity_marks_a_single_changed_pixel():
    left = data.camera()
    right = left.copy()
    right[10, 10] ^= 1
    assert compare(left, right, device="cpu").regions == []
    exact = compare(left, right, device="cpu", sensitivity="exact", min_area=1)
    assert [(r.x, r.y, r.area) for r in exact.regions] == [(10, 10, 1)]


def test_sizes_that_differ_are_a_difference_with_a_reason():
    result = compare(np.zeros((10, 20), np.uint8), np.zeros((10, 21), np.uint8), device="cpu")
    assert result.different and "sizes differ" in result.mismatch


def test_grey_against_colour_and_8_against_16_bit_compare_cleanly():
    grey = data.camera()
    colour = np.dstack([grey] * 3)
    same = compare(grey, colour, device="cpu")
    assert not same.different and same.notes == ["grey image compared as colour with no chroma"]
    deep = compare(grey, grey.astype(np.uint16) * 257, device="cpu")
    assert not deep.different


def test_alpha_is_premultiplied_so_hidden_colour_does_not_count():
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3] = 90
    rgba[..., 3] = 255
    rgba[:, 32:, 3] = 0  # right half fully transparent
    other = rgba.copy()
    other[:, 40:60, :3] = 250  # changed only where nothing shows
    assert not compare(rgba, other, device="cpu").different
    faded = rgba.copy()
    faded[10:30, 5:25, 3] = 60  # opacity change where it shows
    assert compare(rgba, faded, device="cpu").different


def test_pair_planes_are_in_data_range_units():
    pair = prepare_pair(np.full((4, 4, 3), 255, np.uint8), np.zeros((4, 4, 3), np.uint8))
    assert pair.left.names == ("Y", "Cr", "Cb")
    assert pair.left.luma.max() == pytest.approx(1.0) and pair.right.luma.max() == 0.0


def test_otsu_from_histogram_matches_skimage():
    from skimage.filters import threshold_otsu

    from imgdiff_gpu.detection import otsu_from_histogram

    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(0.2, 0.1, 5000), rng.normal(0.8, 0.05, 3000)])
    counts, edges = np.histogram(values, bins=256)
    centres = (edges[:-1] + edges[1:]) / 2
    ours = otsu_from_histogram(counts, centres)
    reference = threshold_otsu(hist=(counts, centres))
    assert abs(ours - reference) <= (edges[1] - edges[0])  # same split, within one bin
    assert otsu_from_histogram(np.eye(1, 256, 40).ravel(), centres) is None


@pytest.mark.parametrize("jpeg_quality", [None, 75])
def test_evaluation_slice_finds_every_edit_and_nothing_else(jpeg_quality):
    """A slice of benchmarks/eval_detection.py: two photographs, five edit kinds."""
    from benchmarks.detection_set import negative_pairs, positive_pairs

    for pair in positive_pairs(photos=["coffee", "camera"], pairs_per_photo=2, jpeg_quality=jpeg_quality):
        regions = compare(pair.left, pair.right, device="cpu").regions
        for edit in pair.edits:
            assert any(_boxes_overlap(r, *edit.box) for r in regions), (pair.name, edit)
        assert all(any(_boxes_overlap(r, *e.box) for e in pair.edits) for r in regions), pair.name
    for pair in negative_pairs(photos=["coffee", "camera"]):
        align = "translation" if pair.shift else None
        assert compare(pair.left, pair.right, device="cpu", align=align).regions == [], pair.name


def test_planes_follow_bt601():
    rng = np.random.default_rng(9)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    planes = prepare_pair(rgb, rgb).left.planes
    r, g, b = (rgb[..., i] / 255.0 for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    # OpenCV's rounded BT.601 chroma scales, chroma centred on 0.5
    expected = np.dstack([y, (r - y) * 0.713 + 0.5, (b - y) * 0.564 + 0.5])  # Y, Cr, Cb
    assert np.abs(planes - expected).max() < 1e-5


def _edited_photograph(name: str, *, quality: int):
    """A photograph ("coffee", "camera" grey, "rgba" with some alpha changed) against its JPEG round trip
    at ``quality`` with a band inverted: its plane stacks, SSIM window and SSIM map."""
    from pictures import luma_analysis

    left = data.coffee() if name != "camera" else data.camera()
    if name == "rgba":
        left = np.dstack([left, np.full(left.shape[:2], 200, np.uint8)])
    right = jpeg_roundtrip(left[..., :3] if left.ndim == 3 else left, quality)
    if name == "rgba":
        right = np.dstack([right, left[..., 3]])
        right[50:70, 60:90, 3] = 90
    right[100:110, 200:260] = 255 - right[100:110, 200:260]
    pair, weights, _, ssim_map = luma_analysis(left, right)
    return pair, weights, ssim_map


@pytest.mark.parametrize("name", ["coffee", "camera", "rgba"])
def test_fused_strength_matches_the_plain_definition(name):
    """The compiled kernel against tests/reference_detection.py, on a photograph with edits."""
    from reference_detection import reference_strength

    from imgdiff_gpu.cpu.strength import strength_map
    from imgdiff_gpu.detection import (
        coarse_chroma_shift,
        explained_by_antialiasing,
        luma_threshold_scale,
        thresholds_for,
    )

    pair, weights, ssim_map = _edited_photograph(name, quality=80)
    settings = {"luma": 6 / 255, "chroma": 21 / 255, "texture": 20 / 255, "ssim_threshold": 0.4}
    suppress = explained_by_antialiasing(pair.left.planes, pair.right.planes)
    # the 'low' preset's per-pixel luma threshold factor and coarse chroma evidence
    low = thresholds_for("low")
    luma_scale = luma_threshold_scale(pair.left.luma, pair.right.luma, weights, low)
    coarse = coarse_chroma_shift(pair.left.planes, pair.right.planes) / low.coarse_chroma if name != "camera" else None
    for extra in ({}, {"suppress": suppress}, {"luma_scale": luma_scale, "coarse": coarse}):
        fused = strength_map(pair.left.planes, pair.right.planes, ssim_map, weights, **settings, **extra)
        plain = reference_strength(pair.left.planes, pair.right.planes, ssim_map, weights, **settings, **extra)
        assert np.abs(fused - plain).max() < 1e-3 * max(1.0, plain.max())
        assert ((fused >= 1) == (plain >= 1)).mean() > 0.9999


@pytest.mark.parametrize("name", ["coffee", "camera", "rgba"])
def test_the_strength_pass_writes_the_levels_of_its_strength(name):
    """The levels the pass writes are :func:`strength_levels` of the strength it writes, pixel for
    pixel, with every term a pair can have; a pair chosen so that each level is common."""
    from imgdiff_gpu.cpu.strength import strength_levels_map, strength_map
    from imgdiff_gpu.detection import (
        coarse_chroma_shift,
        explained_by_antialiasing,
        luma_threshold_scale,
        strength_levels,
        thresholds_for,
    )

    pair, weights, ssim_map = _edited_photograph(name, quality=60)
    settings = {"luma": 2 / 255, "chroma": 6 / 255, "texture": 8 / 255, "ssim_threshold": 0.8}
    low = thresholds_for("low")
    luma_scale = luma_threshold_scale(pair.left.luma, pair.right.luma, weights, low)
    coarse = coarse_chroma_shift(pair.left.planes, pair.right.planes) / low.coarse_chroma if name != "camera" else None
    suppress = explained_by_antialiasing(pair.left.planes, pair.right.planes)
    for extra in ({}, {"suppress": suppress, "luma_offset": 1 / 255}, {"luma_scale": luma_scale, "coarse": coarse}):
        strength = strength_map(pair.left.planes, pair.right.planes, ssim_map, weights, **settings, **extra)
        levels = strength_levels_map(pair.left.planes, pair.right.planes, ssim_map, weights, **settings, **extra)
        assert levels.dtype == np.uint8
        np.testing.assert_array_equal(levels, strength_levels(strength))
        assert min(np.count_nonzero(levels == level) for level in (0, 1, 2)) > 100


def test_the_levels_leave_out_only_terms_that_stay_below_the_weak_cut_off():
    """The levels pass filters a term only on the rows where it may reach the weak cut-off (the chroma
    where a row's largest chroma step does, the luma where ``luma_rows`` says so, the structure where
    the SSIM term does): the levels of the strength it writes all the same, on a pair whose terms reach
    it on some rows only, and ``luma_rows`` is read (none given: the luma line is lost)."""
    from imgdiff_gpu.cpu.rules import abs_peaks
    from imgdiff_gpu.cpu.strength import strength_levels_map, strength_map
    from imgdiff_gpu.detection import _reaching, luma_shift_map, strength_levels

    pair, weights, ssim_map = _edited_photograph("coffee", quality=90)
    left, right = pair.left.planes, pair.right.planes.copy()
    right[200:230, 100:140, 1] += np.float32(0.2)  # a colour patch at equal luma: the chroma term alone
    right[300:304, 50:350, 0] += np.float32(20 / 255)  # a line: the luma term alone
    luma, settings = 7 / 255, {"chroma": 36 / 255, "texture": 32 / 255, "ssim_threshold": 0.3}
    rows = _reaching(abs_peaks(luma_shift_map(left[..., 0], np.ascontiguousarray(right[..., 0]), weights))[0], luma)
    assert 0 < rows.sum() < 0.5 * len(rows)  # the luma may reach on some rows only
    expected = strength_levels(strength_map(left, right, ssim_map, weights, luma=luma, **settings))
    assert np.count_nonzero(expected[300:304] == 2) > 100 and np.count_nonzero(expected[200:230] == 2) > 100
    levels = strength_levels_map(left, right, ssim_map, weights, luma=luma, **settings, luma_rows=rows)
    np.testing.assert_array_equal(levels, expected)
    np.testing.assert_array_equal(strength_levels_map(left, right, ssim_map, weights, luma=luma, **settings), expected)
    none = strength_levels_map(left, right, ssim_map, weights, luma=luma, **settings, luma_rows=np.zeros_like(rows))
    assert not (none[300:304] == 2).any()
    with pytest.raises(ValueError, match="levels alone"):
        strength_map(left, right, ssim_map, weights, luma=luma, **settings, luma_rows=rows)


LAYOUTS = {
    "rgb": ((3, np.uint8), (3, np.uint8)),
    "grey": ((1, np.uint8), (1, np.uint8)),
    "grey against rgb": ((1, np.uint8), (3, np.uint8)),
    "grey-alpha against rgba": ((2, np.uint8), (4, np.uint8)),
    "rgb against rgba, 16-bit": ((3, np.uint16), (4, np.uint16)),
    "8-bit against 16-bit": ((3, np.uint8), (3, np.uint16)),
}


def _layout_pair(layout: str, shape=(61, 83)):
    """Two images of the layouts ``LAYOUTS[layout]``, a noisy copy of one picture with an edit."""
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (*shape, 4)).astype(np.float64)
    base = (base + np.roll(base, 1, 0) + np.roll(base, 1, 1)) / 3  # some structure
    images = []
    for side, (channels, dtype) in enumerate(LAYOUTS[layout]):
        pixels = base[..., [0, 1, 2, 3][:channels] if channels != 2 else [0, 3]] + side * rng.normal(0, 4, (*shape, 1))
        if side:
            pixels[20:30, 30:50] += 40  # an edit
        pixels = np.clip(pixels, 0, 255) * (257 if dtype == np.uint16 else 1)
        images.append(np.round(pixels).astype(dtype)[..., 0] if channels == 1 else np.round(pixels).astype(dtype))
    return images


@pytest.mark.parametrize("whole", [False, True])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_pixels_give_the_stacks_planes_to_every_stage(layout, whole):
    """What reads the pixels of a pair (planes.PixelPair) gets the values of its plane stacks: the luma,
    the planes at some pixels, and the strength pass, which computes each row's planes as it reads it."""
    from imgdiff_gpu.cpu.analysis import luma_ssim_params
    from imgdiff_gpu.cpu.ssim import ssim_map_2d
    from imgdiff_gpu.cpu.strength import strength_levels_map, strength_map
    from imgdiff_gpu.planes import PixelPair, prepare_pair

    left, right = _layout_pair(layout)
    stacks = prepare_pair(left, right)
    pair = PixelPair(left, right, whole=whole)
    for mine, theirs in zip(pair.luma, (stacks.left.luma, stacks.right.luma), strict=True):
        assert mine.flags.c_contiguous
        np.testing.assert_array_equal(mine, theirs)
    ys, xs = np.nonzero(np.random.default_rng(1).random(left.shape[:2]) < 0.1)
    for mine, theirs in zip(pair.planes_at(ys, xs), (stacks.left.planes, stacks.right.planes), strict=True):
        np.testing.assert_array_equal(mine, theirs[ys, xs])
    params = luma_ssim_params(pair.luma[0])
    ssim_map = ssim_map_2d(*pair.luma, params)
    settings = {"luma": 3 / 255, "chroma": 8 / 255, "texture": 10 / 255, "ssim_threshold": 0.7, "luma_offset": 0.01}
    for function in (strength_map, strength_levels_map):
        from_stacks = function(stacks.left.planes, stacks.right.planes, ssim_map, params.weights, **settings)
        from_pixels = function(left, right, ssim_map, params.weights, **settings, layout=pair.layout)
        np.testing.assert_array_equal(from_pixels, from_stacks)
    assert pair.has_stacks == whole  # none of it made the stacks


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("sensitivity", ["low", "normal", "exact"])
@pytest.mark.parametrize("antialiasing", [False, True])
def test_the_analysis_of_the_pixels_is_the_analysis_of_the_stacks(layout, sensitivity, antialiasing):
    """The mask and the regions from the pixels (``pixels=``) are those from the stacks, every rule read."""
    from imgdiff_gpu.cpu.analysis import luma_ssim_params
    from imgdiff_gpu.cpu.ssim import ssim_map_2d
    from imgdiff_gpu.detection import difference_mask, thresholds_for
    from imgdiff_gpu.planes import PixelPair, prepare_pair

    left, right = _layout_pair(layout, shape=(96, 120))
    stacks = prepare_pair(left, right)
    pair = PixelPair(left, right)
    params = luma_ssim_params(pair.luma[0])
    ssim_map = ssim_map_2d(*pair.luma, params)
    thresholds = thresholds_for(sensitivity)
    ignore = np.zeros(left.shape[:2], bool)
    ignore[:, :8] = True
    options = {"ignore": ignore, "antialiasing": antialiasing}
    planes = (stacks.left.planes, stacks.right.planes)
    theirs, threshold = difference_mask(ssim_map, *planes, params.weights, thresholds, **options)
    mine, my_threshold = difference_mask(ssim_map, None, None, params.weights, thresholds, **options, pixels=pair)
    np.testing.assert_array_equal(mine, theirs)
    assert my_threshold == threshold and theirs.any()
    regions = find_regions(theirs, ssim_map, *planes, min_area=4)
    assert find_regions(mine, ssim_map, None, None, min_area=4, pixels=pair)[0] == regions[0] != []


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_planes_are_the_same_on_every_path(dtype):
    """The RGB fast paths (every plane, the luma alone), the general kernel and the video screen's luma
    give identical planes."""
    from imgdiff_gpu.cpu.planes import _opaque_rgb_planes_kernel, _planes_kernel, plane_stack

    rng = np.random.default_rng(4)
    scale = float(np.iinfo(dtype).max)
    rgb = rng.integers(0, int(scale) + 1, (37, 53, 3), dtype=dtype)
    general = np.empty((37, 53, 3), np.float32)
    fast = np.empty_like(general)
    _planes_kernel(rgb, scale, True, False, general)
    _opaque_rgb_planes_kernel(rgb, scale, fast)
    np.testing.assert_array_equal(fast, general)
    luma_alone = np.empty((37, 53, 1), np.float32)  # the luma-only fast path (planes.PixelPair's luma)
    _opaque_rgb_planes_kernel(rgb, scale, luma_alone)
    general_luma = np.empty_like(luma_alone)
    _planes_kernel(rgb, scale, False, False, general_luma)
    np.testing.assert_array_equal(luma_alone, general_luma)
    np.testing.assert_array_equal(plane_stack(rgb, colour=False, alpha=False, scale=scale), general_luma)
    np.testing.assert_array_equal(general_luma[..., 0], general[..., 0])
    r, g, b = (rgb[..., c].astype(np.int64) for c in range(3))
    exact = (299 * r + 587 * g + 114 * b) / (1000 * scale)
    assert np.abs(fast[..., 0] - exact).max() <= np.spacing(np.float32(1.0))  # one rounding, at most an ulp


def test_ssim_histogram_counts_as_its_definition():
    """The compiled CPU histogram against floor((s + 1) * 128) and bincount, edges and ignored pixels included."""
    from imgdiff_gpu.detection import ssim_histogram

    rng = np.random.default_rng(8)
    ssim_map = np.clip(rng.normal(0.7, 0.4, (301, 257)), -1.0, 1.0)
    ssim_map[0, :3] = (-1.0, 1.0, 1.0 + 1e-12)  # both ends, and a rounding stray above 1
    valid = rng.random(ssim_map.shape) > 0.25
    for map_ in (ssim_map, ssim_map.astype(np.float32)):  # 257 columns: the lanes' tail counted too
        for counted in (None, valid):
            values = (map_.ravel() if counted is None else map_[counted]).astype(np.float64)
            expected = np.bincount(np.clip(((values + 1.0) * 128).astype(np.int64), 0, 255), minlength=256)
            np.testing.assert_array_equal(ssim_histogram(map_, counted), expected)


def test_window_noise_factor_is_how_much_more_noise_the_reflected_window_keeps():
    """Measured on white noise: the std of the windowed mean per column, over the interior's."""
    import cv2

    from imgdiff_gpu.detection import window_noise_factor
    from imgdiff_gpu.pipeline import luma_ssim_params

    weights = luma_ssim_params(np.zeros((16, 16), np.float32)).weights
    noise = np.random.default_rng(5).normal(size=(40000, 24)).astype(np.float32)
    w = weights.astype(np.float32)
    averaged = cv2.sepFilter2D(noise, cv2.CV_32F, w, w, borderType=cv2.BORDER_REFLECT)[100:-100]
    measured = averaged.std(axis=0) / averaged[:, 12].std()
    factor = window_noise_factor((40000, 24), weights)[20000]
    np.testing.assert_allclose(measured, factor, rtol=0.02)
    assert factor[12] == 1.0 and factor[0] == pytest.approx(1.377, abs=0.002)


def test_a_difference_needs_its_core_of_strong_pixels():
    from imgdiff_gpu.detection import hysteresis

    weak = np.zeros((20, 40), bool)
    strong = np.zeros_like(weak)
    weak[2:6, 2:12] = weak[10:14, 2:12] = True
    strong[3, 2:13] = True  # 10 strong pixels in the first blob (one falls outside it)
    strong[11, 2:14] = strong[12, 2:4] = True  # 12 in the second
    assert hysteresis(weak, strong).sum() == 80
    kept = hysteresis(weak, strong, min_core=12)
    assert kept[10:14, 2:12].all() and kept.sum() == 40


def test_fewer_strong_pixels_in_all_than_a_core_keep_nothing():
    from imgdiff_gpu.detection import hysteresis

    weak = np.zeros((20, 40), bool)
    weak[2:8, 2:20] = True
    strong = np.zeros_like(weak)
    strong[4, 2:13] = True  # 11, all in one blob
    assert not hysteresis(weak, strong, min_core=12).any()
    strong[5, 2] = True  # the 12th
    assert hysteresis(weak, strong, min_core=12).sum() == weak.sum()
    assert not hysteresis(weak, np.zeros_like(weak), min_core=0).any()


def _hysteresis_reference(weak, strong, min_core=1):
    """Labels of the whole mask, 8-connected, four bytes a pixel (scipy): what hysteresis must give."""
    from scipy import ndimage

    labels, count = ndimage.label(weak, structure=np.ones((3, 3)))
    cores = np.bincount(labels[strong], minlength=count + 1)
    cores[0] = 0
    return (cores >= max(min_core, 1))[labels]


@pytest.mark.parametrize("min_core", [1, 3])
@pytest.mark.parametrize("where", ["corner", "middle", "everywhere"])
def test_hysteresis_labels_only_the_weak_pixels_box_and_keeps_the_whole_masks_components(where, min_core):
    from imgdiff_gpu.detection import hysteresis

    rng = np.random.default_rng(7)
    strength = np.zeros((300, 400))
    field = rng.random((120, 150)) * 1.3
    at = {"corner": (180, 250), "middle": (90, 120), "everywhere": (0, 0)}[where]
    if where == "everywhere":
        strength = rng.random(strength.shape) * 1.3
    else:
        strength[at[0] : at[0] + 120, at[1] : at[1] + 150] = field
    weak, strong = strength >= 0.5, strength >= 1.0
    strong[0, 0] = True  # outside every weak component where the field is not there: counts for none
    kept = hysteresis(weak, strong, min_core)
    np.testing.assert_array_equal(kept, _hysteresis_reference(weak, strong, min_core))
    assert kept.any()


@pytest.mark.parametrize("min_core", [0, 1, 3, 12])
@pytest.mark.parametrize(
    "where", ["nothing", "weak only", "corner", "middle", "everywhere", "bands apart", "bands near"]
)
def test_hysteresis_of_levels_is_hysteresis_of_their_masks(where, min_core):
    """:func:`mask_from_levels` labels the levels as they are: ``levels >= 1`` grown from ``levels == 2``."""
    from imgdiff_gpu import detection
    from imgdiff_gpu.detection import mask_from_levels, strength_levels

    rng = np.random.default_rng(11)
    strength = np.zeros((300, 400), np.float32)
    if where == "everywhere":
        strength = (rng.random(strength.shape) * 1.3).astype(np.float32)
    elif where == "weak only":
        strength[40:60, 50:90] = 0.7
    elif where.startswith("bands"):  # runs of rows labelled apart (more than ROW_GAP between) or as one
        gap = detection.ROW_GAP + 1 if where == "bands apart" else 5
        for y, x in ((10, 20), (40 + gap, 300), (70 + 2 * gap, 150)):
            strength[y : y + 30, x : x + 60] = rng.random((30, 60)) * 1.3
    elif where != "nothing":
        y, x = {"corner": (180, 250), "middle": (90, 120)}[where]
        strength[y : y + 120, x : x + 150] = rng.random((120, 150)) * 1.3
    levels = strength_levels(strength)
    kept = mask_from_levels(levels, min_core)
    assert kept.dtype == bool and kept.shape == levels.shape
    np.testing.assert_array_equal(kept, _hysteresis_reference(levels >= 1, levels == 2, min_core))
    assert kept.any() == (where not in ("nothing", "weak only"))


def test_components_too_many_for_two_byte_labels_are_labelled_with_four():
    from imgdiff_gpu.regions import connected_components

    specks = np.zeros((600, 600), np.uint8)
    specks[::2, ::2] = 1  # 90,000 isolated pixels: more than two-byte labels hold
    count, labels = connected_components(specks)
    assert count == 90_001 and labels.dtype == np.int32
    assert labels[598, 598] == 90_000
    count, labels = connected_components(specks[:100])
    assert count == 15_001 and labels.dtype == np.uint16


@pytest.mark.parametrize("offset", [(0, 0), (150, 230), (300 - 40, 400 - 60)])
def test_regions_of_a_mask_do_not_depend_on_the_empty_image_around_it(offset):
    rng = np.random.default_rng(3)
    small = rng.random((40, 60)) > 0.97  # specks a few pixels apart: merged into fragments
    planes = rng.random((40, 60, 3)).astype(np.float32)
    ssim_map = rng.random((40, 60)).astype(np.float32)
    alone, alone_kept = find_regions(small, ssim_map, planes, planes * 0.5, min_area=2, merge_distance=2)
    y, x = offset
    mask = np.zeros((300, 400), bool)
    big_planes = np.zeros((300, 400, 3), np.float32)
    big_ssim = np.ones((300, 400), np.float32)
    mask[y : y + 40, x : x + 60], big_planes[y : y + 40, x : x + 60], big_ssim[y : y + 40, x : x + 60] = (
        small,
        planes,
        ssim_map,
    )
    placed, placed_kept = find_regions(mask, big_ssim, big_planes, big_planes * 0.5, min_area=2, merge_distance=2)
    assert len(alone) > 1
    assert [(r.x + x, r.y + y, r.width, r.height, r.area, r.min_ssim, r.mean_ssim) for r in alone] == [
        (r.x, r.y, r.width, r.height, r.area, r.min_ssim, r.mean_ssim) for r in placed
    ]
    np.testing.assert_array_equal(placed_kept[y : y + 40, x : x + 60], alone_kept)
    assert placed_kept.sum() == alone_kept.sum()


def test_strong_pixels_without_weak_ones_keep_nothing():
    from imgdiff_gpu.detection import hysteresis

    weak = np.zeros((5, 5), dtype=bool)
    strong = weak.copy()
    strong[2, 2] = True
    assert not hysteresis(weak, strong).any()


@pytest.mark.parametrize("nan_at", ["line_columns", "line_rows"])
def test_the_compiled_line_samples_keep_a_nan_of_either_direction(nan_at):
    """The line noise ratio's samples take np.maximum of the two directions (c/rules.c's samples_strip), which
    keeps a NaN from either side: the direction along rows, read first, too."""
    from imgdiff_gpu.cpu.rules import line_samples_of

    rng = np.random.default_rng(3)
    shift = rng.normal(0, 0.05, (40, 48)).astype(np.float32)
    taps = np.array([0.25, 0.5, 0.25], np.float32)
    sampled = (len(range(2, 40, 4)), len(range(0, 48, 4)))
    names = ("window_rows", "line_rows", "line_columns", "window_columns")
    factors = {name: np.ones(sampled[name.endswith("columns")], np.float32) for name in names}
    finite, _ = line_samples_of(shift, taps, 2, 4, tuple(factors.values()), sampled)
    factors[nan_at][1] = np.nan
    line, _ = line_samples_of(shift, taps, 2, 4, tuple(factors.values()), sampled)
    nan = np.zeros(sampled, bool)
    nan[(slice(None), 1) if nan_at == "line_columns" else (1, slice(None))] = True
    np.testing.assert_array_equal(np.isnan(line), nan)
    np.testing.assert_array_equal(line[~nan], finite[~nan])
