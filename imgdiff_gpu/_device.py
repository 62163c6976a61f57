"""Where a computation runs: resolved once, at the public boundary.

``auto`` means the GPU when CuPy is importable and sees a CUDA device, else the
CPU. An explicit ``gpu`` with no usable device is an error, never a silent
fallback. CuPy is optional, so it is only imported here, lazily.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from .errors import DeviceError
from .options import DEVICE_CHOICES

Device = Literal["cpu", "gpu"]


@functools.cache
def _gpu_unavailable_reason() -> str | None:
    """Why the GPU path cannot run here, or None when it can."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed; install imgdiff-gpu[cuda12] or imgdiff-gpu[cuda13] to match your CUDA driver"
    except Exception as exc:  # a broken CUDA install raises all sorts of things
        return f"CuPy failed to import ({exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"CuPy sees no usable CUDA device ({exc})"
    if count < 1:
        return "CuPy sees no CUDA device"
    return None


def gpu_available() -> bool:
    """True when CuPy is importable and sees at least one CUDA device."""
    return _gpu_unavailable_reason() is None


def is_cupy_array(array: Any) -> bool:
    """True for a CuPy ndarray, without importing CuPy when it is not loaded."""
    return type(array).__module__.startswith("cupy")


def resolve_device(device: str, *arrays: Any) -> Device:
    """Turn ``auto``/``cpu``/``gpu`` into the device that will run the work.

    CuPy arrays are already on the GPU, so ``auto`` keeps them there.
    """
    if device not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {DEVICE_CHOICES}, got {device!r}")
    if device == "cpu":
        return "cpu"
    if device == "auto" and not any(is_cupy_array(a) for a in arrays):
        return "gpu" if gpu_available() else "cpu"
    reason = _gpu_unavailable_reason()
    if reason is not None:
        raise DeviceError(f"device 'gpu' was requested but {reason}; use device='cpu' or device='auto'")
    return "gpu"
