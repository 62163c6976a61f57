"""The CUDA sources: they compile cleanly, ship in the wheel, and stay out of the way."""

from __future__ import annotations

import re
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


# The specialisations the loader compiles: (file, defines beyond the shared constants).
def _ssim(element: str, sample: str, out: str, radius: int) -> tuple[str, dict]:
    return "ssim.cu", {"IMGDIFF_IN": element, "IMGDIFF_SAMPLE": sample, "IMGDIFF_OUT": out, "IMGDIFF_RADIUS": radius}


SPECIALISATIONS = [
    _ssim("unsigned char", "float", "double", 5),
    _ssim("short", "float", "float", 3),
    _ssim("double", "double", "double", 5),
    ("strength.cu", {"IMGDIFF_RADIUS": 5}),
    ("planes.cu", {"IMGDIFF_PIXEL": "unsigned short"}),
    ("histogram.cu", {}),
]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize(("source", "defines"), SPECIALISATIONS, ids=lambda v: v if isinstance(v, str) else None)
def test_kernel_compiles_without_warnings(source, defines, arch, tmp_path):
    from imgdiff_gpu.gpu.kernels import compile_options

    options = [o for o in compile_options(**defines) if o.startswith(("-D", "-I"))]
    source_path = str(ROOT / "kernels" / source)
    result = subprocess.run(
        ["nvcc", f"-arch={arch}", "-Werror", "all-warnings", *options, "-c", "-o", str(tmp_path / "k.o"), source_path],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr


def _nvrtc_library() -> str | None:
    """libnvrtc from $IMGDIFF_NVRTC, an nvidia-cuda-nvrtc wheel, or the system (None where there is none)."""
    import ctypes.util
    import importlib.util
    import os

    if os.environ.get("IMGDIFF_NVRTC"):
        return os.environ["IMGDIFF_NVRTC"]
    spec = importlib.util.find_spec("nvidia")
    for folder in spec.submodule_search_locations if spec else []:
        found = sorted(Path(folder).glob("*/lib/libnvrtc.so*"))
        if found:
            return str(found[0])
    return ctypes.util.find_library("nvrtc")


def _nvrtc_compile(library: str, source: str, options: list[str]) -> tuple[int, str]:
    """(result code, log) of NVRTC compiling ``source``: what CuPy's RawModule does, without a GPU."""
    import ctypes

    nvrtc = ctypes.CDLL(library)
    program = ctypes.c_void_p()
    assert nvrtc.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"kernel.cu", 0, None, None) == 0
    encoded = [o.encode() for o in options]
    result = nvrtc.nvrtcCompileProgram(program, len(encoded), (ctypes.c_char_p * len(encoded))(*encoded))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    return result, log.value.decode(errors="replace").strip()


@pytest.mark.skipif(
    _nvrtc_library() is None, reason="no libnvrtc (pip install nvidia-cuda-nvrtc, or set IMGDIFF_NVRTC)"
)
@pytest.mark.parametrize(("source", "defines"), SPECIALISATIONS, ids=lambda v: v if isinstance(v, str) else None)
def test_kernel_compiles_with_nvrtc_as_the_loader_asks(source, defines):
    from imgdiff_gpu.gpu.kernels import compile_options, read_source

    options = [*compile_options(**defines), "--gpu-architecture=compute_90"]
    result, log = _nvrtc_compile(_nvrtc_library(), read_source(source), options)
    assert result == 0 and log == "", log


def test_the_standalone_header_holds_the_python_constants():
    """kernels/standalone.cuh is generated from _kernels.shared_defines; regenerate it after changing one."""
    from imgdiff_gpu.gpu.kernels import STANDALONE_HEADER, standalone_header

    assert (ROOT / "kernels" / STANDALONE_HEADER).read_text() == standalone_header(), (
        "kernels/standalone.cuh is stale: run python -m imgdiff_gpu.gpu.kernels"
    )


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
@pytest.mark.parametrize("source", sorted(p.name for p in (ROOT / "kernels").glob("*.cu")))
def test_each_kernel_compiles_on_its_own(tmp_path, source):
    """As a developer checks one: nvcc with no options, the constants from the generated header."""
    result = subprocess.run(
        ["nvcc", "-arch=sm_90", "-Werror", "all-warnings", "-c", "-o", str(tmp_path / "k.o"), source],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT / "kernels",
    )
    assert result.returncode == 0, result.stderr


def test_each_kernel_names_the_cpu_code_it_mirrors():
    for source in sorted((ROOT / "kernels").iterdir()):
        match = re.search(r"[Mm]irrors (imgdiff_gpu/[\w/]+\.py) \((\w+)", source.read_text())
        assert match, f"{source.name} does not say which CPU function it mirrors"
        module, function = match.groups()
        assert f"def {function}(" in (ROOT / module).read_text(), f"{source.name}: {module} has no {function}"
        if source.suffix == ".cu":  # a stage's three twins share one base name
            assert module == f"imgdiff_gpu/cpu/{source.stem}.py", f"{source.name} mirrors {module}"
            assert (ROOT / "imgdiff_gpu" / "gpu" / f"{source.stem}.py").is_file(), f"no gpu/{source.stem}.py"


def test_shared_constants_come_from_their_python_definitions():
    from imgdiff_gpu.cpu.strength import NEAR
    from imgdiff_gpu.detection import HYSTERESIS_HIGH, HYSTERESIS_LOW, SSIM_HISTOGRAM_BINS
    from imgdiff_gpu.gpu.kernels import TILE_HEIGHT, TILE_WIDTH, compile_options

    options = set(compile_options(IMGDIFF_RADIUS=5))
    for name, value in [
        ("IMGDIFF_TILE_W", TILE_WIDTH),
        ("IMGDIFF_TILE_H", TILE_HEIGHT),
        ("IMGDIFF_NEAR", NEAR),
        ("IMGDIFF_LEVEL_LOW", float(HYSTERESIS_LOW)),
        ("IMGDIFF_LEVEL_HIGH", float(HYSTERESIS_HIGH)),
        ("IMGDIFF_BINS", SSIM_HISTOGRAM_BINS),
    ]:
        assert f"-D{name}={value!r}" in options
    # no kernel defines them itself; the generated standalone.cuh is checked against Python above
    for source in sorted(p for p in (ROOT / "kernels").iterdir() if p.name != "standalone.cuh"):
        assert not re.search(r"#define\s+IMGDIFF_(TILE_W|TILE_H|NEAR|LEVEL_LOW|LEVEL_HIGH|BINS)\b", source.read_text())


def test_loader_finds_sources_in_a_checkout():
    from imgdiff_gpu.gpu.kernels import kernel_source_dir, read_source

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
    pytest.importorskip("setuptools")
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
    assert "imgdiff_gpu/report_assets/report.js" in names
    assert any(name.startswith("imgdiff_gpu/cpu/_core.") for name in names), "the compiled CPU core"
