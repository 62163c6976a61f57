"""The GPU path's Python glue, run against tests/fake_cupy.py (no GPU needed).

Checks that every kernel launch matches its CUDA signature and that the data
comes back right; the CUDA code itself is checked only by the gpu-marked tests.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from fake_cupy import install
from skimage import data
from skimage.metrics import structural_similarity as skimage_ssim

import imgdiff_gpu._device as device_module
import imgdiff_gpu._kernels as kernels_module
from imgdiff_gpu import structural_similarity
from imgdiff_gpu.pipeline import compare

GAUSSIAN = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


@pytest.fixture
def fake_gpu(monkeypatch):
    cupy = install(monkeypatch)
    monkeypatch.setattr(cupy.fake, "allocation_limit", 1 << 62)
    device_module._gpu_unavailable_reason.cache_clear()
    kernels_module._module.cache_clear()
    yield cupy
    device_module._gpu_unavailable_reason.cache_clear()
    kernels_module._module.cache_clear()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("colour", [False, True], ids=["grey", "colour"])
@pytest.mark.parametrize("kwargs", [{}, GAUSSIAN], ids=["uniform", "gaussian"])
def test_structural_similarity_launch_and_results(fake_gpu, dtype, colour, kwargs):
    photo = data.astronaut()
    left = photo if colour else photo[..., 0]
    right = np.clip(left.astype(int) + 9 * (np.arange(left.size).reshape(left.shape) % 3) - 9, 0, 255)
    left, right = (np.asarray(x).astype(dtype) for x in (left, right))
    options = dict(kwargs, channel_axis=2 if colour else None)
    if dtype is np.float32:
        options["data_range"] = 255.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        m_ref, S_ref = skimage_ssim(left, right, full=True, **options)
        m, S = structural_similarity(left, right, full=True, device="gpu", **options)
    assert type(S) is np.ndarray and S.dtype == S_ref.dtype and S.shape == S_ref.shape
    assert abs(m - m_ref) <= (1e-4 if dtype is np.float32 else 1e-9)
    if dtype is np.float32:  # scikit-image filters float32 in float32; hold the map to its float64 run
        _, S_ref = skimage_ssim(left.astype(np.float64), right.astype(np.float64), full=True, **options)
    assert np.abs(S - S_ref).max() <= 1e-6


def test_cupy_in_cupy_out_and_batch(fake_gpu):
    from imgdiff_gpu._ssim_gpu import ssim_batch
    from imgdiff_gpu.ssim import ssim_params

    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (4, 60, 70), dtype=np.uint8)
    b = rng.integers(0, 256, (4, 60, 70), dtype=np.uint8)
    m, S = structural_similarity(fake_gpu.asarray(a[0]), fake_gpu.asarray(b[0]), full=True)
    assert type(S).__module__ == "cupy" and abs(m - skimage_ssim(a[0], b[0])) <= 1e-9
    params = ssim_params(a[0], b[0], win_size=None, data_range=None, gaussian_weights=True, use_sample_covariance=False)
    scores, maps = ssim_batch(list(a), list(b), params, want_maps=True)
    for i in range(4):
        m_ref, S_ref = skimage_ssim(a[i], b[i], full=True, **GAUSSIAN)
        assert abs(scores[i] - m_ref) <= 1e-9 and np.abs(maps[i] - S_ref).max() <= 1e-6


@pytest.mark.parametrize("options", [{}, {"antialiasing": True}, {"sensitivity": "exact"}], ids=str)
def test_compare_on_the_gpu_path_finds_what_the_cpu_path_finds(fake_gpu, options):
    left = data.chelsea()
    right = left.copy()
    right[100:130, 150:190] = left[220:250, 320:360]
    right[40:42, 60:200] = np.clip(right[40:42, 60:200].astype(int) + 18, 0, 255)
    ignore = np.zeros(left.shape[:2], bool)
    ignore[250:, :] = True
    cpu = compare(left, right, device="cpu", ignore=ignore, **options)
    gpu = compare(left, right, device="gpu", ignore=ignore, **options)
    assert gpu.device == "gpu"
    assert [r.as_dict() for r in gpu.regions] == [r.as_dict() for r in cpu.regions]
    assert gpu.score == pytest.approx(cpu.score, abs=1e-9)


def _edited_pair(height=300):
    left = data.chelsea()[:height]
    right = left.copy()
    right[100:130, 150:190] = left[200:230, 320:360]
    right[40:42, 60:200] = np.clip(right[40:42, 60:200].astype(int) + 18, 0, 255)
    right[:6, -6:] = (250, 20, 200)  # at the top border, which every band must treat as the image's
    return left, right


def test_bands_give_exactly_the_untiled_result(fake_gpu):
    from pictures import luma_analysis

    from imgdiff_gpu._compare_gpu import analyse_gpu
    from imgdiff_gpu.detection import thresholds_for

    pair, weights, params, _ = luma_analysis(*_edited_pair())
    args = (pair.left.planes, pair.right.planes, params, weights, thresholds_for("normal"))
    whole_map, whole_mask, whole_threshold, rows = analyse_gpu(*args, ignore=None, antialiasing=False)
    assert rows == 300
    row_bytes = 451 * (2 * 3 * 4 + 2 * 4 + 8 + 4 + 1 + 1)
    map_b, mask_b, threshold_b, rows_b = analyse_gpu(
        *args, ignore=None, antialiasing=False, budget_bytes=row_bytes * (64 + 10)
    )
    assert rows_b == 64
    assert np.array_equal(map_b, whole_map) and np.array_equal(mask_b, whole_mask) and threshold_b == whole_threshold


def test_out_of_memory_shrinks_bands_then_falls_back_to_the_cpu(fake_gpu):
    left, right = _edited_pair()
    cpu = compare(left, right, device="cpu")
    fake_gpu.fake.allocation_limit = 451 * 200 * 8  # a 200-row float64 map does not fit
    banded = compare(left, right, device="gpu")
    assert banded.device == "gpu" and any("bands of" in note for note in banded.notes)
    assert [r.as_dict() for r in banded.regions] == [r.as_dict() for r in cpu.regions]
    fake_gpu.fake.allocation_limit = 1000  # nothing fits
    fallback = compare(left, right, device="gpu")
    assert fallback.device == "cpu" and "computed on the CPU" in fallback.notes[-1]
    assert [r.as_dict() for r in fallback.regions] == [r.as_dict() for r in cpu.regions]


def test_cli_on_the_gpu_path(fake_gpu, tmp_path):
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from imgdiff_gpu.cli import cli

    examples = Path(__file__).resolve().parent.parent / "examples"
    result = CliRunner().invoke(
        cli, ["compare", str(examples / "left.png"), str(examples / "right.png"), "--device", "gpu", "--json", "-"]
    )
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["device"] == "gpu" and len(report["regions"]) == 4
