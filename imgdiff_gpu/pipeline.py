"""The compare pipeline: two images in, a score, a mask and regions out."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Union

import numpy as np

from ._device import is_cupy_array, resolve_device
from .alignment import Alignment, pad_to, reconcile
from .analysis import Analysis, analyse, analyse_batch
from .cpu.analysis import WINDOW_SIGMA as WINDOW_SIGMA
from .cpu.analysis import luma_ssim_params as luma_ssim_params
from .cpu.analysis import score_of as score_of
from .detection import Thresholds, thresholds_for
from .loading import LoadedImage, load_image, reading_ahead
from .options import DEFAULTS
from .regions import Region

ImageInput = Union[str, "os.PathLike[str]", np.ndarray, LoadedImage]


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
    """The luma SSIM map; None when the sizes differ, ``keep_maps=False`` was asked for, or the pair
    was too large to analyse whole on the CPU (then ``heat_levels`` holds what the pictures show of it)."""
    heat_levels: np.ndarray | None = None
    """The SSIM map as the heat map's 8-bit levels, kept instead of it by a pair analysed in bands."""
    mask: np.ndarray | None = None
    """Pixels of the reported regions; None when the sizes differ or ``keep_maps=False``."""
    regions: list[Region] = field(default_factory=list)
    ssim_threshold: float | None = None
    mismatch: str | None = None
    """Why the images could not be compared pixel for pixel (e.g. sizes differ)."""
    alignment: Alignment | None = None
    """How the right image was moved onto the left, when ``align`` was asked for."""
    notes: list[str] = field(default_factory=list)

    def take(self, analysis: Analysis) -> Comparison:
        """This comparison with what the analysis stage found: where, the score, the regions, the maps, its notes."""
        self.device = analysis.device
        self.notes.extend(analysis.notes)
        self.score, self.regions, self.ssim_threshold = analysis.score, analysis.regions, analysis.ssim_threshold
        self.mask, self.ssim_map, self.heat_levels = analysis.mask, analysis.ssim_map, analysis.heat_levels
        return self

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
    keep_maps: bool = True,
    luma_factor: float = 1.0,
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
    keep_maps : bool
        Keep the SSIM map and the regions' mask in the result (for pictures). Without
        them (``ssim_map`` and ``mask`` are None) a GPU run brings back only the score,
        the threshold and the regions: O(regions) bytes.
    luma_factor : float
        The window's luma threshold times this (>= 1; the line evidence keeps its own): what
        ``imgdiff video`` applies to a frame of a noisy clip (:mod:`imgdiff_gpu.clip_noise`).

    Returns
    -------
    Comparison
        ``different`` is True when regions were found or the sizes differ.

    Raises
    ------
    ImageLoadError, DeviceError, ValueError
    """
    if not (
        isinstance(luma_factor, (int, float, np.integer, np.floating))
        and not isinstance(luma_factor, bool)
        and np.isfinite(luma_factor)
        and luma_factor >= 1.0
    ):
        raise ValueError(f"luma_factor must be a finite number >= 1 (it only raises a threshold), got {luma_factor!r}")
    where = resolve_device(device)
    thresholds = replace(thresholds_of(sensitivity, threshold), luma_factor=float(luma_factor))
    files = [image for image in (left, right) if isinstance(image, (str, os.PathLike))]
    with reading_ahead(files, max_pixels=max_pixels):  # two files decode at once
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
        result.mismatch = _sizes_differ(left_image, right_image)
        return result
    if ignore is not None and ignore.shape == left_image.pixels.shape[:2] and size_mode == "pad":
        ignore = pad_to(ignore, left_pixels.shape[:2])
    if ignore is not None and ignore.shape != left_pixels.shape[:2]:
        raise ValueError(f"ignore mask is {ignore.shape}, images are {left_pixels.shape[:2]}")
    if no_data is not None:
        ignore = no_data if ignore is None else ignore | no_data

    analysis = analyse(
        where,
        left_pixels,
        right_pixels,
        thresholds,
        ignore=ignore,
        antialiasing=antialiasing,
        min_area=min_area,
        merge_distance=merge_distance,
        keep_maps=keep_maps,
    )
    return result.take(analysis)


def compare_batch(
    lefts,
    rights,
    *,
    device: str = DEFAULTS.device,
    sensitivity: str = DEFAULTS.sensitivity,
    threshold: float | str | None = DEFAULTS.threshold,
    min_area: int = DEFAULTS.min_area,
    merge_distance: int = DEFAULTS.merge_distance,
    ignore: np.ndarray | None = None,
    antialiasing: bool = DEFAULTS.antialiasing,
    keep_maps: bool = False,
) -> list[Comparison]:
    """Compare many same-sized pairs at once: on the GPU, one launch per stage for the whole batch.

    Parameters
    ----------
    lefts, rights : ndarray or sequence of ndarray
        N x H x W (grey) or N x H x W x 2/3/4 uint8/uint16 stacks, or sequences of
        same-shaped H x W (x C) arrays; NumPy, or CuPy (already on the GPU).
    keep_maps : bool
        Keep each pair's SSIM map and mask (default False: scores and regions only).

    Other parameters are those of :func:`compare`; ``ignore`` applies to every pair.

    Returns
    -------
    list of Comparison
        One per pair, in order; the same results as :func:`compare` pair by pair.
    """
    where = resolve_device(device, lefts, rights)
    thresholds = thresholds_of(sensitivity, threshold)
    lefts, rights = _stacked(lefts), _stacked(rights)
    if len(lefts) != len(rights) or lefts.shape[1:3] != rights.shape[1:3]:
        raise ValueError(f"batches must hold as many pairs of one size, got {lefts.shape} and {rights.shape}")
    if len(lefts) and ignore is not None and ignore.shape != lefts.shape[1:3]:
        raise ValueError(f"ignore mask is {ignore.shape}, images are {lefts.shape[1:3]}")
    analyses = analyse_batch(
        where,
        lefts,
        rights,
        thresholds,
        ignore=ignore,
        antialiasing=antialiasing,
        min_area=min_area,
        merge_distance=merge_distance,
        keep_maps=keep_maps,
    )
    results = []
    for left, right, analysis in zip(lefts, rights, analyses, strict=True):
        left_image = LoadedImage(pixels=left, path=None, format=None, mode="array", orientation=1)
        right_image = LoadedImage(pixels=right, path=None, format=None, mode="array", orientation=1)
        results.append(Comparison(left_image, right_image, where, thresholds).take(analysis))
    return results


def compare_pairs(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    device: str = DEFAULTS.device,
    sensitivity: str = DEFAULTS.sensitivity,
    threshold: float | str | None = DEFAULTS.threshold,
    min_area: int = DEFAULTS.min_area,
    merge_distance: int = DEFAULTS.merge_distance,
    ignore: np.ndarray | None = None,
    antialiasing: bool = DEFAULTS.antialiasing,
    keep_maps: bool = False,
) -> Iterator[Comparison]:
    """Compare a sequence of pixel pairs (video frames, a folder) one after another.

    On the GPU the pixels go up through pinned, double-buffered staging on two
    non-blocking streams (``gpu/staging.py``): the upload of pair i + 1 overlaps
    the work on pair i, and GPU memory holds two pairs however long the sequence.

    Parameters
    ----------
    pairs : iterable of (ndarray, ndarray)
        H x W (x C) uint8/uint16 host arrays; a pair of two sizes is reported as a
        mismatch, as :func:`compare` does.

    Other parameters are those of :func:`compare`; ``ignore`` applies to every pair of its size.

    Yields
    ------
    Comparison
        One per pair, in order; the same results as :func:`compare`.
    """
    where = resolve_device(device)
    thresholds = thresholds_of(sensitivity, threshold)
    options = dict(antialiasing=antialiasing, min_area=min_area, merge_distance=merge_distance, keep_maps=keep_maps)
    pending: deque = deque()

    def remembered():
        for pair in pairs:
            pending.append(pair)
            yield pair

    if where == "gpu":
        from .gpu.staging import staged_uploads

        uploads = staged_uploads(remembered())
    else:
        uploads = remembered()
    for device_left, device_right in uploads:
        left, right = pending.popleft()
        result = Comparison(_as_loaded(left, 0), _as_loaded(right, 0), where, thresholds)
        if left.shape[:2] != right.shape[:2]:
            result.mismatch = _sizes_differ(result.left, result.right)
            yield result
            continue
        pair_ignore = ignore if ignore is not None and ignore.shape == left.shape[:2] else None
        analysis = analyse(where, device_left, device_right, thresholds, ignore=pair_ignore, **options)
        yield result.take(analysis)


def _sizes_differ(left: LoadedImage, right: LoadedImage) -> str:
    return f"sizes differ: left is {left.width}x{left.height}, right is {right.width}x{right.height}"


def _stacked(images):
    """One N x H x W (x C) array of a stack or a sequence of arrays, on the arrays' own device."""
    if is_cupy_array(images) or isinstance(images, np.ndarray):
        return images
    if images and is_cupy_array(images[0]):
        import cupy

        return cupy.stack(list(images))
    return np.stack(list(images)) if len(images) else np.empty((0, 1, 1), np.uint8)


def thresholds_of(sensitivity: str, threshold: float | str | None) -> Thresholds:
    """The thresholds of a sensitivity preset and an SSIM threshold ('otsu'/None: Otsu's, capped)."""
    if isinstance(threshold, str):
        if threshold != "otsu":
            raise ValueError(f"threshold must be 'otsu' or a number, got {threshold!r}")
        threshold = None
    return thresholds_for(sensitivity, ssim_threshold=threshold)


__all__ = ["Comparison", "compare", "compare_batch", "compare_pairs"]
