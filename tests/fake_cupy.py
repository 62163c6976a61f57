"""A stand-in for CuPy on the CPU whose kernels are the real ``kernels/*.cu``.

``RawModule`` compiles the source it is given, with the options it is given,
under the CUDA emulation of ``tests/cuda_emulation`` and runs the kernels
there, so every result a test checks came out of the CUDA code. Before each
launch it checks what CuPy does not: as many arguments as the kernel's
``extern "C"`` signature has, each pointer a contiguous array of the C type's
dtype, each scalar a NumPy scalar of the right width, and the block equal to
the tile the kernel was compiled for (``-DIMGDIFF_TILE_W/H``).
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
    "signed char": np.int8,
    "unsigned long long": np.uint64,
    "short": np.int16,
    "int": np.int32,
}


class ndarray(np.ndarray):
    def set(self, host, stream=None):
        global uploaded_bytes
        uploaded_bytes += np.asarray(host).nbytes
        np.copyto(self, host)

    def get(self):
        global fetched_bytes
        fetched_bytes += self.nbytes
        return np.array(self, copy=True).view(np.ndarray)


ndarray.__module__ = "cupy"


class OutOfMemoryError(MemoryError):
    """cupy.cuda.memory.OutOfMemoryError."""


# The largest single allocation the fake 'device' grants; tests lower it to force tiling.
allocation_limit = 1 << 62
largest_allocation = 0
# Bytes brought back to the host with .get() (tests check what a report-only run fetches).
fetched_bytes = 0
uploaded_bytes = 0
# Stream events in the order they happen, for the staging tests: ("record"/"wait"/"synchronize", stream id).
stream_log: list[tuple[str, int]] = []


class _Event:
    def __init__(self, stream):
        self.stream = stream

    def synchronize(self):
        stream_log.append(("synchronize", self.stream.id))


class _Stream:
    count = 0

    def __init__(self, non_blocking=False):
        _Stream.count += 1
        self.id, self.non_blocking = _Stream.count, non_blocking

    def record(self):
        stream_log.append(("record", self.id))
        return _Event(self)

    def wait_event(self, event):
        stream_log.append(("wait", self.id))


_NULL_STREAM = _Stream()

# NumPy functions that CuPy has under the same name and meaning; the fake lends them, on fake arrays.
_PASSTHROUGH = (
    "arange",
    "bincount",
    "clip",
    "count_nonzero",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "logical_not",
    "maximum",
    "median",
    "minimum",
    "nonzero",
    "ones",
    "sqrt",
    "take",
    "uint8",
    "uint16",
    "uint64",
    "where",
)


def _wrap(value):
    global largest_allocation
    array = np.asarray(value)
    if array.nbytes > allocation_limit:
        raise OutOfMemoryError(f"out of memory allocating {array.nbytes} bytes")
    largest_allocation = max(largest_allocation, array.nbytes)
    return array.view(ndarray)


def _wrapped(function):
    def call(*args, **kwargs):
        result = function(*(np.asarray(a) if isinstance(a, ndarray) else a for a in args), **kwargs)
        if isinstance(result, tuple):
            return tuple(_wrap(r) if isinstance(r, np.ndarray) else r for r in result)
        return _wrap(result) if isinstance(result, np.ndarray) else result

    return call


def _cupyx() -> types.ModuleType:
    """cupyx.scipy.ndimage's functions the package uses, backed by scipy.ndimage."""
    from scipy import ndimage

    def label(input, structure=None):
        labels, count = ndimage.label(np.asarray(input), structure=None if structure is None else np.asarray(structure))
        return _wrap(labels.astype(np.int32)), count

    def by_label(function):
        def call(input, labels, index):
            return _wrap(np.asarray(function(np.asarray(input), np.asarray(labels), np.asarray(index))))

        return call

    module = types.ModuleType("cupyx.scipy.ndimage")
    module.label = label
    module.binary_dilation = _wrapped(ndimage.binary_dilation)
    module.correlate1d = _wrapped(ndimage.correlate1d)
    module.minimum_filter = _wrapped(ndimage.minimum_filter)
    module.maximum_filter = _wrapped(ndimage.maximum_filter)
    module.minimum = by_label(ndimage.minimum)
    module.maximum = by_label(ndimage.maximum)
    return module


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
    def __init__(self, name, signature, defines, module):
        self.name, self.signature, self.defines, self.module = name, signature, defines, module

    def __call__(self, grid, block, args, stream=None):
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
        tile = (int(self.defines["IMGDIFF_TILE_W"]), int(self.defines["IMGDIFF_TILE_H"]), 1)
        assert tuple(block) == tile, f"{self.name}: block {tuple(block)} is not the compiled tile {tile}"
        launches.append((self.name, tuple(grid), tuple(block)))
        self.module.launch(self.name, grid, block, args)


# Every launch of the current test, (name, grid, block): tests count them.
launches: list[tuple[str, tuple, tuple]] = []


class RawModule:
    def __init__(self, code, options=()):
        from cuda_emulation import compile_module

        self.code = code
        self.defines = dict(o[2:].split("=", 1) for o in options if o.startswith("-D"))
        self.module = compile_module(code, tuple(options))

    def get_function(self, name):
        assert name in self.module.names, f"kernel {name} not in the source"
        return _Kernel(name, _signature(self.code, name, self.defines), self.defines, self.module)


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
    """Put the fake in sys.modules as 'cupy' for one test; the loader's caches start empty."""
    import imgdiff_gpu._device as device_module
    import imgdiff_gpu.gpu.kernels as kernels_module

    module = types.ModuleType("cupy")
    module.ndarray = ndarray
    module.asarray = asarray
    module.ascontiguousarray = lambda a, dtype=None: _wrap(np.ascontiguousarray(a, dtype=dtype))
    module.empty = lambda shape, dtype=np.float64: _wrap(np.empty(shape, dtype))
    module.fake = sys.modules[__name__]  # tests reach allocation_limit through this
    module.zeros = lambda shape, dtype=np.float64: _wrap(np.zeros(shape, dtype))
    module.moveaxis = lambda a, s, d: _wrap(np.moveaxis(a, s, d))
    module.stack = lambda arrays, axis=0: _wrap(np.stack([np.asarray(a) for a in arrays], axis=axis))
    module.clip = lambda a, lo, hi, out=None: np.clip(a, lo, hi, out=out)
    for name in _PASSTHROUGH:
        value = getattr(np, name)
        setattr(module, name, value if isinstance(value, type) else _wrapped(value))
    module.bool_ = np.bool_
    module.RawModule = RawModule
    stream_log.clear()
    module.cuda = types.SimpleNamespace(
        Device=_Device,
        runtime=types.SimpleNamespace(
            getDeviceCount=lambda: 1, getDeviceProperties=lambda index: {"name": b"CUDA emulation on the CPU"}
        ),
        memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError),
        Stream=_Stream,
        get_current_stream=lambda: _NULL_STREAM,
    )
    module.get_default_memory_pool = lambda: types.SimpleNamespace(
        free_all_blocks=lambda: None, total_bytes=lambda: largest_allocation
    )
    monkeypatch.setitem(sys.modules, "cupy", module)
    ndimage = _cupyx()
    scipy_module = types.ModuleType("cupyx.scipy")
    scipy_module.ndimage = ndimage
    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = scipy_module
    cupyx.empty_pinned = lambda shape, dtype=np.float64: np.empty(shape, dtype)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    monkeypatch.setitem(sys.modules, "cupyx.scipy", scipy_module)
    monkeypatch.setitem(sys.modules, "cupyx.scipy.ndimage", ndimage)
    monkeypatch.setattr(sys.modules[__name__], "allocation_limit", 1 << 62)
    monkeypatch.setattr(sys.modules[__name__], "fetched_bytes", 0)
    monkeypatch.setattr(sys.modules[__name__], "uploaded_bytes", 0)
    launches.clear()
    device_module._gpu_unavailable_reason.cache_clear()
    kernels_module._module.cache_clear()
    return module


def uninstall() -> None:
    """Forget what the loader cached while the fake was installed (call after monkeypatch undoes it)."""
    import imgdiff_gpu._device as device_module
    import imgdiff_gpu.gpu.kernels as kernels_module

    device_module._gpu_unavailable_reason.cache_clear()
    kernels_module._module.cache_clear()
