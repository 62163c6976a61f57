"""Gaussian- or uniform-windowed SSIM, a drop-in for scikit-image's.

One public function, :func:`structural_similarity`, with scikit-image's
signature, defaults and errors; it validates once, resolves the device once and
hands a :class:`SSIMParams` to the CPU backend (OpenCV, float64) or the GPU
backend (fused CUDA kernels). Shapes the fast backends do not cover (volumes,
``gradient=True``) are delegated to scikit-image itself, so every call that
works there works here and gives the same numbers.
"""

from __future__ import annotations

import warnings
from typing import Any

from ._device import is_cupy_array, resolve_device

# Parameters live in _ssim_params (which both backends import); the names stay
# importable from here for code written against the facade.
from ._ssim_params import SSIMParams as SSIMParams
from ._ssim_params import gaussian_window as gaussian_window
from ._ssim_params import ssim_params

_KNOWN_KWARGS = {"K1", "K2", "sigma", "use_sample_covariance", "gradient"}


def structural_similarity(
    im1: Any,
    im2: Any,
    *,
    win_size: int | None = None,
    data_range: float | None = None,
    channel_axis: int | None = None,
    gaussian_weights: bool = False,
    full: bool = False,
    device: str = "auto",
    **kwargs: Any,
) -> Any:
    """Compute the mean structural similarity index between two images.

    A drop-in replacement for :func:`skimage.metrics.structural_similarity`:
    same arguments, defaults, errors and results, computed with float64
    separable filtering in OpenCV on the CPU or with fused CUDA kernels on the
    GPU. Pass ``data_range`` explicitly for floating-point images.

    Parameters
    ----------
    im1, im2 : ndarray
        Images of the same shape: NumPy arrays, or CuPy arrays (which stay on
        the GPU). 2-D, or 2-D plus a channel axis, take the fast paths; other
        dimensionalities are computed by scikit-image on the CPU.
    win_size : int or None, optional
        Odd side length of the sliding window; 7 by default, or the Gaussian's
        footprint (11 for sigma 1.5) when ``gaussian_weights`` is True, in which
        case it only sets the cropped border of the mean.
    data_range : float, optional
        Difference between the largest and smallest possible values. Estimated
        from the dtype of ``im1`` for integer images; required for floats.
    channel_axis : int or None, optional
        Axis of the colour channels; each channel is compared separately and
        the mean of their scores is returned.
    gaussian_weights : bool, optional
        Weight each window by a normalised Gaussian of width ``sigma``.
    full : bool, optional
        Also return the full SSIM map.
    device : {'auto', 'cpu', 'gpu'}, optional
        Where to compute. ``auto`` uses the GPU when CuPy sees one, else the
        CPU; ``gpu`` with no usable GPU raises :class:`~imgdiff_gpu.errors.DeviceError`.

    Other Parameters
    ----------------
    use_sample_covariance : bool
        Normalise covariances by N-1 rather than N (default True, as in
        scikit-image; Wang et al. use False).
    K1, K2 : float
        Stabilising constants (0.01, 0.03).
    sigma : float
        Standard deviation of the Gaussian window (1.5).
    gradient : bool
        Also return the gradient; computed by scikit-image on the CPU.

    Returns
    -------
    mssim : float
        Mean SSIM over the image, border of half a window excluded.
    S : ndarray
        The SSIM map, only when ``full`` is True; float32 for float32 input,
        float64 otherwise; a CuPy array when the inputs were CuPy arrays.

    Raises
    ------
    ValueError
        For the same bad arguments as scikit-image, with the same messages.
    DeviceError
        When ``device='gpu'`` and no GPU is usable.

    Notes
    -----
    With means :math:`\\mu`, variances :math:`\\sigma^2` and covariance
    :math:`\\sigma_{xy}` taken over the window,

    .. math::
        S = \\frac{(2\\mu_x\\mu_y + C_1)(2\\sigma_{xy} + C_2)}
                  {(\\mu_x^2 + \\mu_y^2 + C_1)(\\sigma_x^2 + \\sigma_y^2 + C_2)},
        \\quad C_1 = (K_1 L)^2,\\; C_2 = (K_2 L)^2,

    with :math:`L` the data range. Borders are reflected (``d c b a | a b c d``),
    as scipy.ndimage does. To match Wang et al., pass ``gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False`` and ``data_range``.

    References
    ----------
    .. [1] Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli, E. P. (2004).
       Image quality assessment: From error visibility to structural
       similarity. IEEE Transactions on Image Processing, 13, 600-612.
       :DOI:`10.1109/TIP.2003.819861`

    Examples
    --------
    >>> import numpy as np
    >>> from imgdiff_gpu import structural_similarity
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    >>> float(structural_similarity(a, a, device="cpu"))
    1.0
    """
    unknown = set(kwargs) - _KNOWN_KWARGS
    if unknown:
        raise TypeError(f"structural_similarity() got unexpected keyword arguments {sorted(unknown)}")
    where = resolve_device(device, im1, im2)

    if channel_axis is not None:
        channel_axis = channel_axis % im1.ndim
        spatial = tuple(s for axis, s in enumerate(im1.shape) if axis != channel_axis)
    else:
        spatial = tuple(im1.shape)
    method_args = {k: kwargs[k] for k in ("K1", "K2", "sigma", "use_sample_covariance") if k in kwargs}
    params = ssim_params(
        im1,
        im2,
        win_size=win_size,
        data_range=data_range,
        gaussian_weights=gaussian_weights,
        spatial_shape=spatial,
        **method_args,
    )

    if kwargs.get("gradient") or len(spatial) != 2 or params.radius >= min(spatial):
        # Outside what the fast backends implement: let scikit-image do it.
        return _with_skimage(im1, im2, win_size, data_range, channel_axis, gaussian_weights, full, where, kwargs)

    if where == "gpu":
        from .gpu.ssim import ssim_gpu

        mssim, S = ssim_gpu(im1, im2, params, channel_axis=channel_axis, want_map=full)
    else:
        from .cpu.ssim import ssim_cpu

        mssim, S = ssim_cpu(im1, im2, params, channel_axis=channel_axis, want_map=full)
    return (mssim, S) if full else mssim


def _with_skimage(im1, im2, win_size, data_range, channel_axis, gaussian_weights, full, where, kwargs):
    from skimage.metrics import structural_similarity as skimage_ssim

    if where == "gpu" and kwargs.get("gradient"):
        raise ValueError("gradient=True is computed on the CPU only; pass device='cpu'")
    on_gpu = is_cupy_array(im1)
    if on_gpu:
        im1, im2 = im1.get(), im2.get()
    with warnings.catch_warnings():
        # ssim_params already warned, pointing at the caller.
        warnings.simplefilter("ignore", UserWarning)
        result = skimage_ssim(
            im1,
            im2,
            win_size=win_size,
            data_range=data_range,
            channel_axis=channel_axis,
            gaussian_weights=gaussian_weights,
            full=full,
            **kwargs,
        )
    if on_gpu and isinstance(result, tuple):
        import cupy

        result = (result[0], *(cupy.asarray(r) for r in result[1:]))
    return result
