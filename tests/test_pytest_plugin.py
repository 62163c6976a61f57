"""The pytest plugin (imgdiff_snapshot), run in pytester sessions with the project's own strictness."""

from __future__ import annotations

import os
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module", autouse=True)
def _imported_before_pytester(tmp_path_factory):
    """Do once, outside pytester, what the inner sessions do, so every module they need is already imported.

    pytester removes the modules a session imported when it ends; a C extension
    (NumPy's, SciPy's) cannot be imported twice in one process, so one first
    imported inside a pytester session would break the tests that run after.
    """
    import cv2  # noqa: F401
    from PIL import Image

    from imgdiff_gpu.job import compare_files
    from imgdiff_gpu.junit import compare_junit  # noqa: F401
    from imgdiff_gpu.options import CompareOptions
    from imgdiff_gpu.pytest_plugin import _pixels_of, _png_bytes

    out = tmp_path_factory.mktemp("warm")
    compare_files(EXAMPLES / "left.png", EXAMPLES / "right.png", CompareOptions(device="cpu"), out_dir=out / "o")
    _png_bytes(_pixels_of(Image.open(EXAMPLES / "left.png")))


# Every warning an error, but pytest's own note that a module of this distribution was
# already imported when the inner session marked it for assertion rewriting. Where the
# checkout holds an ``imgdiff_gpu.egg-info`` (``setup.py build_ext --inplace`` or an
# editable install leaves one), its SOURCES.txt lists ``benchmarks/``, so the inner session
# marks ``benchmarks`` for rewriting; a test file that ran earlier in this process had
# imported it. The note says where the outer suite imported what, nothing of the plugin.
STRICT_INI = (
    "[pytest]\naddopts = --strict-markers\nfilterwarnings =\n    error\n"
    "    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning\n"
)


def _plugin_args() -> list[str]:
    """Load the plugin by its module where its entry point is not installed (a checkout run in place)."""
    installed = any(ep.value == "imgdiff_gpu.pytest_plugin" for ep in entry_points(group="pytest11"))
    autoload = not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    return [] if installed and autoload else ["-p", "imgdiff_gpu.pytest_plugin"]


@pytest.fixture
def suite(pytester):
    """A pytester folder with the project's strictness and a test module using the fixture."""
    pytester.makeini(STRICT_INI)

    def run(*args):
        return pytester.runpytest(*_plugin_args(), "-p", "no:cacheprovider", *args)

    return run


SNAPSHOT_TESTS = f"""
import numpy as np
import cv2
from PIL import Image
from pathlib import Path

EXAMPLES = Path({str(EXAMPLES)!r})

def rgb(name):
    return cv2.cvtColor(cv2.imread(str(EXAMPLES / name)), cv2.COLOR_BGR2RGB)

def jpeg90(pixels):
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

def test_array(imgdiff_snapshot):
    imgdiff_snapshot(rgb("left.png"), "cat.png")

def test_pil_and_path(imgdiff_snapshot):
    imgdiff_snapshot(Image.open(EXAMPLES / "left.png"), "cat.png")
    imgdiff_snapshot(EXAMPLES / "left.png", "cat-from-path.png")
"""


def test_missing_baseline_fails_with_the_command_that_creates_it(suite, pytester):
    pytester.makepyfile(test_inner_shots=SNAPSHOT_TESTS)
    result = suite()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*no baseline*__snapshots__*test_inner_shots*cat.png*"])
    result.stdout.fnmatch_lines(["*create the baseline with: pytest --imgdiff-update test_inner_shots.py::test_array*"])
    assert not (pytester.path / "__snapshots__").exists()


def test_update_writes_baselines_then_they_pass_and_jpeg_q90_passes(suite, pytester):
    pytester.makepyfile(test_inner_shots=SNAPSHOT_TESTS)
    written = suite("--imgdiff-update")
    written.assert_outcomes(passed=2)
    written.stdout.fnmatch_lines(["*imgdiff: 3 baseline(s) written*"])
    folder = pytester.path / "__snapshots__" / "test_inner_shots"
    assert sorted(p.name for p in folder.iterdir()) == ["cat-from-path.png", "cat.png"]
    suite().assert_outcomes(passed=2)

    reencoded = SNAPSHOT_TESTS.replace('(rgb("left.png"), "cat.png")', '(jpeg90(rgb("left.png")), "cat.png")')
    assert reencoded != SNAPSHOT_TESTS
    pytester.makepyfile(test_inner_shots=reencoded)
    suite("-k", "test_array").assert_outcomes(passed=1)


def test_a_change_fails_with_its_regions_and_keeps_the_pictures(suite, pytester, tmp_path):
    pytester.makepyfile(test_inner_shots=SNAPSHOT_TESTS)
    suite("--imgdiff-update", "-k", "test_array").assert_outcomes(passed=1)
    pytester.makepyfile(
        test_inner_shots=SNAPSHOT_TESTS.replace('rgb("left.png"), "cat.png"', 'rgb("right.png"), "cat.png"')
    )
    results = tmp_path / "results"
    failed = suite("-k", "test_array", "--imgdiff-results", str(results))
    failed.assert_outcomes(failed=1)
    output = failed.stdout.str()
    assert "'cat.png': 4 region(s) differ (at most 0 allowed)" in output
    # distinct lines: with CI set, pytest's short summary repeats the whole message
    assert len(set(re.findall(r"region \d: x=\d+ y=\d+ \d+x\d+, \d+ px", output))) == 4
    assert "pytest --imgdiff-update test_inner_shots.py::test_array" in output
    kept = results / "test_inner_shots.py_test_array" / "cat"
    assert {p.name for p in kept.iterdir()} >= {"actual.png", "left_marked.png", "right_marked.png", "report.html"}
    assert str(kept / "report.html") in output

    # a second failing run replaces the kept results; --imgdiff-update replaces the baseline
    again = suite("-k", "test_array", "--imgdiff-results", str(results))
    again.assert_outcomes(failed=1)
    assert "'cat.png': 4 region(s) differ" in again.stdout.str()
    suite("--imgdiff-update", "-k", "test_array").assert_outcomes(passed=1)
    suite("-k", "test_array").assert_outcomes(passed=1)


def test_results_default_to_pytests_basetemp(suite, pytester):
    pytester.makepyfile(test_inner_shots=SNAPSHOT_TESTS)
    suite("--imgdiff-update", "-k", "test_array").assert_outcomes(passed=1)
    pytester.makepyfile(
        test_inner_shots=SNAPSHOT_TESTS.replace('rgb("left.png"), "cat.png"', 'rgb("right.png"), "cat.png"')
    )
    basetemp = pytester.path / "basetemp"
    suite("-k", "test_array", f"--basetemp={basetemp}").assert_outcomes(failed=1)
    assert (basetemp / "imgdiff" / "test_inner_shots.py_test_array" / "cat" / "report.html").is_file()


def test_options_per_call(suite, pytester):
    """ignore boxes, an ignore mask (array or file) and max_regions each let the known change pass."""
    pytester.makepyfile(
        test_inner_options=f"""
import numpy as np, cv2, json, subprocess, sys
from pathlib import Path
from imgdiff_gpu.pipeline import compare

EXAMPLES = Path({str(EXAMPLES)!r})
RIGHT = EXAMPLES / "right.png"
REGIONS = compare(EXAMPLES / "left.png", RIGHT, device="cpu").regions
BOXES = [(max(r.x - 4, 0), max(r.y - 4, 0), r.width + 8, r.height + 8) for r in REGIONS]

def test_write(imgdiff_snapshot):
    imgdiff_snapshot(EXAMPLES / "left.png", "cat.png")

def test_ignore_boxes(imgdiff_snapshot):
    imgdiff_snapshot(RIGHT, "cat.png", ignore=BOXES)

def test_some_boxes_are_not_enough(imgdiff_snapshot):
    imgdiff_snapshot(RIGHT, "cat.png", ignore=BOXES[:2])

def test_mask_array(imgdiff_snapshot):
    mask = np.zeros((300, 451), bool)
    for x, y, w, h in BOXES:
        mask[y : y + h, x : x + w] = True
    imgdiff_snapshot(RIGHT, "cat.png", mask=mask)

def test_mask_file(imgdiff_snapshot, tmp_path):
    mask = np.zeros((300, 451), np.uint8)
    for x, y, w, h in BOXES:
        mask[y : y + h, x : x + w] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    imgdiff_snapshot(RIGHT, "cat.png", mask=tmp_path / "mask.png")

def test_max_regions(imgdiff_snapshot):
    imgdiff_snapshot(RIGHT, "cat.png", max_regions=4)

def test_max_regions_too_few(imgdiff_snapshot):
    imgdiff_snapshot(RIGHT, "cat.png", max_regions=3)

def test_sensitivity_exact_flags_jpeg(imgdiff_snapshot):
    ok, data = cv2.imencode(".jpg", cv2.imread(str(EXAMPLES / "left.png")), [cv2.IMWRITE_JPEG_QUALITY, 90])
    pixels = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    imgdiff_snapshot(pixels, "cat.png", sensitivity="exact")
"""
    )
    suite("--imgdiff-update", "-k", "test_write").assert_outcomes(passed=1, deselected=7)
    result = suite("-k", "not test_write")
    result.assert_outcomes(passed=4, failed=3)
    for name in ("test_some_boxes_are_not_enough", "test_max_regions_too_few", "test_sensitivity_exact_flags_jpeg"):
        result.stdout.fnmatch_lines([f"FAILED test_inner_options.py::{name}*"])


def test_snapshot_folder_from_ini_and_bad_names(pytester):
    pytester.makeini(STRICT_INI + "imgdiff_snapshot_dir = baselines\n")
    pytester.makepyfile(
        test_inner_names=f"""
import pytest
from pathlib import Path
EXAMPLES = Path({str(EXAMPLES)!r})

def test_ini(imgdiff_snapshot):
    imgdiff_snapshot(EXAMPLES / "left.png", "sub/cat.png")

@pytest.mark.parametrize("name", ["cat.jpg", "../cat.png", "/tmp/cat.png", ".png"])
def test_bad_name(imgdiff_snapshot, name):
    with pytest.raises(ValueError, match="relative file name ending in .png"):
        imgdiff_snapshot(EXAMPLES / "left.png", name)

def test_same_name_twice(imgdiff_snapshot):
    imgdiff_snapshot(EXAMPLES / "left.png", "twice.png")
    with pytest.raises(ValueError, match="used twice in this test"):
        imgdiff_snapshot(EXAMPLES / "left.png", "twice.png")

def test_bad_box(imgdiff_snapshot):
    with pytest.raises(ValueError, match="ignore box"):
        imgdiff_snapshot(EXAMPLES / "left.png", "box.png", ignore=[(-1, 0, 5, 5)])

def test_not_an_image(imgdiff_snapshot):
    with pytest.raises(TypeError, match="takes an ndarray, a PIL image or a path"):
        imgdiff_snapshot(42, "x.png")
"""
    )
    result = pytester.runpytest(*_plugin_args(), "-p", "no:cacheprovider", "--imgdiff-update")
    result.assert_outcomes(passed=8)
    assert (pytester.path / "baselines" / "test_inner_names" / "sub" / "cat.png").is_file()


def test_sixteen_bit_and_grey_baselines_round_trip(suite, pytester):
    pytester.makepyfile(
        test_inner_depths="""
import numpy as np

def test_inner_depths(imgdiff_snapshot):
    ramp = np.tile(np.arange(0, 65536, 256, dtype=np.uint16), (64, 1))
    imgdiff_snapshot(ramp, "grey16.png")
    imgdiff_snapshot(np.dstack([ramp, ramp[:, ::-1], ramp]), "rgb16.png")
    imgdiff_snapshot((ramp >> 8).astype(np.uint8), "grey8.png")
"""
    )
    suite("--imgdiff-update").assert_outcomes(passed=1)
    suite().assert_outcomes(passed=1)
    from imgdiff_gpu.loading import load_image

    folder = pytester.path / "__snapshots__" / "test_inner_depths"
    assert load_image(folder / "rgb16.png").pixels.dtype.name == "uint16"
    assert load_image(folder / "grey16.png").pixels[0, 255] == 65280


def test_the_entry_point_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'\[project\.entry-points\.pytest11\]\s*\nimgdiff = "imgdiff_gpu\.pytest_plugin"', text)
