"""One dtype policy (imgdiff_gpu/_ssim_params.py, KERNEL_INPUT) obeyed by both backends.

The CPU half here; the GPU half is tests/test_gpu.py (same images, same tolerances,
and the GPU map within 1e-12 of the CPU's).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gpu_parity import DTYPES, as_dtype, photo_pair
from skimage.metrics import structural_similarity as skimage_ssim

from imgdiff_gpu import structural_similarity
from imgdiff_gpu._ssim_params import KERNEL_INPUT, kernel_input_dtype


def test_every_kernel_input_type_holds_every_value_of_its_image_type():
    for image, kernel in KERNEL_INPUT.items():
        if image.kind == "f":
            assert np.finfo(kernel).nmant >= np.finfo(image).nmant and np.finfo(kernel).maxexp >= np.finfo(image).maxexp
        else:
            info = np.iinfo(image) if image.kind != "b" else np.iinfo(np.uint8)
            assert np.can_cast(image, kernel, "safe") and info.max <= np.iinfo(kernel).max
            assert info.bits <= 16, "the CUDA kernel reads integers in float32: 16 bits at most"


@pytest.mark.parametrize(
    ("dtype1", "dtype2", "expected"),
    [
        (np.uint8, None, np.uint8),
        (np.int16, None, np.int16),
        (np.float16, None, np.float32),
        (np.int32, None, np.float64),
        (np.uint64, None, np.float64),
        (np.uint8, np.float32, np.float32),
        (np.int16, np.uint16, np.float64),
    ],
)
def test_kernel_input_dtype(dtype1, dtype2, expected):
    assert kernel_input_dtype(dtype1, dtype2) == np.dtype(expected)


def test_complex_images_are_refused():
    with pytest.raises(TypeError, match="real-valued"):
        kernel_input_dtype(np.complex64)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_cpu_matches_skimage_for_every_dtype(dtype):
    left, right = photo_pair((60, 90), colour=False)
    left, right = as_dtype(left, dtype), as_dtype(right, dtype)
    kwargs = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "full": True}
    if np.dtype(dtype).kind == "f":
        kwargs["data_range"] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        m_ref, S_ref = skimage_ssim(left, right, **kwargs)
        m, S = structural_similarity(left, right, device="cpu", **kwargs)
        if np.dtype(dtype) in (np.float16, np.float32):  # scikit-image filters these in float32
            _, S_ref = skimage_ssim(left.astype(np.float64), right.astype(np.float64), **kwargs)
    assert S.dtype == (np.float32 if np.dtype(dtype).char in "ef" else np.float64)
    assert abs(m - m_ref) <= (1e-4 if np.dtype(dtype).char in "ef" else 1e-9)
    assert np.abs(S - S_ref).max() <= 1e-6
