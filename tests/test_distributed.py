"""imgdiff batch on a real local Dask cluster of processes: the serial run's answers, workers killed, resumes.

The clusters are small (one or two worker processes, one thread each): the
tests run on a 2-core machine beside others.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import dask
import numpy as np
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster

from imgdiff_gpu.batch import run_batch
from imgdiff_gpu.cli import cli
from imgdiff_gpu.distributed import TASKS_PER_WORKER, ClusterError, check_shared, frame_ranges, group_pairs
from imgdiff_gpu.options import CompareOptions

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

pytestmark = pytest.mark.slow


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _folders(tmp_path: Path, pairs: int = 6) -> tuple[Path, Path]:
    """``pairs`` pairs (the first the same, the others different), a broken one and a one-sided one."""
    left, right = tmp_path / "left", tmp_path / "right"
    (left / "sub").mkdir(parents=True)
    (right / "sub").mkdir(parents=True)
    for i in range(pairs):
        shutil.copy(EXAMPLES / "left.png", left / "sub" / f"p{i}.png")
        shutil.copy(EXAMPLES / ("left.png" if i == 0 else "right.png"), right / "sub" / f"p{i}.png")
    shutil.copy(EXAMPLES / "left.png", left / "broken.png")
    (right / "broken.png").write_bytes((EXAMPLES / "right.png").read_bytes()[:4000])
    shutil.copy(EXAMPLES / "left.png", left / "only-left.png")
    return left, right


def _statuses(out: Path) -> dict[str, str]:
    return {row["path"]: row["status"] for row in csv.DictReader((out / "pairs.csv").read_text().splitlines())}


def _assert_complete_and_clean(out: Path) -> None:
    """Every pair folder holds exactly what its report lists, and no staging file is left anywhere."""
    assert not [p for p in out.rglob(".imgdiff-staging*")]
    for report in (out / "pairs").rglob("report.json"):
        listed = set(json.loads(report.read_text())["outputs"])
        assert {p.name for p in report.parent.iterdir()} == listed | {"report.json"}


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, shared by the tests that only need some cluster (a killed worker is restarted)."""
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield cluster, client


def test_local_workers_give_the_serial_answers_byte_for_byte(tmp_path):
    left, right = _folders(tmp_path)
    serial = run("batch", left, right, "--out", tmp_path / "serial", "-q")
    spread = run("batch", left, right, "--out", tmp_path / "spread", "-q", "--workers", "2")
    assert spread.exit_code == serial.exit_code == 2
    assert spread.stderr == serial.stderr  # the broken pair's one line
    for name in ("pairs.csv", "report.json"):
        assert (tmp_path / "spread" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()
    for report in (tmp_path / "serial" / "pairs").rglob("report.json"):
        twin = tmp_path / "spread" / report.relative_to(tmp_path / "serial")
        assert twin.read_bytes() == report.read_bytes()
    _assert_complete_and_clean(tmp_path / "spread")


def test_a_worker_killed_while_committing_loses_nothing(tmp_path, cluster):
    local, client = cluster
    left, right = _folders(tmp_path, pairs=8)
    victim = sorted(client.scheduler_info()["workers"])[0]
    before = client.run(os.getpid)[victim]
    # this worker dies with the first file of its first pair's outputs made real: a partial set on disk
    client.run(exec, "import os; os.environ['IMGDIFF_SIGNAL_AT'] = 'committing:1:KILL'", workers=[victim])
    address = local.scheduler_address
    spread = run("batch", left, right, "--out", tmp_path / "spread", "-q", "--scheduler", address)
    client.wait_for_workers(2, timeout=60)
    assert before not in client.run(os.getpid).values(), "the worker was not killed: the test tested nothing"
    serial = run("batch", left, right, "--out", tmp_path / "serial", "-q")
    assert spread.exit_code == serial.exit_code == 2
    for name in ("pairs.csv", "report.json"):
        assert (tmp_path / "spread" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()
    assert json.loads((tmp_path / "spread" / "report.json").read_text())["skipped_complete"] == 0
    _assert_complete_and_clean(tmp_path / "spread")


def test_an_interrupted_client_resumes_to_the_same_report(tmp_path, cluster):
    left, right = _folders(tmp_path, pairs=8)
    seen = []

    def stop_after_three(path):
        seen.append(path)
        if len(seen) == 3:
            raise KeyboardInterrupt

    out = tmp_path / "spread"
    with pytest.raises(KeyboardInterrupt):
        run_batch(left, right, out, CompareOptions(), scheduler=cluster[0].scheduler_address, progress=stop_after_three)
    assert not (out / "report.json").exists()
    resumed = run("batch", left, right, "--out", out, "-q", "--scheduler", cluster[0].scheduler_address)
    serial = run("batch", left, right, "--out", tmp_path / "serial", "-q")
    assert resumed.exit_code == serial.exit_code == 2
    assert _statuses(out) == _statuses(tmp_path / "serial")
    assert json.loads((out / "report.json").read_text())["skipped_complete"] >= 2  # pairs done before the stop
    _assert_complete_and_clean(out)


def test_a_pair_that_kills_every_worker_is_its_error_not_a_hang(tmp_path, monkeypatch):
    left, right = _folders(tmp_path, pairs=2)
    (left / "broken.png").unlink()
    monkeypatch.setenv("IMGDIFF_SIGNAL_AT", "compared:1:KILL")  # every worker process, restarted ones too
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
    ):
        result = run("batch", left, right, "--out", tmp_path / "out", "-q", "--scheduler", local.scheduler_address)
    assert result.exit_code == 2
    assert result.stderr.count("died each time it tried") == 2
    statuses = _statuses(tmp_path / "out")
    assert statuses["sub/p0.png"] == statuses["sub/p1.png"] == "error"
    assert not (tmp_path / "out" / "pairs").exists()


class _BlindWorkers:
    """A client whose one worker runs the real probe on a machine that cannot see the probe file."""

    def __init__(self, blind_to: str):
        self.blind_to = blind_to

    def run(self, function, probe, token, folders):
        probe = probe if self.blind_to == "inputs" else "/nonexistent/probe"
        folders = folders if self.blind_to == "out" else [*folders[:1], "/nonexistent/left"]
        return {"tcp://10.0.0.9:40000": function(probe, token, folders)}


@pytest.mark.parametrize(
    ("blind_to", "message"),
    [("out", "does not see this output folder"), ("inputs", "does not see this input folder")],
)
def test_storage_the_workers_do_not_share_is_refused_before_any_work(tmp_path, blind_to, message):
    out = tmp_path / "out"
    with pytest.raises(ClusterError, match=f"tcp://10.0.0.9:40000 {message}; --out and the inputs must be on storage"):
        check_shared(_BlindWorkers(blind_to), out, [tmp_path, tmp_path])
    assert not out.exists()  # the folder made for the probe is gone again


def test_missing_dask_is_one_line_and_exit_2(tmp_path, monkeypatch):
    left, right = _folders(tmp_path, pairs=1)
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = run("batch", left, right, "--out", tmp_path / "out", "--workers", "2")
    assert result.exit_code == 2
    assert result.stderr == (
        "imgdiff: error: --workers and --scheduler need Dask; install it with: pip install 'imgdiff-gpu[distributed]'\n"
    )


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_workers_takes_a_positive_number_or_cuda(tmp_path, value):
    result = run("batch", tmp_path, tmp_path, "--out", tmp_path / "o", "--workers", value)
    assert result.exit_code == 2 and "neither a number of worker processes" in result.stderr


def test_workers_and_scheduler_together_are_refused(tmp_path):
    result = run("batch", tmp_path, tmp_path, "--out", tmp_path / "o", "--workers", "2", "--scheduler", "tcp://x:1")
    assert result.exit_code == 2 and "not both" in result.stderr


def test_an_unreachable_scheduler_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr("imgdiff_gpu.distributed.CONNECT_SECONDS", 1)
    left, right = _folders(tmp_path, pairs=1)
    result = run("batch", left, right, "--out", tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 2
    assert result.stderr.startswith("imgdiff: error: tcp://127.0.0.1:9: cannot reach the Dask scheduler")
    assert result.stderr.count("\n") == 1


def _pairs(sizes: list[int], tmp_path: Path):
    pairs = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"{i}.png"
        path.write_bytes(b"x" * size)
        pairs.append((path.name, path, path))
    return pairs


def test_pairs_are_grouped_by_input_bytes_with_several_tasks_per_worker(tmp_path):
    small = _pairs([100] * 40, tmp_path)  # 200 bytes a pair
    tasks = group_pairs(small, workers=2, task_bytes=600)
    assert [len(t) for t in tasks] == [3] * 13 + [1]  # 600 bytes reached at 3 pairs
    assert [p for t in tasks for p in t] == small  # in order, each once
    few = group_pairs(small, workers=5, task_bytes=10**9)
    assert len(few) == TASKS_PER_WORKER * 5 and {len(t) for t in few} == {2}
    big = group_pairs(_pairs([10**4] * 3, tmp_path), workers=1, task_bytes=1000)
    assert [len(t) for t in big] == [1, 1, 1]


def _video(path: Path, changed: set[int]) -> Path:
    """The pan of test_video.py in H.264 with B-frames and a keyframe every 5 frames: ranges start mid-GOP."""
    from clips import pan_frames, write_video

    return write_video(path, pan_frames(changed), "libx264", gop=5)


@pytest.mark.parametrize("selection", [[], ["--offset", "2", "--all-differing"], ["--offset", "-3", "--start", "4"]])
def test_video_in_frame_ranges_gives_the_serial_answers(tmp_path, cluster, monkeypatch, selection):
    monkeypatch.setattr("imgdiff_gpu.distributed.FRAMES_PER_TASK", 4)  # 18 frames: 5 ranges, most mid-GOP
    a, b = _video(tmp_path / "a.mp4", set()), _video(tmp_path / "b.mp4", {5, 12})
    serial = run("video", a, b, "--out", tmp_path / "serial", "-q", *selection)
    spread = run(
        "video", a, b, "--out", tmp_path / "spread", "-q", *selection, "--scheduler", cluster[0].scheduler_address
    )
    assert spread.exit_code == serial.exit_code == 1
    for name in ("frames.csv", "report.json"):
        assert (tmp_path / "spread" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()
    pictures = sorted(p.relative_to(tmp_path / "serial") for p in (tmp_path / "serial" / "frames").rglob("*.png"))
    assert pictures and pictures == sorted(
        p.relative_to(tmp_path / "spread") for p in (tmp_path / "spread" / "frames").rglob("*.png")
    )
    for picture in pictures:
        # the same picture, chunk for chunk, its image data inflated: not its deflate stream byte for byte, which
        # ISA-L does not promise (twice in CI under heavy load it chose another, equally valid match for one frame)
        spread_png, serial_png = ((tmp_path / side / picture).read_bytes() for side in ("spread", "serial"))
        assert _png_contents(spread_png) == _png_contents(serial_png), picture


def _png_contents(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG file's chunks (type, body), its IDAT chunks' bodies joined and inflated into its filtered rows."""
    import zlib

    chunks, image, at = [], [], 8
    while at < len(data):
        length, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if kind == b"IDAT":
            if not image:
                chunks.append((kind, b""))  # where the image data stands among the chunks
            image.append(body)
        else:
            chunks.append((kind, body))
        at += 12 + length
    return [(kind, zlib.decompress(b"".join(image)) if kind == b"IDAT" else body) for kind, body in chunks]


def _decoded(path: Path) -> list:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(np.int16) for frame in container.decode(video=0)]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_diff_video_in_frame_ranges_is_the_serial_diff_video(tmp_path, cluster, monkeypatch, suffix):
    monkeypatch.setattr("imgdiff_gpu.distributed.FRAMES_PER_TASK", 4)  # 18 frames: parts from 5 ranges, joined
    a, b = _video(tmp_path / "a.mp4", set()), _video(tmp_path / "b.mp4", {5, 12})
    side = {"serial": tmp_path / f"serial{suffix}", "spread": tmp_path / f"spread{suffix}"}
    serial = run("video", a, b, "--out", tmp_path / "serial", "-q", "--diff-video", side["serial"])
    address = cluster[0].scheduler_address
    options = ("-q", "--diff-video", side["spread"], "--scheduler", address)
    spread = run("video", a, b, "--out", tmp_path / "spread", *options)
    assert spread.exit_code == serial.exit_code == 1
    assert (tmp_path / "spread" / "frames.csv").read_bytes() == (tmp_path / "serial" / "frames.csv").read_bytes()
    assert str(side["spread"]) in json.loads((tmp_path / "spread" / "report.json").read_text())["outputs"]
    # two H.264 encodes of the same pictures: every frame there, in its place (closer to the serial
    # video's frame of its index than to any other), and alike to the eye
    joined, reference = _decoded(side["spread"]), _decoded(side["serial"])
    assert len(joined) == len(reference) == 18
    distance = np.array([[np.abs(f - g).mean() for g in reference] for f in joined])
    assert list(distance.argmin(axis=1)) == list(range(18))
    assert distance.diagonal().max() < 4.0
    files = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert files == sorted(["a.mp4", "b.mp4", *(p.name for p in side.values())])  # no part, no staging file


def test_clip_noise_in_frame_ranges_compares_flagged_frames_again_as_the_serial_run(tmp_path, cluster, monkeypatch):
    from clips import bump_frames, write_video

    monkeypatch.setattr("imgdiff_gpu.distributed.FRAMES_PER_TASK", 4)  # 18 frames: 5 ranges
    # a clip whose noise (an 8-level bump in every frame, moving) lies above the reference: frame 4's 11-level
    # speck is flagged at factor 1 and cleared at the clip's factor, frame 12's 30-level edit stays
    # (tests/test_clip_noise.py); lossless FFV1, so the workers see the frames the serial run does
    amplitudes = [8] * 18
    amplitudes[4], amplitudes[12] = 11, 30
    lefts, rights = bump_frames(amplitudes)
    a, b = write_video(tmp_path / "a.mkv", lefts, "ffv1"), write_video(tmp_path / "b.mkv", rights, "ffv1")
    without = run("video", a, b, "--out", tmp_path / "without", "-q", "--no-clip-noise")
    serial = run("video", a, b, "--out", tmp_path / "serial", "-q")  # the rule is the video default
    address = cluster[0].scheduler_address
    spread = run("video", a, b, "--out", tmp_path / "spread", "-q", "--scheduler", address)
    assert spread.exit_code == serial.exit_code == without.exit_code == 1

    def flagged(folder: str) -> dict[int, float]:
        rows = csv.DictReader((tmp_path / folder / "frames.csv").read_text().splitlines())
        return {int(row["frame"]): float(row["noise_factor"]) for row in rows if int(row["regions"]) > 0}

    assert set(flagged("without")) == {4, 12}
    assert flagged("serial").keys() == {12} and flagged("serial")[12] > 1.3  # frame 4 compared again, cleared
    for name in ("frames.csv", "report.json"):
        assert (tmp_path / "spread" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()


def test_frame_ranges_start_at_keyframes_and_cover_every_pair_once(monkeypatch):
    monkeypatch.setattr("imgdiff_gpu.distributed.FRAMES_PER_TASK", 10)
    assert frame_ranges(45, workers=2) == [(0, 10), (10, 20), (20, 30), (30, 40), (40, 45)]
    assert frame_ranges(45, workers=2, keyframes=[12, 24, 36]) == [(0, 12), (12, 24), (24, 36), (36, 45)]
    # a long GOP: the range up to it grows; past the last keyframe, ranges of the full size
    assert frame_ranges(45, workers=2, keyframes=[25]) == [(0, 25), (25, 40), (40, 45)]
    assert frame_ranges(45, workers=1) == [(0, 12), (12, 24), (24, 36), (36, 45)]  # 4 tasks a worker
    assert frame_ranges(0, workers=2) == []


def test_workers_cuda_without_dask_cuda_is_one_line(tmp_path, monkeypatch):
    left, right = _folders(tmp_path, pairs=1)
    monkeypatch.setitem(sys.modules, "dask_cuda", None)
    result = run("batch", left, right, "--out", tmp_path / "out", "--workers", "cuda")
    assert result.exit_code == 2
    assert result.stderr == "imgdiff: error: --workers cuda needs dask-cuda; install it with: pip install dask-cuda\n"
    assert not (tmp_path / "out").exists()


def test_ctrl_c_stops_the_command_with_130_and_the_rerun_resumes(tmp_path):
    import subprocess
    import time

    left, right = _folders(tmp_path, pairs=16)
    out = tmp_path / "out"
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "imgdiff_gpu", "batch", left, right, "--out", out, "-q", "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not list((out / "pairs").rglob("report.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.endswith("imgdiff: error: interrupted by SIGINT; no partial output was left\n")
    assert not (out / "report.json").exists()
    done = len(list((out / "pairs").rglob("report.json")))
    assert 0 < done < 15  # stopped in the middle (the broken pair never gets a report)
    resumed = run("batch", left, right, "--out", out, "-q", "--workers", "1")
    assert resumed.exit_code == 2
    assert json.loads((out / "report.json").read_text())["skipped_complete"] >= done
    assert len(_statuses(out)) == 18
    _assert_complete_and_clean(out)
