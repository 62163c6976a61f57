"""Start-up: each command imports only what it uses, no JIT, and the warm-up loads what the comparison runs.

Each check runs in a fresh interpreter, since this one has imported everything
already, and looks at ``sys.modules`` (what was imported), never at the clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Modules a command must not import unless it uses them (each costs 30 ms to 0.5 s).
HEAVY = ("numba", "llvmlite", "skimage", "scipy", "av", "cv2", "cupy", "tqdm")


def imported_after(code: str) -> list[str]:
    """The HEAVY modules loaded after running ``code`` in a fresh interpreter."""
    probe = f"""
import sys
try:
{"".join(f"    {line}{chr(10)}" for line in code.splitlines())}
except SystemExit:
    pass
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


@pytest.mark.parametrize(
    "code",
    [
        "import imgdiff_gpu",
        "import imgdiff_gpu.cli",
        "from imgdiff_gpu.cli import cli; cli(['--help'])",
        "from imgdiff_gpu.cli import cli; cli(['--version'])",
        "from imgdiff_gpu.cli import cli; cli(['compare', '--help'])",
        "from imgdiff_gpu.cli import cli; cli(['video', '--help'])",
    ],
)
def test_imports_nothing_heavy(code):
    assert imported_after(code) == []


def test_missing_input_is_reported_before_anything_heavy_loads(tmp_path):
    code = f"from imgdiff_gpu.cli import cli; cli(['compare', {str(tmp_path / 'a.png')!r}, 'b.png', '--device', 'gpu'])"
    assert imported_after(code) == []


def test_structural_similarity_is_still_exported():
    import imgdiff_gpu

    assert "structural_similarity" in imgdiff_gpu.__all__
    assert imgdiff_gpu.structural_similarity.__module__ == "imgdiff_gpu.ssim"
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        imgdiff_gpu.nonsense  # noqa: B018


def run_fresh(code: str, timeout: int = 300) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_cpu_core_is_compiled_ahead_of_time_and_needs_nothing_to_load():
    """The kernels are a C extension: importing it loads neither NumPy nor a JIT."""
    code = """
import sys, importlib.machinery
import imgdiff_gpu.cpu._core as core
assert isinstance(core.__loader__, importlib.machinery.ExtensionFileLoader), core.__loader__
assert "numpy" not in sys.modules, "the core reads arrays through the buffer protocol"
print("ok")
"""
    assert run_fresh(code) == "ok"


def test_a_comparison_runs_no_jit(tmp_path):
    """``imgdiff compare`` on the example pair, every kernel called, and neither Numba nor LLVM loaded."""
    out = tmp_path / "out"
    code = (
        "from imgdiff_gpu.cli import cli; "
        f"cli(['compare', {str(ROOT / 'examples/left.png')!r}, {str(ROOT / 'examples/right.png')!r}, "
        f"'--device', 'cpu', '--out', {str(out)!r}])"
    )
    heavy = imported_after(code)
    assert "cv2" not in heavy  # regions, boxes and colours: the compiled core and NumPy
    assert "numba" not in heavy and "llvmlite" not in heavy, heavy
    assert (out / "report.json").exists()


def test_warmup_loads_everything_a_png_comparison_imports(tmp_path):
    """After the warm-up on tiny arrays, a real file pair imports nothing more to compare.

    What the warm-up is for: every import the comparison itself needs (not the
    report's) happens on the second thread while the images decode, none after.
    """
    code = f"""
import sys
import numpy as np
from PIL import Image
from imgdiff_gpu.cpu import warmup
rng = np.random.default_rng(0)
left = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
right = left.copy(); right[10:20, 10:20] = 255
for name, pixels in (("left.png", left), ("right.png", right)):
    Image.fromarray(pixels).save({str(tmp_path)!r} + "/" + name)
from imgdiff_gpu.job import CompareOptions, compare_files
with warmup.cpu_warmup("cpu"):
    pass
warmed = set(sys.modules)
assert "imgdiff_gpu.cpu._core" in warmed and "cv2" not in warmed
report = compare_files(left={str(tmp_path)!r} + "/left.png", right={str(tmp_path)!r} + "/right.png",
                       options=CompareOptions(device="cpu"))
assert report["different"], report
computing = ("imgdiff_gpu.cpu", "imgdiff_gpu.pipeline", "imgdiff_gpu.analysis", "imgdiff_gpu.detection",
             "imgdiff_gpu.regions", "imgdiff_gpu.planes", "cv2", "numpy", "scipy", "skimage")
# imgdiff_gpu.cpu.png_unfilter decodes the files: the reading imports it, on the read-ahead threads of a command
late = sorted(m for m in set(sys.modules) - warmed if m.startswith(computing) and m != "imgdiff_gpu.cpu.png_unfilter")
assert not late, late
assert "cv2" not in sys.modules  # the regions are grown and labelled by the compiled core
print("ok")
"""
    assert run_fresh(code, timeout=600) == "ok"


# What a comparison that writes neither a page nor a picture does not use. Each was imported by every
# run once: importlib.metadata and email for the page's version line (30-60 ms), html for its escaping,
# a thread pool for the picture encoders, tempfile for IMGDIFF_TRACEBACK's capture file, SciPy and
# scikit-image for nothing on this path, Pillow and the plugins it loads on its first open (50 ms)
# for a plain PNG, which OpenCV decodes; OpenCV itself (30 ms of CPU), which grew and labelled the
# regions before the compiled core did.
NOT_FOR_A_REPORT = (
    *("skimage", "scipy", "av", "tqdm", "cupy", "dask", "numba", "PIL", "cv2"),
    *("concurrent.futures", "importlib.metadata", "email", "tempfile", "html"),
)


def test_a_report_only_comparison_imports_only_what_it_uses():
    """``imgdiff compare L R --json -``, run as the command runs (warm-up thread and all), then sys.modules."""
    left, right = ROOT / "examples" / "left.png", ROOT / "examples" / "right.png"
    code = f"""
import sys
from imgdiff_gpu import cli
def look():
    heavy = [m for m in {NOT_FOR_A_REPORT!r} if m in sys.modules]
    print(f"imported {{heavy}}", file=sys.stderr, flush=True)
cli.os._exit = lambda status: (look(), sys.exit(status))
sys.argv = ["imgdiff", "compare", {str(left)!r}, {str(right)!r}, "--json", "-", "--device", "cpu"]
cli.main()
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # the example pair differs
    assert json.loads(done.stdout)["different"]
    lines = [line for line in done.stderr.splitlines() if line.startswith("imported")]
    assert lines == ["imported []"], done.stderr


# What writing the pictures and the page of a small pair does not need: the page's version line is
# read from the METADATA files (importlib.metadata and email: 25 ms), its assets from beside the
# module (importlib.resources: 8 ms), the staging names from os.urandom (secrets: 14 ms), and an
# icon's five pictures are encoded on the main thread (concurrent.futures).
NOT_FOR_SMALL_PICTURES = (
    *("skimage", "scipy", "av", "tqdm", "cupy", "dask", "numba", "PIL", "cv2"),
    *("concurrent.futures", "importlib.metadata", "importlib.resources", "email", "tempfile", "secrets"),
)


def test_a_small_comparison_with_pictures_imports_only_what_it_uses(tmp_path):
    """``imgdiff compare L R --out DIR`` of an icon, run as the command runs, then sys.modules."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    left = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    right = left.copy()
    right[10:30, 10:30] = 255
    for name, pixels in (("left.png", left), ("right.png", right)):
        Image.fromarray(pixels).save(tmp_path / name)
    out = tmp_path / "out"
    code = f"""
import sys
from imgdiff_gpu import cli
def look():
    heavy = [m for m in {NOT_FOR_SMALL_PICTURES!r} if m in sys.modules]
    print(f"imported {{heavy}}", file=sys.stderr, flush=True)
cli.os._exit = lambda status: (look(), sys.exit(status))
sys.argv = ["imgdiff", "compare", {str(tmp_path / "left.png")!r}, {str(tmp_path / "right.png")!r},
            "--out", {str(out)!r}, "--device", "cpu"]
cli.main()
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("imported")]
    assert lines == ["imported []"], done.stderr
    assert {p.name for p in out.iterdir()} >= {"diff.png", "mask.png", "report.html", "report.json"}


@pytest.mark.parametrize(
    ("setting", "large", "expected"), [(None, False, True), (None, True, False), ("1", True, True), ("0", False, False)]
)
def test_compare_asks_no_huge_pages_for_a_large_pair_unless_the_user_says(setting, large, expected):
    """``imgdiff compare`` turns NumPy's huge-page advice off for a large pair's comparison (see
    job.huge_pages_for), here the example pair with the size limit lowered, and puts it back after;
    a user's NUMPY_MADVISE_HUGEPAGE stands."""
    left, right = ROOT / "examples" / "left.png", ROOT / "examples" / "right.png"
    code = f"""
import sys
from imgdiff_gpu import cli, job
try:
    from numpy._core.multiarray import _set_madvise_hugepage  # NumPy 2; 1.x calls it numpy.core
except ImportError:
    from numpy.core.multiarray import _set_madvise_hugepage
job.LARGE_PAIR_PIXELS = {100 if large else 10**9}
def advice():
    now = _set_madvise_hugepage(False)
    _set_madvise_hugepage(now)
    return now
compare_with = job.compare_with
def looking(*args, **kwargs):
    print(f"huge pages {{advice()}}", file=sys.stderr, flush=True)
    return compare_with(*args, **kwargs)
job.compare_with = looking
def look(status):
    print(f"after {{advice()}}", file=sys.stderr, flush=True)
    sys.exit(status)
cli.os._exit = look
sys.argv = ["imgdiff", "compare", {str(left)!r}, {str(right)!r}, "--json", "-", "--device", "cpu"]
cli.main()
"""
    done = _run_with(code, "NUMPY_MADVISE_HUGEPAGE", setting)
    assert f"huge pages {expected}" in done.stderr.splitlines(), done.stderr
    assert f"after {setting != '0'}" in done.stderr.splitlines(), done.stderr  # NumPy's own setting again


def test_an_output_in_the_way_is_refused_before_the_inputs_are_read(tmp_path, monkeypatch):
    """An existing --json file costs a stat, not the decoding of both images first."""
    from click.testing import CliRunner

    from imgdiff_gpu import loading
    from imgdiff_gpu.cli import cli

    read = []
    monkeypatch.setattr(loading, "_read_and_decode", lambda path, max_pixels: read.append(path))
    existing = tmp_path / "report.json"
    existing.write_text("{}")
    left, right = ROOT / "examples" / "left.png", ROOT / "examples" / "right.png"
    result = CliRunner().invoke(cli, ["compare", str(left), str(right), "--json", str(existing), "--device", "cpu"])
    assert result.exit_code == 2
    assert "report.json: already exists" in result.output
    assert read == [] and existing.read_text() == "{}"


def test_compare_reads_its_inputs_while_numpy_and_opencv_load():
    """LEFT is read (and its chunks checked) on a thread of its own before OpenCV or Pillow is imported,
    while NumPy loads on the main thread; it decodes as soon as OpenCV is in."""
    left, right = ROOT / "examples" / "left.png", ROOT / "examples" / "right.png"
    code = f"""
import os, sys
target = {str(left)!r}
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and os.path.abspath(args[0]) == target:
        print(sorted(m for m in ("cv2", "PIL") if m in sys.modules), flush=True)
        os._exit(0)
sys.addaudithook(hook)
sys.argv = ["imgdiff", "compare", target, {str(right)!r}, "--json", "-", "--device", "cpu"]
from imgdiff_gpu.cli import main
main()
"""
    assert run_fresh(code) == "[]"


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), ("2", 2)])
def test_the_command_holds_openblas_to_one_thread_unless_the_user_says(setting, expected):
    """Nothing the command runs calls BLAS, and OpenBLAS's idle threads spin as NumPy loads: ``imgdiff``
    sets OPENBLAS_NUM_THREADS=1 before NumPy loads; a user's setting stands. Read back from the loaded
    OpenBLAS itself (skipped where NumPy is built against another BLAS)."""
    left, right = ROOT / "examples" / "left.png", ROOT / "examples" / "right.png"
    code = f"""
import ctypes, sys
from imgdiff_gpu import cli
def look(status):
    libraries = [line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line]
    names = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads")
    found = [getattr(ctypes.CDLL(path), name) for path in libraries[:1] for name in names
             if hasattr(ctypes.CDLL(path), name)]
    print(f"openblas threads {{found[0]() if found else None}}", file=sys.stderr, flush=True)
    sys.exit(status)
cli.os._exit = look
sys.argv = ["imgdiff", "compare", {str(left)!r}, {str(right)!r}, "--json", "-", "--device", "cpu"]
cli.main()
"""
    done = _run_with(code, "OPENBLAS_NUM_THREADS", setting)
    line = next(line for line in done.stderr.splitlines() if line.startswith("openblas threads"))
    if line == "openblas threads None":
        pytest.skip("NumPy here does not load OpenBLAS")
    assert line == f"openblas threads {expected}", done.stderr


def _run_with(code: str, variable: str, setting: str | None) -> subprocess.CompletedProcess:
    """``code`` (a compare of a differing pair) in a fresh Python with ``variable`` set to ``setting``
    (unset for None); it must end as a difference does, with 1."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop(variable, None)
    if setting is not None:
        env[variable] = setting
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    return done
