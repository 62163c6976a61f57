"""Video screening: the same SSIM map and score as the image path, and never a missed difference."""

from __future__ import annotations

import numpy as np
import pytest
from pictures import PHOTOS, jpeg_roundtrip
from scipy import ndimage

from imgdiff_gpu.cpu.screen import frame_steps
from imgdiff_gpu.cpu.ssim import ssim_map_2d, ssim_map_and_bounds
from imgdiff_gpu.detection import thresholds_for
from imgdiff_gpu.pipeline import compare, luma_ssim_params
from imgdiff_gpu.planes import prepare_pair
from imgdiff_gpu.screening import FrameScreen


def _colour_photo(name: str) -> np.ndarray:
    photo = PHOTOS[name]()
    return np.ascontiguousarray(np.dstack([photo] * 3) if photo.ndim == 2 else photo[..., :3])


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "random"])
def test_screening_map_is_the_image_paths_map_bit_for_bit(name):
    if name == "random":
        rng = np.random.default_rng(3)
        left = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    else:
        left = _colour_photo(name)
    right = jpeg_roundtrip(left, 80)
    pair = prepare_pair(left, right)
    params = luma_ssim_params(pair.left.luma)
    expected = ssim_map_2d(pair.left.luma, pair.right.luma, params)
    luma_left, luma_right, luma_step, chroma_step, channel_step = frame_steps(left, right, reach=None)
    ssim_map, luma_shift, min_ssim = ssim_map_and_bounds(luma_left, luma_right, params, counted=None)
    np.testing.assert_array_equal(ssim_map, expected)
    assert min_ssim == expected.min()
    shift = pair.left.luma.astype(np.float64) - pair.right.luma
    for axis in (0, 1):
        shift = ndimage.correlate1d(shift, params.weights, axis=axis, mode="reflect")
    assert luma_shift == pytest.approx(np.abs(shift).max(), rel=1e-9)
    assert luma_step == pytest.approx(np.abs(pair.left.luma - pair.right.luma).max(), rel=1e-6)
    chroma = np.hypot(*(pair.left.planes[..., 1:] - pair.right.planes[..., 1:]).transpose(2, 0, 1))
    assert chroma_step == pytest.approx(chroma.max(), rel=1e-5)
    assert channel_step == np.abs(left.astype(int) - right).max()


@pytest.mark.parametrize(("sensitivity", "name", "quality"), [("low", "astronaut", 90), ("normal", "chelsea", 95)])
def test_a_clean_pair_gets_the_image_paths_score(sensitivity, name, quality):
    # (per-pixel chroma steps of one-sided 4:2:0 subsampling keep lower qualities out of the screen)
    left = _colour_photo(name)
    right = jpeg_roundtrip(left, quality)
    result = compare(left, right, device="cpu", sensitivity=sensitivity)
    assert not result.different
    score = FrameScreen(left.shape[:2], thresholds_for(sensitivity))(left, right)
    assert score == result.score  # the same map, the same mean: equal, not close


def _edits(photo: np.ndarray, rng: np.random.Generator):
    """Faint and strong edits of every kind, around the thresholds of the presets."""
    height, width = photo.shape[:2]
    for _ in range(24):
        y, x = int(rng.integers(10, height - 40)), int(rng.integers(10, width - 40))
        h, w = int(rng.integers(2, 30)), int(rng.integers(2, 30))
        edited = photo.astype(np.int16)
        kind = rng.integers(4)
        if kind == 0:  # luma shift
            edited[y : y + h, x : x + w] += int(rng.integers(-30, 31))
        elif kind == 1:  # a colour shift at about equal luma
            delta = int(rng.integers(5, 60))
            edited[y : y + h, x : x + w, 0] += delta
            edited[y : y + h, x : x + w, 1] -= delta * 299 // 587
        elif kind == 2:  # texture: noise of zero mean
            edited[y : y + h, x : x + w] += rng.integers(-40, 41, (h, w, 1))
        else:  # one stray pixel
            edited[y, x] += int(rng.integers(-255, 256))
        yield np.clip(edited, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sensitivity", ["low", "normal", "high", "exact"])
def test_screening_never_passes_a_pair_the_image_path_finds_different(sensitivity):
    rng = np.random.default_rng(11)
    photo = _colour_photo("coffee")[::2, ::2].copy()
    passed = found = 0
    for edited in _edits(photo, rng):
        result = compare(photo, edited, device="cpu", sensitivity=sensitivity)
        score = FrameScreen(photo.shape[:2], thresholds_for(sensitivity))(photo, edited)  # fresh: never paused
        if result.different:
            found += 1
            assert score is None
        elif score is not None:
            passed += 1
            assert score == result.score
    assert found > 0  # the edits do reach the thresholds; faint ones under low/normal pass the screen
    if sensitivity in ("low", "normal"):
        assert passed > 0


def test_ignored_pixels_are_screened_out_but_their_neighbours_are_not():
    photo = _colour_photo("chelsea")
    ignore = np.zeros(photo.shape[:2], dtype=bool)
    ignore[100:160, 100:200] = True
    screen = FrameScreen(photo.shape[:2], thresholds_for("normal"), ignore)
    inside = photo.copy()
    inside[110:150, 110:190] = (255, 0, 0)
    score = screen(photo, inside)
    assert score is not None and score == compare(photo, inside, device="cpu", ignore=ignore).score
    outside = photo.copy()
    outside[170:190, 110:190] = (255, 0, 0)
    assert screen(photo, outside) is None
    assert compare(photo, outside, device="cpu", ignore=ignore).different


def test_frames_it_cannot_read_go_to_the_full_comparison():
    screen = FrameScreen((20, 30), thresholds_for("normal"))
    grey = np.zeros((20, 30), np.uint8)
    assert screen(grey, grey) is None
    deep = np.zeros((20, 30, 3), np.uint16)
    assert screen(deep, deep) is None
    larger = np.zeros((40, 30, 3), np.uint8)
    assert screen(larger, larger) is None


def test_identical_frames_score_exactly_what_the_image_path_gives():
    photo = _colour_photo("coffee")
    screen = FrameScreen(photo.shape[:2], thresholds_for("exact"))
    assert screen(photo, photo.copy()) == compare(photo, photo.copy(), device="cpu").score == 1.0


def test_the_screen_stands_aside_while_every_pair_differs_and_returns_when_one_passes():
    screen = FrameScreen((20, 30), thresholds_for("normal"))
    frame = np.zeros((20, 30, 3), np.uint8)
    state = {"pair": 0, "score": None, "screened": []}

    def counting(left, right):  # stands in for the SSIM pass and the bounds
        state["screened"].append(state["pair"])
        return state["score"]

    screen._screen = counting
    for pair in range(1, 71):
        state["pair"] = pair
        assert screen(frame, frame) is None
    assert state["screened"] == [1, 2, 3, 4, 5, 6, 7, 8, 17, 34, 67]  # then pauses of 8, 16, 32 pairs
    state["score"], state["screened"] = 0.99, []
    results = []
    for pair in range(71, 150):
        state["pair"] = pair
        results.append(screen(frame, frame))
    assert state["screened"][0] <= 67 + 64 + 1  # tried again after the pause of 64
    first_pass = results.index(0.99)
    assert all(score == 0.99 for score in results[first_pass:])  # and screens every pair after


@pytest.mark.parametrize("rows", [(0, 7), (100, 140), (290, 300), (0, 300)])
def test_the_luma_threshold_scale_of_some_rows_is_those_rows_of_the_whole(rows):
    from imgdiff_gpu.detection import luma_threshold_scale

    left = _colour_photo("astronaut")[:300, :200]
    pair = prepare_pair(left, jpeg_roundtrip(left, 75))
    weights = luma_ssim_params(pair.left.luma).weights
    low = thresholds_for("low")
    whole = luma_threshold_scale(pair.left.luma, pair.right.luma, weights, low)
    some = luma_threshold_scale(pair.left.luma, pair.right.luma, weights, low, rows=rows)
    np.testing.assert_array_equal(some, whole[rows[0] : rows[1]])


def _banded_pair(name: str, brighter: int, *, flat: bool = False):
    """A photograph and its JPEG (q75), a band of rows made brighter; ``flat``: a grey frame with
    specks of one level instead, where the window variances are near 0 and rounding decides."""
    if flat:
        rng = np.random.default_rng(11)
        left = np.full((240, 320, 3), 128, np.uint8)
        right = np.clip(128 + rng.integers(-1, 2, (240, 320, 1)) * (rng.random((240, 320, 1)) < 0.05), 0, 255)
        right = np.repeat(right, 3, axis=2).astype(np.uint8)
    else:
        left = _colour_photo(name)[:240, :320]
        right = jpeg_roundtrip(left, 75)
    right[60:64, 40:200] = np.clip(right[60:64, 40:200].astype(int) + brighter, 0, 255)
    return left, right


def _fused_luma_bound(left, right, thresholds, *, floor, masking_factor=1.0, slack=None):
    """(the fused pass's masked luma bound, the full path's largest |w * dY - b| / scale, the pass's bounds)."""
    from imgdiff_gpu.cpu.ssim import ssim_map_and_screen
    from imgdiff_gpu.detection import luma_bias, luma_shift_map, luma_threshold_scale, window_noise_factors
    from imgdiff_gpu.screening import VARIANCE_SLACK

    pair = prepare_pair(left, right)
    params = luma_ssim_params(pair.left.luma)
    luma_left, luma_right, *_ = frame_steps(left, right, reach=None)
    bias = luma_bias(luma_left, luma_right, thresholds)
    ssim_map, bounds = ssim_map_and_screen(
        luma_left,
        luma_right,
        params,
        counted=None,
        bias=bias,
        masking=masking_factor * thresholds.masking / thresholds.luma_shift,
        floor=floor,
        slack=VARIANCE_SLACK if slack is None else slack,
        factors=window_noise_factors(luma_left.shape, params.weights),
        shift=np.empty(luma_left.shape, np.float32),
    )
    np.testing.assert_array_equal(ssim_map, ssim_map_2d(pair.left.luma, pair.right.luma, params))
    # as the full path computes them (detection.difference_mask): OpenCV's float32 shift over the scale
    full_shift = luma_shift_map(luma_left, luma_right + np.float32(bias), params.weights)
    scale = luma_threshold_scale(luma_left, luma_right, params.weights, thresholds)
    exact = float((np.abs(full_shift) / scale).max())
    return bounds.masked_shift, exact, bounds, full_shift


@pytest.mark.parametrize(
    ("name", "brighter", "flat"),
    [
        ("coffee", 0, False),
        ("coffee", 12, False),
        ("astronaut", 40, False),
        ("chelsea", 4, False),
        ("grey", 0, True),
        ("grey", 3, True),
    ],
)
def test_the_fused_masked_luma_bound_is_a_bound_and_close(name, brighter, flat):
    """Every pixel's |w * dY - b| over the fused pass's lower bound of its threshold scale (floor 0: the
    scale computed at every pixel) never falls below the full path's value, and stays within a few %
    of it (a bound that loose would clear fewer pairs); with the screen's floor it decides alike."""
    from imgdiff_gpu.screening import MARGIN

    low = thresholds_for("low")
    left, right = _banded_pair(name, brighter, flat=flat)
    bound, exact, _, _ = _fused_luma_bound(left, right, low, floor=0.0)
    assert exact > 0
    assert bound >= exact * (1 - 1e-5)
    assert bound <= exact * 1.01
    floored, _, _, _ = _fused_luma_bound(left, right, low, floor=low.luma_shift * (1.0 - MARGIN))
    assert floored >= exact * (1 - 1e-5)
    cleared = low.luma_shift * (1.0 - MARGIN)
    assert (floored < cleared) == (exact < cleared * (1 - 1e-4)) or abs(exact / cleared - 1) < 1e-4


@pytest.mark.parametrize(("masking_factor", "slack"), [(1.3, None), (1.0, -0.01)])
def test_a_fused_luma_bound_broken_on_purpose_is_caught(masking_factor, slack):
    """The check above fails for a bound that raises the threshold more than the full path does
    (masking overstated, or the variance's slack given the wrong sign)."""
    low = thresholds_for("low")
    left, right = _banded_pair("coffee", 12)
    broken, exact, _, _ = _fused_luma_bound(left, right, low, floor=0.0, masking_factor=masking_factor, slack=slack)
    assert broken < exact * (1 - 1e-5)


@pytest.mark.parametrize(("name", "brighter"), [("coffee", 0), ("astronaut", 12), ("chelsea", -3)])
def test_the_fused_shift_peaks_offset_and_line_ratio_are_the_full_paths_up_to_rounding(name, brighter):
    from imgdiff_gpu.cpu.rules import abs_peaks
    from imgdiff_gpu.cpu.screen import sampled_line_noise_ratio
    from imgdiff_gpu.detection import line_noise_ratio, line_noise_samples, luma_bias
    from imgdiff_gpu.screening import MARGIN, block_luma_bias

    low = thresholds_for("low")
    left, right = _banded_pair(name, brighter)
    right = np.clip(right.astype(int) - 2, 0, 255).astype(np.uint8)  # an offset for the bias to follow
    _, _, bounds, full_shift = _fused_luma_bound(left, right, low, floor=low.luma_shift * (1.0 - MARGIN))
    np.testing.assert_allclose(bounds.shift, full_shift, rtol=0, atol=1e-6)
    rows, columns = abs_peaks(bounds.shift)
    np.testing.assert_array_equal(bounds.peaks[0], rows)
    np.testing.assert_array_equal(bounds.peaks[1], columns)
    sums = np.empty((60, 80, 3), np.int32)
    luma_left, luma_right, *_ = frame_steps(left, right, reach=None, block_sums=sums, factor=4)
    np.testing.assert_array_equal(sums, (left.astype(int) - right).reshape(60, 4, 80, 4, 3).sum(axis=(1, 3)))
    bias = luma_bias(luma_left, luma_right, low)
    assert bias != 0
    assert block_luma_bias(sums, low) == pytest.approx(bias, abs=1e-6)
    weights = luma_ssim_params(luma_left).weights
    exact = line_noise_ratio(full_shift, weights)
    assert sampled_line_noise_ratio(bounds.shift, weights) == pytest.approx(exact, rel=1e-4)
    assert sampled_line_noise_ratio(full_shift, weights) == pytest.approx(exact, rel=1e-6)
    line, noise = line_noise_samples(full_shift, weights)
    assert len(line) == len(noise) == 60 * 80


@pytest.mark.parametrize("line", [0, 18])
def test_the_screen_follows_the_pairs_own_luma_offset(line):
    """A frame 3 levels darker (levels drifted through encodes): cleared with the image path's score
    when nothing else differs, never when a line the offset would hide is there."""
    from pictures import jpeg_roundtrip

    left = _colour_photo("astronaut")[100:388, 50:434]
    right = jpeg_roundtrip(left, 90).astype(int) - 3
    right[40:42, 200:320] += line
    right = np.clip(right, 0, 255).astype(np.uint8)
    result = compare(left, right, device="cpu", sensitivity="low")
    score = FrameScreen(left.shape[:2], thresholds_for("low"))(left, right)
    assert result.different == bool(line)
    if line:
        assert score is None
    elif score is not None:
        assert score == result.score


def test_the_screen_never_clears_a_line_only_its_own_evidence_finds():
    """The faint line of tests/test_video_encodes.py, found by the line evidence alone: not cleared."""
    from dataclasses import replace

    from pictures import jpeg_roundtrip

    from imgdiff_gpu.detection import line_shift

    left = _colour_photo("astronaut")
    lined = left.astype(int)
    lined[100:102, 220:370] += 14
    left, right = jpeg_roundtrip(left, 90), jpeg_roundtrip(np.clip(lined, 0, 255).astype(np.uint8), 75)
    low = thresholds_for("low")
    assert compare(left, right, device="cpu", sensitivity="low").different
    assert FrameScreen(left.shape[:2], low)(left, right) is None
    pair = prepare_pair(left, right)
    weights = luma_ssim_params(pair.left.luma).weights
    assert line_shift(pair.left.luma, pair.right.luma, weights, low).max() >= 1.0
    # without the line evidence the same pair has no region, and the screen may clear it
    assert line_shift(pair.left.luma, pair.right.luma, weights, replace(low, line=False)) is None


@pytest.mark.parametrize(("brighter", "masking"), [(0, True), (6, True), (14, True), (40, True), (14, False)])
def test_the_masked_line_shift_filters_some_rows_and_columns_and_decides_as_the_whole(brighter, masking):
    """Only the rows and columns whose largest shift reaches the threshold are filtered along; the value
    decides as the whole map's evidence over its masking does, and equals it where it reaches the threshold."""
    from dataclasses import replace

    from imgdiff_gpu.detection import contrast_masking, line_noise_ratio, line_over_threshold, luma_shift_map
    from imgdiff_gpu.screening import MARGIN, masked_line_shift

    left = _colour_photo("coffee")[:240, :320]
    right = jpeg_roundtrip(left, 75)
    right[60:62, 40:200] = np.clip(right[60:62, 40:200].astype(int) + brighter, 0, 255)  # a thin line
    right[100:180, 250:252] = np.clip(right[100:180, 250:252].astype(int) - brighter, 0, 255)  # and a column
    pair = prepare_pair(left, right)
    weights = luma_ssim_params(pair.left.luma).weights
    low = thresholds_for("low") if masking else replace(thresholds_for("low"), masking=0.0)
    shift = luma_shift_map(pair.left.luma, pair.right.luma, weights)
    ratio = line_noise_ratio(shift, weights)
    whole = line_over_threshold(shift, weights, low, ratio)
    if masking:
        whole = whole / contrast_masking(pair.left.luma, pair.right.luma, weights, low)
    exact = float(whole.max())
    bound = masked_line_shift(pair.left.luma, pair.right.luma, weights, low, shift, ratio)
    assert bound >= exact - 1e-6
    cleared = 1.0 - MARGIN
    assert (bound < cleared) == (exact < cleared)
    if exact >= cleared:
        assert bound == pytest.approx(exact, rel=1e-5)


@pytest.mark.parametrize("shape", [(16, 64), (64, 20), (24, 24), (7, 5)])
@pytest.mark.parametrize("sensitivity", ["low", "normal"])
def test_frames_smaller_than_the_line_window_are_screened_as_the_image_path_compares_them(shape, sensitivity):
    # the sampled line noise ratio's compiled pass needs the line window's radius (24 px) inside
    # the frame; smaller frames take OpenCV's filters, as the full path does
    rng = np.random.default_rng(5)
    left = rng.integers(60, 200, (*shape, 3), dtype=np.uint8)
    right = np.clip(left.astype(int) + rng.integers(-1, 2, left.shape), 0, 255).astype(np.uint8)
    score = FrameScreen(shape, thresholds_for(sensitivity)).measure(left, right)
    full = compare(left, right, device="cpu", sensitivity=sensitivity)
    assert score is None or (score == full.score and not full.regions)


@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_the_line_samples_at_every_step_are_the_whole_planes_at_those_rows_and_columns(step):
    from imgdiff_gpu.cpu.compiled import core
    from imgdiff_gpu.detection import line_factors, line_taps, window_noise_factors

    rng = np.random.default_rng(step)
    shift = rng.standard_normal((61, 83)).astype(np.float32)
    weights = luma_ssim_params(shift).weights
    taps = np.ascontiguousarray(line_taps(weights), np.float32)
    row_factors, column_factors = window_noise_factors(shift.shape, weights)
    line_rows, line_columns = line_factors(shift.shape, weights)
    sampled = (-(-61 // step), -(-83 // step))
    line, noise = np.empty(sampled, np.float32), np.empty(sampled, np.float32)
    workspace = np.empty((61, sampled[1]), np.float32)
    core.line_samples(shift, taps, row_factors, column_factors, line_rows, line_columns, step, line, noise, workspace)
    along_rows = ndimage.correlate1d(shift.astype(np.float64), taps, axis=1, mode="reflect")
    along_columns = ndimage.correlate1d(shift.astype(np.float64), taps, axis=0, mode="reflect")
    expected = np.maximum(
        np.abs(along_rows) / (row_factors[:, None] * line_columns[None, :]),
        np.abs(along_columns) / (line_rows[:, None] * column_factors[None, :]),
    )[::step, ::step]
    np.testing.assert_allclose(line, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        noise, (np.abs(shift) / (row_factors[:, None] * column_factors[None, :]))[::step, ::step], rtol=1e-6
    )


def test_a_colour_change_hidden_by_ignored_pixels_but_reaching_counted_ones_is_not_cleared():
    # an equal-luma colour change 6 px inside an ignored box: beyond the SSIM window's reach of the
    # counted pixels, within the coarse chroma term's, which marks the counted pixels along the box
    rng = np.random.default_rng(3)
    height, width = 240, 320
    texture = ndimage.gaussian_filter(rng.standard_normal((height, width)), 2.0)
    grey = np.clip(128 + texture * 8 / texture.std(), 0, 255).astype(np.uint8)
    left = np.repeat(grey[..., None], 3, axis=2)
    left[80:160, 100:220] = 128
    ignore = np.zeros((height, width), bool)
    ignore[80:160, 100:220] = True
    right = np.clip(left.astype(int) + rng.integers(-1, 2, left.shape), 0, 255).astype(np.uint8)
    right[86:154, 106:214] = (220, 98, 40)
    full = compare(left, right, device="cpu", sensitivity="low", ignore=ignore)
    assert full.regions  # the premise: the full comparison marks counted pixels
    assert FrameScreen((height, width), thresholds_for("low"), ignore).measure(left, right) is None


@pytest.mark.parametrize("shape", [(61, 83), (48, 50)])
def test_the_line_samples_at_any_step_are_the_step_one_values_bit_for_bit(shape):
    # each sampled column's average is one chain of fmaf over the same taps whatever the step (the
    # compiled pass reads the sampled columns compacted and the row split into its step phases), so
    # the values at every step-th row and column are step 1's, to the bit
    from imgdiff_gpu.cpu.compiled import core
    from imgdiff_gpu.detection import line_factors, line_taps, window_noise_factors

    shift = np.random.default_rng(11).standard_normal(shape).astype(np.float32)
    weights = luma_ssim_params(shift).weights
    taps = np.ascontiguousarray(line_taps(weights), np.float32)
    factors = (*window_noise_factors(shift.shape, weights), *line_factors(shift.shape, weights))

    def samples(step):
        sampled = (-(-shape[0] // step), -(-shape[1] // step))
        line, noise = np.empty(sampled, np.float32), np.empty(sampled, np.float32)
        core.line_samples(shift, taps, *factors, step, line, noise, np.empty((shape[0], sampled[1]), np.float32))
        return line, noise

    whole_line, whole_noise = samples(1)
    for step in (2, 3, 4, 5):
        line, noise = samples(step)
        assert line.tobytes() == whole_line[::step, ::step].tobytes()
        assert noise.tobytes() == whole_noise[::step, ::step].tobytes()


@pytest.mark.parametrize("factor", [4, 2])
def test_the_compiled_block_planes_are_the_numpy_expressions_bit_for_bit(factor):
    # the coarse chroma bound's (dCr, dCb) and the block luma means, as screening.py computed them in
    # NumPy before the compiled pass (c/screen.c block_planes) took them over
    from imgdiff_gpu.cpu.screen import block_chroma, block_luma_means

    rng = np.random.default_rng(factor)
    largest = 255 * factor * factor
    sums = rng.integers(-largest, largest + 1, (37, 53, 3)).astype(np.int32)
    sums[0, :3] = [[largest, -largest, 0], [0, 0, 0], [-largest, largest, largest]]
    delta = ((sums * (1.0 / factor**2)) * (1.0 / 255)).astype(np.float32)
    r, g, b = delta[..., 0], delta[..., 1], delta[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    chroma = np.dstack([0.713 * (r - y), 0.564 * (b - y)]).astype(np.float32)
    numerators = sums.reshape(-1, 3).astype(np.float32) @ np.array([299, 587, 114], np.float32)
    luma = (numerators * np.float32(1.0 / (1000.0 * 255.0 * factor**2))).reshape(sums.shape[:2])
    assert block_chroma(sums, factor).tobytes() == chroma.tobytes()
    assert block_luma_means(sums, factor).tobytes() == luma.tobytes()


@pytest.mark.parametrize("width", [11, 12, 13, 14, 15, 300])
def test_the_ssim_pass_statistics_are_the_counted_pixels_extremes(width):
    # the pass keeps its running extremes in several lanes and a tail: every width's last columns count
    rng = np.random.default_rng(width)
    x = rng.random((40, width)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1).astype(np.float32)
    params = luma_ssim_params(x)
    whole, _, _ = ssim_map_and_bounds(x, y, params, counted=None)
    for counted in (None, rng.random(x.shape) < 0.3, np.zeros(x.shape, bool)):
        if counted is not None:
            counted[:, -1] = False
            counted[7, -1] = True  # the extremes may sit in the last column only
        ssim_map, _, min_ssim = ssim_map_and_bounds(x, y, params, counted=counted)
        assert ssim_map.tobytes() == whole.tobytes()
        values = whole if counted is None else whole[counted]
        assert min_ssim == (values.min() if values.size else 1.0)
    x[7, -1], y[7, -1] = 1.0, 0.0  # the largest |ux - uy| and smallest SSIM move to the last column's row
    ssim_map, _, min_ssim = ssim_map_and_bounds(x, y, params, counted=None)
    assert min_ssim == ssim_map.min()
