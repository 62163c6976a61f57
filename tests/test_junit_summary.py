"""--junit on compare, batch and video, and the summary a person reads on stderr (silenced by -q)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from junitparser import Error, Failure, JUnitXml

from imgdiff_gpu.cli import cli
from imgdiff_gpu.junit import batch_junit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases.values())
    assert int(suite.get("errors")) == sum(c.find("error") is not None for c in cases.values())
    return cases


def _junitparser_outcomes(path: Path) -> dict[str, str]:
    """What a CI reader makes of the file: each case's name and result."""
    outcomes = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            kinds = {type(r) for r in case.result}
            outcomes[case.name] = "error" if Error in kinds else "failure" if Failure in kinds else "passed"
    return outcomes


@pytest.fixture
def folders(tmp_path):
    left, right = tmp_path / "left", tmp_path / "right"
    (left / "sub").mkdir(parents=True)
    (right / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLES / "left.png", left / "same.png")
    shutil.copy(EXAMPLES / "left.png", right / "same.png")
    shutil.copy(EXAMPLES / "left.png", left / "sub" / "changed.png")
    shutil.copy(EXAMPLES / "right.png", right / "sub" / "changed.png")
    shutil.copy(EXAMPLES / "left.png", right / "only-right.png")
    shutil.copy(EXAMPLES / "left.png", left / "broken.png")
    (right / "broken.png").write_bytes((EXAMPLES / "right.png").read_bytes()[:4000])
    return left, right


def test_batch_junit_one_case_per_pair(folders, tmp_path):
    out, junit = tmp_path / "out", tmp_path / "junit.xml"
    result = run("batch", *folders, "--out", out, "--junit", junit, "-q")
    assert result.exit_code == 2
    cases = _cases(junit)
    assert set(cases) == {"same.png", "sub/changed.png", "only-right.png", "broken.png"}
    assert list(cases["same.png"]) == []
    failure = cases["sub/changed.png"].find("failure")
    assert failure.get("type") == "different" and "4 region(s) differ" in failure.get("message")
    assert failure.text.count("\nregion ") == 3 and failure.text.startswith("region 1: x=")
    assert f"report: {out / 'pairs' / 'sub' / 'changed.png' / 'report.html'}" in failure.text
    assert cases["only-right.png"].find("failure").get("type") == "one-sided"
    assert "truncated" in cases["broken.png"].find("error").get("message")
    assert _junitparser_outcomes(junit) == {
        "same.png": "passed",
        "sub/changed.png": "failure",
        "only-right.png": "failure",
        "broken.png": "error",
    }


def test_batch_rerun_replaces_its_junit_but_not_another_file(folders, tmp_path):
    out, junit = tmp_path / "out", tmp_path / "junit.xml"
    assert run("batch", *folders, "--out", out, "--junit", junit, "-q").exit_code == 2
    first = junit.stat().st_ino
    again = run("batch", *folders, "--out", out, "--junit", junit, "-q")
    assert again.exit_code == 2 and "already exists" not in again.stderr  # 2: the broken pair
    assert junit.stat().st_ino != first and len(_cases(junit)) == 4
    other = tmp_path / "notes.xml"
    other.write_text("<notes/>")
    refused = run("batch", *folders, "--out", out, "--junit", other, "-q")
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr and other.read_text() == "<notes/>"
    assert run("batch", *folders, "--out", out, "--junit", other, "-q", "--overwrite").exit_code == 2
    assert set(_cases(other)) == set(_cases(junit))


def test_junit_survives_characters_xml_cannot_hold(tmp_path):
    summary = SimpleNamespace(
        outcomes=[SimpleNamespace(path="bad\x01name\udcff.png", status="error", detail="broke \x07 here", score=None)]
    )
    junit = tmp_path / "j.xml"
    junit.write_bytes(batch_junit(summary, Path("l"), Path("r"), tmp_path))
    (case,) = _cases(junit).values()
    assert case.get("name") == "bad\ufffdname\ufffd.png" and case.find("error").get("message") == "broke \ufffd here"


def test_compare_junit_and_summary_line(tmp_path):
    out, junit = tmp_path / "out", tmp_path / "c.xml"
    result = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--out", out, "--junit", junit)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == f"imgdiff: different: 4 regions, score 0.9880; outputs in {out}\n"
    (case,) = _cases(junit).values()
    assert f"report: {out / 'report.html'}" in case.find("failure").text
    same = run("compare", EXAMPLES / "left.png", EXAMPLES / "left.png", "--junit", tmp_path / "s.xml")
    assert same.exit_code == 0 and same.stderr == "imgdiff: same: 0 regions, score 1.0000\n"
    assert _junitparser_outcomes(tmp_path / "s.xml") == {
        f"{EXAMPLES / 'left.png'} vs {EXAMPLES / 'left.png'}": "passed"
    }


def test_compare_junit_is_an_output_like_the_others(tmp_path):
    junit = tmp_path / "c.xml"
    junit.write_text("precious")
    result = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--out", tmp_path / "o", "--junit", junit)
    assert result.exit_code == 2 and "--overwrite" in result.stderr and len(result.stderr.splitlines()) == 1
    assert junit.read_text() == "precious" and not (tmp_path / "o").exists()


def test_quiet_silences_the_summary_and_json_keeps_stdout(tmp_path):
    quiet = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--json", "-", "-q")
    assert quiet.exit_code == 1 and quiet.stderr == ""
    assert json.loads(quiet.stdout)["different"] is True
    loud = run("compare", EXAMPLES / "left.png", EXAMPLES / "right.png", "--json", "-")
    assert json.loads(loud.stdout) == json.loads(quiet.stdout)
    assert loud.stderr.startswith("imgdiff: different: 4 regions") and loud.stderr.endswith("score 0.9880\n")


def test_batch_summary_table(folders, tmp_path):
    out = tmp_path / "out"
    table = run("batch", *folders, "--out", out).stderr.splitlines()
    assert table[0].startswith("imgdiff: error: ")  # the failed pair, then the table
    assert table[1] == "imgdiff batch: 4 paths"
    rows = {line.split()[0]: line.split()[1:] for line in table[2:] if line.strip()}
    assert rows["same"] == ["1"] and rows["different"] == ["1"] and rows["error"] == ["1"]
    assert rows["right-only"] == ["1"] and rows["total"] == ["4"]
    assert rows["lowest"] == ["0.9880", "sub/changed.png"] and rows["report"] == [str(out / "report.html")]
    quiet = run("batch", *folders, "--out", out, "-q")
    assert quiet.stderr.splitlines() == table[:1]  # only the error line


def test_video_junit_runs_and_summary_table(tmp_path):
    from clips import VIDEO_CHANGED, write_marked_video

    assert VIDEO_CHANGED == {3, 4, 9}
    a = write_marked_video(tmp_path / "a.mkv", set())
    b = write_marked_video(tmp_path / "b.mkv", VIDEO_CHANGED)
    out, junit = tmp_path / "out", tmp_path / "v.xml"
    result = run("video", a, b, "--out", out, "--junit", junit, "--device", "cpu")
    assert result.exit_code == 1
    cases = _cases(junit)
    assert list(cases) == [
        "frames 0-2 (0.000s-0.080s)",
        "frames 3-4 (0.120s-0.160s)",
        "frames 5-8 (0.200s-0.320s)",
        "frame 9 (0.360s-0.360s)",
        "frames 10-11 (0.400s-0.440s)",
    ]
    failed = [name for name, case in cases.items() if case.find("failure") is not None]
    assert failed == ["frames 3-4 (0.120s-0.160s)", "frame 9 (0.360s-0.360s)"]
    text = cases["frames 3-4 (0.120s-0.160s)"].find("failure").text
    assert "2 frame(s) differ" in text and "region 1: x=" in text and f"report: {out / 'report.html'}" in text
    assert set(_junitparser_outcomes(junit).values()) == {"passed", "failure"}
    lines = result.stderr.splitlines()
    assert lines[0] == "imgdiff video: different"
    assert any(line.split() == ["differing", "3", "frames", "in", "2", "run(s):", "3-4,", "9"] for line in lines)
    quiet = run("video", a, b, "--out", tmp_path / "q", "-q", "--device", "cpu")
    assert quiet.exit_code == 1 and quiet.stderr == ""
