"""The CPU analysis in bands of rows (``cpu/bands.py``) gives what the whole-image analysis gives.

Small images are forced into small bands by lowering the budget; every field of
the result must be identical, bit for bit: score, threshold, regions and their
statistics, the kept mask and the SSIM map.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from pictures import PHOTOS, jpeg_roundtrip

from imgdiff_gpu.cpu import bands
from imgdiff_gpu.cpu.analysis import analyse_cpu, score_of
from imgdiff_gpu.cpu.bands import CroppedMean, PairwiseSum, rows_per_band
from imgdiff_gpu.detection import luma_block_means, luma_block_means_of_rows, thresholds_for
from imgdiff_gpu.planes import prepare_pair
from imgdiff_gpu.rendering import heat_levels


def _edited(photo: np.ndarray) -> np.ndarray:
    """The photograph with edits of every kind, one a tall box that crosses many bands."""
    maximum = np.iinfo(photo.dtype).max
    level = maximum // 255  # one 8-bit grey level on this image's scale
    edited = photo.astype(np.int64)
    height, width = photo.shape[:2]
    edited[height // 8 : height // 8 + 3, width // 10 : width // 2] += 15 * level  # a faint 3-px line
    edited[height // 4 : 3 * height // 4, width // 2 : width // 2 + 30] += 40 * level  # tall: crosses the bands
    edited[height - 40 : height - 10, 10:50] = edited[height - 40 : height - 10, 10:50][::-1]  # moved texture
    if photo.ndim == 3:
        edited[20:50, width - 60 : width - 20, 0] += 35 * level  # a colour patch
    return np.clip(edited, 0, maximum).astype(photo.dtype)


def _pair(name: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    photo = PHOTOS[name]()
    if kind == "rgba":
        alpha = np.full(photo.shape[:2], 255, np.uint8)
        alpha[:, : photo.shape[1] // 3] = 128
        photo = np.dstack([photo, alpha])
    if kind == "16-bit":
        # 8 bits moved up, and low bits that 8 bits cannot hold (at most 255 * 256 + 199)
        photo = photo.astype(np.uint16) * 256 + (np.arange(photo.shape[1], dtype=np.uint16) % 200)[:, None]
    right = _edited(photo)
    if kind == "jpeg":
        right = jpeg_roundtrip(right, 80)
    return photo, right


def _analyse(left, right, thresholds, *, budget=None, **options):
    options = dict(ignore=None, antialiasing=False, min_area=40, merge_distance=8, keep_maps=True) | options
    saved = bands.CPU_BUDGET_BYTES
    try:
        if budget is not None:
            bands.CPU_BUDGET_BYTES = budget
        return analyse_cpu(left, right, thresholds, **options)
    finally:
        bands.CPU_BUDGET_BYTES = saved


def _assert_same(banded, whole):
    assert banded.score == whole.score
    assert banded.ssim_threshold == whole.ssim_threshold
    assert banded.regions == whole.regions
    assert (banded.mask is None) == (whole.mask is None)
    if whole.mask is not None:
        assert banded.mask.dtype == whole.mask.dtype and np.array_equal(banded.mask, whole.mask)
    # in bands, the SSIM map is kept as what the pictures show of it: the heat map's levels
    assert banded.ssim_map is None and whole.heat_levels is None
    assert (banded.heat_levels is None) == (whole.ssim_map is None)
    if whole.ssim_map is not None:
        assert banded.heat_levels.dtype == np.uint8
        assert np.array_equal(banded.heat_levels, heat_levels(whole.ssim_map))


def _budget_for(rows: int, shape, planes: int, thresholds, antialiasing=False) -> int:
    """A budget that gives bands of about ``rows`` rows to this pair."""
    per_row = shape[1] * bands.bytes_per_pixel(planes, thresholds, antialiasing=antialiasing)
    halo = bands.band_halo(thresholds, antialiasing=antialiasing, radius=5)
    return (rows + 2 * halo) * per_row


CASES = [
    ("astronaut", "rgb", "normal", {}),
    ("chelsea", "jpeg", "high", {}),
    ("coffee", "rgba", "normal", {}),
    ("camera", "grey", "normal", {}),
    ("rocket", "16-bit", "normal", {}),
    ("astronaut", "jpeg", "low", {}),
    ("chelsea", "jpeg", "low", {}),  # a width that is no multiple of the coarse block
    ("rocket", "jpeg", "low", {}),  # 427 rows: a height that is none either
    ("coffee", "rgb", "exact", {}),
    ("chelsea", "rgb", "normal", {"antialiasing": True}),
    ("coffee", "jpeg", "exact", {"antialiasing": True}),
    ("astronaut", "rgb", "normal", {"threshold": 0.4}),
    ("rocket", "rgb", "normal", {"ignore": "box"}),
    ("camera", "jpeg", "high", {"ignore": "box", "keep_maps": False}),
    ("camera", "jpeg", "low", {"keep_maps": False}),
    ("coffee", "jpeg", "low", {"threshold": 0.4}),
    ("astronaut", "jpeg", "low", {"luma_factor": 1.5}),  # a video frame's clip noise factor (clip_noise.py)
]


@pytest.mark.parametrize("rows", [4, 36, 128])
@pytest.mark.parametrize(("name", "kind", "sensitivity", "extra"), CASES)
def test_bands_give_the_whole_image_result(name, kind, sensitivity, extra, rows):
    left, right = _pair(name, kind)
    if kind == "grey":
        left, right = left[..., 0] if left.ndim == 3 else left, right[..., 0] if right.ndim == 3 else right
    extra = dict(extra)
    thresholds = thresholds_for(sensitivity, ssim_threshold=extra.pop("threshold", None))
    thresholds = replace(thresholds, luma_factor=extra.pop("luma_factor", 1.0))
    if extra.get("ignore") == "box":
        ignore = np.zeros(left.shape[:2], dtype=bool)
        ignore[100:180, 60:300] = True
        extra["ignore"] = ignore
    planes = 1 + 2 * (left.ndim == 3) + (kind == "rgba")
    budget = _budget_for(rows, left.shape, planes, thresholds, extra.get("antialiasing", False))
    band_rows = rows_per_band(
        left.shape, planes, thresholds, antialiasing=extra.get("antialiasing", False), budget=budget
    )
    assert band_rows < left.shape[0]  # the test really runs in bands
    whole = _analyse(left, right, thresholds, **extra)
    banded = _analyse(left, right, thresholds, budget=budget, **extra)
    assert any("in bands of" in note for note in banded.notes)
    assert not any("in bands of" in note for note in whole.notes)
    assert whole.regions  # the edits are found, so the regions' statistics are compared
    banded.notes = [n for n in banded.notes if "in bands of" not in n]
    _assert_same(banded, whole)


@pytest.mark.parametrize("height", [301, 302, 303, 304])
@pytest.mark.parametrize("sensitivity", ["normal", "high", "low", "exact"])
@pytest.mark.parametrize("kind", ["grey", "jpeg"])
def test_heights_that_are_no_multiple_of_4_go_through_bands(height, sensitivity, kind):
    # widths 510, 511, 512, 509: each height with another remainder of the coarse block's columns
    width = 509 + (height + 1) % 4
    left, right = _pair("astronaut", kind if kind == "jpeg" else "rgb")
    left, right = left[:height, :width], right[:height, :width]
    if kind == "grey":
        left, right = left[..., 1], right[..., 1]
    thresholds = thresholds_for(sensitivity)
    planes = 1 if kind == "grey" else 3
    budget = _budget_for(36, left.shape, planes, thresholds)
    whole = _analyse(left, right, thresholds)
    banded = _analyse(left, right, thresholds, budget=budget)
    assert whole.regions
    assert any("in bands of" in note for note in banded.notes)
    banded.notes = [n for n in banded.notes if "in bands of" not in n]
    _assert_same(banded, whole)


def _chroma_pair(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Plane stacks of a JPEG pair with a colour patch, cut to ``height`` x ``width`` (tiled past 512)."""
    from imgdiff_gpu.planes import prepare_pair

    left, right = _pair("astronaut", "jpeg")
    tiles = (-(-height // left.shape[0]), -(-width // left.shape[1]), 1)
    left, right = (np.tile(image, tiles)[:height, :width] for image in (left, right))
    pair = prepare_pair(left, right)
    return pair.left.planes, pair.right.planes


@pytest.mark.parametrize("height", [1, 3, 4, 5, 33, 298, 299, 300, 301, 1027])
@pytest.mark.parametrize("width", [2, 301, 512])
@pytest.mark.parametrize("band_rows", [4, 12, 36])
def test_the_coarse_chroma_term_of_a_band_is_the_wholes(height, width, band_rows):
    """coarse_chroma_shift of a band of rows with its halo (COARSE_HALO) is, at the kept rows, the whole's,
    bit for bit, at any height and width (partial blocks included); and the same on every call."""
    from imgdiff_gpu.detection import coarse_chroma_shift

    left, right = _chroma_pair(height, width)
    whole = coarse_chroma_shift(left, right)
    assert np.array_equal(whole, coarse_chroma_shift(left.copy(), right.copy()))  # bit-stable
    for top, bottom, lo, hi in bands.bands(height, band_rows, bands.COARSE_HALO):
        band = coarse_chroma_shift(left[lo:hi], right[lo:hi])
        assert np.array_equal(band[top - lo : bottom - lo], whole[top:bottom]), (top, bottom)


@pytest.mark.parametrize("halo", [bands.COARSE_HALO - 4, bands.COARSE_HALO - 8, bands.COARSE_HALO - 16])
def test_a_coarse_halo_too_short_changes_the_rows(halo):
    """The test above can fail: 8 block rows are needed, the 8th where a short last band ends on a
    block that the whole image's last block row extends (here 1027 rows: its last block takes 7)."""
    from imgdiff_gpu.detection import coarse_chroma_shift

    height, band_rows = 1027, 332  # the third band ends at row 996, 28 rows above row 1024
    left, right = _chroma_pair(height, 301)
    whole = coarse_chroma_shift(left, right)
    differ = []
    for top, bottom, lo, hi in bands.bands(height, band_rows, halo):
        band = coarse_chroma_shift(left[lo:hi], right[lo:hi])
        differ.append(not np.array_equal(band[top - lo : bottom - lo], whole[top:bottom]))
    assert any(differ)


@pytest.mark.parametrize("height", [16, 17, 18, 19, 101, 1001])
def test_the_luma_offsets_blocks_are_the_wholes_from_any_rows(height):
    rng = np.random.default_rng(height)
    left, right = (rng.random((height, 37 + height % 5), dtype=np.float32) for _ in range(2))
    expected = luma_block_means(left, right)
    for rows in (4, 8, 20):
        parts = []
        for top in range(0, height, rows):
            bottom = min(top + rows, height)
            lo, hi = max(top - 3, 0), min(bottom + bands.BLOCK_REACH, height)
            first_rows = (top, bottom)
            parts.append(
                luma_block_means_of_rows(left[lo:hi], right[lo:hi], top=lo, height=height, first_rows=first_rows)
            )
        assert np.array_equal(np.concatenate(parts), expected), rows


def test_a_band_smaller_than_its_halo():
    left, right = _pair("astronaut", "rgb")
    thresholds = thresholds_for("normal")
    band_rows = rows_per_band(left.shape, 3, thresholds, antialiasing=False, budget=1)
    assert band_rows < bands.band_halo(thresholds, antialiasing=False, radius=5)
    _assert_same_but_notes(_analyse(left, right, thresholds, budget=1), _analyse(left, right, thresholds))


def _assert_same_but_notes(banded, whole):
    banded.notes = [n for n in banded.notes if "in bands of" not in n]
    _assert_same(banded, whole)


def test_a_region_across_band_boundaries_is_one_region():
    rng = np.random.default_rng(7)
    left = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    left = np.repeat(np.repeat(left[::10, ::10], 10, 0), 10, 1)  # flat 10 x 10 tiles
    right = left.copy()
    right[30:270, 80:95] = 255 - right[30:270, 80:95]  # one region over many 4-row bands
    thresholds = thresholds_for("normal")
    banded = _analyse(left, right, thresholds, budget=1)
    (region,) = banded.regions
    assert region.y <= 30 and region.y + region.height >= 270  # evidence spreads a few px beyond the edit
    _assert_same_but_notes(banded, _analyse(left, right, thresholds))


def test_small_pairs_are_not_banded():
    thresholds = thresholds_for("normal")
    assert rows_per_band((1080, 1920), 3, thresholds, antialiasing=False) == 1080
    assert rows_per_band((20000, 20000), 3, thresholds, antialiasing=False) < 2000
    # low's coarse chroma term and luma offset are the whole image's from bands at any height
    low = thresholds_for("low")
    for planes in (1, 3):
        assert rows_per_band((20001, 20003), planes, low, antialiasing=False) < 2000
    # otherwise low bands too: its pair-wide offset and line noise ratio are gathered band by band
    for planes in (1, 3):
        band_rows = rows_per_band((20000, 20000), planes, low, antialiasing=False)
        assert band_rows < 2000 and band_rows % 4 == 0


def _low_banded_and_whole(left, right, rows, low=None):
    """Low's analysis of the pair whole and in bands of about ``rows`` rows: the same; the whole's result
    and the rows of a band."""
    low = thresholds_for("low") if low is None else low
    planes = 3 if left.ndim == 3 else 1
    budget = _budget_for(rows, left.shape, planes, low)
    band_rows = rows_per_band(left.shape, planes, low, antialiasing=False, budget=budget)
    assert band_rows < left.shape[0]
    whole = _analyse(left, right, low)
    banded = _analyse(left, right, low, budget=budget)
    assert any("in bands of" in note for note in banded.notes)
    _assert_same_but_notes(banded, whole)
    return whole, band_rows


@pytest.mark.parametrize("rows", [4, 36, 128])
def test_low_in_bands_removes_the_pairs_own_offset(rows):
    """The pair's luma offset is the median of the whole frame's blocks, gathered band by band.

    The right image is 2 levels darker over its lower two thirds (the pair's offset, Y1 - Y2 =
    +2/255) and has a faint patch, 6 levels lighter, in the sky above, where it is not darker:
    with the pair's offset removed the patch differs by 8 levels and is found, while with a
    band's own offset (0 in the sky's bands) it would differ by 6 and is not.
    """
    left = PHOTOS["camera"]()
    height, width = left.shape
    right = jpeg_roundtrip(left, 80).astype(np.int16)
    right[height // 3 :] -= 2
    right[height // 8 : height // 8 + 20, width // 4 : width // 4 + 20] += 6
    right = np.clip(right, 0, 255).astype(np.uint8)
    whole, _ = _low_banded_and_whole(left, right, rows)
    (patch,) = whole.regions
    assert patch.y <= height // 8 + 20 and patch.y + patch.height >= height // 8
    without_offset = _analyse(left, right, replace(thresholds_for("low"), luma_bias=False))
    assert without_offset.regions != whole.regions  # the offset matters here


def _lines_pair() -> tuple[np.ndarray, np.ndarray]:
    left = PHOTOS["camera"]()
    height, width = left.shape
    right = left.astype(np.int16)
    right[height // 10 : height // 10 + 2, width // 8 : width // 2] += 14
    right[height // 5 : 4 * height // 5, 3 * width // 4 : 3 * width // 4 + 2] += 14
    return left, jpeg_roundtrip(np.clip(right, 0, 255).astype(np.uint8), 80)


@pytest.mark.parametrize("rows", [4, 36, 128])
def test_low_in_bands_sees_thin_lines_against_the_pairs_noise(rows):
    """The pair's line noise ratio is a median over every 4th row and column, gathered band by band.

    Two 2-px lines 14 levels lighter, one along a row and one down a column across many bands, in
    a JPEG: found by their average along themselves (not by the SSIM window's alone), against a
    threshold set by the noise the whole pair keeps along lines.
    """
    left, right = _lines_pair()
    whole, band_rows = _low_banded_and_whole(left, right, rows)
    assert len(whole.regions) == 2
    # the column's line crosses a band's border
    assert any(r.y // band_rows != (r.y + r.height - 1) // band_rows for r in whole.regions)
    without_lines = _analyse(left, right, replace(thresholds_for("low"), line=False))
    assert len(without_lines.regions) < 2  # the lines are seen along themselves


@pytest.mark.parametrize("coarse_chroma", [True, False])
@pytest.mark.parametrize("shape", [(512, 512), (509, 510)])
def test_the_strength_reads_the_same_evidence_in_bands(monkeypatch, coarse_chroma, shape):
    """What the strength is given (the unbiased planes, the luma scale, the line evidence) is, at
    every kept row of a band, what the whole image gives it there, bit for bit.

    The final mask would hide a small error (a halo a few rows short changes the line evidence by
    far less than a threshold); this does not. Without the coarse chroma term's halo (32 rows) the
    line's average along a column still has the rows it reads (24 beyond the SSIM window's 5).
    The coarse term (the larger of the coarse chroma term and the line evidence) is compared too,
    at a size that is a multiple of the coarse block and at one that is not.
    """
    from imgdiff_gpu import detection
    from imgdiff_gpu.cpu import strength

    low = thresholds_for("low")
    if not coarse_chroma:
        low = replace(low, coarse_chroma=None)
        assert bands.band_halo(low, antialiasing=False, radius=5) == bands.LINE_REACH + 5
    left = PHOTOS["astronaut"]()[: shape[0], : shape[1]]
    right = jpeg_roundtrip(_edited(left), 80)
    right[..., :] = np.clip(right.astype(np.int16) - 2, 0, 255).astype(np.uint8)  # an offset to remove
    calls = []
    real = strength.strength_levels_map

    lines = []
    real_line = detection.line_over_threshold

    def recording(left, right, ssim_map, weights, **options):
        # the whole image's pass reads the pixels (planes.PixelPair): their planes, as the pass computes them
        planes = right if options.get("layout") is None else prepare_pair(left, right).right.planes
        unbiased = detection.unbiased(planes, options.get("luma_offset", 0.0))  # the planes the pass reads
        calls.append((unbiased.copy(), options["luma_scale"].copy(), lines.pop().copy(), options["coarse"].copy()))
        return real(left, right, ssim_map, weights, **options)

    def recording_line(*args, **options):
        lines.append(real_line(*args, **options))
        return lines[-1]

    def whole_masking(left_luma, right_luma, weights, thresholds, shift, line, **_):
        factors = detection.border_factors(shift, left_luma.shape, weights, thresholds)
        return detection._masking_and_scale(left_luma, right_luma, weights, thresholds, factors=factors)

    monkeypatch.setattr(strength, "strength_levels_map", recording)
    monkeypatch.setattr(detection, "line_over_threshold", recording_line)
    monkeypatch.setattr(bands, "line_over_threshold", recording_line)
    # the whole image's masking on every row, as bands compute it (the whole path skips the rows where
    # it cannot change a level: tests/test_rules.py)
    monkeypatch.setattr(detection, "_masking_where_it_counts", whole_masking)
    budget = _budget_for(36, left.shape, 3, low)
    _analyse(left, right, low)
    (whole,) = calls
    calls.clear()
    _analyse(left, right, low, budget=budget)
    band_rows = rows_per_band(left.shape, 3, low, antialiasing=False, budget=budget)
    halo = bands.band_halo(low, antialiasing=False, radius=5)
    spans = list(bands.bands(left.shape[0], band_rows, halo))
    assert len(calls) == len(spans) > 1
    for (top, bottom, lo, _), band in zip(spans, calls, strict=True):
        for name, ours, theirs in zip(("right planes", "luma scale", "line", "coarse"), band, whole, strict=True):
            assert np.array_equal(ours[top - lo : bottom - lo], theirs[top:bottom]), (name, top)


@pytest.mark.parametrize("band_rows", [4, 36])
def test_the_pairs_statistics_gathered_in_bands_are_the_wholes(band_rows):
    """The block means and the line noise samples of bands of rows, with their halos, are the whole's."""
    from pictures import luma_analysis

    from imgdiff_gpu.border_noise import border_samples, factors_of, measured_window_factors
    from imgdiff_gpu.detection import line_noise_samples, luma_bias, luma_block_means, luma_shift_map
    from imgdiff_gpu.planes import pair_layout

    left = PHOTOS["chelsea"]()  # 451 columns: no multiple of the block
    right = jpeg_roundtrip(_edited(left), 80)
    pair, weights, params, _ = luma_analysis(left, right)
    left_luma, right_luma = pair.left.luma, pair.right.luma
    bias = luma_bias(left_luma, right_luma, thresholds_for("low"))
    assert bias != 0.0
    blocks = luma_block_means(left_luma, right_luma)
    gathered = [
        luma_block_means(left_luma[top:bottom], right_luma[top:bottom])
        for top, bottom, _, _ in bands.bands(left.shape[0], band_rows, 0)
    ]
    assert np.array_equal(np.sort(np.concatenate(gathered), axis=None), np.sort(blocks, axis=None))
    shift = luma_shift_map(left_luma, right_luma + np.float32(bias), weights)
    line, noise = line_noise_samples(shift, weights)
    banded = bands.BandedPair(left, right, pair_layout(left, right), params)
    band_line, band_noise, row_values, column_values = bands.noise_samples_in_bands(banded, band_rows, bias)
    assert np.array_equal(np.sort(band_line), np.sort(line))
    assert np.array_equal(np.sort(band_noise), np.sort(noise))
    # the border rows and columns of the measured border noise (border_noise.py): the whole's values
    whole_rows, whole_columns = border_samples(shift, weights)
    assert sorted(row_values) == sorted(whole_rows) == [0, 1, 2, 3, 4, 295, 296, 297, 298, 299]
    assert sorted(column_values) == sorted(whole_columns) == [0, 1, 2, 3, 4, 446, 447, 448, 449, 450]
    for banded_values, whole_values in ((row_values, whole_rows), (column_values, whole_columns)):
        for index, values in whole_values.items():
            assert np.array_equal(np.sort(banded_values[index]), np.sort(values))
    banded_factors = factors_of(band_noise, row_values, column_values, shift.shape, weights)
    for ours, theirs in zip(banded_factors, measured_window_factors(shift, weights), strict=True):
        assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("width", [13, 100, 441, 8192 + 10, 8193 + 10, 9000])
@pytest.mark.parametrize("with_ignore", [False, True])
def test_the_streamed_mean_is_numpys(width, with_ignore):
    rng = np.random.default_rng(width)
    height = max(60, 300_000 // width)
    ssim_map = rng.random((height, width)) * 2 - 1
    ssim_map[::3] *= 1e-5  # values of very different sizes, so the order of the sum shows
    ignore = rng.random((height, width)) < 0.3 if with_ignore else None
    mean = CroppedMean((height, width), 5, ignore)
    for top in range(0, height, 7):
        mean.add(top, ssim_map[top : top + 7])
    assert mean.value() == score_of(ssim_map, 5, ignore)


def test_the_streamed_pairwise_sum_is_numpys():
    rng = np.random.default_rng(1)
    values = rng.random(1_000_003) * 2 - 1
    values[::5] *= 1e-6
    total = PairwiseSum(values.size)
    for start in range(0, values.size, 12_345):
        total.add(values[start : start + 12_345])
    assert total.value() == np.add.reduce(values)
    naive = 0.0
    for start in range(0, values.size, 12_345):
        naive += np.add.reduce(values[start : start + 12_345])
    assert naive != total.value()  # the order matters here, so the test can fail


def test_ignored_pixels_seed_no_region_outside():
    """A faint change that reaches full strength only under the ignore mask is no region, in bands too."""
    left = np.full((240, 200), 120, dtype=np.uint8)
    right = left.copy()
    right[40:200, 60:100] += 40  # strong, but ignored
    right[40:200, 100:160] += 4  # faint (strength ~0.7): only hysteresis from the strong part would keep it
    ignore = np.zeros(left.shape, dtype=bool)
    ignore[:, :112] = True  # the strong part and its spill (the window reaches 5 px)
    thresholds = thresholds_for("normal")
    whole = _analyse(left, right, thresholds, ignore=ignore, min_area=1)
    assert whole.regions == []
    _assert_same_but_notes(_analyse(left, right, thresholds, budget=1, ignore=ignore, min_area=1), whole)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_huge_files_load_a_strip_at_a_time(tmp_path, channels):
    """loading.py copies a decoded image out in strips of 16 MiB: a taller image takes several, seamlessly."""
    from PIL import Image

    from imgdiff_gpu.loading import load_image

    rng = np.random.default_rng(channels)
    shape = (2600, 2100) if channels == 1 else (2600, 2100, channels)  # 4 * 2100 bytes a row: 2 strips
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "tall.png"
    Image.fromarray(pixels).save(path)
    loaded = load_image(path)
    assert loaded.pixels.dtype == np.uint8 and np.array_equal(loaded.pixels, pixels)
