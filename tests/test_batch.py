"""imgdiff batch: pairing by path, one-sided files, errors that do not stop the rest, reruns."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from imgdiff_gpu.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _folders(tmp_path):
    left, right = tmp_path / "left", tmp_path / "right"
    (left / "sub").mkdir(parents=True)
    (right / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLES / "left.png", left / "same.png")
    shutil.copy(EXAMPLES / "left.png", right / "same.png")
    shutil.copy(EXAMPLES / "left.png", left / "sub" / "changed.png")
    shutil.copy(EXAMPLES / "right.png", right / "sub" / "changed.png")
    shutil.copy(EXAMPLES / "left.png", left / "only-left.png")
    shutil.copy(EXAMPLES / "left.png", right / "only-right.png")
    shutil.copy(EXAMPLES / "left.png", left / "broken.png")
    (right / "broken.png").write_bytes((EXAMPLES / "right.png").read_bytes()[:4000])
    return left, right


def test_batch_reports_every_pair_and_exits_2_when_one_failed(tmp_path):
    left, right = _folders(tmp_path)
    out = tmp_path / "out"
    result = run("batch", left, right, "--out", out)
    assert result.exit_code == 2
    assert result.stderr.count("imgdiff: error:") == 1 and "broken.png" in result.stderr
    rows = {row["path"]: row for row in csv.DictReader((out / "pairs.csv").read_text().splitlines())}
    assert {p: r["status"] for p, r in rows.items()} == {
        "broken.png": "error",
        "only-left.png": "left-only",
        "only-right.png": "right-only",
        "same.png": "same",
        "sub/changed.png": "different",
    }
    assert int(rows["sub/changed.png"]["regions"]) == 4
    summary = json.loads((out / "report.json").read_text())
    assert summary["counts"] == {"same": 1, "different": 1, "error": 1, "left-only": 1, "right-only": 1}
    assert (out / "pairs" / "sub" / "changed.png" / "right_marked.png").is_file()
    assert not (out / "pairs" / "broken.png").exists()  # no partial outputs for the failed pair


def test_rerun_skips_complete_pairs_unless_forced(tmp_path):
    left, right = _folders(tmp_path)
    (left / "broken.png").unlink()
    (right / "broken.png").unlink()
    out = tmp_path / "out"
    assert run("batch", left, right, "--out", out).exit_code == 1
    marker = out / "pairs" / "same.png" / "report.json"
    stamp = marker.stat().st_mtime_ns
    assert run("batch", left, right, "--out", out).exit_code == 1
    again = json.loads((out / "report.json").read_text())
    assert again["skipped_complete"] == 2 and marker.stat().st_mtime_ns == stamp
    (out / "pairs" / "same.png" / "diff.png").unlink()  # incomplete: redone
    run("batch", left, right, "--out", out)
    assert (out / "pairs" / "same.png" / "diff.png").is_file()
    forced = run("batch", left, right, "--out", out, "--force")
    assert forced.exit_code == 1
    assert json.loads((out / "report.json").read_text())["skipped_complete"] == 0


def test_identical_folders_exit_0(tmp_path):
    left, right = tmp_path / "a", tmp_path / "b"
    left.mkdir()
    right.mkdir()
    for folder in (left, right):
        shutil.copy(EXAMPLES / "left.png", folder / "x.png")
    assert run("batch", left, right, "--out", tmp_path / "o").exit_code == 0


def test_missing_folder_and_output_equal_to_input_are_errors(tmp_path):
    left, right = _folders(tmp_path)
    missing = run("batch", tmp_path / "nope", right, "--out", tmp_path / "o")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    clash = run("batch", left, right, "--out", left)
    assert clash.exit_code == 2 and "must not be an input folder" in clash.stderr
