"""Integer pixels to float32 planes on the GPU: ``kernels/planes.cu``, the twin of ``cpu/planes.py``.

Pixels go up as stored (interleaved uint8/uint16, 1-4 channels); the planes,
bit for bit those of :func:`imgdiff_gpu.cpu.planes.plane_stack`, stay on the device.
"""

from __future__ import annotations

import numpy as np

from .kernels import get_kernel, launch

_PIXEL_TYPES = {np.dtype(np.uint8): "unsigned char", np.dtype(np.uint16): "unsigned short"}


def _get_planes_kernel(dtype: np.dtype):
    return get_kernel("planes.cu", "imgdiff_planes", IMGDIFF_PIXEL=_PIXEL_TYPES[np.dtype(dtype)])


def plane_stack_gpu(pixels, *, colour: bool, alpha: bool, scale: float, batch: bool = False):
    """H x W x P float32 CuPy planes of integer pixels (NumPy or CuPy); see ``_planes_cpu.plane_stack``.

    With ``batch``, ``pixels`` is N x H x W (x C) and the planes N x H x W x P, in one launch.
    """
    import cupy

    pixels = cupy.ascontiguousarray(cupy.asarray(pixels))
    if pixels.ndim == (3 if batch else 2):
        pixels = pixels[..., None]
    if not batch:
        pixels = pixels[None]
    count, height, width, channels = pixels.shape
    planes = 1 + (2 if colour else 0) + (1 if alpha else 0)
    out = cupy.empty((count, height, width, planes), dtype=cupy.float32)
    args = (
        pixels,
        out,
        np.int32(height),
        np.int32(width),
        np.int32(channels),
        np.int32(colour),
        np.int32(alpha),
        np.float64(scale),
    )
    launch(_get_planes_kernel(pixels.dtype), height, width, count, args)
    return out if batch else out[0]
