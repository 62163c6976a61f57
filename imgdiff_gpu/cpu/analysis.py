"""The analysis of a pixel pair on the CPU, the reference twin of ``gpu/analysis.py``.

Also home of what both twins share: the result type :class:`Analysis`, the
SSIM parameters of a luma plane and the score.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field, replace

import numpy as np

from .._context import bound
from .._device import Device
from .._ssim_params import GAUSSIAN_TRUNCATE, SSIMParams, ssim_params
from ..detection import LumaEvidence, MaskEvidence, Thresholds, difference_mask, reads_whole_planes
from ..regions import Region, find_regions

# Wang et al. (2004): Gaussian window, sigma 1.5, population covariance.
WINDOW_SIGMA = 1.5


@dataclass
class Analysis:
    """What the analysis of one pair of same-sized pixel arrays found."""

    score: float
    """Mean luma SSIM inside the cropped border, ignored pixels left out."""
    regions: list[Region]
    ssim_threshold: float
    """The SSIM threshold the structural evidence used (Otsu's, capped, or explicit)."""
    device: Device
    """Where it was computed."""
    mask: np.ndarray | None = None
    """Pixels of the reported regions (bool, H x W); only when asked for (``keep_maps``)."""
    ssim_map: np.ndarray | None = None
    """The luma SSIM map (float64, H x W); only when asked for (``keep_maps``), and not in bands."""
    heat_levels: np.ndarray | None = None
    """What a pair analysed in bands (``cpu/bands.py``) keeps of the SSIM map for ``keep_maps``:
    the heat map's 8-bit levels (uint8, H x W, :func:`imgdiff_gpu.rendering.heat_levels`)."""
    notes: list[str] = field(default_factory=list)


@dataclass
class ScreenedPair:
    """What the video screen (:mod:`imgdiff_gpu.screening`) computed of a frame pair it could not clear.

    The SSIM map of the two frames' luma (float64, :func:`luma_ssim_params` of their shape,
    every pixel: the screen's ignored pixels change only its bounds) and the luma terms of
    the thresholds' rules, from the screen's luma planes, which are bit for bit the plane
    stacks' (``cpu/screen.py``). :func:`analyse_cpu` takes them for this very pair
    (``left`` and ``right``, the same array objects) under these thresholds instead of
    computing them again, so a pair costs one SSIM pass whether screened or not.
    """

    left: np.ndarray
    right: np.ndarray
    thresholds: Thresholds
    ssim_map: np.ndarray
    params: SSIMParams
    luma: LumaEvidence


_screened: contextvars.ContextVar[ScreenedPair | None] = contextvars.ContextVar("screened", default=None)


def screened(pair: ScreenedPair | None) -> contextlib.AbstractContextManager:
    """Within this block (on this thread), :func:`analyse_cpu` of ``pair``'s frames takes what it holds."""
    return bound(_screened, pair)


def _screened_for(left: np.ndarray, right: np.ndarray, thresholds: Thresholds, params: SSIMParams):
    """The screened pair of exactly these arrays, thresholds and SSIM parameters, or None."""
    pair = _screened.get()
    if pair is None or pair.left is not left or pair.right is not right or pair.thresholds != thresholds:
        return None
    same = (
        pair.ssim_map.shape == left.shape[:2]
        and np.array_equal(pair.params.weights, params.weights)
        and (pair.params.C1, pair.params.C2, pair.params.cov_norm) == (params.C1, params.C2, params.cov_norm)
    )
    return pair if same else None


@dataclass
class FirstComparison:
    """What :func:`analyse_cpu` computed of a pair before its strength pass, which a comparison of the
    very pair (``left`` and ``right``, the same array objects, an equal ``ignore``) at another luma factor
    (:attr:`imgdiff_gpu.detection.Thresholds.luma_factor`, the clip noise rule's, :mod:`imgdiff_gpu.clip_noise`)
    takes instead of computing it again: the SSIM map and every term the factor does not act on."""

    left: np.ndarray
    right: np.ndarray
    ignore: np.ndarray | None
    antialiasing: bool
    thresholds: Thresholds
    params: SSIMParams
    ssim_map: np.ndarray
    evidence: MaskEvidence

    def detached(self) -> FirstComparison:
        """A copy that outlives this thread's next pair (:meth:`imgdiff_gpu.detection.MaskEvidence.detached`)."""
        return replace(self, evidence=self.evidence.detached())

    def serves(self, left, right, thresholds: Thresholds, ignore, antialiasing: bool, params: SSIMParams) -> bool:
        """Whether this is the pair, ignored pixels and options of a comparison under ``thresholds``, up to the
        luma factor."""
        same_ignore = self.ignore is ignore or (
            self.ignore is not None and ignore is not None and np.array_equal(self.ignore, ignore)
        )  # a caller may make the mask again (compare's padding): its values are what count
        same_pair = self.left is left and self.right is right and same_ignore
        same_options = replace(self.thresholds, luma_factor=thresholds.luma_factor) == thresholds
        same_window = np.array_equal(self.params.weights, params.weights) and (
            (self.params.C1, self.params.C2, self.params.cov_norm) == (params.C1, params.C2, params.cov_norm)
        )
        return same_pair and same_options and self.antialiasing == antialiasing and same_window


_kept: contextvars.ContextVar[list | None] = contextvars.ContextVar("first_comparisons", default=None)
_again: contextvars.ContextVar[FirstComparison | None] = contextvars.ContextVar("compared_again", default=None)


def keeping_first_comparisons() -> contextlib.AbstractContextManager[list[FirstComparison]]:
    """Within this block (on this thread), :func:`analyse_cpu` appends to the list it yields the
    :class:`FirstComparison` of each pair it analyses whole (not in bands); its arrays may be this
    thread's scratch planes: :meth:`FirstComparison.detached` keeps one beyond the next pair."""
    return bound(_kept, [])


def comparing_again(first: FirstComparison | None) -> contextlib.AbstractContextManager:
    """Within this block (on this thread), :func:`analyse_cpu` of ``first``'s pair (:meth:`FirstComparison.serves`)
    takes what it holds and runs the strength pass, the hysteresis and the regions alone."""
    return bound(_again, first)


def luma_ssim_params(luma: np.ndarray) -> SSIMParams:
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


def score_of(ssim_map, crop: int, ignore) -> float:
    """Mean SSIM inside the cropped border, ignored pixels left out (NumPy or CuPy arrays)."""
    height, width = ssim_map.shape
    inner = (slice(crop, height - crop), slice(crop, width - crop))
    values = ssim_map[inner]
    if ignore is not None:
        values = values[~ignore[inner]]
        if values.size == 0:
            return 1.0  # everything ignored: nothing left that differs
    return float(values.mean(dtype=np.float64))


def analyse_cpu(
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
    """The analysis on the CPU; see :func:`imgdiff_gpu.analysis.analyse`.

    A pair whose working planes would not fit ``bands.CPU_BUDGET_BYTES`` goes
    through in bands of rows, with the same result (``cpu/bands.py``).
    """
    from ..planes import PixelPair, pair_layout
    from .bands import analyse_in_bands, rows_per_band
    from .ssim import ssim_map_2d

    layout = pair_layout(left, right)
    planes = 1 + 2 * layout.colour + layout.alpha
    band_rows = rows_per_band(left.shape, planes, thresholds, antialiasing=antialiasing)
    if band_rows < left.shape[0]:
        return analyse_in_bands(
            left,
            right,
            thresholds,
            ignore=ignore,
            antialiasing=antialiasing,
            min_area=min_area,
            merge_distance=merge_distance,
            keep_maps=keep_maps,
            band_rows=band_rows,
        )
    # the planes as each stage reads them: the luma whole, the rest from the pixels (no stacks
    # unless a rule reads every plane whole: planes.PixelPair)
    whole = reads_whole_planes(thresholds, antialiasing=antialiasing, colour=layout.colour)
    pair = PixelPair(left, right, layout, whole=whole)
    left_luma, right_luma = pair.luma
    params = luma_ssim_params(left_luma)
    first = _again.get()
    if first is not None and not first.serves(left, right, thresholds, ignore, antialiasing, params):
        first = None
    known = _screened_for(left, right, thresholds, params) if first is None else None
    if first is not None:
        ssim_map = first.ssim_map
    elif known is not None:
        ssim_map = known.ssim_map
    else:
        ssim_map = ssim_map_2d(left_luma, right_luma, params)
    keeping = _kept.get()
    evidence: list[MaskEvidence] = []
    mask, threshold = difference_mask(
        ssim_map,
        None,
        None,
        params.weights,
        thresholds,
        ignore=ignore,
        antialiasing=antialiasing,
        known=None if known is None else known.luma,
        pixels=pair,
        evidence=None if first is None else first.evidence,
        keep=evidence if keeping is not None else None,
    )
    if keeping is not None:
        keeping.append(FirstComparison(left, right, ignore, antialiasing, thresholds, params, ssim_map, evidence[0]))
    regions, kept = find_regions(
        mask, ssim_map, None, None, min_area=min_area, merge_distance=merge_distance, pixels=pair
    )
    return Analysis(
        score=score_of(ssim_map, params.crop, ignore),
        regions=regions,
        ssim_threshold=threshold,
        device="cpu",
        mask=kept if keep_maps else None,
        ssim_map=ssim_map if keep_maps else None,
        notes=list(layout.notes),
    )
