"""Loading the CUDA C sources in ``kernels/`` through CuPy, lazily, and launching them.

Sources are found inside an installed wheel (``imgdiff_gpu/kernels/``, put there
by the build) or, in a checkout, at the repository's top-level ``kernels/``.
Each module is compiled on first use, once per device and specialisation, with
``#line 1 "<file>"`` prepended so compiler errors point at the .cu file.
Nothing here imports CuPy at import time.

The constants both languages need are defined once, in Python, and reach the
kernels as ``-D`` flags (:func:`shared_defines`): the tile a block computes,
the reach of "near a change", the strength levels' cut-offs and the SSIM
histogram's bin count. One helper,
:func:`launch`, turns an image size into the block and grid of a tile kernel.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

_PACKAGE = Path(__file__).resolve().parent.parent  # imgdiff_gpu/
_SEARCH = (_PACKAGE / "kernels", _PACKAGE.parent / "kernels")

# Output pixels per block: 32 columns (a warp per row, coalesced loads) by 8 rows.
TILE_WIDTH, TILE_HEIGHT = 32, 8


def kernel_source_dir() -> Path:
    """The folder holding the .cu files, wheel first, then checkout."""
    for folder in _SEARCH:
        if (folder / "ssim.cu").is_file():
            return folder
    raise FileNotFoundError(f"CUDA kernel sources not found in {' or '.join(map(str, _SEARCH))}")


def read_source(name: str) -> str:
    path = kernel_source_dir() / name
    return f'#line 1 "{path}"\n' + path.read_text()


def shared_defines() -> dict[str, object]:
    """The constants every kernel is compiled with, from their one Python definition."""
    from ..cpu.strength import NEAR
    from ..detection import HYSTERESIS_HIGH, HYSTERESIS_LOW, SSIM_HISTOGRAM_BINS

    return {
        "IMGDIFF_TILE_W": TILE_WIDTH,
        "IMGDIFF_TILE_H": TILE_HEIGHT,
        "IMGDIFF_NEAR": NEAR,
        "IMGDIFF_LEVEL_LOW": repr(float(HYSTERESIS_LOW)),
        "IMGDIFF_LEVEL_HIGH": repr(float(HYSTERESIS_HIGH)),
        "IMGDIFF_BINS": SSIM_HISTOGRAM_BINS,
    }


STANDALONE_HEADER = "standalone.cuh"


def standalone_header() -> str:
    """``kernels/standalone.cuh`` as it must read: the shared constants, for a kernel compiled on its own.

    The loader passes every constant as ``-D``, so the header's ``#ifndef``s
    never apply at run time; they let ``nvcc -arch=sm_90 -c kernels/ssim.cu``
    check a kernel with no options at all. ``python -m imgdiff_gpu.gpu.kernels``
    writes it, and a test fails when it no longer matches these values.
    """
    lines = [
        "// Mirrors imgdiff_gpu/gpu/kernels.py (shared_defines), which writes it: python -m imgdiff_gpu.gpu.kernels",
        "// The loader passes each of these as -D; they apply only when a kernel is compiled on its own",
        "// (nvcc -arch=sm_90 -c kernels/ssim.cu), as a check that it compiles.",
        "#pragma once",
    ]
    for key, value in shared_defines().items():
        lines += [f"#ifndef {key}", f"#define {key} {value}", "#endif"]
    return "\n".join(lines) + "\n"


def compile_options(**defines: object) -> tuple[str, ...]:
    """NVRTC options for one specialisation: the shared constants plus ``defines``."""
    merged = {**shared_defines(), **defines}
    # -I: the kernels include common.cuh from their own folder
    return ("--std=c++17", f"-I{kernel_source_dir()}", *(f"-D{key}={merged[key]}" for key in sorted(merged)))


@functools.cache
def _module(device_id: int, filename: str, options: tuple[str, ...]):
    import cupy

    with cupy.cuda.Device(device_id):
        return cupy.RawModule(code=read_source(filename), options=options)


def get_kernel(filename: str, name: str, **defines: object):
    """The kernel ``name`` from ``kernels/filename``, compiled for this specialisation."""
    import cupy

    return _module(cupy.cuda.Device().id, filename, compile_options(**defines)).get_function(name)


def launch(kernel, height: int, width: int, planes: int, args: tuple, stream=None) -> None:
    """Run a tile kernel over ``planes`` planes of height x width: one block per tile."""
    grid = (-(-width // TILE_WIDTH), -(-height // TILE_HEIGHT), planes)
    block = (TILE_WIDTH, TILE_HEIGHT, 1)
    if stream is None:
        kernel(grid, block, args)
    else:
        kernel(grid, block, args, stream=stream)


def inverse_threshold(threshold: float) -> np.float64:
    """1 / threshold as the kernels take it; the floor is the CPU pass's (``_strength_cpu``)."""
    from ..cpu.strength import inverse_threshold as cpu_inverse

    return np.float64(cpu_inverse(threshold))


if __name__ == "__main__":  # regenerate kernels/standalone.cuh after changing a shared constant
    (_PACKAGE.parent / "kernels" / STANDALONE_HEADER).write_text(standalone_header())
