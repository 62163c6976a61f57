"""Loading the CUDA C sources in ``kernels/`` through CuPy, lazily.

Sources are found inside an installed wheel (``imgdiff_gpu/kernels/``, put there
by the build) or, in a checkout, at the repository's top-level ``kernels/``.
Each module is compiled on first use, once per device and specialisation, with
``#line 1 "<file>"`` prepended so compiler errors point at the .cu file.
Nothing here imports CuPy at import time.
"""

from __future__ import annotations

import functools
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SEARCH = (_PACKAGE / "kernels", _PACKAGE.parent / "kernels")


def kernel_source_dir() -> Path:
    """The folder holding the .cu files, wheel first, then checkout."""
    for folder in _SEARCH:
        if (folder / "ssim.cu").is_file():
            return folder
    raise FileNotFoundError(f"CUDA kernel sources not found in {' or '.join(map(str, _SEARCH))}")


def read_source(name: str) -> str:
    path = kernel_source_dir() / name
    return f'#line 1 "{path}"\n' + path.read_text()


@functools.cache
def _module(device_id: int, filename: str, defines: tuple[tuple[str, str], ...]):
    import cupy

    # -I: the kernels include common.cuh from their own folder
    options = ("--std=c++17", f"-I{kernel_source_dir()}", *(f"-D{key}={value}" for key, value in defines))
    with cupy.cuda.Device(device_id):
        return cupy.RawModule(code=read_source(filename), options=options)


def get_kernel(filename: str, name: str, **defines: object):
    """The kernel ``name`` from ``kernels/filename``, compiled for this specialisation."""
    import cupy

    key = tuple(sorted((k, str(v)) for k, v in defines.items()))
    return _module(cupy.cuda.Device().id, filename, key).get_function(name)
