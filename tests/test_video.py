"""imgdiff video on short videos made from a real photograph, with known changed frames."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from clips import FRAMES, pan_frames, write_video

from imgdiff_gpu.cli import cli

CHANGED = {5, 12}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(params=[("ffv1", ".mkv"), ("libx264", ".mp4")], ids=["lossless", "h264"])
def videos(request, tmp_path):
    codec, suffix = request.param
    a = write_video(tmp_path / f"a{suffix}", pan_frames(), codec)
    b = write_video(tmp_path / f"b{suffix}", pan_frames(CHANGED), codec)
    return a, b


def _flagged(out: Path) -> set[int]:
    rows = list(csv.DictReader((out / "frames.csv").read_text().splitlines()))
    assert [int(r["frame"]) for r in rows] == list(range(len(rows)))
    return {int(r["frame"]) for r in rows if int(r["regions"]) > 0}


def test_exactly_the_changed_frames_are_flagged(videos, tmp_path):
    a, b = videos
    out = tmp_path / "out"
    result = run("video", a, b, "--out", out, "--quiet")
    assert result.exit_code == 1, result.output
    assert _flagged(out) == CHANGED
    report = json.loads((out / "report.json").read_text())
    assert report["frames_compared"] == FRAMES and report["frames_different"] == 2
    assert report["frames_decoded"] == {"left": FRAMES, "right": FRAMES}
    assert {w["frame"] for w in report["worst_frames"]} == CHANGED
    for index in CHANGED:
        assert (out / "frames" / f"{index:06d}" / "right_filled.png").is_file()


def test_same_video_exits_0(tmp_path):
    a = write_video(tmp_path / "a.mkv", pan_frames(), "ffv1")
    assert run("video", a, a, "--out", tmp_path / "o", "--quiet").exit_code == 0


def test_offset_start_end_and_count_mismatch(tmp_path):
    frames = pan_frames()
    a = write_video(tmp_path / "a.mkv", frames, "ffv1")
    b = write_video(tmp_path / "b.mkv", frames[3:], "ffv1")  # starts 3 frames later
    out = tmp_path / "o"
    result = run("video", a, b, "--out", out, "--offset", "-3", "--quiet")
    report = json.loads((out / "report.json").read_text())
    assert report["frames_compared"] == FRAMES - 3 and report["frames_different"] == 0
    assert report["frame_count_mismatch"] is True and result.exit_code == 1
    ranged = run("video", a, a, "--out", tmp_path / "r", "--start", "4", "--end", "9", "--quiet")
    assert ranged.exit_code == 0
    assert json.loads((tmp_path / "r" / "report.json").read_text())["frames_compared"] == 5


def test_truncated_stream_compares_what_decodes(tmp_path):
    a = write_video(tmp_path / "a.mkv", pan_frames(), "libx264")  # Matroska: header first
    data_bytes = a.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data_bytes[: len(data_bytes) * 2 // 3])
    out = tmp_path / "o"
    result = run("video", a, cut, "--out", out, "--quiet")
    # FFmpeg reads a file cut short as one that ends there: no decoding error, a shorter stream,
    # so the videos differ in length (exit 1) and the frames that decoded are compared
    assert result.exit_code == 1 and "Traceback" not in result.output
    report = json.loads((out / "report.json").read_text())
    assert 0 < report["frames_compared"] < FRAMES
    assert report["frames_different"] == 0  # the frames that decoded are the same
    assert report["frame_count_mismatch"] and not report["problems"]


def test_truncated_mp4_without_its_index_is_one_error_line(tmp_path):
    a = write_video(tmp_path / "a.mp4", pan_frames(), "libx264")  # MP4 keeps its index at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(a.read_bytes()[: a.stat().st_size * 2 // 3])
    result = run("video", a, cut, "--out", tmp_path / "o", "--quiet")
    assert result.exit_code == 2 and "cannot open as a video" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_diff_video_is_written(videos, tmp_path):
    a, b = videos
    side = tmp_path / "side.mp4"
    run("video", a, b, "--out", tmp_path / "o", "--diff-video", side, "--worst", "0", "--quiet")
    with av.open(str(side)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == FRAMES and frames[0].width == 2 * 176


def test_bad_video_input_is_one_line(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    result = run("video", text, text, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert result.stderr.startswith("imgdiff: error: ") and len(result.stderr.strip().splitlines()) == 1
    missing = run("video", tmp_path / "nope.mp4", text, "--out", tmp_path / "o")
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def _decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.mark.parametrize("sensitivity", ["low", "normal"])
def test_every_frame_gets_what_the_image_path_gives_it(videos, tmp_path, sensitivity, monkeypatch):
    """Screened or not, a frame's score and regions are compare()'s on the decoded frames."""
    from imgdiff_gpu import video, video_frames
    from imgdiff_gpu.options import CompareOptions
    from imgdiff_gpu.pipeline import compare

    screened = []

    class CountingScreen(video_frames.FrameScreen):
        def record(self, score):
            screened.append(score is not None)
            super().record(score)

    monkeypatch.setattr(video_frames, "FrameScreen", CountingScreen)
    a, b = videos
    options = CompareOptions(device="cpu", sensitivity=sensitivity)
    summary = video.compare_videos(a, b, tmp_path / "o", options, worst_count=0)
    assert len(summary.frames) == FRAMES
    assert sum(screened) >= FRAMES - len(CHANGED) - 2  # most frames took the screened path
    for frame, left, right in zip(summary.frames, _decoded(a), _decoded(b), strict=True):
        # with the luma threshold times the frame's clip noise factor (imgdiff_gpu/clip_noise.py)
        expected = compare(left, right, device="cpu", sensitivity=sensitivity, luma_factor=frame.noise_factor)
        assert frame.score == expected.score, frame.index
        assert frame.regions == expected.regions, frame.index
        assert frame.different == expected.different


@pytest.mark.parametrize(
    ("codec", "height", "width"),
    [("libx264", 96, 128), ("ffv1", 96, 128), ("libx264", 70, 98), ("ffv1", 67, 101)],
)
def test_one_conversion_context_per_stream_gives_the_pixels_of_one_per_frame(tmp_path, codec, height, width):
    """decode_frames converts a stream's frames with one swscale context and one thread (rgb_pixels);
    PyAV's to_ndarray makes a new context, with its own threads, per frame: the same pixels, 4:2:0
    (H.264) and 4:4:4 (FFV1), even and odd sizes."""
    from av.video.reformatter import VideoReformatter

    from imgdiff_gpu.video_frames import rgb_pixels

    rng = np.random.default_rng(height * width)
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(4)]
    path = write_video(tmp_path / f"noise.{'mkv' if codec == 'ffv1' else 'mp4'}", frames, codec)
    reformatter = VideoReformatter()
    compared = 0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            kept = rgb_pixels(frame, reformatter)
            assert kept.shape == (frame.height, frame.width, 3) and kept.dtype == np.uint8
            np.testing.assert_array_equal(kept, frame.to_ndarray(format="rgb24"))
            compared += 1
    assert compared == len(frames)
