"""The compiled CPU core (``imgdiff_gpu/cpu/c/``): the Numba kernels' values, threads, argument checks.

What the kernels compute is tested against its definitions elsewhere (SSIM
against scikit-image in test_ssim_parity.py, the strength, planes and
histogram in test_detection.py, the screen in test_screening.py); here, what
the port from Numba must keep and what the C adds.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from imgdiff_gpu._ssim_params import ssim_params
from imgdiff_gpu.cpu import _core, threads
from imgdiff_gpu.cpu.histogram import ssim_histogram_cpu
from imgdiff_gpu.cpu.planes import plane_stack
from imgdiff_gpu.cpu.screen import frame_steps
from imgdiff_gpu.cpu.ssim import ssim_map_2d, ssim_map_and_bounds
from imgdiff_gpu.cpu.strength import strength_map


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def float64_pair():
    rng = np.random.default_rng(2004)
    x = rng.random((67, 131))
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    left = rng.random((67, 131, 3)).astype(np.float32)
    right = (left + rng.normal(0, 0.05, left.shape)).astype(np.float32)
    return x, y, left, right


def test_kernels_give_the_numba_kernels_bits():
    """Digests the Numba kernels (fastmath={"contract"}, commit 8e47416) gave for these inputs on an AVX-512 EPYC.

    Float64 images are where fused multiply-adds show: with the fma() calls in
    the C written as a * b + c, the SSIM map's digest is 93a2fd561294d5b7.
    """
    x, y, left, right = float64_pair()
    params = ssim_params(x, y, win_size=None, data_range=1.0, gaussian_weights=True)
    ssim_map = ssim_map_2d(x, y, params)
    assert digest(ssim_map) == "36ea7edf166e9c4d"
    strength = strength_map(
        left, right, ssim_map, params.weights, luma=0.02, chroma=0.03, texture=0.05, ssim_threshold=0.6
    )
    assert digest(strength) == "10883f3cacadc3b7"


def run_on_threads(count: int, work):
    """``work()`` on a fresh thread whose kernels run on ``count`` threads."""
    result = {}

    def body():
        threads.set_num_threads(count)
        result["threads"] = threads.get_num_threads()
        result["value"] = work()

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    return result


def test_thread_count_belongs_to_the_calling_thread():
    mine = threads.get_num_threads()
    assert mine >= 1
    assert run_on_threads(1, lambda: None)["threads"] == 1
    assert threads.get_num_threads() == mine  # another thread's setting is not ours
    with pytest.raises(ValueError, match="at least 1, got 0"):
        threads.set_num_threads(0)


def test_no_value_depends_on_the_thread_count():
    x, y, left, right = float64_pair()
    params = ssim_params(x, y, win_size=None, data_range=1.0, gaussian_weights=True)
    counted = np.random.default_rng(1).random(x.shape) < 0.5

    def everything():
        ssim_map, shift, lowest = ssim_map_and_bounds(x, y, params, counted=counted)
        strength = strength_map(
            left, right, ssim_map, params.weights, luma=0.02, chroma=0.03, texture=0.05, ssim_threshold=0.6
        )
        return digest(ssim_map), shift, lowest, digest(strength), digest(ssim_histogram_cpu(ssim_map, None, 256))

    one = run_on_threads(1, everything)["value"]
    four = run_on_threads(4, everything)["value"]
    assert one == four


@pytest.mark.parametrize("count", [1, 2, 4])
def test_the_strength_is_zero_exactly_where_no_pixel_near_differs(count):
    """Strips without a differing pixel within NEAR rows are written as +0 without their evidence
    being computed: the strength is not 0 on exactly the pixels within NEAR (Chebyshev) of a
    differing one, at every row a change can fall on against the strips (16 to 64 rows, by the
    thread count), so none is skipped that a change near its edge reaches."""
    import cv2

    from imgdiff_gpu.cpu.strength import NEAR, strength_levels_map

    rng = np.random.default_rng(8)
    left = rng.random((100, 23, 3)).astype(np.float32)
    weights = np.exp(-(np.arange(-5, 6) ** 2) / 4.5)  # the SSIM window: its evidence reaches past NEAR
    weights /= weights.sum()
    ssim_map = np.ones(left.shape[:2])
    settings = {"luma": 1e-6, "chroma": 1e-6, "texture": 1.0, "ssim_threshold": 0.5}
    square = np.ones((2 * NEAR + 1, 2 * NEAR + 1), np.uint8)

    def every_row():
        found = []
        for y in range(left.shape[0]):
            right = left.copy()
            right[y, y % 23, y % 3] += np.float32(0.25)  # one plane of one pixel: luma or chroma evidence alone
            strength = strength_map(left, right, ssim_map, weights, **settings)
            levels = strength_levels_map(left, right, ssim_map, weights, **settings)
            near = cv2.dilate((left != right).any(axis=2).view(np.uint8), square) > 0
            found.append((strength, levels, near))
        return found

    for strength, levels, near in run_on_threads(count, every_row)["value"]:
        np.testing.assert_array_equal(strength != 0, near)
        assert not np.signbit(strength).any()  # +0, as the pass masks a value
        np.testing.assert_array_equal(levels, np.where(near, 2, 0))


@pytest.mark.parametrize("count", [1, 2])
def test_the_levels_leave_out_the_texture_only_where_the_ssim_term_stays_below_the_cut_off(count):
    """The levels pass skips the texture term on strips whose SSIM term stays below the low cut-off:
    its levels stay the strength's, with the SSIM term just above the cut-off at one pixel of a strip,
    or just below it by less than float32 rounds away (0.5 - 1e-9: the float32 strength is 0.5)."""
    from imgdiff_gpu.cpu.strength import strength_levels_map
    from imgdiff_gpu.detection import strength_levels

    rng = np.random.default_rng(9)
    left = rng.random((300, 61, 3)).astype(np.float32)
    right = left + rng.normal(0, 0.01, left.shape).astype(np.float32)
    weights = np.exp(-(np.arange(-5, 6) ** 2) / 4.5)
    weights /= weights.sum()
    ssim_map = np.full(left.shape[:2], 0.9)  # the SSIM term (1 - S) / (1 - 0.5) = 0.2: skipped
    for y, x, term in ((5, 3, 0.5 + 1e-9), (70, 30, 0.5 - 1e-9), (140, 60, 0.6), (299, 0, 0.5)):
        ssim_map[y, x] = 1.0 - term * 0.5
    settings = {"luma": 1e3, "chroma": 1e3, "texture": 1e-6, "ssim_threshold": 0.5}

    def both():
        strength = strength_map(left, right, ssim_map, weights, **settings)
        return strength, strength_levels_map(left, right, ssim_map, weights, **settings)

    strength, levels = run_on_threads(count, both)["value"]
    np.testing.assert_array_equal(levels, strength_levels(strength))
    assert np.count_nonzero(levels) == 4  # the four pixels whose structural term reaches the cut-off


def test_histogram_bins_strays_as_numba_did():
    """NaN and values past the int64 range land in bin 0 (x86's conversion gives the smallest integer)."""
    ssim_map = np.array([[np.nan, np.inf, -np.inf, 1e300, -1e300, 5.0, -5.0, 0.0]])
    counts = ssim_histogram_cpu(ssim_map, None, 256)
    assert counts[0] == 6 and counts[255] == 1 and counts[128] == 1


def test_screen_luma_is_the_image_paths():
    rng = np.random.default_rng(3)
    left = rng.integers(0, 256, (23, 41, 3), dtype=np.uint8)
    right = rng.integers(0, 256, (23, 41, 3), dtype=np.uint8)
    luma_left, luma_right, _, _, d_rgb = frame_steps(left, right, reach=None)
    np.testing.assert_array_equal(luma_left, plane_stack(left, colour=True, alpha=False, scale=255.0)[..., 0])
    np.testing.assert_array_equal(luma_right, plane_stack(right, colour=True, alpha=False, scale=255.0)[..., 0])
    assert d_rgb == np.abs(left.astype(int) - right).max()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda x, o: _core.ssim(x.astype(np.int64), x.astype(np.int64), None, np.ones(3) / 3, 1, 1, 1, 8, o, None),
            TypeError,
            "x: no kernel for int64 elements",
        ),
        (
            lambda x, o: _core.ssim(x, x.astype(np.int8), None, np.ones(3) / 3, 1, 1, 1, 8, o, None),
            TypeError,
            "one type, got uint8 and int8",
        ),
        (
            lambda x, o: _core.ssim(x, x, None, np.ones(3) / 3, 1, 1, 1, 8, o[:5], None),
            ValueError,
            "out: axis 0 has 5 elements, expected 20",
        ),
        (lambda x, o: _core.ssim(x, x, None, np.ones(2) / 2, 1, 1, 1, 8, o, None), ValueError, "odd window"),
        (
            lambda x, o: _core.ssim(x, x, None, np.ones(3) / 3, 1, 1, 1, 8, o[:, ::2], None),
            ValueError,
            "contiguous",
        ),
        (
            lambda x, o: _core.ssim(x, x, None, np.ones(3) / 3, 1, 1, 1, 8, np.zeros((20, 30), np.float32), None),
            TypeError,
            "out: no kernel for float32",
        ),
        (
            lambda x, o: _core.planes(
                x[..., None].astype(np.int16), 1.0, False, False, o[..., None].astype(np.float32)
            ),
            TypeError,
            "pixels: no kernel for int16",
        ),
        (
            lambda x, o: _core.histogram(o, None, 256, np.zeros((1, 256), np.int32)),
            TypeError,
            "counts: no kernel for int32",
        ),
    ],
)
def test_arguments_are_checked(call, error, match):
    """The wrappers prepare every array; a mistake in one is an exception, never a stray write."""
    x = np.zeros((20, 30), np.uint8)
    with pytest.raises(error, match=match):
        call(x, np.zeros((20, 30)))


@pytest.mark.parametrize("step", [2, 3, -1])
def test_ssim_reads_strided_planes_in_place(step):
    """A plane of a stack (or any strided view) gives, bit for bit, the map of its contiguous copy."""
    rng = np.random.default_rng(7)
    stack = rng.random((37, 45 * abs(step)), dtype=np.float32)
    x, y = stack[:, ::step], np.ascontiguousarray(stack[::-1])[:, ::step]
    weights = np.ones(5) / 5
    strided, copied = np.empty(x.shape), np.empty(x.shape)
    _core.ssim(x, y, None, weights, 1e-4, 9e-4, 1.0, 8, strided, None)
    _core.ssim(np.ascontiguousarray(x), np.ascontiguousarray(y), None, weights, 1e-4, 9e-4, 1.0, 8, copied, None)
    assert digest(strided) == digest(copied)


@pytest.mark.parametrize("taps", [11, 7, 5])
def test_ssim_map_is_the_same_whatever_the_strips(taps):
    """The pass filters two output rows' windows together, and a strip's odd last row alone
    (c/ssim.c): strips of one row (every row alone), of odd and even heights and one strip of
    all the rows give one map and one pair of statistics, bit for bit."""
    x, y, _, _ = float64_pair()
    weights = np.ones(taps) / taps
    counted = np.random.default_rng(3).random(x.shape) < 0.7
    results = set()
    for strip_rows in (1, 2, 3, 16, 17, x.shape[0]):
        out = np.empty(x.shape)
        stats = np.empty((-(-x.shape[0] // strip_rows), 2))
        _core.ssim(x, y, counted, weights, 1e-4, 9e-4, 1.0, strip_rows, out, stats)
        results.add((digest(out), stats[:, 0].max(), stats[:, 1].min()))
    assert len(results) == 1


def test_read_only_outputs_are_refused():
    x = np.zeros((20, 30), np.uint8)
    out = np.zeros((20, 30))
    out.setflags(write=False)
    with pytest.raises((BufferError, ValueError), match=r"writable|read-only"):
        _core.ssim(x, x, None, np.ones(3) / 3, 1.0, 1.0, 1.0, 8, out, None)


def test_each_c_file_names_its_python_wrapper_and_cuda_twin():
    """As each kernels/*.cu names the CPU function it mirrors, each C file names its wrapper and its kernel
    (or, for a stage the device runs in CuPy's own operations, its module in imgdiff_gpu/gpu/)."""
    core = Path(_core.__file__).parent / "c"
    if not core.is_dir():  # an installed wheel carries the compiled core only
        pytest.skip("the C sources are not beside the installed package")
    root = core.parents[2]
    for source in sorted(core.glob("*.c")):
        if source.stem == "module":
            continue
        opening = source.read_text().split("*/", 1)[0]
        wrapper = f"imgdiff_gpu/cpu/{source.stem}.py"
        assert wrapper in opening and (root / wrapper).is_file(), f"{source.name} does not name {wrapper}"
        kernel = re.search(r"kernels/\w+\.cu|imgdiff_gpu/gpu/\w+\.py", opening)
        if kernel is None and "No CUDA twin: " in opening:  # says why (png_unfilter.c: inputs decode on the CPU)
            continue
        assert kernel and (root / kernel[0]).is_file(), f"{source.name} names no kernels/*.cu or GPU twin"


def test_a_checkout_without_the_built_core_says_how_to_build_it():
    code = (
        "import sys; sys.modules['imgdiff_gpu.cpu._core'] = None\n"  # as if never built
        "import imgdiff_gpu.cpu.ssim\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "the compiled CPU kernels, cannot be loaded" in done.stderr
    assert "pip install -e ." in done.stderr


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_sleep_between_loops_unless_the_user_says_otherwise(given, expected):
    """The core sets OMP_WAIT_POLICY before OpenMP starts (see cpu/compiled.py), keeping a user's own."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    code = "import os, imgdiff_gpu.cpu.compiled; print(os.environ['OMP_WAIT_POLICY'])"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
