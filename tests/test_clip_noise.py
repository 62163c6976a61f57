"""The clip noise rule (imgdiff_gpu/clip_noise.py): a frame judged against its clip's own noise peaks."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
from clips import bump_frames

from imgdiff_gpu.clip_noise import (
    REFERENCE_PEAKS,
    ClipNoise,
    cleared_peak,
    frame_peak,
    frame_peak_of,
    measuring_peaks,
    noise_factors,
)
from imgdiff_gpu.detection import thresholds_for
from imgdiff_gpu.options import VIDEO_DEFAULTS, CompareOptions
from imgdiff_gpu.pipeline import compare
from imgdiff_gpu.screening import FrameScreen
from imgdiff_gpu.video_frames import compared_frames

HEIGHT, WIDTH = 96, 128
LOW = thresholds_for("low")
# Amplitudes (grey levels) of a luma bump (sigma 3.5 px) on a flat grey pair with +-1 of noise each, and
# the frame peaks they give (measured): 8 -> ~0.87, the clip's noise, above the reference (factor ~1.37);
# 11 -> ~1.2, a speck flagged at factor 1 and cleared at 1.3; 30 -> ~3.6, an edit that stays.
QUIET, SPECK, EDIT = 8, 11, 30


def _bump(amplitude: float, sigma: float = 3.5) -> np.ndarray:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return amplitude * np.exp(-((y - HEIGHT / 2) ** 2 + (x - WIDTH / 2) ** 2) / (2 * sigma**2))


def _clip(amplitudes: list[float], seed: int = 5, *, moving: bool = True) -> list[tuple]:
    """(index, time, left, right) of a grey clip: right is left with a bump of each frame's amplitude, moving
    from frame to frame as codec noise does, or with ``moving=False`` fixed in the middle as an edit is."""
    lefts, rights = bump_frames(amplitudes, HEIGHT, WIDTH, seed, moving=moving)
    return [(index, index / 25, left, right) for index, (left, right) in enumerate(zip(lefts, rights, strict=True))]


def _analysed(pairs, **options):
    options = CompareOptions(**{"device": "cpu", "sensitivity": "low", "clip_noise": True, **options})
    return list(compared_frames(iter(pairs), options))


def test_every_reference_lies_above_the_cut_below_which_peaks_are_0():
    from imgdiff_gpu.clip_noise import PEAK_CUT

    assert all(PEAK_CUT < reference for reference in REFERENCE_PEAKS.values())


def test_factors_are_the_lower_median_of_the_window_over_the_reference():
    peaks = [0.2, 0.9, 0.8, 0.1, 0.7]
    # frame 0: peaks 0..2 -> 0.8; frame 1: 0..3, an even count -> the lower middle, 0.2 (factor 1, not
    # 0.5); frame 2: all -> 0.7; frames 3, 4: 1..4 (lower middle of 0.1 0.7 0.8 0.9), 2..4 -> 0.7
    assert noise_factors(peaks, 0.4, reach=2) == pytest.approx([2.0, 1.0, 1.75, 1.75, 1.75])
    assert noise_factors([0.1] * 5, 0.4, reach=2) == [1.0] * 5  # never below 1


@pytest.mark.parametrize("count", [1, 3, 16, 40])
def test_streamed_factors_are_the_whole_clips(count):
    peaks = list(np.random.default_rng(count).uniform(0.3, 1.2, count))
    noise, streamed = ClipNoise(0.6), []
    for added, peak in enumerate(peaks, start=1):
        noise.add(peak)
        streamed += list(noise.ready())
        assert len(streamed) == max(added - noise.reach, 0)  # each as soon as the frames after it are known
    noise.end()
    streamed += list(noise.ready())
    assert [p for p, _ in streamed] == peaks
    assert [f for _, f in streamed] == noise_factors(peaks, 0.6)


def test_a_frames_factor_waits_for_the_frames_after_it():
    noise = ClipNoise(0.5, reach=2)
    for peak in (0.9, 0.9):
        noise.add(peak)
    assert list(noise.ready()) == []  # frame 0's window reaches frame 2
    noise.add(0.9)
    assert [f for _, f in noise.ready()] == [pytest.approx(1.8)]


def _luma_shift_and_scale(left: np.ndarray, right: np.ndarray) -> tuple:
    """The pair's luma planes, window weights, luma shift (offset removed) and masking scale over every row,
    computed with detection.py's own functions as the full comparison would: the reference the peaks are
    held to."""
    from imgdiff_gpu import detection as d
    from imgdiff_gpu.pipeline import luma_ssim_params
    from imgdiff_gpu.planes import prepare_pair

    pair = prepare_pair(left, right)
    luma_left, luma_right = (d.contiguous_luma(p.planes) for p in (pair.left, pair.right))
    weights = luma_ssim_params(luma_left).weights
    bias = d.luma_bias(luma_left, luma_right, LOW)
    shift = d.luma_shift_map(luma_left, np.add(luma_right, np.float32(bias)), weights).copy()
    factors = d.border_factors(shift, shift.shape, weights, LOW)
    _, scale = d._masking_and_scale(luma_left, luma_right, weights, LOW, factors=factors)
    return luma_left, luma_right, weights, shift, scale


def test_the_peak_is_the_strength_passs_luma_term_and_the_screens_agrees():
    _, _, left, right = _clip([SPECK])[0]
    luma_left, luma_right, weights, shift, scale = _luma_shift_and_scale(left, right)
    whole = float((np.abs(shift) / (np.float32(LOW.luma_shift) * scale)).max())  # every row, as study_specks
    assert whole > 1.0
    assert frame_peak_of(left, right, LOW, None) == whole
    assert frame_peak(luma_left, luma_right, shift, weights, LOW) == whole
    score, _, peak = FrameScreen(left.shape[:2], LOW, peaks=True).measure_with_peak(left, right)
    assert score is None and peak is None  # not cleared: the full comparison measures it
    with measuring_peaks() as peaks:  # from the shift and scale it computes anyway
        compare(left, right, sensitivity="low")
    assert peaks == [whole]
    _, _, quiet_left, quiet_right = _clip([QUIET])[0]
    score, _, peak = FrameScreen(left.shape[:2], LOW, peaks=True).measure_with_peak(quiet_left, quiet_right)
    # cleared: from the offset and shift the full comparison would compute
    assert score is not None and 0.6 < peak == frame_peak_of(quiet_left, quiet_right, LOW, None)
    _, _, faint_left, faint_right = _clip([3])[0]
    score, _, peak = FrameScreen(left.shape[:2], LOW, peaks=True).measure_with_peak(faint_left, faint_right)
    assert score is not None and peak == 0.0 == frame_peak_of(faint_left, faint_right, LOW, None)  # below the cut


def test_luma_factor_raises_the_windows_luma_threshold_alone():
    _, _, left, right = _clip([SPECK])[0]
    low = compare(left, right, sensitivity="low")
    assert compare(left, right, sensitivity="low", luma_factor=1.0).regions == low.regions
    assert compare(left, right, sensitivity="low").different
    assert not compare(left, right, sensitivity="low", luma_factor=1.3).different
    # a chroma change is no luma term's: any factor keeps it
    patch = left.copy()
    patch[30:60, 40:80] = (150, 110, 110)
    assert compare(left, patch, sensitivity="low", luma_factor=50.0).different
    for bad in (0.5, float("nan"), float("inf"), "2", None, True):
        with pytest.raises(ValueError, match="luma_factor must be a finite number >= 1"):
            compare(left, right, luma_factor=bad)


def test_a_noisy_clips_speck_is_cleared_and_its_edit_kept():
    amplitudes = [QUIET] * 12
    amplitudes[4], amplitudes[8] = SPECK, EDIT
    pairs = _clip(amplitudes)
    frames = _analysed(pairs)
    assert min(f.noise_factor for f, _ in frames) > 1.3  # the clip's noise: ~0.87 over the reference 0.635
    assert {f.index for f, _ in frames if f.different} == {8}
    for (frame, result), (_, _, left, right) in zip(frames, pairs, strict=True):
        # the contract: compare() with the luma threshold times the frame's factor
        expected = compare(left, right, sensitivity="low", luma_factor=frame.noise_factor)
        assert frame.regions == expected.regions and frame.different == expected.different, frame.index
        assert result is None or result.regions == frame.regions
    # the speck alone is flagged at factor 1
    assert compare(*pairs[4][2:], sensitivity="low").different


def test_a_quiet_clip_keeps_factor_1_and_todays_flagged_set():
    amplitudes = [3] * 12
    amplitudes[4], amplitudes[8] = SPECK, EDIT
    pairs = _clip(amplitudes)
    frames = _analysed(pairs)
    assert all(f.noise_factor == 1.0 for f, _ in frames)
    assert max(f.noise_peak for f, _ in frames if f.index not in (4, 8)) < REFERENCE_PEAKS["low"]
    today = {index for index, _, left, right in pairs if compare(left, right, sensitivity="low").different}
    assert {f.index for f, _ in frames if f.different} == today == {4, 8}


def test_the_factors_do_not_depend_on_the_worker_count(monkeypatch):
    from imgdiff_gpu.cpu import threads

    amplitudes = [QUIET] * 20
    amplitudes[4], amplitudes[8] = SPECK, EDIT
    pairs = _clip(amplitudes)
    seen = []
    for workers in (1, 3):
        monkeypatch.setattr(threads, "get_num_threads", lambda workers=workers: workers)
        seen.append([(f.noise_peak, f.noise_factor, f.different) for f, _ in _analysed(pairs)])
    assert seen[0] == seen[1]


def test_other_presets_and_aligned_frames_keep_factor_1():
    amplitudes = [QUIET] * 6
    frames = _analysed(_clip(amplitudes), align="translation")
    assert all(f.noise_factor == 1.0 and f.noise_peak is None for f, _ in frames)
    options = CompareOptions(device="cpu", sensitivity="normal")
    frames = list(compared_frames(iter(_clip(amplitudes)), options))
    assert all(f.noise_factor == 1.0 and f.noise_peak is None for f, _ in frames)


def _speck_and_edit() -> tuple[np.ndarray, np.ndarray]:
    """A pair with a speck (cleared from a factor ~1.05 up) and an edit 40 px left of it (kept at any factor)."""
    rng = np.random.default_rng(5)
    left = 120.0 + rng.integers(-1, 2, (HEIGHT, WIDTH))
    right = 120.0 + rng.integers(-1, 2, (HEIGHT, WIDTH)) + _bump(SPECK) + np.roll(_bump(EDIT), -40, axis=1)
    return tuple(np.repeat(np.rint(p).astype(np.uint8)[..., None], 3, axis=2) for p in (left, right))


@pytest.mark.parametrize("factor", [1.0, 1.05, 1.3, 3.0])
@pytest.mark.parametrize("ignored", [False, True])
def test_comparing_again_from_the_first_comparison_is_comparing_anew(factor, ignored, monkeypatch):
    """A flagged frame judged again at its clip's factor takes its first comparison's SSIM map and every term
    the factor does not act on (cpu.analysis.FirstComparison): the same mask, regions, score and SSIM threshold
    as a comparison from scratch at that factor, with no SSIM pass and no evidence computed again."""
    from imgdiff_gpu import detection
    from imgdiff_gpu.cpu import analysis

    left, right = _speck_and_edit()
    ignore = None
    if ignored:
        ignore = np.zeros(left.shape[:2], bool)
        ignore[:8, :] = True
    with analysis.keeping_first_comparisons() as kept:
        first = compare(left, right, sensitivity="low", ignore=ignore)
    assert len(kept) == 1 and len(first.regions) == 2
    again = kept[0].detached()
    expected = compare(left, right, sensitivity="low", ignore=ignore, luma_factor=factor)
    # at 1 the speck and the edit; from 1.05 up the edit alone (its structure term is no luma term)
    assert len(expected.regions) == (2 if factor == 1.0 else 1)

    def not_again(*args, **kwargs):
        raise AssertionError("computed again")

    with monkeypatch.context() as patched:
        patched.setattr("imgdiff_gpu.cpu.ssim.ssim_map_2d", not_again)
        patched.setattr(detection, "mask_evidence", not_again)
        with analysis.comparing_again(again):  # an equal mask, made again, serves as well as the same one
            same = None if ignore is None else ignore.copy()
            result = compare(left, right, sensitivity="low", ignore=same, luma_factor=factor)
    assert result.regions == expected.regions and result.score == expected.score
    assert result.ssim_threshold == expected.ssim_threshold
    np.testing.assert_array_equal(result.mask, expected.mask)
    np.testing.assert_array_equal(result.ssim_map, expected.ssim_map)


def test_a_first_comparison_serves_its_own_pair_and_options_alone():
    from dataclasses import replace

    from imgdiff_gpu.cpu import analysis

    left, right = _speck_and_edit()
    with analysis.keeping_first_comparisons() as kept:
        compare(left, right, sensitivity="low")
    first = kept[0].detached()
    other = right.copy()
    other[60:70, 90:100] = 0  # another pair: its own evidence, not the first's
    ignore = np.zeros(left.shape[:2], bool)
    for args, options in (
        ((left, other), {}),
        ((left, right.copy()), {}),  # equal pixels, another array: not known to be the pair
        ((left, right), {"ignore": ignore}),  # pixels ignored where the first had none
        ((left, right), {"ignore": ~ignore}),
        ((left, right), {"sensitivity": "normal"}),
        ((left, right), {"antialiasing": True}),
    ):
        options = {"sensitivity": "low", "luma_factor": 1.3, **options}
        with analysis.comparing_again(first):
            result = compare(*args, **options)
        expected = compare(*args, **options)
        assert result.regions == expected.regions, options
        np.testing.assert_array_equal(result.mask, expected.mask)
    # what it is checked against: the arrays themselves, the ignored pixels' values, the options up to the factor
    raised = replace(first.thresholds, luma_factor=1.3)
    with analysis.keeping_first_comparisons() as kept:
        compare(left, right, sensitivity="low", ignore=ignore)
    masked = kept[0]
    assert first.serves(left, right, raised, None, False, first.params)
    assert masked.serves(left, right, raised, ignore.copy(), False, first.params)
    assert not masked.serves(left, right, raised, ~ignore, False, first.params)
    assert not first.serves(left, right, raised, ignore, False, first.params)
    assert not first.serves(left, right.copy(), raised, None, False, first.params)
    assert not first.serves(left, right, replace(raised, min_core=1), None, False, first.params)
    assert not first.serves(left, right, raised, None, True, first.params)


def test_a_clips_frames_are_compared_again_without_their_evidence_computed_twice(monkeypatch):
    from imgdiff_gpu import detection

    amplitudes = [QUIET] * 12
    amplitudes[4], amplitudes[8] = SPECK, EDIT
    pairs = _clip(amplitudes)
    computed = []
    real = detection.mask_evidence

    def counted(ssim_map, pair, *args, **kwargs):
        computed.append(id(pair.left))
        return real(ssim_map, pair, *args, **kwargs)

    monkeypatch.setattr(detection, "mask_evidence", counted)
    frames = _analysed(pairs)
    # frame 4 (the speck) is flagged at factor 1 and compared again at its factor, where it clears
    assert frames[4][0].noise_factor > 1.3 and not frames[4][0].different
    assert id(pairs[4][2]) in computed and len(computed) == len(set(computed))
    for (frame, _), (_, _, left, right) in zip(frames, pairs, strict=True):
        expected = compare(left, right, sensitivity="low", luma_factor=frame.noise_factor)
        assert frame.regions == expected.regions and frame.different == expected.different, frame.index


def test_the_screens_row_bounds_hold_each_rows_terms_and_leave_the_peak_as_it_is(monkeypatch):
    """The screen's pass bounds each row's luma terms (ScreenBounds.row_masked); a cleared pair's peak is
    measured with the masking on the rows whose bound reaches the cut alone (fewer than those whose unmasked
    shift does), and is still frame_peak_of's, bit for bit."""
    from imgdiff_gpu.clip_noise import PEAK_CUT
    from imgdiff_gpu.cpu import ssim

    seen, measured = [], []
    real_screen, real_peak = ssim.ssim_map_and_screen, cleared_peak

    def screen_pass(*args, **kwargs):
        ssim_map, bounds = real_screen(*args, **kwargs)
        seen.append(bounds)
        return ssim_map, bounds

    def peak(*args, **kwargs):
        measured.append(args[4])  # the rows
        return real_peak(*args, **kwargs)

    monkeypatch.setattr(ssim, "ssim_map_and_screen", screen_pass)
    monkeypatch.setattr("imgdiff_gpu.clip_noise.cleared_peak", peak)
    # the clip's noise bump, and a strip of texture whose noise masking hides (its unmasked shift reaches the cut)
    _, _, left, right = _clip([QUIET], seed=9)[0]
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 80, (24, WIDTH))
    left, right = left.astype(np.int16), right.astype(np.int16)
    left[4:28] += texture[..., None]
    blocks = np.kron(rng.integers(-6, 7, (4, WIDTH // 6 + 1)), np.ones((6, 6), int))[:, :WIDTH]  # a codec's blocks
    right[4:28] += (texture + blocks)[..., None]
    left, right = (np.clip(side, 0, 255).astype(np.uint8) for side in (left, right))
    score, _, screened_peak = FrameScreen(left.shape[:2], LOW, peaks=True).measure_with_peak(left, right)
    assert score is not None and screened_peak > PEAK_CUT and len(measured) == 1
    bounds, rows = seen[0], measured[0]
    assert np.float32(bounds.masked_shift) <= bounds.row_masked.max() <= np.float32(bounds.masked_shift * (1 + 1e-6))
    # every row's exact terms |shift| / scale (the whole frame's masking) under its bound
    *_, shift, scale = _luma_shift_and_scale(left, right)
    terms = (np.abs(shift) / scale).max(axis=1)
    assert (terms <= bounds.row_masked * np.float32(1 + 1e-5)).all()
    unmasked = np.abs(shift).max(axis=1) / np.float32(LOW.luma_shift) >= np.float32(PEAK_CUT * (1 - 1e-3))
    assert 0 < rows.sum() < unmasked.sum()
    whole = float((np.abs(shift) / (scale * np.float32(LOW.luma_shift))).max())  # every row, as study_specks
    assert screened_peak == frame_peak_of(left, right, LOW, None) == whole


def _textured_pair(height: int, width: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two float32 luma planes of a photograph-like texture and a noisier copy of it."""
    rng = np.random.default_rng(seed)
    left = cv2.GaussianBlur(rng.uniform(0, 1, (height, width)).astype(np.float32), (0, 0), 2.0)
    right = left + rng.normal(0, 0.02, (height, width)).astype(np.float32)
    return left, np.clip(right, 0, 1).astype(np.float32)


@pytest.mark.parametrize("first, last", [(0, 1), (0, 4), (2, 3), (5, 6), (40, 41), (37, 60), (173, 180), (179, 180)])
def test_the_shift_of_a_band_of_rows_is_those_rows_of_the_whole_frames(first, last):
    """cleared_peak filters each run of rows from its window's halo alone (cut at the frame's edges, where the
    whole frame's filter reflects the same rows): the same float32 values as the whole frame's, bit for bit."""
    from imgdiff_gpu.detection import luma_shift_map
    from imgdiff_gpu.pipeline import luma_ssim_params

    left, right = _textured_pair(180, 320)
    weights = luma_ssim_params(left).weights
    radius = len(weights) // 2
    whole = luma_shift_map(left, right, weights).copy()
    above, below = max(first - radius, 0), min(last + radius, 180)
    band = luma_shift_map(left[above:below], right[above:below], weights)[first - above : last - above]
    np.testing.assert_array_equal(band.view(np.uint32), whole[first:last].view(np.uint32))


@pytest.mark.parametrize("shape", [(4, 4), (8, 12), (96, 128), (180, 320), (720, 1280)])
def test_the_compiled_block_means_and_offset_are_opencvs(shape):
    """The pair's offset takes its 4 x 4 block means from one compiled pass (c/block_means.c): cv2.resize's
    INTER_AREA of cv2.subtract's difference, bit for bit, so the offset is the same on every path."""
    from imgdiff_gpu.cpu.block_means import difference_block_means
    from imgdiff_gpu.detection import luma_bias, luma_bias_of, luma_block_means

    rng = np.random.default_rng(shape[0])
    left, right = (rng.uniform(0, 1, shape).astype(np.float32) for _ in range(2))  # any rounding order shows
    right[: shape[0] // 2] = left[: shape[0] // 2]  # equal blocks too (many ties at 0, as a static scene has)
    height, width = shape
    expected = cv2.resize(cv2.subtract(left, right), (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    found = difference_block_means(left, right)
    np.testing.assert_array_equal(found.view(np.uint32), expected.reshape(found.shape).view(np.uint32))
    for offset in (0.0, 0.004, -0.5):  # within the clip, and clipped
        shifted = np.clip(right + np.float32(offset), 0, 1).astype(np.float32)
        assert luma_bias(left, shifted, LOW) == luma_bias_of(luma_block_means(left, shifted), LOW)


def test_the_compiled_block_means_take_whole_blocks_alone():
    from imgdiff_gpu.cpu.block_means import difference_block_means

    with pytest.raises(ValueError, match="no multiple of 4"):
        difference_block_means(np.zeros((6, 8), np.float32), np.zeros((6, 8), np.float32))


@pytest.mark.parametrize("seed", range(6))
def test_the_packed_rows_give_the_whole_frames_regions(seed):
    """cleared_peak builds the terms of its runs of rows alone, wide gaps between them packed (packed_rows):
    region_peak's regions, their boxes in the frame's rows, are the whole frame's, at its top and bottom edges,
    across gaps that join (11, 12 rows) and across packed ones."""
    from imgdiff_gpu.clip_noise import FramePeak, packed_rows, region_peak
    from imgdiff_gpu.detection import flag_runs

    rng = np.random.default_rng(seed)
    height, width = 160, 48
    rows = np.zeros(height, bool)
    for first, last in [(0, 2), (13, 15), (27, 30), (60, 61), (110, 112), (123, 124), (158, 160)]:
        rows[first:last] = rng.random() < 0.8  # some runs, at the edges and 11-12 rows apart among them
    if not rows.any():
        rows[80] = True
    term = np.zeros((height, width), np.float32)
    term[rows] = rng.uniform(0.0, 1.2, (rows.sum(), width)).astype(np.float32) ** 4  # sparse pixels over the cut
    runs = flag_runs(rows, join=11)
    frame_rows, starts = packed_rows(runs, height)
    packed = np.zeros((len(frame_rows), width), np.float32)
    for (first, last), start in zip(runs, starts, strict=True):
        packed[start : start + last - first] = term[first:last]
        assert (frame_rows[start : start + last - first] == np.arange(first, last)).all()
    whole, found = region_peak(term), region_peak(packed, frame_rows=frame_rows)
    assert isinstance(whole, FramePeak) and len(packed) < height
    assert float(found) == float(whole)
    np.testing.assert_array_equal(found.regions, whole.regions)


def _bumped_pair(bumps: list[tuple[float, int, int]], strip: float = 0.0, seed: int = 3) -> tuple:
    """A flat grey pair with +-1 level of noise, right with luma bumps (amplitude, row, column; sigma 3.5 px) and,
    with ``strip``, normal noise of that many levels on its 4 leftmost columns (a codec's border strip)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    left = 120.0 + rng.integers(-1, 2, (HEIGHT, WIDTH))
    right = 120.0 + rng.integers(-1, 2, (HEIGHT, WIDTH))
    for amplitude, row, column in bumps:
        right = right + amplitude * np.exp(-((y - row) ** 2 + (x - column) ** 2) / (2 * 3.5**2))
    if strip:
        right[:, :4] += rng.normal(0, strip, (HEIGHT, 4))
    return tuple(np.repeat(np.rint(np.clip(p, 0, 255)).astype(np.uint8)[..., None], 3, axis=2) for p in (left, right))


# (bumps, border strip, how far cleared_peak must go for the border factors: 0 the window's own, 1 the lower
# bounds from the screen's shift, 2 the whole frame's shift)
CLEARED = {
    "middle": ([(8, 48, 64)], 0.0, 0),
    "top edge": ([(8, 1, 64)], 0.0, 2),
    "bottom edge": ([(8, 95, 40)], 0.0, 2),
    "left border": ([(7, 40, 1)], 0.0, 2),
    "top and bottom": ([(8, 3, 30), (8, 90, 100)], 0.0, 2),
    "left strip": ([(8, 40, 1), (8, 60, 64)], 2.0, 1),
    "left strip, weak": ([(6, 40, 2)], 1.5, 1),
}


@pytest.mark.parametrize("name", list(CLEARED))
def test_a_cleared_pairs_peak_from_its_rows_alone_is_the_whole_frames(name, monkeypatch):
    """The screen measures a cleared pair's peak on the bands of rows its bound says can reach the cut, the
    border factors only as far as a border pixel's term needs them: the same peak and regions, bit for bit, as
    the whole frame's (frame_peak_of, the GPU's and a cluster's path), at the frame's edges and borders too."""
    from imgdiff_gpu import clip_noise, detection

    bumps, strip, deepest = CLEARED[name]
    left, right = _bumped_pair(bumps, strip)
    reached = [0]
    below, whole = clip_noise._border_factors_below, detection.border_factors

    def bounded(*args):
        reached[0] = max(reached[0], 1)
        return below(*args)

    def measured(*args):
        reached[0] = 2
        return whole(*args)

    monkeypatch.setattr(clip_noise, "_border_factors_below", bounded)
    monkeypatch.setattr(detection, "border_factors", measured)
    score, _, peak = FrameScreen(left.shape[:2], LOW, peaks=True).measure_with_peak(left, right)
    assert score is not None and reached[0] == deepest
    expected = frame_peak_of(left, right, LOW, None)
    assert peak == expected and type(peak) is type(expected)
    if isinstance(expected, clip_noise.FramePeak):
        np.testing.assert_array_equal(peak.regions, expected.regions)
    assert name in ("left strip, weak",) or peak > clip_noise.PEAK_CUT  # the strip's bump alone is below it


@pytest.mark.parametrize("ignored", [(slice(0, 12), slice(20, 45)), (slice(84, 96), slice(0, 128))])
def test_a_cleared_pairs_peak_with_ignored_pixels_is_the_whole_frames(ignored):
    """The same with ignored pixels (a bump's, or the bottom rows): their terms count 0 on every path."""
    from imgdiff_gpu import clip_noise

    left, right = _bumped_pair([(8, 3, 30), (8, 90, 100), (7, 40, 1)], 2.0)
    ignore = np.zeros(left.shape[:2], bool)
    ignore[ignored] = True
    score, _, peak = FrameScreen(left.shape[:2], LOW, ignore, peaks=True).measure_with_peak(left, right)
    expected = frame_peak_of(left, right, LOW, ignore)
    assert score is not None and peak == expected and type(peak) is type(expected)
    if isinstance(expected, clip_noise.FramePeak):
        np.testing.assert_array_equal(peak.regions, expected.regions)
    assert len(expected.regions) < len(frame_peak_of(left, right, LOW, None).regions)  # the ignored ones mattered


def test_frames_of_two_sizes_have_peak_0_whatever_path_measures_it():
    # the full comparison of padded frames measures noise of its own; the rule takes none (as the GPU
    # run's peak_of does), so a clip whose sizes differ keeps factor 1 on every path
    amplitudes = [QUIET] * 6 + [SPECK] + [QUIET] * 6
    pairs = _clip(amplitudes)
    assert max(f.noise_factor for f, _ in _analysed(pairs)) > 1  # the same clip at one size is raised
    narrower = [(index, time, left, right[:, :-2]) for index, time, left, right in pairs]
    frames = _analysed(narrower, size_mode="pad")
    assert [(f.noise_peak, f.noise_factor) for f, _ in frames] == [(0.0, 1.0)] * len(pairs)
    assert all(f.different for f, _ in frames)


def test_the_video_command_applies_the_rule_unless_told_not_to():
    amplitudes = [QUIET] * 6 + [SPECK] + [QUIET] * 6
    with_rule = _analysed(_clip(amplitudes), clip_noise=VIDEO_DEFAULTS.clip_noise)
    assert max(f.noise_factor for f, _ in with_rule) > 1 and not with_rule[6][0].different
    without = _analysed(_clip(amplitudes), clip_noise=False)  # --no-clip-noise
    assert all(f.noise_factor == 1.0 and f.noise_peak is None for f, _ in without)
    assert without[6][0].different  # the speck, as compare() flags it
    assert not CompareOptions().clip_noise  # images have no clip


def _streak_clip(amplitude: float, count: int, seed: int = 5, speck: float = 0.0) -> list[tuple]:
    """A grey clip whose right frames all hold one luma-only streak (sigma 3.5 px high, 20 px wide): an edit
    wider than a speck (``clip_noise.WIDE``), as a subtitle, a blur or a line is; with ``speck``, a bump of
    that amplitude 30 px below it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    streak = amplitude * np.exp(-((y - HEIGHT / 2) ** 2) / (2 * 3.5**2) - (x - WIDTH / 2) ** 2 / (2 * 20.0**2))
    streak = streak + np.roll(_bump(speck), 30, axis=0)
    pairs = []
    for index in range(count):
        left = 120.0 + rng.integers(-1, 2, (HEIGHT, WIDTH))
        right = 120.0 + rng.integers(-1, 2, (HEIGHT, WIDTH)) + streak
        grey = [np.repeat(np.rint(p).astype(np.uint8)[..., None], 3, axis=2) for p in (left, right)]
        pairs.append((index, index / 25, *grey))
    return pairs


def test_a_luma_only_edit_in_every_frame_of_a_short_clip_stays_found():
    # an 11-level streak, flagged by compare() alone, in each of 6 frames: the frames' peak leaves its
    # region out (wide, the largest), so it does not raise its own threshold (it did: F 1.9, none flagged)
    pairs = _streak_clip(SPECK, 6)
    assert all(compare(left, right, sensitivity="low").different for _, _, left, right in pairs)
    assert frame_peak_of(*pairs[0][2:], LOW, None) == 0.0
    frames = _analysed(pairs)
    assert all(f.different and f.noise_factor == 1.0 for f, _ in frames)


def test_a_wide_regions_peak_is_left_out_on_every_path_and_a_specks_kept():
    # the streak (the frame's largest term) is left out, the speck beside it is the peak: the same
    # through the full comparison's hook, frame_peak_of and the screen
    (_, _, left, right), *_ = _streak_clip(EDIT, 1, speck=SPECK)
    (_, _, alone_left, alone_right), *_ = _clip([SPECK])
    speck = frame_peak_of(alone_left, alone_right, LOW, None)
    peak = frame_peak_of(left, right, LOW, None)
    assert speck > 1.0 and peak == pytest.approx(speck, rel=0.05)
    with measuring_peaks() as peaks:
        compare(left, right, sensitivity="low")
    assert peaks == [peak]
    score, _, screened = FrameScreen(left.shape[:2], LOW, peaks=True).measure_with_peak(left, right)
    assert score is None and screened is None  # not cleared: its full comparison measured it


def test_a_narrow_luma_only_edit_in_every_frame_stays_found():
    # an 11-level bump, narrower than a speck's region may be (clip_noise.WIDE), flagged by compare() alone,
    # fixed in the middle of each of 6 frames: left out of every frame's noise, so it keeps F = 1 (it set
    # F 1.89 when only wide regions were left out)
    pairs = _clip([SPECK] * 6, moving=False)
    assert all(compare(left, right, sensitivity="low").different for _, _, left, right in pairs)
    frames = _analysed(pairs)
    assert all(f.different and f.noise_factor == 1.0 for f, _ in frames), [f.noise_factor for f, _ in frames]
    assert all(f.noise_peak == 0.0 for f, _ in frames)  # the peak its factor is taken from: none kept
    assert all(frame_peak_of(left, right, LOW, None) > 1.0 for _, _, left, right in pairs)  # as measured


def test_a_moving_speck_is_noise_and_a_fixed_edit_is_not():
    # the narrow 11-level bump of the test above in every frame, moving as codec specks move with the
    # content on a pan or a zoom: it is the clip's noise, its factor ~1.9, and no frame is flagged
    frames = _analysed(_clip([SPECK] * 12))
    assert min(f.noise_factor for f, _ in frames) > 1.7 and not any(f.different for f, _ in frames)
    # a 30-level logo fixed on screen beside moving 8-level noise: the logo, each frame's largest term, is
    # left out (it would set F ~5.7), the noise alone sets the factors, and the logo is found in every frame
    width = 192
    lefts, rights = bump_frames([QUIET] * 12, HEIGHT, width)
    y, x = np.mgrid[0:HEIGHT, 0:width]
    logo = np.rint(EDIT * np.exp(-((y - HEIGHT / 2) ** 2 + (x - 165) ** 2) / (2 * 3.5**2)))[..., None]
    noise = [(k, k / 25, left, right) for k, (left, right) in enumerate(zip(lefts, rights, strict=True))]
    edited = [(k, t, left, np.clip(right + logo, 0, 255).astype(np.uint8)) for k, t, left, right in noise]
    assert frame_peak_of(*edited[0][2:], LOW, None) > 3.0
    alone, frames = _analysed(noise), _analysed(edited)
    assert [f.noise_factor for f, _ in frames] == [f.noise_factor for f, _ in alone]
    assert min(f.noise_factor for f, _ in frames) > 1.3 and all(f.different for f, _ in frames)


def test_a_region_is_fixed_when_regions_of_more_than_half_the_windows_frames_overlap_it():
    from imgdiff_gpu.clip_noise import FramePeak, window_peaks

    def frame(*regions):  # (peak, top, left, bottom, right), largest first as region_peak orders them
        regions = np.asarray(sorted(regions, key=lambda r: -r[0]), np.float64).reshape(-1, 5)
        return FramePeak(max((r[0] for r in regions), default=0.0), regions)

    logo = (2.0, 10, 10, 30, 30)  # narrower than WIDE
    speck = [(0.9, 50, 10 + 25 * k, 70, 30 + 25 * k) for k in range(5)]  # moving: 25 px a frame
    # the logo in 3 of 5 frames (more than half): left out wherever it is; the specks kept
    assert window_peaks([frame(logo, speck[k]) if k < 3 else frame(speck[k]) for k in range(5)]) == [0.9] * 5
    # in 2 of 5: not fixed, each frame's peak is its own
    assert (
        window_peaks([frame(logo, speck[k]) if k < 2 else frame(speck[k]) for k in range(5)]) == [2.0, 2.0] + [0.9] * 3
    )
    # an overlapping box, not the same box, is the same place; a plain float is a peak with no regions
    shifted = (2.0, 15, 15, 35, 35)
    assert window_peaks([frame(logo), frame(shifted), 0.7, frame(logo)]) == [0.0, 0.0, 0.7, 0.0]
    # a region no other frame's overlaps is never fixed: a window of one frame keeps its noise
    assert window_peaks([frame(logo, speck[0])]) == [2.0]
    # the wide rule then acts on the regions kept: two wide ones left out, a third kept
    wide = [(3.0 - k / 10, 100, 60 * k, 110, 60 * k + 60) for k in range(3)]
    moving = [frame(speck[1]), frame(speck[2])]
    assert window_peaks([frame(*wide[:2], speck[0]), *moving]) == [0.9, 0.9, 0.9]
    assert window_peaks([frame(*wide, speck[0]), *moving]) == [2.8, 0.9, 0.9]
    # a cluster's workers send peaks to the client: the regions go with them
    sent = pickle.loads(pickle.dumps(frame(logo, speck[0])))
    assert isinstance(sent, FramePeak) and sent == 2.0 and sent.regions.tolist() == [list(logo), list(speck[0])]


@pytest.mark.parametrize("count", [1, 5, 31, 80])
def test_streamed_levels_with_regions_are_each_windows_own(count):
    # the stream compares each pair of frames once and forgets what no later window needs: the same
    # (peak, factor) as window_peaks over each frame's whole window, computed afresh
    from imgdiff_gpu.clip_noise import REACH, FramePeak, noise_levels, window_peaks

    rng = np.random.default_rng(count)
    peaks = []
    for k in range(count):
        boxes = [(10, 10, 30, 30)] * (k % 4 != 0)  # fixed, in 3 frames of 4
        boxes += [(50, 8 * k % 600, 70, 8 * k % 600 + 20), (200, 300, 210, 360 + k % 3)]  # moving; wide
        boxes += [tuple(int(v) for v in (y, x, y + 20, x + 20)) for y, x in rng.integers(0, 700, (3, 2))]
        values = np.sort(rng.uniform(0.6, 2.0, len(boxes)))[::-1]
        regions = np.column_stack([values, np.asarray(boxes, np.float64)])
        peaks.append(FramePeak(float(values[0]), regions) if k % 7 else 0.0)
    expected = []
    for k in range(count):
        first, last = max(k - REACH, 0), min(k + REACH + 1, count)
        kept = window_peaks(peaks[first:last])
        expected.append((kept[k - first], max(1.0, sorted(kept)[(len(kept) - 1) // 2] / 0.6)))
    assert noise_levels(peaks, 0.6) == expected


def test_a_regions_peak_is_the_largest_term_over_its_pixels():
    # region_peak takes each region's maximum over its pixels reaching the cut alone: the maximum over
    # the whole region, as scipy gives it, on terms with specks, blobs and values just under the cut
    from scipy import ndimage

    from imgdiff_gpu.clip_noise import JOIN, PEAK_CUT, region_peak

    rng = np.random.default_rng(3)
    for _ in range(20):
        term = rng.uniform(0.0, PEAK_CUT, (120, 160)).astype(np.float32)
        for y, x in rng.integers(0, (110, 150), (rng.integers(1, 12), 2)):
            term[y : y + rng.integers(1, 10), x : x + rng.integers(1, 10)] = rng.uniform(PEAK_CUT, 3.0)
        peak = region_peak(term)
        above = term >= PEAK_CUT
        labels, count = ndimage.label(ndimage.binary_dilation(above, iterations=JOIN), structure=np.ones((3, 3)))
        expected = np.sort(np.asarray(ndimage.maximum(term, labels, np.arange(1, count + 1)), np.float64))[::-1]
        assert peak.regions[:, 0].tolist() == expected.tolist()


def _scipy_regions(term: np.ndarray) -> np.ndarray:
    """region_peak's regions as scipy gave them before the compiled pass (term_regions.c): the band of rows the
    pixels reaching the cut span, dilated by JOIN city-block steps, labelled 8-connected, each region's largest
    term and box, largest peak first (stable, in label order)."""
    from scipy import ndimage

    from imgdiff_gpu.clip_noise import JOIN, PEAK_CUT

    above = term >= PEAK_CUT
    rows = np.flatnonzero(above.any(axis=1))
    first, last = max(int(rows[0]) - JOIN, 0), int(rows[-1]) + JOIN + 1
    labels, count = ndimage.label(ndimage.binary_dilation(above[first:last], iterations=JOIN), np.ones((3, 3)))
    peaks = np.full(count, -np.inf)
    np.maximum.at(peaks, labels[above[first:last]] - 1, term[first:last][above[first:last]].astype(np.float64))
    boxes = [(r.start + first, c.start, r.stop + first, c.stop) for r, c in ndimage.find_objects(labels)]
    return np.column_stack([peaks, np.asarray(boxes, np.float64)])[np.argsort(-peaks, kind="stable")]


@pytest.mark.parametrize("density", [0.001, 0.02, 0.3, 0.9])
def test_a_frames_regions_are_scipys_region_for_region(density):
    # the compiled pass (term_regions.c) builds the regions from the pixels reaching the cut alone: the same
    # peaks, boxes and order as scipy's passes, at the frame's edges (the dilation clipped), with ties and
    # values exactly at the cut, sparse to nearly full, on terms of strided rows and columns too
    from imgdiff_gpu.clip_noise import PEAK_CUT, region_peak

    rng = np.random.default_rng(int(density * 1000))
    for _ in range(25):
        height, width = rng.integers(1, 70, 2)
        term = rng.uniform(0.0, PEAK_CUT, (height, width)).astype(np.float32)
        hot = rng.random((height, width)) < density
        term[hot] = rng.choice(np.float32([PEAK_CUT, 0.7, 0.7, 1.5, 2.0]), hot.sum())
        term[rng.random((height, width)) < 0.01] = np.nan  # never reaches the cut
        for plane in (term, np.pad(term, ((0, 0), (0, 3)))[:, :width], np.repeat(term, 2, axis=1)[:, ::2]):
            peak = region_peak(plane)
            if not (plane >= PEAK_CUT).any():
                assert peak == 0.0 and not hasattr(peak, "regions")
                continue
            assert peak.regions.tolist() == _scipy_regions(plane).tolist()


def test_the_regions_pass_refuses_what_it_cannot_read():
    from imgdiff_gpu.cpu.compiled import core

    with pytest.raises(TypeError, match="term"):
        core.term_regions(np.zeros((4, 4)), 0.6, 5)
    with pytest.raises(ValueError, match="join"):
        core.term_regions(np.zeros((4, 4), np.float32), 0.6, 40)


def test_the_rules_cost_benchmark_times_the_rule_on_and_off():
    # benchmarks/bench_clip_noise.py: options whose rule stays off would time nothing against nothing
    from benchmarks.bench_clip_noise import OPTIONS, rule
    from imgdiff_gpu.video_frames import clip_noise_reference

    with rule(True):
        assert clip_noise_reference(OPTIONS) == REFERENCE_PEAKS["low"]
    with rule(False):
        assert clip_noise_reference(OPTIONS) is None
