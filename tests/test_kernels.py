"""The CUDA sources: they compile cleanly, ship in the wheel, and stay out of the way."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNELS = sorted((ROOT / "kernels").glob("*.cu"))


def test_there_are_kernels():
    assert KERNELS, "kernels/ holds no .cu files"


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("source", KERNELS, ids=lambda p: p.name)
def test_kernel_compiles_without_warnings(source, arch, tmp_path):
    result = subprocess.run(
        ["nvcc", f"-arch={arch}", "-Werror", "all-warnings", "-c", "-o", str(tmp_path / "k.o"), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_each_kernel_names_the_cpu_function_it_mirrors():
    for source in KERNELS:
        assert "mirrors" in source.read_text().splitlines()[0], source


def test_loader_finds_sources_in_a_checkout():
    from imgdiff_gpu._kernels import kernel_source_dir, read_source

    assert kernel_source_dir() == ROOT / "kernels"
    assert read_source("ssim.cu").startswith(f'#line 1 "{ROOT / "kernels" / "ssim.cu"}"')


def test_import_works_without_cupy():
    code = (
        "import sys; sys.modules['cupy'] = None\n"  # makes 'import cupy' fail
        "import imgdiff_gpu, numpy as np\n"
        "from imgdiff_gpu._device import gpu_available\n"
        "assert not gpu_available()\n"
        "a = np.arange(400, dtype=np.uint8).reshape(20, 20)\n"
        "assert imgdiff_gpu.structural_similarity(a, a) == 1.0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_built_wheel_contains_the_kernels(tmp_path):
    pytest.importorskip("hatchling")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("imgdiff_gpu-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in (ROOT / "kernels").iterdir():  # the .cu files and the header they share
        assert f"imgdiff_gpu/kernels/{source.name}" in names
    assert "imgdiff_gpu/py.typed" in names
