"""The compare pipeline: two images in, a score, a mask and regions out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Union

import numpy as np

from ._device import resolve_device
from ._strength_cpu import NEAR
from .alignment import Alignment, pad_to, reconcile
from .detection import Thresholds, difference_mask, thresholds_for
from .loading import LoadedImage, load_image
from .options import DEFAULTS
from .pairing import prepare_pair
from .regions import Region, find_regions
from .ssim import GAUSSIAN_TRUNCATE, ssim_params

ImageInput = Union[str, "os.PathLike[str]", np.ndarray, LoadedImage]

# Wang et al. (2004): Gaussian window, sigma 1.5, population covariance.
WINDOW_SIGMA = 1.5


@dataclass
class Comparison:
    """What :func:`compare` found."""

    left: LoadedImage
    right: LoadedImage
    device: str
    thresholds: Thresholds
    score: float | None = None
    """Mean luma SSIM over the image (border of half a window and ignored pixels excluded)."""
    ssim_map: np.ndarray | None = None
    mask: np.ndarray | None = None
    """Pixels of the reported regions."""
    regions: list[Region] = field(default_factory=list)
    ssim_threshold: float | None = None
    mismatch: str | None = None
    """Why the images could not be compared pixel for pixel (e.g. sizes differ)."""
    alignment: Alignment | None = None
    """How the right image was moved onto the left, when ``align`` was asked for."""
    notes: list[str] = field(default_factory=list)

    @property
    def different(self) -> bool:
        return self.mismatch is not None or bool(self.regions)

    @property
    def width(self) -> int:
        return self.left.width

    @property
    def height(self) -> int:
        return self.left.height


def _as_loaded(image: ImageInput, max_pixels: int) -> LoadedImage:
    if isinstance(image, LoadedImage):
        return image
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
            raise ValueError(f"an image array must be H x W or H x W x 1-4, got shape {image.shape}")
        if image.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"an image array must be uint8 or uint16, got {image.dtype}")
        pixels = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
        return LoadedImage(pixels=pixels, path=None, format=None, mode="array", orientation=1)
    return load_image(image, max_pixels=max_pixels)


def compare(
    left: ImageInput,
    right: ImageInput,
    *,
    device: str = DEFAULTS.device,
    sensitivity: str = DEFAULTS.sensitivity,
    threshold: float | str | None = DEFAULTS.threshold,
    min_area: int = DEFAULTS.min_area,
    merge_distance: int = DEFAULTS.merge_distance,
    ignore: np.ndarray | None = None,
    size_mode: str | None = DEFAULTS.size_mode,
    align: str | None = DEFAULTS.align,
    antialiasing: bool = DEFAULTS.antialiasing,
    max_pixels: int = DEFAULTS.max_pixels,
) -> Comparison:
    """Compare two images and locate their differences.

    The defaults are those of :class:`~imgdiff_gpu.options.CompareOptions`.

    Parameters
    ----------
    left, right : path, ndarray or LoadedImage
        Files are read with :func:`~imgdiff_gpu.loading.load_image`; arrays
        are H x W (grey) or H x W x 3/4 (RGB/RGBA), uint8 or uint16.
    device : {'auto', 'cpu', 'gpu'}
    sensitivity : {'low', 'normal', 'high', 'exact'}
        Threshold preset; see :mod:`imgdiff_gpu.detection`. ``exact`` marks
        every pixel that differs at all.
    threshold : 'otsu', float or None
        SSIM below which a pixel is structurally different; ``otsu``/None picks
        it from the SSIM histogram (capped by the preset).
    min_area : int
        Smallest region kept, in differing pixels.
    merge_distance : int
        Fragments at most this many pixels apart form one region.
    ignore : ndarray of bool, H x W, optional
        Pixels left out of the score, the threshold statistics and the regions.
    size_mode : {None, 'resize', 'pad'}
        How to reconcile different sizes; None reports them as a difference.
    align : {None, 'translation', 'homography'}
        Move the right image onto the left first (see :mod:`imgdiff_gpu.alignment`);
        pixels the move leaves without data are ignored.
    antialiasing : bool
        Ignore changes a sub-pixel edge shift explains (screenshot comparisons).
    max_pixels : int
        Refuse files whose header claims more pixels than this.

    Returns
    -------
    Comparison
        ``different`` is True when regions were found or the sizes differ.

    Raises
    ------
    ImageLoadError, DeviceError, ValueError
    """
    where = resolve_device(device)
    thresholds = thresholds_of(sensitivity, threshold)
    left_image = _as_loaded(left, max_pixels)
    right_image = _as_loaded(right, max_pixels)
    left_pixels, right_pixels, no_data, alignment, notes = reconcile(
        left_image.pixels, right_image.pixels, size_mode=size_mode, align=align
    )
    result = Comparison(
        left=replace(left_image, pixels=left_pixels),
        right=replace(right_image, pixels=right_pixels),
        device=where,
        thresholds=thresholds,
        alignment=alignment,
        notes=notes,
    )
    if left_pixels.shape[:2] != right_pixels.shape[:2]:
        result.mismatch = (
            f"sizes differ: left is {left_image.width}x{left_image.height}, "
            f"right is {right_image.width}x{right_image.height}"
        )
        return result
    if ignore is not None and ignore.shape == left_image.pixels.shape[:2] and size_mode == "pad":
        ignore = pad_to(ignore, left_pixels.shape[:2])
    if ignore is not None and ignore.shape != left_pixels.shape[:2]:
        raise ValueError(f"ignore mask is {ignore.shape}, images are {left_pixels.shape[:2]}")
    if no_data is not None:
        ignore = no_data if ignore is None else ignore | no_data

    pair = prepare_pair(left_pixels, right_pixels)
    result.notes.extend(pair.notes)
    params = luma_ssim_params(pair.left.luma)
    weights = params.weights  # the evidence is averaged over the SSIM window
    ssim_map = None
    if where == "gpu" and params.radius < NEAR:
        # strength.cu reaches NEAR pixels inside its window; an image under 7 px gains nothing from a GPU
        result.device = where = "cpu"
        result.notes.append("image smaller than the GPU kernels' window; computed on the CPU")
    if where == "gpu":
        from ._compare_gpu import GPUOutOfMemory, analyse_gpu

        try:
            ssim_map, mask, result.ssim_threshold, band_rows = analyse_gpu(
                pair.left.planes,
                pair.right.planes,
                params,
                weights,
                thresholds,
                ignore=ignore,
                antialiasing=antialiasing,
            )
            if band_rows < pair.left.planes.shape[0]:
                result.notes.append(f"processed on the GPU in bands of {band_rows} rows")
        except GPUOutOfMemory as exc:
            result.device = "cpu"
            result.notes.append(f"{exc}; computed on the CPU")
    if ssim_map is None:
        from ._ssim_cpu import ssim_map_2d

        ssim_map = ssim_map_2d(pair.left.luma, pair.right.luma, params)
        mask, result.ssim_threshold = difference_mask(
            ssim_map, pair.left.planes, pair.right.planes, weights, thresholds, ignore=ignore, antialiasing=antialiasing
        )
    result.ssim_map = ssim_map
    result.score = score_of(ssim_map, params.crop, ignore)
    result.regions, result.mask = find_regions(
        mask, ssim_map, pair.left.planes, pair.right.planes, min_area=min_area, merge_distance=merge_distance
    )
    return result


def thresholds_of(sensitivity: str, threshold: float | str | None) -> Thresholds:
    """The thresholds of a sensitivity preset and an SSIM threshold ('otsu'/None: Otsu's, capped)."""
    if isinstance(threshold, str):
        if threshold != "otsu":
            raise ValueError(f"threshold must be 'otsu' or a number, got {threshold!r}")
        threshold = None
    return thresholds_for(sensitivity, ssim_threshold=threshold)


def luma_ssim_params(luma: np.ndarray):
    """SSIM parameters for a luma plane in data-range units, Wang et al.'s settings.

    An image narrower than their 11-px window (an icon, a 1-px rule) gets the
    same Gaussian scaled down to the largest odd window that fits: sigma
    1.5 * w / 11, truncated at 3.5 sigma, so 7 px for an 8-px icon and a
    single pixel (luminance only) for a 1- or 2-px side.
    """
    sigma = WINDOW_SIGMA
    full = 2 * int(GAUSSIAN_TRUNCATE * sigma + 0.5) + 1
    side = min(luma.shape[:2])
    if side < full:
        sigma = WINDOW_SIGMA * (side - 1 + side % 2) / full
    return ssim_params(
        luma,
        luma,
        win_size=None,
        data_range=1.0,
        gaussian_weights=True,
        sigma=sigma,
        use_sample_covariance=False,
    )


def score_of(ssim_map: np.ndarray, crop: int, ignore: np.ndarray | None) -> float:
    """Mean SSIM inside the cropped border, ignored pixels left out."""
    height, width = ssim_map.shape
    inner = (slice(crop, height - crop), slice(crop, width - crop))
    values = ssim_map[inner]
    if ignore is not None:
        values = values[~ignore[inner]]
        if values.size == 0:
            return 1.0  # everything ignored: nothing left that differs
    return float(values.mean(dtype=np.float64))


__all__ = ["Comparison", "compare"]
