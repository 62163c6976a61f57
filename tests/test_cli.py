"""The imgdiff CLI: outputs, exit codes, and one clean line for every kind of trouble."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from imgdiff_gpu import __version__
from imgdiff_gpu._device import gpu_available
from imgdiff_gpu.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OUTPUTS = {
    "left_marked.png",
    "right_marked.png",
    "right_filled.png",
    "mask.png",
    "diff.png",
    "report.json",
    "report.html",
}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _one_error_line(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgdiff: error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_example_pair_writes_every_output_and_exits_1(tmp_path):
    result = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--out", tmp_path / "o")
    assert result.exit_code == 1, result.output
    assert {p.name for p in (tmp_path / "o").iterdir()} == OUTPUTS
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["different"] is True and len(report["regions"]) == 4
    for key in (
        "schema_version",
        "left",
        "right",
        "width",
        "height",
        "device",
        "score",
        "outputs",
        "settings",
    ):
        assert key in report
    assert set(report["regions"][0]) >= {"x", "y", "width", "height", "area", "min_ssim", "mean_ssim"}


def test_identical_images_exit_0(tmp_path):
    result = run("compare", EXAMPLES / "left.png", EXAMPLES / "left.png", "--json", "-")
    assert result.exit_code == 0
    report = json.loads(result.stdout)  # stdout holds the report and nothing else
    assert report["different"] is False and report["regions"] == []


def test_json_to_a_file_and_colour_choices(tmp_path):
    for colour in ("green", "#00ff00", "0,255,0"):
        out = tmp_path / colour.replace("#", "h").replace(",", "_")
        result = run(
            "compare",
            EXAMPLES / "left.png",
            EXAMPLES / "right.png",
            "--out",
            out,
            "--color",
            colour,
            "--json",
            tmp_path / f"{out.name}.json",
        )
        assert result.exit_code == 1
        filled = np.asarray(Image.open(out / "right_filled.png"))
        assert (filled == (0, 255, 0)).all(axis=2).sum() > 100
        assert json.loads((tmp_path / f"{out.name}.json").read_text())["settings"]["color_bgr"] == [0, 255, 0]


def test_bad_colour_is_a_usage_error():
    result = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--color", "mauvish")
    assert result.exit_code == 2 and "cannot read colour" in result.output


def test_different_sizes_exit_1_with_reason(tmp_path):
    small = tmp_path / "small.png"
    Image.open(EXAMPLES / "left.png").crop((0, 0, 100, 80)).save(small)
    result = run("compare", EXAMPLES / "left.png", small, "--json", "-")
    assert result.exit_code == 1
    assert "sizes differ" in json.loads(result.stdout)["reason"]


def _bad_inputs(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("hello")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cut = tmp_path / "cut.jpg"
    Image.open(EXAMPLES / "right.png").convert("RGB").save(tmp_path / "full.jpg")
    cut.write_bytes((tmp_path / "full.jpg").read_bytes()[:3000])
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes((EXAMPLES / "right.png").read_bytes()[:5000])
    return {
        "missing": (tmp_path / "nope.png", "no such file"),
        "directory": (tmp_path, "is a directory"),
        "empty": (empty, "empty file"),
        "text": (text, "not an image"),
        "truncated-jpeg": (cut, "truncated"),
        "truncated-png": (cut_png, "truncated"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "text", "truncated-jpeg", "truncated-png"])
def test_bad_input_is_one_line_exit_2_and_no_outputs(tmp_path, case):
    path, message = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    result = run("compare", EXAMPLES / "left.png", path, "--out", out)
    _one_error_line(result, str(path), message)
    assert not out.exists()


def test_huge_header_is_refused_and_limit_configurable(tmp_path):
    from hostile_inputs import png_claiming

    bomb = png_claiming(tmp_path / "bomb.png", 100_000, 100_000)
    _one_error_line(run("compare", bomb, bomb), "over the limit")
    _one_error_line(
        run("compare", EXAMPLES / "left.png", EXAMPLES / "left.png", "--max-pixels", 1000), "over the limit"
    )


def test_unwritable_output_directory(tmp_path):
    # root ignores permission bits, so as root use a folder no one can create files in
    if os.geteuid() == 0:
        locked = Path("/proc/imgdiff-test-out")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
    try:
        result = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--out", locked)
        _one_error_line(result, "cannot write")
        assert not locked.exists() or list(locked.iterdir()) == []
    finally:
        if os.geteuid() != 0:
            locked.chmod(0o700)


def test_output_folder_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("mine")
    result = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--out", blocker)
    assert result.exit_code == 2
    assert blocker.read_text() == "mine"


def test_output_equal_to_an_input_is_refused_even_with_overwrite(tmp_path):
    left = tmp_path / "left_marked.png"
    left.write_bytes((EXAMPLES / "left.png").read_bytes())
    before = left.read_bytes()
    result = run("compare", left, EXAMPLES / "right.png", "--out", tmp_path, "--overwrite")
    _one_error_line(result, "would overwrite the input")
    assert left.read_bytes() == before
    assert {p.name for p in tmp_path.iterdir()} == {"left_marked.png"}


def test_existing_outputs_are_kept_unless_overwrite(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "report.json").write_text("precious")
    _one_error_line(run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--out", out), "--overwrite")
    assert (out / "report.json").read_text() == "precious" and len(list(out.iterdir())) == 1
    assert run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--out", out, "--overwrite").exit_code == 1
    assert json.loads((out / "report.json").read_text())["different"] is True


def test_ignore_box_and_ignore_mask(tmp_path):
    report = json.loads(run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--json", "-").stdout)
    biggest = report["regions"][0]
    box = f"{biggest['x'] - 5},{biggest['y'] - 5},{biggest['width'] + 10},{biggest['height'] + 10}"
    fewer = json.loads(
        run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--ignore", box, "--json", "-").stdout
    )
    assert len(fewer["regions"]) == len(report["regions"]) - 1
    mask = np.zeros((report["height"], report["width"]), np.uint8)
    mask[:] = 255
    Image.fromarray(mask).save(tmp_path / "all.png")
    none = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--ignore-mask", tmp_path / "all.png")
    assert none.exit_code == 0


@pytest.mark.skipif(gpu_available(), reason="this machine has a GPU")
def test_gpu_request_without_gpu_is_a_clear_error():
    result = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--device", "gpu")
    _one_error_line(result, "device 'gpu' was requested")


def test_auto_device_is_reported():
    report = json.loads(run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--json", "-").stdout)
    assert report["device"] == ("gpu" if gpu_available() else "cpu")


def test_version_and_help():
    assert __version__ in run("--version").output
    for args in (["-h"], ["compare", "-h"]):
        result = run(*args)
        assert result.exit_code == 0 and "Usage:" in result.output
    assert "Example:" in run("compare", "-h").output


def test_align_resize_pad_and_antialiasing_options(tmp_path):
    left = np.asarray(Image.open(EXAMPLES / "left.png"))
    shifted = np.zeros_like(left)
    shifted[2:, 3:] = left[:-2, :-3]
    Image.fromarray(shifted).save(tmp_path / "shifted.png")
    report = json.loads(
        run("compare", EXAMPLES / "left.png", tmp_path / "shifted.png", "--align", "translation", "--json", "-").stdout
    )
    assert report["different"] is False
    assert report["alignment"]["shift"] == [3.0, 2.0] and report["settings"]["align"] == "translation"

    Image.fromarray(left[::2, ::2]).save(tmp_path / "half.png")
    assert run("compare", EXAMPLES / "left.png", tmp_path / "half.png").exit_code == 1  # sizes differ
    resized = json.loads(run("compare", EXAMPLES / "left.png", tmp_path / "half.png", "--resize", "--json", "-").stdout)
    assert resized["notes"] and resized["width"] == left.shape[1]
    padded = json.loads(run("compare", tmp_path / "half.png", EXAMPLES / "left.png", "--pad", "--json", "-").stdout)
    assert padded["width"] == left.shape[1] and padded["different"] is True
    same = run("compare", EXAMPLES / "left.png", EXAMPLES / "left.png", "--antialiasing", "--sensitivity", "exact")
    assert same.exit_code == 0


def test_alignment_failure_is_one_line(tmp_path):
    Image.fromarray(np.full((60, 60), 128, np.uint8)).save(tmp_path / "flat.png")
    result = run("compare", tmp_path / "flat.png", tmp_path / "flat.png", "--align", "homography")
    _one_error_line(result, "too few features")


def test_the_library_speaks_in_parameters_and_the_command_line_in_flags(tmp_path):
    from imgdiff_gpu.errors import ImageLoadError
    from imgdiff_gpu.loading import load_image

    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((20, 30), dtype=np.uint8)).save(big)
    with pytest.raises(ImageLoadError, match=r"raise max_pixels=\.\.\. if the file is trusted"):
        load_image(big, max_pixels=100)
    result = run("compare", big, big, "--max-pixels", "100")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("raise --max-pixels if the file is trusted")
    assert len(result.stderr.splitlines()) == 1


def test_video_selection_errors_name_the_flags(tmp_path):
    from imgdiff_gpu.cli import as_flags

    message = "no frame pairs (offset=7, start=0, end=3); folder for diff_video=... does not exist; align=None"
    with cli.commands["video"].make_context("video", ["a.mp4", "b.mp4", "--out", str(tmp_path)]):  # as when it runs
        rendered = as_flags(message)
    assert (
        rendered == "no frame pairs (--offset 7, --start 0, --end 3); folder for --diff-video does not exist; --align"
    )
