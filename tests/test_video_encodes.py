"""imgdiff video on streams encoded differently: codec noise is no difference, a faint edit is one.

The clips are short pans over scikit-image's astronaut (as ``benchmarks/video_set.py``
makes them, smaller): A is H.264 at CRF 18, B the same source at CRF 28 or in VP9,
so every pixel differs a little, most along edges and at the frame's borders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data

from benchmarks.video_set import ENCODINGS, Edit, apply_edit, decode, encode, source_frames
from imgdiff_gpu.job import CompareOptions
from imgdiff_gpu.video import compare_videos

FRAMES = 14
SHAPE = (288, 384)
# a 30 x 30 patch whose chroma moves by 16/255 at equal luma, plainly visible side by side,
# missed by the 'low' preset before the coarse chroma scale (its fine-scale shift stays below 36/255)
CHROMA_EDIT = Edit("chroma", (200, 150, 30, 30), (5, 8))


@pytest.fixture(scope="module")
def source() -> list[np.ndarray]:
    return source_frames(data.astronaut(), SHAPE, FRAMES, "pan", np.random.default_rng(3))


def _edited(frames: list[np.ndarray], edits: list[Edit]) -> list[np.ndarray]:
    out = [f.copy() for f in frames]
    for edit in edits:
        for i in range(*edit.frames):
            apply_edit(out[i], edit, 0)
    return out


def _flagged(a: Path, b: Path, out: Path) -> dict[int, list]:
    summary = compare_videos(a, b, out, CompareOptions(device="cpu", sensitivity="low"), worst_count=0)
    assert len(summary.frames) == FRAMES
    return {f.index: f.regions for f in summary.frames if f.different}


@pytest.mark.parametrize("encoding", ["x264-crf28", "vp9-crf33"])
def test_another_encoding_of_the_same_source_flags_no_frame(source, tmp_path, encoding):
    a, b = tmp_path / "a.mp4", tmp_path / ("b.webm" if encoding.startswith("vp9") else "b.mp4")
    encode(a, source, ENCODINGS["x264-crf18"])
    if encoding == "twice":  # generation loss: encoded, decoded and encoded again, three times
        frames = source
        for generation in range(2):
            encode(tmp_path / f"g{generation}.mp4", frames, ENCODINGS["x264-crf23"])
            frames = decode(tmp_path / f"g{generation}.mp4")
        encoding = "x264-crf23"
    else:
        frames = source
    encode(b, frames, ENCODINGS[encoding])
    assert _flagged(a, b, tmp_path / "out") == {}


def test_a_faint_chroma_patch_is_found_in_its_frames_and_nothing_else(source, tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    encode(a, source, ENCODINGS["x264-crf18"])
    encode(b, _edited(source, [CHROMA_EDIT]), ENCODINGS["x264-crf28"])
    flagged = _flagged(a, b, tmp_path / "out")
    assert set(flagged) == set(range(*CHROMA_EDIT.frames))
    x, y, w, h = CHROMA_EDIT.box
    for index, regions in flagged.items():
        assert len(regions) == 1, index
        r = regions[0]
        # the region is the patch, give or take the coarse window's reach and the codec's 8 x 8 chroma blocks
        assert abs(r.x - x) <= 8 and abs(r.y - y) <= 8 and abs(r.width - w) <= 12 and abs(r.height - h) <= 12, r


def test_the_same_patch_was_missed_without_the_coarse_scale(source, tmp_path):
    """The patch's fine-scale chroma shift is below 'low''s 36/255: only the coarse term sees it."""
    from dataclasses import replace

    from imgdiff_gpu.cpu.ssim import ssim_map_2d
    from imgdiff_gpu.detection import difference_mask, thresholds_for
    from imgdiff_gpu.pipeline import compare, luma_ssim_params
    from imgdiff_gpu.planes import prepare_pair

    edited = _edited(source, [CHROMA_EDIT])
    assert compare(source[6], edited[6], device="cpu", sensitivity="low").different
    pair = prepare_pair(source[6], edited[6])
    params = luma_ssim_params(pair.left.luma)
    ssim_map = ssim_map_2d(pair.left.luma, pair.right.luma, params)
    fine_only = replace(thresholds_for("low"), coarse_chroma=None)
    mask, _ = difference_mask(ssim_map, pair.left.planes, pair.right.planes, params.weights, fine_only)
    assert not mask.any()


def test_the_screen_clears_codec_noise_by_the_same_per_pixel_thresholds(source, tmp_path):
    """Frames of two encodes pass the screen (masked luma bound), each with compare()'s own score."""
    from imgdiff_gpu.detection import thresholds_for
    from imgdiff_gpu.pipeline import compare
    from imgdiff_gpu.screening import FrameScreen

    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    encode(a, source, ENCODINGS["x264-crf18"])
    encode(b, _edited(source, [CHROMA_EDIT]), ENCODINGS["x264-crf28"])
    passed = 0
    for index, (left, right) in enumerate(zip(decode(a), decode(b), strict=True)):
        result = compare(left, right, device="cpu", sensitivity="low")
        score = FrameScreen(left.shape[:2], thresholds_for("low"))(left, right)  # fresh: never paused
        if result.different:
            assert score is None, index
        elif score is not None:
            passed += 1
            assert score == result.score, index
    assert passed >= FRAMES // 2


def _darker_with_a_line(frame: np.ndarray, offset: int, line: int) -> np.ndarray:
    """``frame`` through JPEG q90, ``offset`` levels darker (a drift of levels), with a 2 x 120 px line."""
    from pictures import jpeg_roundtrip

    out = jpeg_roundtrip(frame, 90).astype(int) - offset
    out[40:42, 200:320] += line
    return np.clip(out, 0, 255).astype(np.uint8)


def test_the_pairs_own_luma_offset_is_measured_and_clipped(source):
    from imgdiff_gpu.detection import HYSTERESIS_LOW, luma_bias, thresholds_for
    from imgdiff_gpu.planes import prepare_pair

    low = thresholds_for("low")
    pair = prepare_pair(source[0], _darker_with_a_line(source[0], 3, 0))
    assert luma_bias(pair.left.luma, pair.right.luma, low) == pytest.approx(3 / 255, abs=0.3 / 255)
    assert luma_bias(pair.left.luma, pair.right.luma, thresholds_for("normal")) == 0.0  # 'low' only
    brighter = np.clip(source[0].astype(int) + 30, 0, 255).astype(np.uint8)
    pair = prepare_pair(brighter, source[0])
    assert luma_bias(pair.left.luma, pair.right.luma, low) == pytest.approx(HYSTERESIS_LOW * low.luma_shift)


def test_a_whole_frame_brighter_by_more_than_the_clip_is_still_different(source):
    from imgdiff_gpu.pipeline import compare

    brighter = np.clip(source[0].astype(int) + 30, 0, 255).astype(np.uint8)
    assert compare(source[0], brighter, device="cpu", sensitivity="low").different


def test_a_line_on_a_frame_whose_levels_drifted_is_found_as_against_its_own_frame(source, monkeypatch):
    """Three generations of encoding left B 2-3 levels darker (benchmarks/video_set.py's 'twice'):
    a +18 line there is found, and nothing else; measured against A's levels it was missed."""
    from dataclasses import replace

    from imgdiff_gpu import detection
    from imgdiff_gpu.pipeline import compare

    right = _darker_with_a_line(source[0], 3, 18)
    result = compare(source[0], right, device="cpu", sensitivity="low")
    assert result.regions
    for region in result.regions:  # on the line, give or take the line window's reach (2.5 sigma, 15 px)
        assert region.y <= 41 and 40 < region.y + region.height and 25 <= region.y and region.y + region.height <= 57
        assert 185 <= region.x < region.x + region.width <= 335
    # the offset rule alone finds it (the line evidence, which also would, left out of both)
    low = replace(detection._PRESETS["low"], line=False)
    monkeypatch.setitem(detection._PRESETS, "low", low)
    assert compare(source[0], right, device="cpu", sensitivity="low").regions
    monkeypatch.setitem(detection._PRESETS, "low", replace(low, luma_bias=False))
    assert not compare(source[0], right, device="cpu", sensitivity="low").regions


def test_a_faint_line_over_texture_is_found_along_itself(source, monkeypatch):
    """A 2 x 150 px line +14 levels over the astronaut's texture, both sides JPEG (q90 and q75):
    the SSIM window alone keeps it below the noise of the pair; averaged along it, it stands out."""
    from dataclasses import replace

    from pictures import jpeg_roundtrip

    from imgdiff_gpu import detection
    from imgdiff_gpu.pipeline import compare

    lined = source[0].astype(int)
    lined[100:102, 220:370] += 14
    left = jpeg_roundtrip(source[0], 90)
    right = jpeg_roundtrip(np.clip(lined, 0, 255).astype(np.uint8), 75)
    result = compare(left, right, device="cpu", sensitivity="low")
    assert result.regions
    for region in result.regions:  # on the line, give or take the line window's reach
        assert region.y <= 101 and 100 < region.y + region.height and 85 <= region.y
        assert region.y + region.height <= 117 and 205 <= region.x < region.x + region.width <= 385
    monkeypatch.setitem(detection._PRESETS, "low", replace(detection._PRESETS["low"], line=False))
    assert not compare(left, right, device="cpu", sensitivity="low").regions
