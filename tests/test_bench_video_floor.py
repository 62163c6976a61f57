"""benchmarks/bench_video_floor.py on a tiny clip: every part measured, the budget where FFmpeg is at hand,
and the float32 variants' difference from scikit-image measured (and small, but not nothing)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil

import numpy as np
import pytest
from clips import pan_frames, write_video

from benchmarks import bench_video_floor


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Two encodes of one pan, H.264 4:2:0 against FFV1 4:4:4, a patch in frame 3 of B."""
    folder = tmp_path_factory.mktemp("floor-clip")
    write_video(folder / "a.mp4", pan_frames(), "libx264")
    write_video(folder / "b.mkv", pan_frames({3}), "ffv1")
    return folder


@pytest.fixture(scope="module")
def run(clip, tmp_path_factory):
    """One run of the benchmark on the clip: (its report, what it printed, its JSON file)."""
    out = tmp_path_factory.mktemp("floor-run") / "floor.json"
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(bench_video_floor, "QUIET_PATIENCE", 1.0)  # a busy test machine: no long waits
        report = bench_video_floor.main(["--clip", str(clip), "--rounds", "1", "--pairs", "4", "--out", str(out)])
    return report, printed.getvalue(), out


def test_every_part_is_measured_and_positive(clip, run, capsys):
    report, printed, out = run
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    result = report["clips"][clip.name]
    assert result["pairs"] == 18 and result["held_pairs"] == 4
    ms = result["ms_per_pair"]
    for part in bench_video_floor.PARTS:
        if part == "full comparison after the screen's map" and result["full_after_screen_calls"] == 0:
            continue
        if part.startswith("ffmpeg") and not shutil.which("ffmpeg"):
            continue  # test_the_budget_is_ffmpegs
        assert ms[part] > 0, part
        line = re.search(rf"^    {re.escape(part)} +(\S+)$", printed, re.MULTILINE)
        assert line and float(line.group(1)) > 0, part
    floors = result["floors"]
    assert floors["present contract (decode + RGB, luma, float64 map)"] == pytest.approx(
        ms["decode + RGB"] + ms["luma planes from RGB"] + ms["ssim map float64"]
    )
    if not shutil.which("ffmpeg"):
        assert "FFmpeg: not on PATH" in printed
    assert result["today_ms"]["100 %"] == pytest.approx(floors[next(iter(floors))] + result["full_beyond_ssim_ms"])
    largest = result["skimage"]["largest_difference"]
    assert largest["ssim map float64"] < 1e-10  # the package's parity with scikit-image
    float32 = ("ssim map float32 (C prototype)", "ssim map float32, centred (C prototype)", "ssim map float32 (OpenCV)")
    for variant in float32:
        assert 1e-8 < largest[variant] < 1e-2, variant  # float32 moments: measured, not exact
    assert re.search(r"^    ssim map float32 \(C prototype\) +\d\.\d\de-0\d$", printed, re.MULTILINE)
    again = bench_video_floor.main(["--report", str(out)])  # a saved run prints again, the same figures
    assert capsys.readouterr().out.split("\n", 1)[1] == printed.split("\n", 1)[1].rsplit("wrote", 1)[0]
    assert again["clips"][clip.name]["floors"] == floors


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the budget is FFmpeg's: needs ffmpeg on PATH")
def test_the_budget_is_ffmpegs(clip, run):
    report, printed, _ = run
    result = report["clips"][clip.name]
    ms, floors = result["ms_per_pair"], result["floors"]
    for part in ("ffmpeg ssim", "ffmpeg ssim wall", "ffmpeg decode", "ffmpeg decode wall"):
        assert ms[part] > 0, part
    assert result["ffmpeg_fastest_wall_ms"] <= ms["ffmpeg ssim wall"]
    assert result["cpu_budget_ms"] == pytest.approx(2 * ms["ffmpeg ssim wall"] * result["cores"])
    assert result["room_ms"] == pytest.approx(result["cpu_budget_ms"] - floors[next(iter(floors))])
    assert "budget at 0.5x" in printed and "at 100 % needing one" in printed


def test_the_float32_variants_are_measured_against_scikit_image(clip, tmp_path):
    pair = bench_video_floor.Clip(clip, 18).lumas[3]  # the frame with the patch
    params = bench_video_floor.Clip(clip, 1).params
    x, y = pair
    reference = bench_video_floor.skimage_map(x, y)
    variants = {
        "C float": bench_video_floor.compiled_ssim("float", tmp_path),
        "C double": bench_video_floor.compiled_ssim("double", tmp_path),
        "C float, centred": bench_video_floor.compiled_ssim("float", tmp_path, centre=0.5),
        "OpenCV": bench_video_floor.opencv_float32_ssim,
    }
    for name, function in variants.items():
        ssim_map = function(x, y, params)
        assert ssim_map.shape == x.shape and ssim_map.dtype == np.float32, name
        # borders included: each reflects as scipy's "reflect"; float32 moments lose ~1e-4 in flat areas
        tolerance = 1e-6 if name == "C double" else 5e-3
        np.testing.assert_allclose(ssim_map, reference, rtol=0, atol=tolerance, err_msg=name)
    assert np.abs(variants["C float"](x, y, params) - reference).max() > 1e-7  # float32, not float64's map
