"""The analysis of a pixel pair on the GPU, the twin of ``cpu/analysis.py`` (``analysis.analyse_gpu``).

When the pair fits the memory budget it stays on the device from upload to
regions: the pixels go up once, as stored; the planes (``kernels/planes.cu``),
the luma SSIM map (``kernels/ssim.cu``), its 256-bin histogram (Otsu's
threshold on the host from those 256 counts), the strength levels
(``kernels/strength.cu``; for the noise-following rules of ``low``, their
per-pixel inputs from ``gpu/noise_rules.py``), hysteresis, the regions and
their statistics (``gpu/regions.py``) are computed there, and what comes back is the score,
the threshold and 9 numbers per region -- plus the map and the mask only when
pictures are wanted (``keep_maps``).

Pairs over the budget go through in bands of rows with a halo of the window
radius, planes built on the host and the levels brought back for hysteresis and
regions on the host (the per-pixel inputs of ``low``'s rules too come from the
host, from ``detection.py`` itself: the coarse scale reaches beyond a halo). The
kernels reflect only at a band's edges, which are either the image's own edges
or halo rows that are thrown away, so every kept row is exactly what an untiled
run gives. A GPU out-of-memory error in the
resident path tries bands; in bands it shrinks them; ``analysis.analyse`` falls
back to the CPU if even small bands do not fit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..cpu.analysis import Analysis, luma_ssim_params, score_of
from ..cpu.strength import NEAR
from ..detection import (
    SSIM_HISTOGRAM_BINS,
    Thresholds,
    border_factors,
    coarse_chroma_shift,
    contiguous_luma,
    contrast_masking,
    difference_mask,
    explained_by_antialiasing,
    line_shift,
    luma_bias,
    luma_shift_map,
    mask_from_levels,
    otsu_ssim_threshold,
    unbiased,
)
from ..planes import pair_layout, prepare_pair
from ..regions import find_regions
from .histogram import ssim_histogram_gpu
from .noise_rules import noise_rules_gpu, unbiased_gpu
from .ssim import ssim_planes
from .strength import strength_levels_gpu

GPU_BUDGET_BYTES = 4 * 2**30
_SMALLEST_BAND = 64


class GPUOutOfMemory(Exception):
    """Even the smallest bands did not fit in GPU memory."""


def is_out_of_memory(exc: BaseException) -> bool:
    """CuPy's allocation failure, or a CUDA runtime error that says the same."""
    import cupy

    if isinstance(exc, cupy.cuda.memory.OutOfMemoryError):
        return True
    return "out of memory" in str(exc).lower() or "cudaErrorMemoryAllocation" in str(exc)


def _bands(height: int, band_rows: int, halo: int):
    """(top, bottom, lo, hi): rows [top, bottom) computed from rows [lo, hi)."""
    for top in range(0, height, band_rows):
        bottom = min(top + band_rows, height)
        yield top, bottom, max(top - halo, 0), min(bottom + halo, height)


def _ssim_band(cupy, left_luma, right_luma, params):
    _, maps = ssim_planes(cupy.asarray(left_luma)[None], cupy.asarray(right_luma)[None], params, want_map=True)
    return maps[0]


def _noise_rules_host(left_planes, right_planes, weights, thresholds: Thresholds):
    """(luma_scale, coarse) of two host plane stacks, with the CPU's own functions (for bands)."""
    masking = contrast_masking(left_planes[..., 0], right_planes[..., 0], weights, thresholds)
    right = unbiased(right_planes, luma_bias(left_planes[..., 0], right_planes[..., 0], thresholds))
    luma_scale = None
    if masking is not None:
        shift = None
        if thresholds.border_noise:
            shift = luma_shift_map(contiguous_luma(left_planes), contiguous_luma(right), weights)
        luma_scale = masking * np.outer(*border_factors(shift, left_planes.shape[:2], weights, thresholds))
    coarse = None
    if thresholds.coarse_chroma is not None and left_planes.shape[2] >= 3:
        coarse = coarse_chroma_shift(left_planes, right_planes) / thresholds.coarse_chroma
    line = line_shift(left_planes[..., 0], right[..., 0], weights, thresholds, masking=masking)
    if line is not None:
        coarse = line if coarse is None else np.maximum(coarse, line, out=coarse)
    return luma_scale, coarse


def _analyse_in_bands(left, right, params, thresholds, valid, suppress, band_rows):
    """Two passes over bands: the SSIM map and its histogram, then (unless exact) the levels."""
    import cupy

    height = left.shape[0]
    weights = params.weights  # the evidence is averaged over the SSIM window
    halo = max(params.radius, NEAR)  # the rows a band's kept rows read
    luma_params = replace(params, out_dtype=np.dtype(np.float64))  # float64, as on the CPU
    left_luma, right_luma = np.ascontiguousarray(left[..., 0]), np.ascontiguousarray(right[..., 0])
    ssim_map = np.empty(left.shape[:2], dtype=np.float64)
    counts = np.zeros(SSIM_HISTOGRAM_BINS, dtype=np.int64)
    for top, bottom, lo, hi in _bands(height, band_rows, halo):
        band = _ssim_band(cupy, left_luma[lo:hi], right_luma[lo:hi], luma_params)[top - lo : bottom - lo]
        band_valid = cupy.asarray(valid[top:bottom]) if valid is not None else None
        counts += ssim_histogram_gpu(band, band_valid).get()[0].astype(np.int64)
        ssim_map[top:bottom] = band.get()
    threshold = thresholds.ssim if thresholds.ssim is not None else otsu_ssim_threshold(counts, thresholds.ssim_ceiling)
    if thresholds.exact:
        return ssim_map, None, threshold

    levels = np.empty(left.shape[:2], dtype=np.uint8)
    # the noise rules need the whole image (the coarse scale reaches ~30 px): on the host, once
    luma_scale, coarse = _noise_rules_host(left, right, weights, thresholds)
    right = unbiased(right, luma_bias(left_luma, right_luma, thresholds))
    for top, bottom, lo, hi in _bands(height, band_rows, halo):
        band_suppress = suppress[lo:hi].view(np.uint8) if suppress is not None else None
        band_rules = tuple(None if rule is None else rule[lo:hi] for rule in (luma_scale, coarse))
        band_levels = strength_levels_gpu(
            cupy, left[lo:hi], right[lo:hi], ssim_map[lo:hi], weights, band_suppress, thresholds, threshold, band_rules
        ).get()
        levels[top:bottom] = band_levels[top - lo : bottom - lo]
    return ssim_map, levels, threshold


def explained_by_antialiasing_gpu(left, right):
    """The twin of :func:`imgdiff_gpu.detection.explained_by_antialiasing` on CuPy plane stacks ([N x] H x W x P)."""
    import cupy
    from cupyx.scipy import ndimage

    slack = np.float32(1.0 / 255)
    explained = cupy.ones(left.shape[:-1], dtype=bool)
    size = (1,) * (left.ndim - 3) + (3, 3)  # a batch's pairs do not see each other
    for plane in range(left.shape[-1]):
        a, b = left[..., plane], right[..., plane]
        for this, other in ((a, b), (b, a)):
            # OpenCV's 3 x 3 erode/dilate with BORDER_REFLECT is scipy's 'reflect'
            low = ndimage.minimum_filter(other, size=size, mode="reflect") - slack
            high = ndimage.maximum_filter(other, size=size, mode="reflect") + slack
            explained &= (this >= low) & (this <= high)
    return explained


def resident_bytes(left: np.ndarray, right: np.ndarray, planes: int, *, noise_rules: bool = False) -> int:
    """Device bytes of the resident analysis: pixels as stored, two plane stacks, the map,
    and about 20 bytes a pixel of masks, levels and labels (with ``low``'s rules, about
    32 more: the luma factor, the coarse term and the float32 filtering temporaries)."""
    height, width = left.shape[:2]
    extra = 32 if noise_rules else 0
    return height * width * (left[0, 0].nbytes + right[0, 0].nbytes + 2 * planes * 4 + 8 + 20 + extra)


def _analyse_resident(left, right, layout, params, thresholds, *, ignore, antialiasing, min_area, merge_distance):
    """The whole analysis on the device; (score, regions, threshold, kept mask, map) with the last two on it."""
    import cupy

    from .planes import plane_stack_gpu
    from .regions import find_regions_gpu, hysteresis_gpu

    left_planes = plane_stack_gpu(left, colour=layout.colour, alpha=layout.alpha, scale=layout.left_scale)
    right_planes = plane_stack_gpu(right, colour=layout.colour, alpha=layout.alpha, scale=layout.right_scale)
    luma_params = replace(params, out_dtype=np.dtype(np.float64))  # float64, as on the CPU
    _, maps = ssim_planes(left_planes[None], right_planes[None], luma_params, want_map=True)  # luma, in place
    ssim_map = maps[0]
    device_ignore = cupy.asarray(ignore) if ignore is not None else None
    valid = ~device_ignore if ignore is not None else None
    if thresholds.exact:  # no windowed evidence: the plain per-pixel test
        mask = (left_planes != right_planes).any(axis=2)
        if antialiasing:
            mask &= ~explained_by_antialiasing_gpu(left_planes, right_planes)
        threshold = 1.0
    else:
        counts = ssim_histogram_gpu(ssim_map, valid).get()[0]  # 256 counts
        threshold = thresholds.ssim
        if threshold is None:
            threshold = otsu_ssim_threshold(counts, thresholds.ssim_ceiling)
        suppress = explained_by_antialiasing_gpu(left_planes, right_planes) if antialiasing else None
        levels = strength_levels_gpu(
            cupy,
            left_planes,
            unbiased_gpu(left_planes, right_planes, thresholds),
            ssim_map,
            params.weights,
            suppress.view(cupy.uint8) if suppress is not None else None,
            thresholds,
            threshold,
            noise_rules_gpu(left_planes, right_planes, params.weights, thresholds),
        )
        if valid is not None:
            levels[~valid] = 0
        mask = hysteresis_gpu(levels >= 1, levels == 2, thresholds.min_core)
    if valid is not None:
        mask &= valid
    regions, kept = find_regions_gpu(
        mask, ssim_map, left_planes, right_planes, min_area=min_area, merge_distance=merge_distance
    )
    score = score_of(ssim_map, params.crop, device_ignore)
    return score, regions, float(threshold), kept, ssim_map


def _analyse_banded(left_planes, right_planes, params, thresholds, *, ignore, antialiasing):
    """(SSIM map, difference mask, SSIM threshold, rows per band) of two host plane stacks, in bands."""
    height, width, planes = left_planes.shape
    valid = None if ignore is None else ~ignore
    # exact: the per-pixel test on the host works out the antialiasing itself, once
    explain = antialiasing and not thresholds.exact
    suppress = explained_by_antialiasing(left_planes, right_planes) if explain else None
    # device bytes per image row at once: both stacks, luma copies, map, histogram bins, levels
    # (and the luma factor and coarse term of 'low')
    row_bytes = width * (2 * planes * 4 + 2 * 4 + 8 + 4 + 1 + 1 + (8 if thresholds.adapts_to_noise else 0))
    halo = max(params.radius, NEAR)
    band_rows = max(min(height, GPU_BUDGET_BYTES // row_bytes - 2 * halo), _SMALLEST_BAND)
    while True:
        try:
            ssim_map, levels, threshold = _analyse_in_bands(
                left_planes, right_planes, params, thresholds, valid, suppress, band_rows
            )
            break
        except Exception as exc:
            if not is_out_of_memory(exc) or band_rows <= _SMALLEST_BAND:
                if is_out_of_memory(exc):
                    raise GPUOutOfMemory(f"{width}x{height} does not fit in GPU memory even in bands") from exc
                raise
            band_rows = max(band_rows // 4, _SMALLEST_BAND)
            _free_cached_memory()
    if thresholds.exact:  # no windowed evidence: the plain per-pixel test, on the host
        mask, threshold = difference_mask(
            ssim_map, left_planes, right_planes, params.weights, thresholds, ignore=ignore, antialiasing=antialiasing
        )
        return ssim_map, mask, threshold, band_rows
    if valid is not None:
        levels[~valid] = 0
    mask = mask_from_levels(levels, thresholds.min_core)
    if valid is not None:
        mask &= valid
    return ssim_map, mask, float(threshold), band_rows


def _free_cached_memory() -> None:
    import cupy

    cupy.get_default_memory_pool().free_all_blocks()


def analyse_gpu(
    left: np.ndarray,
    right: np.ndarray,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
    min_area: int,
    merge_distance: int,
    keep_maps: bool,
) -> Analysis:
    """The analysis on the GPU; see :func:`imgdiff_gpu.analysis.analyse`.

    Raises
    ------
    GPUOutOfMemory
        When the pair does not fit in GPU memory even in the smallest bands. Bands are
        sized to ``GPU_BUDGET_BYTES`` first and shrink on an out-of-memory error.
    """
    layout = pair_layout(left, right)
    params = luma_ssim_params(np.empty(left.shape[:2], dtype=np.float32))
    planes = 1 + 2 * layout.colour + layout.alpha
    notes = list(layout.notes)
    if resident_bytes(left, right, planes, noise_rules=thresholds.adapts_to_noise) <= GPU_BUDGET_BYTES:
        try:
            score, regions, threshold, kept, ssim_map = _analyse_resident(
                left,
                right,
                layout,
                params,
                thresholds,
                ignore=ignore,
                antialiasing=antialiasing,
                min_area=min_area,
                merge_distance=merge_distance,
            )
            return Analysis(
                score=score,
                regions=regions,
                ssim_threshold=threshold,
                device="gpu",
                mask=kept.get() if keep_maps else None,
                ssim_map=ssim_map.get() if keep_maps else None,
                notes=notes,
            )
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            _free_cached_memory()  # then bands, which need less
    pair = prepare_pair(_host(left), _host(right))  # bands start from host planes
    ssim_map, mask, threshold, band_rows = _analyse_banded(
        pair.left.planes, pair.right.planes, params, thresholds, ignore=ignore, antialiasing=antialiasing
    )
    if band_rows < left.shape[0]:
        notes.append(f"processed on the GPU in bands of {band_rows} rows")
    regions, kept = find_regions(
        mask, ssim_map, pair.left.planes, pair.right.planes, min_area=min_area, merge_distance=merge_distance
    )
    return Analysis(
        score=score_of(ssim_map, params.crop, ignore),
        regions=regions,
        ssim_threshold=threshold,
        device="gpu",
        mask=kept if keep_maps else None,
        ssim_map=ssim_map if keep_maps else None,
        notes=notes,
    )


def analyse_batch_gpu(
    lefts,
    rights,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
    min_area: int,
    merge_distance: int,
    keep_maps: bool,
) -> list[Analysis]:
    """The analyses of N same-sized pairs (N x H x W [x C] stacks, NumPy or CuPy), one launch per stage.

    The batch stays on the device; a batch that does not fit is halved until it
    does, and a single pair that does not fit goes the way of :func:`analyse_gpu`.
    """
    try:
        return _analyse_batch(
            lefts,
            rights,
            thresholds,
            ignore=ignore,
            antialiasing=antialiasing,
            min_area=min_area,
            merge_distance=merge_distance,
            keep_maps=keep_maps,
        )
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
    _free_cached_memory()
    options = dict(
        ignore=ignore, antialiasing=antialiasing, min_area=min_area, merge_distance=merge_distance, keep_maps=keep_maps
    )
    if len(lefts) == 1:
        return [analyse_gpu(_host(lefts[0]), _host(rights[0]), thresholds, **options)]
    half = len(lefts) // 2
    return analyse_batch_gpu(lefts[:half], rights[:half], thresholds, **options) + analyse_batch_gpu(
        lefts[half:], rights[half:], thresholds, **options
    )


def _host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)


def _analyse_batch(lefts, rights, thresholds, *, ignore, antialiasing, min_area, merge_distance, keep_maps):
    import cupy

    from .planes import plane_stack_gpu
    from .regions import find_regions_gpu, hysteresis_gpu

    count = len(lefts)
    layout = pair_layout(lefts[0], rights[0])
    params = luma_ssim_params(np.empty(lefts[0].shape[:2], dtype=np.float32))
    left_planes = plane_stack_gpu(lefts, colour=layout.colour, alpha=layout.alpha, scale=layout.left_scale, batch=True)
    right_planes = plane_stack_gpu(
        rights, colour=layout.colour, alpha=layout.alpha, scale=layout.right_scale, batch=True
    )
    luma_params = replace(params, out_dtype=np.dtype(np.float64))
    means, ssim_maps = ssim_planes(left_planes, right_planes, luma_params, want_map=True)  # luma, in place
    device_ignore = cupy.asarray(ignore) if ignore is not None else None
    valid = ~device_ignore if ignore is not None else None
    if thresholds.exact:
        masks = (left_planes != right_planes).any(axis=3)
        if antialiasing:
            masks &= ~explained_by_antialiasing_gpu(left_planes, right_planes)
        ssim_thresholds = [1.0] * count
    else:
        counts = ssim_histogram_gpu(ssim_maps, valid).get()  # 256 counts per pair
        ssim_thresholds = [
            thresholds.ssim if thresholds.ssim is not None else otsu_ssim_threshold(c, thresholds.ssim_ceiling)
            for c in counts
        ]
        suppress = explained_by_antialiasing_gpu(left_planes, right_planes) if antialiasing else None
        levels = strength_levels_gpu(
            cupy,
            left_planes,
            unbiased_gpu(left_planes, right_planes, thresholds),
            ssim_maps,
            params.weights,
            suppress.view(cupy.uint8) if suppress is not None else None,
            thresholds,
            ssim_thresholds,
            noise_rules_gpu(left_planes, right_planes, params.weights, thresholds),
        )
        if valid is not None:
            levels *= valid.astype(cupy.uint8)  # every pair's ignored pixels (broadcast over the batch)
        masks = hysteresis_gpu(levels >= 1, levels == 2, thresholds.min_core)
    if valid is not None:
        masks &= valid
    regions, kept = find_regions_gpu(
        masks, ssim_maps, left_planes, right_planes, min_area=min_area, merge_distance=merge_distance
    )
    if device_ignore is None:
        scores = [float(m) for m in means.get()]  # the kernel's cropped means, N numbers
    else:
        scores = [score_of(ssim_maps[i], params.crop, device_ignore) for i in range(count)]
    return [
        Analysis(
            score=scores[i],
            regions=regions[i],
            ssim_threshold=float(ssim_thresholds[i]),
            device="gpu",
            mask=kept[i].get() if keep_maps else None,
            ssim_map=ssim_maps[i].get() if keep_maps else None,
            notes=list(layout.notes),
        )
        for i in range(count)
    ]
