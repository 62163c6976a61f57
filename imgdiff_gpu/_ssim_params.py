"""What every SSIM backend shares: parameters, the window, the dtype policy, the cropped mean.

The public facade (:mod:`imgdiff_gpu.ssim`) validates arguments into an
:class:`SSIMParams` here, and both backends (``cpu/ssim.py`` and
``gpu/ssim.py``) import it from here, so neither imports the facade.

The dtype policy is one table, :data:`KERNEL_INPUT`: the element type the
kernels read for each image dtype, always one that holds every value of the
image exactly, so no backend changes a value the other keeps.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

# The kernels read 8- and 16-bit integers and float32 as they are (each exact in
# float32 arithmetic, the CUDA kernel's tile type), float16 as float32, and
# everything else as float64 -- what scikit-image computes in (exact for 32-bit
# integers; 64-bit integers beyond 2**53 round exactly as in scikit-image).
KERNEL_INPUT: dict[np.dtype, np.dtype] = {
    np.dtype(np.bool_): np.dtype(np.uint8),
    np.dtype(np.uint8): np.dtype(np.uint8),
    np.dtype(np.int8): np.dtype(np.int8),
    np.dtype(np.uint16): np.dtype(np.uint16),
    np.dtype(np.int16): np.dtype(np.int16),
    np.dtype(np.float16): np.dtype(np.float32),
    np.dtype(np.float32): np.dtype(np.float32),
    np.dtype(np.float64): np.dtype(np.float64),
}
_WIDEST = np.dtype(np.float64)


def kernel_input_dtype(dtype1: Any, dtype2: Any | None = None) -> np.dtype:
    """The element type the kernels read a pair of images in (see :data:`KERNEL_INPUT`).

    Two different dtypes meet in their common NumPy type first (uint8 and
    float32 in float32, int16 and uint16 in int32, so float64), which holds
    both exactly.
    """
    common = np.result_type(dtype1, dtype2 if dtype2 is not None else dtype1)
    if common.kind not in "biuf":
        raise TypeError(f"SSIM needs real-valued images, got {np.dtype(dtype1)} and {np.dtype(dtype2 or dtype1)}")
    return KERNEL_INPUT.get(common, _WIDEST)


def output_dtype(dtype: Any) -> np.dtype:
    """scikit-image's: float16 and float32 images give a float32 map, everything else float64."""
    return np.dtype(np.float32) if np.dtype(dtype).char in "ef" else np.dtype(np.float64)


# Wang et al. (2004) and scikit-image: an 11-tap Gaussian for sigma = 1.5.
GAUSSIAN_TRUNCATE = 3.5


@dataclass(frozen=True)
class SSIMParams:
    """Everything a backend needs, validated and derived once.

    ``weights`` is the normalised 1-D window (Gaussian, computed in float64 as
    scipy.ndimage does, or uniform); ``crop`` is the border excluded from the
    mean, as scikit-image does it (half of ``win_size``, not of the filter).
    """

    weights: np.ndarray
    crop: int
    cov_norm: float
    C1: float
    C2: float
    out_dtype: np.dtype

    @property
    def radius(self) -> int:
        return (len(self.weights) - 1) // 2


def gaussian_window(sigma: float, truncate: float = GAUSSIAN_TRUNCATE) -> np.ndarray:
    """The 1-D Gaussian scipy.ndimage.gaussian_filter uses, in float64."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * x * x)
    return phi / phi.sum()


def ssim_params(
    im1: Any,
    im2: Any,
    *,
    win_size: int | None,
    data_range: float | None,
    gaussian_weights: bool,
    K1: float = 0.01,
    K2: float = 0.03,
    sigma: float = 1.5,
    use_sample_covariance: bool = True,
    spatial_shape: tuple[int, ...] | None = None,
) -> SSIMParams:
    """Validate SSIM arguments exactly as scikit-image does and derive the rest.

    Messages match scikit-image's so code that catches them keeps working.
    """
    if im1.shape != im2.shape:
        raise ValueError("Input images must have the same dimensions.")
    if K1 < 0:
        raise ValueError("K1 must be positive")
    if K2 < 0:
        raise ValueError("K2 must be positive")
    if sigma < 0:
        raise ValueError("sigma must be positive")
    if win_size is None:
        win_size = 2 * int(GAUSSIAN_TRUNCATE * sigma + 0.5) + 1 if gaussian_weights else 7
    shape = spatial_shape if spatial_shape is not None else im1.shape
    if any(side < win_size for side in shape):
        raise ValueError(
            "win_size exceeds image extent. Either ensure that your images are at least "
            "7x7; or pass win_size explicitly in the function call, with an odd value less "
            "than or equal to the smaller side of your images. If your images are "
            "multichannel (with color channels), set channel_axis to the axis number "
            "corresponding to the channels."
        )
    if win_size % 2 != 1:
        raise ValueError("Window size must be odd.")
    if data_range is None:
        if np.dtype(im1.dtype).kind == "f" or np.dtype(im2.dtype).kind == "f":
            raise ValueError(
                "Since image dtype is floating point, you must specify the data_range "
                "parameter. Please read the documentation carefully (including the note). "
                "It is recommended that you always specify the data_range anyway."
            )
        if im1.dtype != im2.dtype:
            warnings.warn(
                "Inputs have mismatched dtypes. Setting data_range based on im1.dtype.",
                stacklevel=3,
            )
        from skimage.util.dtype import dtype_range  # only here: scikit-image takes long to import

        dmin, dmax = dtype_range[np.dtype(im1.dtype).type]
        data_range = dmax - dmin
        if np.dtype(im1.dtype).kind in "iu" and im1.dtype != np.uint8:
            warnings.warn(
                f"Setting data_range based on im1.dtype. data_range = {data_range:.0f}. "
                "Please specify data_range explicitly to avoid mistakes.",
                stacklevel=3,
            )
    if gaussian_weights:
        weights = gaussian_window(sigma)
        n_points = win_size ** len(shape)
    else:
        weights = np.full(win_size, 1.0 / win_size)
        n_points = win_size ** len(shape)
    cov_norm = n_points / (n_points - 1) if use_sample_covariance else 1.0
    return SSIMParams(
        weights=weights,
        crop=(win_size - 1) // 2,
        cov_norm=float(cov_norm),
        C1=float((K1 * data_range) ** 2),
        C2=float((K2 * data_range) ** 2),
        out_dtype=output_dtype(im1.dtype),
    )


def cropped_mean(S: np.ndarray, crop: int) -> float:
    """The mean of a map inside the border of ``crop`` pixels, in float64 (scikit-image's mssim)."""
    inner = S[crop : S.shape[0] - crop, crop : S.shape[1] - crop] if crop else S
    return float(inner.mean(dtype=np.float64))
