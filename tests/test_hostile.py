"""The error contract under hostile input and interruptions (issue 14).

Every case pins the exit status, the one stderr line and the files left
behind. Inputs are made by ``hostile_inputs.py``. Interruptions are delivered
deterministically: ``IMGDIFF_SIGNAL_AT=<point>:<n>:<SIGNAL>`` makes the run
signal itself the n-th time it passes a named point (see
:func:`imgdiff_gpu.outputs.checkpoint`). SIGINT is delivered in-process
(the command boundary turns it into exit 130); SIGTERM and SIGKILL, and
everything that needs a real file descriptor 2 or stdin, run in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import hostile_inputs as H
import numpy as np
import pytest
from click.testing import CliRunner

from imgdiff_gpu import outputs as outputs_module
from imgdiff_gpu.cli import _on_signal, cli
from imgdiff_gpu.errors import OutputError
from imgdiff_gpu.outputs import Outputs

ROOT = Path(__file__).resolve().parent.parent
PICTURES = {"left_marked.png", "right_marked.png", "right_filled.png", "mask.png", "diff.png"}
REPORTS = {"report.json", "report.html"}


def only_the_summary(stderr: str) -> None:
    """A run that found differences says so in one line on stderr, and says nothing else."""
    assert stderr.startswith("imgdiff: different: ") and stderr.count("\n") == 1, stderr


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def imgdiff(*args, signal_at: str | None = None, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE):
    """The real ``imgdiff`` process (signals, file descriptor 2), as a user's shell starts it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("IMGDIFF_SIGNAL_AT", None)
    if signal_at:
        env["IMGDIFF_SIGNAL_AT"] = signal_at
    return subprocess.run(
        [sys.executable, "-c", "from imgdiff_gpu.cli import main; main()", *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        stdin=stdin,
        timeout=300,
    )


def one_line(stderr: str, *fragments: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("imgdiff: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def files_under(folder: Path) -> set[str]:
    """Every file left under a folder, hidden ones included, as relative POSIX paths."""
    if not folder.exists():
        return set()
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture
def sigint_at(monkeypatch):
    """Deliver SIGINT in-process at a named point, through the handler ``main()`` installs."""

    previous = signal.getsignal(signal.SIGINT)

    def arm(point: str, count: int = 1) -> None:
        monkeypatch.setenv("IMGDIFF_SIGNAL_AT", f"{point}:{count}:INT")
        monkeypatch.setattr(outputs_module, "_passes", {})
        signal.signal(signal.SIGINT, _on_signal)

    yield arm
    signal.signal(signal.SIGINT, previous)


# == one reader that validates everything it decodes ===============================================

BAD_INPUTS = {
    "damaged-idat-byte": (lambda d: H.damaged_png(d / "bad.png"), "IDAT chunk at byte 33 fails its CRC check"),
    "damaged-idat-crc-fixed": (lambda d: H.damaged_png(d / "bad.png", fix_crc=True), "corrupt or truncated"),
    "ztxt-bomb": (lambda d: H.chunk_bomb_png(d / "bad.png"), "zTXt chunk inflates past 1,048,576 bytes"),
    "iccp-bomb": (lambda d: H.chunk_bomb_png(d / "bad.png", b"iCCP"), "iCCP chunk inflates past"),
    "animated-gif": (lambda d: H.animation(d / "bad.gif"), "GIF with 2 frames"),
    "apng": (lambda d: H.animation(d / "bad.png"), "PNG with 2 frames"),
    "two-page-tiff": (lambda d: H.animation(d / "bad.tif"), "TIFF with 2 pages"),
    "animated-webp": (lambda d: H.animation(d / "bad.webp"), "WEBP with 2 frames"),
    "jpeg-scan-bomb": (lambda d: H.jpeg_scan_bomb(d / "bad.jpg"), "more than 100 scans"),
    "cut-16-bit-tiff": (lambda d: H.cut_sixteen_bit_tiff(d / "bad.tif"), "truncated TIFF"),
    "fifo": (lambda d: (os.mkfifo(d / "bad.png"), d / "bad.png")[1], "is a pipe (FIFO)"),
    "dev-zero": (lambda d: Path("/dev/zero"), "is a device"),
    "symlink-loop": (lambda d: ((d / "bad.png").symlink_to(d / "bad.png"), d / "bad.png")[1], "symbolic link loop"),
    "dangling-symlink": (
        lambda d: ((d / "bad.png").symlink_to(d / "gone.png"), d / "bad.png")[1],
        "dangling symbolic link",
    ),
    "empty": (lambda d: ((d / "bad.png").write_bytes(b""), d / "bad.png")[1], "empty file"),
    "text-named-png": (lambda d: ((d / "bad.png").write_text("hello\n"), d / "bad.png")[1], "not an image file"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, name):
    make, fragment = BAD_INPUTS[name]
    (tmp_path / "in").mkdir()
    bad = make(tmp_path / "in")
    good = H.save(tmp_path / "good.png", H.photo())
    started = time.perf_counter()
    result = run("compare", good, bad, "--out", tmp_path / "out")
    assert time.perf_counter() - started < 10  # the scan bomb took 25-32 s before
    assert result.exit_code == 2, result.output
    one_line(result.stderr, str(bad), fragment)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("make", [H.progressive_jpeg, H.still_gif], ids=["progressive-jpeg-10-scans", "one-frame-gif"])
def test_ordinary_files_of_those_formats_still_compare(tmp_path, make):
    path = make(tmp_path / ("a.jpg" if make is H.progressive_jpeg else "a.gif"))
    result = run("compare", path, path, "--json", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["different"] is False


def test_animation_the_refusal_points_to_is_compared_frame_by_frame_by_video(tmp_path):
    left = H.animation(tmp_path / "a.gif", patched=False)
    right = H.animation(tmp_path / "b.gif", patched=True)
    result = run("video", left, right, "--out", tmp_path / "out", "--sensitivity", "normal", "-q")
    assert result.exit_code == 1, result.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["frames_different"] == 1


# == tiny images and options that crashed ========================================================


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (8, 8), (10, 10), (10, 2000)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_tiny_images_get_a_real_answer(tmp_path, size):
    height, width = size
    base = np.full((height, width, 3), 90, np.uint8)
    base[:, ::2] = 160  # some structure
    other = base.copy()
    other[height // 2, width // 2] = (250, 30, 30)
    left, right = H.save(tmp_path / "a.png", base), H.save(tmp_path / "b.png", other)
    same = run("compare", left, left, "--json", "-")
    assert same.exit_code == 0, same.output
    differ = run("compare", left, right, "--json", "-", "--min-area", "0", "--sensitivity", "exact")
    assert differ.exit_code == 1, differ.output
    assert json.loads(differ.stdout)["regions"]


def test_resize_to_a_tiny_left_and_huge_merge_distance(tmp_path):
    tiny = H.save(tmp_path / "tiny.png", H.photo(8, 8))
    big = H.save(tmp_path / "big.png", H.changed(H.photo()))
    result = run("compare", tiny, big, "--resize", "--json", "-", "--merge-distance", "100000000")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert len(json.loads(result.stdout)["regions"]) == 1  # every region merged into one


def test_align_on_a_one_pixel_image_is_one_line(tmp_path):
    one = H.save(tmp_path / "one.png", np.zeros((1, 1, 3), np.uint8))
    result = run("compare", one, one, "--align", "translation")
    assert result.exit_code == 2
    one_line(result.stderr, "too small to align")


def test_unicode_digit_in_ignore_is_a_usage_error(tmp_path):
    left, right = H.pair(tmp_path)
    result = run("compare", left, right, "--ignore", "²,1,1,1")
    assert result.exit_code == 2 and "not four whole numbers" in result.stderr
    assert "Traceback" not in result.output


# == one output writer =============================================================================


def test_second_run_into_the_same_out_fails_cleanly_and_leaves_the_first(tmp_path):
    left, right = H.pair(tmp_path)
    out = tmp_path / "out"
    assert run("compare", left, right, "--out", out).exit_code == 1
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    second = run("compare", right, left, "--out", out)
    assert second.exit_code == 2
    one_line(second.stderr, "already exists; pass --overwrite")
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_creation_is_exclusive_even_when_a_file_appears_during_the_run(tmp_path, monkeypatch):
    first, second = tmp_path / "out" / "a.json", tmp_path / "out" / "b.json"
    with Outputs(overwrite=False) as outputs:
        outputs.add(first, b"1")
        outputs.add(second, b"2")
        second.write_text("another run's")  # a concurrent run got there after the last check:
        monkeypatch.setattr(outputs_module, "_kind", lambda target: "missing")
        with pytest.raises(OutputError, match="appeared while this run worked"):
            outputs.commit()
    assert files_under(tmp_path / "out") == {"b.json"}  # all or none: a.json was taken back
    assert second.read_text() == "another run's"


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
def test_json_to_dev_null_writes_through_the_device(tmp_path, overwrite):
    left, right = H.pair(tmp_path)
    result = run("compare", left, right, "--json", "/dev/null", *(["--overwrite"] if overwrite else []))
    assert result.exit_code == 1, result.output
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not list(Path("/dev").glob(".imgdiff-staging.*"))  # nothing staged beside the device


def test_json_through_a_link_to_proc_self_fd_1_reaches_stdout_and_keeps_the_link(tmp_path):
    left, right = H.pair(tmp_path)
    link = tmp_path / "stdout.json"
    link.symlink_to("/proc/self/fd/1")
    done = imgdiff("compare", left, right, "--json", link, "--overwrite")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["different"] is True
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


def test_json_to_dev_stdout_redirected_to_a_file_fills_that_file(tmp_path):
    left, right = H.pair(tmp_path)
    target = tmp_path / "report.json"
    with open(target, "w") as shell_redirect:  # imgdiff ... --json /dev/stdout > report.json
        done = imgdiff("compare", left, right, "--json", "/dev/stdout", stdout=shell_redirect)
    assert done.returncode == 1
    only_the_summary(done.stderr)
    assert json.loads(target.read_text())["different"] is True


def test_overwrite_through_a_link_replaces_the_file_it_names(tmp_path):
    left, right = H.pair(tmp_path)
    real = tmp_path / "real.json"
    real.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert run("compare", left, right, "--json", link, "--overwrite").exit_code == 1
    assert link.is_symlink() and json.loads(real.read_text())["different"] is True


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    left, right = H.pair(tmp_path)
    previous = os.umask(umask)
    try:
        assert run("compare", left, right, "--out", tmp_path / "out").exit_code == 1
    finally:
        os.umask(previous)
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()} == {mode}


@pytest.mark.parametrize("how", ["same-name", "hard-link"])
def test_no_output_lands_on_an_input_even_with_overwrite(tmp_path, how):
    left, right = H.pair(tmp_path)
    before = right.read_bytes()
    target = right
    if how == "hard-link":
        target = tmp_path / "alias.json"
        os.link(right, target)
    result = run("compare", left, right, "--json", target, "--overwrite")
    assert result.exit_code == 2
    one_line(result.stderr, "would overwrite the input")
    assert right.read_bytes() == before


def test_an_input_where_out_would_put_a_picture_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    left = H.save(out / "mask.png", H.photo())
    right = H.save(tmp_path / "right.png", H.changed(H.photo()))
    before = left.read_bytes()
    result = run("compare", left, right, "--out", out, "--overwrite")
    assert result.exit_code == 2
    one_line(result.stderr, "would overwrite the input")
    assert left.read_bytes() == before and files_under(out) == {"mask.png"}


def test_batch_refuses_an_input_folder_inside_its_out(tmp_path):
    out = tmp_path / "out"
    left_dir = out / "pairs" / "x"
    H.pair(left_dir)
    right_dir = tmp_path / "right"
    H.pair(right_dir)
    before = (left_dir / "left.png").read_bytes()
    result = run("batch", left_dir, right_dir, "--out", out)
    assert result.exit_code == 2
    one_line(result.stderr, "must not contain the input folder")
    assert (left_dir / "left.png").read_bytes() == before


def test_overwrite_removes_the_earlier_runs_pictures_it_does_not_write_again(tmp_path):
    left, right = H.pair(tmp_path)
    small = H.save(tmp_path / "small.png", H.photo(40, 50))
    out = tmp_path / "out"
    assert run("compare", left, right, "--out", out).exit_code == 1
    assert files_under(out) == PICTURES | REPORTS
    assert run("compare", left, small, "--out", out, "--overwrite").exit_code == 1  # sizes differ: 2 pictures
    assert files_under(out) == {"left_marked.png", "right_marked.png", *REPORTS}


def test_debris_of_killed_runs_is_swept_and_nothing_else(tmp_path):
    left, right = H.pair(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    dead = 2**22 + 12345  # above pid_max's default: no such process
    (out / f".imgdiff-staging.{dead}.0a1b2c3d.report.json").write_bytes(b"x" * 1000)
    (out / ".diff.png.k2j4_x9a.tmp").write_bytes(b"x")  # what earlier versions left
    live = out / f".imgdiff-staging.{os.getppid()}.0a1b2c3d.mask.png"
    live.write_bytes(b"x")  # a run still working in this folder
    (out / ".notes").write_text("the user's")
    assert run("compare", left, right, "--out", out).exit_code == 1
    assert files_under(out) == PICTURES | REPORTS | {live.name, ".notes"}


# == batch ==========================================================================================


def _batch_folders(tmp_path: Path) -> tuple[Path, Path]:
    left, right = tmp_path / "L", tmp_path / "R"
    for folder, differ in ((left, False), (right, True)):
        folder.mkdir()
        H.save(folder / "a.png", H.photo())
        H.save(folder / "b.png", H.changed(H.photo()) if differ else H.photo())
    return left, right


def test_batch_refuses_to_replace_a_report_it_did_not_write(tmp_path):
    left, right = _batch_folders(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text('{"mine": true}')
    refused = run("batch", left, right, "--out", out)
    assert refused.exit_code == 2
    one_line(refused.stderr, "report.json: already exists")
    assert (out / "report.json").read_text() == '{"mine": true}' and files_under(out) == {"report.json"}
    assert run("batch", left, right, "--out", out, "--overwrite", "-q").exit_code == 1
    assert run("batch", left, right, "--out", out, "-q").exit_code == 1  # its own summary: a rerun


def test_batch_rerun_redoes_a_pair_whose_input_or_options_changed(tmp_path):
    left, right = _batch_folders(tmp_path)
    out = tmp_path / "out"
    assert run("batch", left, right, "--out", out, "-q").exit_code == 1
    H.save(right / "b.png", H.photo())  # the change was reverted
    assert run("batch", left, right, "--out", out, "-q").exit_code == 0
    summary = json.loads((out / "report.json").read_text())
    assert summary["skipped_complete"] == 1 and summary["counts"]["different"] == 0
    assert run("batch", left, right, "--out", out, "-q", "--min-area", "7").exit_code == 0
    assert json.loads((out / "report.json").read_text())["skipped_complete"] == 0


def test_batch_follows_symlinked_folders_and_reports_loops(tmp_path):
    left, right = _batch_folders(tmp_path)
    for side in (left, right):
        elsewhere = tmp_path / f"{side.name}-elsewhere"
        H.pair(elsewhere, differ=side == right)
        (side / "linked").symlink_to(elsewhere)
    (left / "loop").symlink_to(left)
    result = run("batch", left, right, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 2
    one_line(result.stderr, "symbolic link loop")
    statuses = {r["path"]: r["status"] for r in json.loads((tmp_path / "out" / "report.json").read_text())["results"]}
    assert statuses["linked/left.png"] == "same" and statuses["linked/right.png"] == "different"
    assert statuses["loop"] == "error"


def test_one_tiny_or_broken_pair_does_not_stop_a_batch(tmp_path):
    left, right = _batch_folders(tmp_path)
    H.save(left / "icon.png", np.zeros((4, 4, 3), np.uint8))
    H.save(right / "icon.png", np.zeros((4, 4, 3), np.uint8))
    H.damaged_png(right / "a.png")
    result = run("batch", left, right, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 2
    one_line(result.stderr, "a.png", "CRC")
    rows = (tmp_path / "out" / "pairs.csv").read_text()
    assert "icon.png,same" in rows and "b.png,different" in rows


def test_a_bug_in_one_pair_is_that_pairs_error_and_the_summary_is_written(tmp_path, monkeypatch):
    import imgdiff_gpu.job as job

    real = job.compare_with

    def flaky(options, left, right, **kwargs):
        if left.path.endswith("a.png"):
            raise RuntimeError("simulated bug")
        return real(options, left, right, **kwargs)

    monkeypatch.setattr(job, "compare_with", flaky)
    left, right = _batch_folders(tmp_path)
    result = run("batch", left, right, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 2
    one_line(result.stderr, "internal error (RuntimeError: simulated bug)")
    assert "b.png,different" in (tmp_path / "out" / "pairs.csv").read_text()


# == video ==========================================================================================


def test_video_offset_past_the_end_is_trouble(tmp_path):
    clip = H.video(tmp_path / "a.mkv", H.clip(4))
    result = run("video", clip, clip, "--out", tmp_path / "out", "--offset", "10", "-q")
    assert result.exit_code == 2
    one_line(result.stderr, "past the end")


def test_diff_video_with_an_image_name_is_one_line(tmp_path):
    clip = H.video(tmp_path / "a.mkv", H.clip(3))
    result = run("video", clip, clip, "--out", tmp_path / "out", "--diff-video", tmp_path / "side.gif", "-q")
    assert result.exit_code == 2
    one_line(result.stderr, "name it with one of")
    assert not (tmp_path / "out").exists()


def test_video_sizes_that_differ_with_diff_video_and_ignore(tmp_path):
    a = H.video(tmp_path / "a.mkv", H.clip(3))
    b = H.video(tmp_path / "b.mkv", H.clip(3, height=32, width=64))
    out = tmp_path / "out"
    side = tmp_path / "side.mp4"
    result = run("video", a, b, "--out", out, "--diff-video", side, "--ignore", "0,0,8,8", "-q")
    assert result.exit_code == 1, result.output
    assert side.is_file() and json.loads((out / "report.json").read_text())["frames_different"] == 3


def test_video_whose_size_changes_mid_stream_with_diff_video_and_ignore(tmp_path):
    changing = H.size_changing_video(tmp_path / "changing.ts")
    steady = H.video(tmp_path / "steady.mp4", H.clip(6), codec="libx264")
    options = ("--diff-video", tmp_path / "side.mp4", "--ignore", "0,0,8,8", "-q", "--overwrite")
    same = run("video", changing, changing, "--out", tmp_path / "same", *options)
    assert same.exit_code == 0, same.output
    differ = run("video", steady, changing, "--out", tmp_path / "differ", *options)
    assert differ.exit_code == 1, differ.output
    report = json.loads((tmp_path / "differ" / "report.json").read_text())
    assert report["frames_different"] == 3 and (tmp_path / "side.mp4").is_file()


def test_video_rotation_metadata_is_honoured(tmp_path):
    upright = H.clip(3, height=64, width=48)
    stored = [np.ascontiguousarray(np.rot90(f, -1)) for f in upright]  # as a phone stores it, turned
    a = H.video(tmp_path / "a.mp4", upright, codec="libx264")
    b = H.video(tmp_path / "b.mp4", stored, codec="libx264", rotation=90)
    result = run("video", a, b, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output


def test_video_overwrite_removes_the_earlier_runs_frame_pictures(tmp_path):
    a = H.video(tmp_path / "a.mkv", H.clip(4))
    b = H.video(tmp_path / "b.mkv", H.clip(4, changed_at=frozenset({1, 3})))
    out = tmp_path / "out"
    assert run("video", a, b, "--out", out, "-q").exit_code == 1
    assert {p.split("/")[1] for p in files_under(out) if p.startswith("frames/")} == {"000001", "000003"}
    assert run("video", a, a, "--out", out, "--overwrite", "-q").exit_code == 0
    assert files_under(out) == {"frames.csv", *REPORTS}


# == interruptions ==================================================================================


@pytest.mark.parametrize("point", ["compared", "staged"])
def test_sigint_in_compare_exits_130_and_leaves_nothing(tmp_path, sigint_at, point):
    left, right = H.pair(tmp_path)
    sigint_at(point)
    result = run("compare", left, right, "--out", tmp_path / "out" / "deep", "--json", tmp_path / "r.json")
    assert result.exit_code == 130
    one_line(result.stderr, "interrupted by SIGINT")
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.json").exists()
    assert files_under(tmp_path) == {"left.png", "right.png"}


def test_sigint_while_committing_waits_for_the_whole_set(tmp_path, sigint_at):
    left, right = H.pair(tmp_path)
    sigint_at("committing")
    result = run("compare", left, right, "--out", tmp_path / "out")
    assert result.exit_code == 130
    assert files_under(tmp_path / "out") == PICTURES | REPORTS  # all of them, not some


def test_sigint_in_batch_keeps_finished_pairs_and_a_rerun_completes(tmp_path, sigint_at, monkeypatch):
    left, right = _batch_folders(tmp_path)
    out = tmp_path / "out"
    sigint_at("staged", 2)  # the first pair committed, the second staged
    result = run("batch", left, right, "--out", out, "-q")
    assert result.exit_code == 130
    one_line(result.stderr, "interrupted by SIGINT")
    assert files_under(out) == {f"pairs/a.png/{n}" for n in PICTURES | REPORTS}
    monkeypatch.delenv("IMGDIFF_SIGNAL_AT")
    assert run("batch", left, right, "--out", out, "-q").exit_code == 1
    assert json.loads((out / "report.json").read_text())["skipped_complete"] == 1


def test_sigint_in_video_leaves_no_frame_pictures_without_report(tmp_path, sigint_at):
    a = H.video(tmp_path / "a.mkv", H.clip(6))
    b = H.video(tmp_path / "b.mkv", H.clip(6, changed_at=frozenset({0, 1, 2, 3})))
    sigint_at("frame", 5)
    result = run("video", a, b, "--out", tmp_path / "out", "--all-differing", "-q")
    assert result.exit_code == 130
    one_line(result.stderr, "interrupted by SIGINT")
    assert not (tmp_path / "out").exists()


def test_sigterm_in_compare_is_one_line_143_and_nothing_left(tmp_path):
    left, right = H.pair(tmp_path)
    done = imgdiff("compare", left, right, "--out", tmp_path / "out", signal_at="compared:1:TERM")
    assert done.returncode == 128 + signal.SIGTERM
    one_line(done.stderr, "interrupted by SIGTERM")
    assert not (tmp_path / "out").exists()


def test_sigint_to_the_real_process_is_130_never_aborted(tmp_path):
    left, right = H.pair(tmp_path)
    done = imgdiff("compare", left, right, "--out", tmp_path / "out", signal_at="staged:1:INT")
    assert done.returncode == 130 and "Aborted" not in done.stderr
    one_line(done.stderr, "interrupted by SIGINT")
    assert not (tmp_path / "out").exists()


def test_sigkill_leaves_only_debris_that_the_next_run_removes(tmp_path):
    left, right = H.pair(tmp_path)
    out = tmp_path / "out"
    killed = imgdiff("compare", left, right, "--out", out, signal_at="staged:1:KILL")
    assert killed.returncode == -signal.SIGKILL
    debris = files_under(out)
    assert len(debris) == len(PICTURES | REPORTS) and all(name.startswith(".imgdiff-staging.") for name in debris)
    again = imgdiff("compare", left, right, "--out", out)
    assert again.returncode == 1
    only_the_summary(again.stderr)
    assert files_under(out) == PICTURES | REPORTS


def test_sigterm_in_video_with_a_diff_video_leaves_nothing(tmp_path):
    a = H.video(tmp_path / "a.mkv", H.clip(6))
    b = H.video(tmp_path / "b.mkv", H.clip(6, changed_at=frozenset({1, 2})))
    out = tmp_path / "out"
    args = ("video", a, b, "--out", out, "--diff-video", tmp_path / "side.mp4", "-q")
    done = imgdiff(*args, signal_at="frame:4:TERM")
    assert done.returncode == 128 + signal.SIGTERM
    one_line(done.stderr, "interrupted by SIGTERM")
    assert not out.exists() and files_under(tmp_path) == {"a.mkv", "b.mkv"}


def test_sigkill_in_batch_then_a_rerun_sweeps_and_completes(tmp_path):
    left, right = _batch_folders(tmp_path)
    out = tmp_path / "out"
    killed = imgdiff("batch", left, right, "--out", out, "-q", signal_at="staged:2:KILL")
    assert killed.returncode == -signal.SIGKILL
    assert any(".imgdiff-staging." in name for name in files_under(out))
    again = imgdiff("batch", left, right, "--out", out, "-q")
    assert again.returncode == 1, again.stderr
    assert not any(".imgdiff-staging." in name for name in files_under(out))
    assert json.loads((out / "report.json").read_text())["skipped_complete"] == 1


# == the one stderr line, with C libraries and real file descriptors ================================


def test_libpng_printing_first_still_leaves_one_line(tmp_path):
    bad = H.sixteen_bit_png_with_bad_data(tmp_path / "deep.png")
    good = H.save(tmp_path / "good.png", H.photo())
    done = imgdiff("compare", good, bad)
    assert done.returncode == 2
    one_line(done.stderr, "deep.png", "corrupt")


def test_piped_stdin_is_called_a_pipe(tmp_path):
    good = H.save(tmp_path / "good.png", H.photo())
    done = imgdiff("compare", "/dev/stdin", good, stdin=subprocess.PIPE)
    assert done.returncode == 2
    one_line(done.stderr, "/dev/stdin", "is a pipe")


def test_a_bug_is_exit_2_and_one_line_never_1():
    code = "import imgdiff_gpu.cli as c\nc.cli.main = lambda **k: 1 / 0\nc.main()"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("IMGDIFF_TRACEBACK", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    one_line(done.stderr, "internal error (ZeroDivisionError")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["compare", "a.png", "b.png", "--thickness", "0"], "Invalid value for '--thickness'"),
        (["compare", "a.png", "b.png", "--no-such-flag"], "No such option '--no-such-flag'"),
        (["compare", "a.png"], "Missing argument 'RIGHT'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
    ids=["out-of-range", "unknown-flag", "missing-argument", "unknown-command"],
)
def test_a_usage_error_is_one_line_and_trouble(args, fragment):
    done = imgdiff(*args)
    assert done.returncode == 2 and done.stdout == ""
    line = one_line(done.stderr, fragment)
    assert line.endswith(" -h'")  # and where to read more
