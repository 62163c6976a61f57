"""Deliberate bugs in copies of kernels/*.cu must each make the parity checks fail.

Each case copies the kernel sources, changes one thing (the border rule, the
formula, a threshold level, the reduction, the reach of "near a change", ...),
points the loader at the copy and runs the checks of tests/gpu_parity.py that
should catch it. A check that passes on a broken kernel is a check that cannot
fail. Runs on a GPU or under the emulation, like every gpu-marked test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gpu_parity import (
    check_compare,
    check_histogram,
    check_low_levels,
    check_planes,
    check_ssim,
    check_strength_levels,
    codec_noise_pair,
    edited_pair,
)

import imgdiff_gpu.gpu.kernels as kernels_module

pytestmark = pytest.mark.gpu

ROOT = Path(__file__).resolve().parent.parent


def _ssim_checks():
    check_ssim(np.uint8, "gaussian", colour=False, size=(37, 70))
    check_ssim(np.float64, "uniform", colour=False, size=(37, 70))


def _strength_checks():
    check_strength_levels(channels=3, antialiasing=True, size=(40, 72))
    check_strength_levels(channels=4, antialiasing=False, size=(40, 72))


def _low_checks():
    check_low_levels(*edited_pair((40, 72), channels=3))
    check_low_levels(*codec_noise_pair((64, 96), edited=True))


def _planes_checks():
    check_planes(np.uint8, 4, True, True)
    check_planes(np.uint16, 3, True, False)
    check_planes(np.uint8, 2, True, True)


def _histogram_checks():
    check_histogram()


def _pipeline_checks():
    check_compare({}, size=(56, 90))


# (what breaks, file, text, replacement, the checks that must notice)
MUTATIONS = [
    ("border rule", "common.cuh", "if (i < 0) return -i - 1;", "if (i < 0) return -i;", _ssim_checks),
    ("halo offset", "ssim.cu", "x0 + hx - IMGDIFF_RADIUS, width", "x0 + hx - IMGDIFF_RADIUS + 1, width", _ssim_checks),
    ("formula: C1 for C2", "ssim.cu", "(2.0 * ux_uy + C1)", "(2.0 * ux_uy + C2)", _ssim_checks),
    ("variance normalisation", "ssim.cu", "cov_norm * (usq - ux2_uy2)", "(usq - ux2_uy2)", _ssim_checks),
    ("cropped border", "ssim.cu", "gx >= crop &&", "gx > crop &&", _ssim_checks),
    (
        "reduction: one warp only",
        "ssim.cu",
        "thread < IMGDIFF_BLOCK_THREADS / 32 ? warp_sums[thread] : 0.0",
        "thread < 1 ? warp_sums[thread] : 0.0",
        _ssim_checks,
    ),
    (
        "reduction: shuffle step",
        "ssim.cu",
        "offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);\n    if",
        "offset > 1; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);\n    if",
        _ssim_checks,
    ),
    ("threshold level", "strength.cu", "strength >= IMGDIFF_LEVEL_LOW ?", "strength >= 0.45 ?", _strength_checks),
    (
        "reach of a change",
        "strength.cu",
        "k <= IMGDIFF_RADIUS + IMGDIFF_NEAR; ++k) hit |= near_row",
        "k < IMGDIFF_RADIUS + IMGDIFF_NEAR; ++k) hit |= near_row",
        _strength_checks,
    ),
    ("chroma term", "strength.cu", "sums[3] * sums[3]", "sums[2] * sums[2]", _strength_checks),
    ("suppression ignored", "strength.cu", "if (use_suppress && suppress[pixel])", "if (false)", _strength_checks),
    ("alpha plane dropped", "strength.cu", "if (alpha) strength", "if (false) strength", _strength_checks),
    ("luma threshold factor ignored", "strength.cu", "sums[0] / (double)luma_scale[here]", "sums[0]", _low_checks),
    (
        "luma threshold factor inverted",
        "strength.cu",
        "sums[0] / (double)luma_scale[here]",
        "sums[0] * (double)luma_scale[here]",
        _low_checks,
    ),
    ("coarse chroma term dropped", "strength.cu", "if (use_coarse) strength", "if (false) strength", _low_checks),
    ("coarse chroma term halved", "strength.cu", "(double)coarse[here])", "0.5 * (double)coarse[here])", _low_checks),
    (
        "interleaved luma stride",
        "ssim.cu",
        "(long long)gy * width + gx) * stride;",
        "(long long)gy * width + gx);",
        _pipeline_checks,
    ),
    ("texture term", "strength.cu", "sums[1] * inv_texture", "sums[0] * inv_texture", _pipeline_checks),
    ("chroma weight", "planes.cu", "713.0 * (1000.0 * r - n)", "713.0 * (1000.0 * g - n)", _planes_checks),
    ("opacity plane", "planes.cu", "(float)__dmul_rn(a, 1.0 / scale)", "(float)a", _planes_checks),
    ("premultiplied alpha", "planes.cu", "? scale * scale : scale", "? scale : scale", _planes_checks),
    (
        "histogram bins",
        "histogram.cu",
        "(s + 1.0) * (IMGDIFF_BINS / 2.0)",
        "(s + 1.0) * (IMGDIFF_BINS / 2.01)",
        _histogram_checks,
    ),
    ("histogram mask", "histogram.cu", "(!use_valid || valid[pixel])", "(true)", _histogram_checks),
    ("histogram merge", "histogram.cu", "if (local[b]) atomicAdd", "if (local[b] > 1) atomicAdd", _histogram_checks),
]


@pytest.mark.parametrize(("bug", "filename", "text", "replacement", "checks"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_broken_kernel_fails_the_parity_checks(bug, filename, text, replacement, checks, tmp_path, monkeypatch):
    copy = tmp_path / "kernels"
    shutil.copytree(ROOT / "kernels", copy)
    source = (copy / filename).read_text()
    assert source.count(text) == 1, f"the mutation of {filename} no longer applies: {text!r}"
    (copy / filename).write_text(source.replace(text, replacement))
    monkeypatch.setattr(kernels_module, "_SEARCH", (copy,))
    kernels_module._module.cache_clear()
    try:
        with pytest.raises(AssertionError):
            checks()
    finally:
        kernels_module._module.cache_clear()


def test_the_checks_pass_on_the_real_kernels():
    """The other half of the mutation test: the same checks pass without the bug."""
    _ssim_checks()
    _strength_checks()
    _low_checks()
    _pipeline_checks()
    _planes_checks()
    _histogram_checks()
