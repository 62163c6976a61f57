"""A stand-in for CuPy that checks kernel launches against the CUDA sources, on the CPU.

It cannot tell whether the CUDA code is right -- only a GPU can -- but it checks
everything around it: each launch passes as many arguments as the kernel's
``extern "C"`` signature in kernels/*.cu has, each pointer is an array of the
C type's dtype, each scalar a NumPy scalar of the right width (CuPy does not
check these), the grid covers the image, and the Python glue moves data and
shapes correctly. Kernels then run their CPU twins, so results can be compared
with scikit-image as on a GPU.
"""

from __future__ import annotations

import re
import sys
import types

import numpy as np

_C_TYPES = {
    "float": np.float32,
    "double": np.float64,
    "unsigned char": np.uint8,
    "unsigned short": np.uint16,
    "int": np.int32,
}


class ndarray(np.ndarray):
    def get(self):
        return np.array(self, copy=True).view(np.ndarray)


ndarray.__module__ = "cupy"


class OutOfMemoryError(MemoryError):
    """cupy.cuda.memory.OutOfMemoryError."""


# The largest single allocation the fake 'device' grants; tests lower it to force tiling.
allocation_limit = 1 << 62
largest_allocation = 0


def _wrap(value):
    global largest_allocation
    array = np.asarray(value)
    if array.nbytes > allocation_limit:
        raise OutOfMemoryError(f"out of memory allocating {array.nbytes} bytes")
    largest_allocation = max(largest_allocation, array.nbytes)
    return array.view(ndarray)


def asarray(value, dtype=None):
    if isinstance(value, ndarray) and dtype is None:
        return value
    return _wrap(np.asarray(np.asarray(value), dtype=dtype))


def _signature(code: str, name: str, defines: dict[str, str]) -> list[tuple[str, bool]]:
    """[(C type, is pointer)] of a kernel's parameters, macros expanded."""
    match = re.search(rf"{name}\s*\(([^)]*)\)", code, re.S)
    assert match, f"kernel {name} not found"
    params = []
    for raw in match.group(1).split(","):
        text = re.sub(r"__restrict__|const", " ", raw)
        for key, value in defines.items():
            text = re.sub(rf"\b{key}\b", value, text)
        pointer = "*" in text
        words = text.replace("*", " ").split()[:-1]  # drop the parameter name
        params.append((" ".join(words), pointer))
    return params


class _Kernel:
    def __init__(self, name, signature, defines, run):
        self.name, self.signature, self.defines, self.run = name, signature, defines, run

    def __call__(self, grid, block, args):
        assert len(args) == len(self.signature), f"{self.name}: {len(args)} args for {len(self.signature)} params"
        for index, (arg, (ctype, pointer)) in enumerate(zip(args, self.signature, strict=True)):
            expected = np.dtype(_C_TYPES[ctype])
            if pointer:
                assert isinstance(arg, ndarray), f"{self.name} arg {index}: pointer wants a cupy array, got {type(arg)}"
                assert arg.dtype == expected, f"{self.name} arg {index}: {arg.dtype} for {ctype}*"
                assert arg.flags.c_contiguous, f"{self.name} arg {index}: not contiguous"
            else:
                assert isinstance(arg, np.generic), f"{self.name} arg {index}: {type(arg)} for {ctype}"
                assert arg.dtype == expected, f"{self.name} arg {index}: {arg.dtype} for {ctype}"
        assert len(grid) == 3 and len(block) == 3
        self.run(grid, block, args, self.defines)


def _run_ssim(grid, block, args, defines):
    from imgdiff_gpu._ssim_cpu import ssim_map_2d
    from imgdiff_gpu.ssim import SSIMParams

    im1, im2, weights, ssim_map, sums, height, width, crop, C1, C2, cov_norm, write_map = args
    assert int(defines["IMGDIFF_RADIUS"]) == len(weights) // 2
    assert grid[0] * block[0] >= width and grid[1] * block[1] >= height and grid[2] == im1.shape[0]
    params = SSIMParams(np.asarray(weights), int(crop), float(cov_norm), float(C1), float(C2), np.dtype(np.float64))
    for plane in range(grid[2]):
        S = ssim_map_2d(np.asarray(im1[plane]), np.asarray(im2[plane]), params)
        inner = S[crop : height - crop, crop : width - crop]
        sums[plane] += inner.sum()
        if write_map:
            ssim_map[plane] = S


def _run_strength(grid, block, args, defines):
    from imgdiff_gpu._strength_cpu import strength_map

    left, right, ssim_map, weights, suppress, use_suppress, levels, height, width, planes, *inverses = args
    assert left.shape == (height, width, planes) and levels.shape == (height, width)
    assert grid[0] * block[0] >= width and grid[1] * block[1] >= height
    inv_luma, inv_chroma, inv_texture, inv_ssim = (float(v) for v in inverses)
    strength = strength_map(
        np.asarray(left),
        np.asarray(right),
        np.asarray(ssim_map),
        np.asarray(weights),
        luma=1 / inv_luma,
        chroma=1 / inv_chroma,
        texture=1 / inv_texture,
        ssim_threshold=1 - 1 / inv_ssim,
        suppress=np.asarray(suppress).astype(bool) if use_suppress else None,
    )
    levels[...] = (strength >= 0.5).astype(np.uint8) + (strength >= 1.0)


_RUNNERS = {"imgdiff_ssim": _run_ssim, "imgdiff_strength": _run_strength}


class RawModule:
    def __init__(self, code, options=()):
        self.code = code
        self.defines = dict(o[2:].split("=", 1) for o in options if o.startswith("-D"))

    def get_function(self, name):
        return _Kernel(name, _signature(self.code, name, self.defines), self.defines, _RUNNERS[name])


class _Device:
    def __init__(self, index=0):
        self.id = index

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


def install(monkeypatch) -> types.ModuleType:
    """Put the fake in sys.modules as 'cupy' for one test."""
    module = types.ModuleType("cupy")
    module.ndarray = ndarray
    module.asarray = asarray
    module.ascontiguousarray = lambda a: _wrap(np.ascontiguousarray(a))
    module.empty = lambda shape, dtype=np.float64: _wrap(np.empty(shape, dtype))
    module.fake = sys.modules[__name__]  # tests reach allocation_limit through this
    module.zeros = lambda shape, dtype=np.float64: _wrap(np.zeros(shape, dtype))
    module.moveaxis = lambda a, s, d: _wrap(np.moveaxis(a, s, d))
    module.stack = lambda arrays: _wrap(np.stack([np.asarray(a) for a in arrays]))
    module.clip = lambda a, lo, hi, out=None: np.clip(a, lo, hi, out=out)
    module.bincount = lambda a, minlength=0: _wrap(np.bincount(np.asarray(a), minlength=minlength))
    for name in ("float32", "float64", "int32", "uint8", "uint16"):
        setattr(module, name, getattr(np, name))
    module.RawModule = RawModule
    module.cuda = types.SimpleNamespace(
        Device=_Device,
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
        memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError),
    )
    module.get_default_memory_pool = lambda: types.SimpleNamespace(free_all_blocks=lambda: None)
    monkeypatch.setitem(sys.modules, "cupy", module)
    return module
