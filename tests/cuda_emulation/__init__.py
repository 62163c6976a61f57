"""The real CUDA kernels, compiled for the CPU and run under an emulation of CUDA.

``cuda_emulation.h`` maps the CUDA features the kernels use onto C++20 (threads,
barriers, a lock); this module compiles a kernel source with the system C++
compiler, exactly as the loader hands it to NVRTC (same text, same ``-D`` and
``-I`` options) plus that header, caches the shared library by a hash of
everything that went into it, and launches kernels through ctypes.

The cache lives in ``$IMGDIFF_EMULATION_CACHE``, else
``$XDG_CACHE_HOME/imgdiff-gpu/cuda-emulation`` (``~/.cache/...``).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

HEADER = Path(__file__).resolve().parent / "cuda_emulation.h"
_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*\(')
_SCALARS = {
    np.dtype(np.int32): ctypes.c_int32,
    np.dtype(np.uint32): ctypes.c_uint32,
    np.dtype(np.int64): ctypes.c_int64,
    np.dtype(np.uint64): ctypes.c_uint64,
    np.dtype(np.float32): ctypes.c_float,
    np.dtype(np.float64): ctypes.c_double,
}


class EmulationUnavailable(RuntimeError):
    """No C++20 compiler to build the emulation with."""


@functools.cache
def compiler() -> str | None:
    """The C++ compiler used: $CXX, else g++, else clang++, else c++ (None when there is none)."""
    for name in (os.environ.get("CXX"), "g++", "clang++", "c++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


_PROBE = 'extern "C" __global__ void probe(int* x) { __syncthreads(); atomicAdd(x, 1); }\n'


@functools.cache
def unavailable_reason() -> str | None:
    """Why kernels cannot be emulated here, or None when they can (a probe kernel is built once, cached)."""
    if compiler() is None:
        return "no C++ compiler (g++, clang++ or $CXX) to emulate the CUDA kernels with"
    try:
        compile_module(_PROBE)
    except (RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        return f"{compiler()} cannot build the C++20 CUDA emulation ({first})"
    return None


@functools.cache
def _compiler_identity(path: str) -> str:
    return subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout


def cache_dir() -> Path:
    if os.environ.get("IMGDIFF_EMULATION_CACHE"):
        return Path(os.environ["IMGDIFF_EMULATION_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "imgdiff-gpu" / "cuda-emulation"


def kernel_names(code: str) -> list[str]:
    """The ``extern "C" __global__`` functions of a source."""
    return _KERNEL.findall(code)


def _entry_points(names: list[str]) -> str:
    """One C entry per kernel: grid, block and CUDA-style kernelParams."""
    return "".join(
        f'\nextern "C" void imgdiff_emulation_launch_{name}(const unsigned* g, const unsigned* b, void** args) {{\n'
        f"    imgdiff_emulation::launch({name}, dim3{{g[0], g[1], g[2]}}, dim3{{b[0], b[1], b[2]}}, args);\n}}\n"
        for name in names
    )


def _build_options(options: tuple[str, ...]) -> tuple[list[str], list[Path]]:
    """NVRTC options → compiler flags: -D and -I carry over; NVRTC's own (--std, --gpu-architecture) do not."""
    flags, includes = [], []
    for option in options:
        if option.startswith("-D"):
            flags.append(option)
        elif option.startswith("-I"):
            includes.append(Path(option[2:]))
            flags.append(option)
    return flags, includes


class EmulatedModule:
    """A compiled kernel source; :meth:`launch` runs one of its kernels."""

    def __init__(self, library: Path, names: list[str]):
        self.path = library
        self.names = names
        self._library = ctypes.CDLL(str(library))

    def launch(self, name: str, grid: tuple[int, int, int], block: tuple[int, int, int], args) -> None:
        """Run kernel ``name``; ``args`` are NumPy arrays (pointers) and NumPy scalars, in order."""
        holders = []
        for arg in args:
            if isinstance(arg, np.ndarray):
                holders.append(ctypes.c_void_p(arg.ctypes.data))
            else:
                holders.append(_SCALARS[np.dtype(arg.dtype)](arg.item()))
        pointers = (ctypes.c_void_p * max(len(holders), 1))(*(ctypes.addressof(h) for h in holders))
        entry = getattr(self._library, f"imgdiff_emulation_launch_{name}")
        entry.restype = None
        entry(
            (ctypes.c_uint * 3)(*(int(v) for v in grid)),
            (ctypes.c_uint * 3)(*(int(v) for v in block)),
            pointers,
        )


@functools.cache
def _load(path: str, names: tuple[str, ...]) -> EmulatedModule:
    return EmulatedModule(Path(path), list(names))


def compile_module(code: str, options: tuple[str, ...] = ()) -> EmulatedModule:
    """Compile a CUDA source for the emulation (cached), as NVRTC would with these options."""
    cxx = compiler()
    if cxx is None:
        raise EmulationUnavailable("no C++ compiler (g++, clang++ or $CXX) to emulate the CUDA kernels with")
    flags, includes = _build_options(tuple(options))
    names = kernel_names(code)
    source = code + _entry_points(names)
    command = [cxx, "-std=c++20", "-O1", "-ffp-contract=off", "-fPIC", "-shared", "-pthread", "-w"]
    command += ["-include", str(HEADER), *flags, "-x", "c++"]
    digest = hashlib.sha256()
    for part in (source, HEADER.read_text(), _compiler_identity(cxx), " ".join(command)):
        digest.update(part.encode())
    for folder in includes:  # the headers a source includes from its own folder
        for header in sorted(folder.glob("*.cuh")) + sorted(folder.glob("*.h")):
            digest.update(header.name.encode() + header.read_bytes())
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    library = folder / f"{'-'.join(names) or 'module'}-{digest.hexdigest()[:20]}.so"
    if not library.exists():
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            source_path = Path(scratch) / "kernel.cu"
            source_path.write_text(source)
            built = Path(scratch) / "kernel.so"
            result = subprocess.run(
                [*command, str(source_path), "-o", str(built)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise RuntimeError(f"emulated compile failed ({cxx}, exit {result.returncode}):\n{result.stderr}")
            os.replace(built, library)  # atomic: parallel test runs never load half a file
    return _load(str(library), tuple(names))
