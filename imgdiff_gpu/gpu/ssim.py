"""SSIM on the GPU: the fused kernel of ``kernels/ssim.cu``, mirroring cpu/ssim.py.

NumPy in → NumPy out; CuPy in → CuPy out. Colour channels and batches are laid
out as planes (one grid z-slice each), so one launch covers them all.
"""

from __future__ import annotations

import numpy as np

from .._device import is_cupy_array
from .._ssim_params import SSIMParams, kernel_input_dtype
from .kernels import get_kernel, launch

# C element type and tile sample type of each kernel input dtype of the policy
# (_ssim_params.KERNEL_INPUT); the sample type holds every input value exactly.
_C_TYPES = {
    np.dtype(np.uint8): ("unsigned char", "float"),
    np.dtype(np.int8): ("signed char", "float"),
    np.dtype(np.uint16): ("unsigned short", "float"),
    np.dtype(np.int16): ("short", "float"),
    np.dtype(np.float32): ("float", "float"),
    np.dtype(np.float64): ("double", "double"),
}


def _get_ssim_kernel(in_dtype: np.dtype, out_dtype: np.dtype, radius: int):
    element, sample = _C_TYPES[in_dtype]
    return get_kernel(
        "ssim.cu",
        "imgdiff_ssim",
        IMGDIFF_IN=element,
        IMGDIFF_SAMPLE=sample,
        IMGDIFF_OUT="float" if out_dtype == np.float32 else "double",
        IMGDIFF_RADIUS=radius,
    )


def ssim_planes(planes1, planes2, params: SSIMParams, *, want_map: bool):
    """Per-plane mean SSIM and maps of two N x H x W CuPy stacks.

    N x H x W x P stacks (interleaved planes, such as Y, Cr, Cb) are compared on
    their first plane, read in place.
    """
    import cupy

    count, height, width = planes1.shape[:3]
    stride = planes1.shape[3] if planes1.ndim == 4 else 1
    in_dtype = kernel_input_dtype(planes1.dtype, planes2.dtype)
    planes1 = cupy.ascontiguousarray(planes1.astype(in_dtype, copy=False))
    planes2 = cupy.ascontiguousarray(planes2.astype(in_dtype, copy=False))
    out_dtype = np.dtype(np.float32) if params.out_dtype == np.float32 else np.dtype(np.float64)
    ssim_map = cupy.empty((count, height, width), dtype=out_dtype) if want_map else cupy.empty(1, out_dtype)
    sums = cupy.zeros(count, dtype=cupy.float64)
    weights = cupy.asarray(params.weights, dtype=cupy.float64)
    launch(
        _get_ssim_kernel(in_dtype, out_dtype, params.radius),
        height,
        width,
        count,
        (
            planes1,
            planes2,
            weights,
            ssim_map,
            sums,
            np.int32(height),
            np.int32(width),
            np.int32(stride),
            np.int32(params.crop),
            np.float64(params.C1),
            np.float64(params.C2),
            np.float64(params.cov_norm),
            np.int32(1 if want_map else 0),
        ),
    )
    interior = (height - 2 * params.crop) * (width - 2 * params.crop)
    return sums / interior, (ssim_map if want_map else None)


def ssim_gpu(im1, im2, params: SSIMParams, *, channel_axis: int | None, want_map: bool):
    """The GPU twin of ``_ssim_cpu.ssim_cpu``."""
    import cupy

    on_host = not is_cupy_array(im1)
    a, b = cupy.asarray(im1), cupy.asarray(im2)
    if channel_axis is None:
        a, b = a[None], b[None]
    else:
        a, b = cupy.moveaxis(a, channel_axis, 0), cupy.moveaxis(b, channel_axis, 0)
    means, maps = ssim_planes(a, b, params, want_map=want_map)
    # scikit-image averages the per-channel scores in the image's float type
    mssim = float(means.astype(params.out_dtype).mean()) if channel_axis is not None else float(means[0])
    if not want_map:
        return mssim, None
    maps = maps[0] if channel_axis is None else cupy.moveaxis(maps, 0, channel_axis)
    maps = cupy.ascontiguousarray(maps)
    return mssim, (maps.get() if on_host else maps)


def ssim_batch(stack1, stack2, params: SSIMParams, *, want_maps: bool = False):
    """Scores (and maps) of N same-sized grey pairs in one launch.

    ``stack1``/``stack2``: N x H x W arrays or lists of H x W arrays, NumPy or CuPy.
    """
    import cupy

    on_host = not is_cupy_array(stack1) and not (isinstance(stack1, list) and is_cupy_array(stack1[0]))
    a = cupy.stack([cupy.asarray(p) for p in stack1]) if isinstance(stack1, list) else cupy.asarray(stack1)
    b = cupy.stack([cupy.asarray(p) for p in stack2]) if isinstance(stack2, list) else cupy.asarray(stack2)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"batches must be N x H x W of one shape, got {a.shape} and {b.shape}")
    means, maps = ssim_planes(a, b, params, want_map=want_maps)
    if on_host:
        return means.get(), (maps.get() if maps is not None else None)
    return means, maps
