"""Deciding which pixels differ: SSIM for structure, smoothed shifts for the rest.

Three kinds of evidence, each averaged over the same Gaussian window as SSIM
(sigma 1.5), each with its own threshold in units of the data range:

* **luma shift** ``|w * (Y1 - Y2)|``: a consistent brightening or darkening,
  however faint, such as a thin line 15 grey levels lighter. Signed averaging is
  what rejects compression noise: JPEG keeps each 8x8 block's mean, so its
  ringing averages out, while a real edit does not.
* **chroma shift** ``|w * (C1 - C2)|`` over (Cb, Cr): colour changes, including
  ones at equal luminance that grey SSIM cannot see. JPEG subsamples chroma, so
  this threshold is looser than the luma one.
* **structure**: SSIM below an Otsu threshold of the SSIM map (capped, so that
  Otsu cannot mark noise when everything is similar), where the local mean
  absolute luma difference is large too; this finds texture and shape changes
  that keep the local mean.

The thresholds come from presets measured on scikit-image's photographs: with
``normal``, JPEG re-encoding at quality 75 stays below every threshold (luma
shift at most 5.2/255, chroma 17.5/255), while a 2-px line of +15 reaches 7.2/255.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .options import SENSITIVITY_PRESETS

if TYPE_CHECKING:
    from .planes import PixelPair


@dataclass(frozen=True)
class Thresholds:
    """Detection thresholds, in units of the data range unless noted."""

    luma_shift: float
    chroma_shift: float
    texture: float
    """Mean absolute luma difference a structural change must also have."""
    ssim_ceiling: float
    """Otsu's SSIM threshold is never above this."""
    ssim: float | None = None
    """An explicit SSIM threshold replacing Otsu (``--threshold VALUE``)."""
    exact: bool = False
    """Any pixel that differs at all counts (lossless visual regression)."""
    masking: float = 0.0
    """How far the luma-shift threshold rises per unit of local luma contrast both images share."""
    coarse_chroma: float | None = None
    """Chroma shift averaged at the coarse scale (window sigma ~6 px) that counts; None: no coarse term."""
    min_core: int = 1
    """Pixels at full strength a difference needs (codec noise peaks in specks of a few pixels)."""
    luma_bias: bool = False
    """Whether the pair's own luma offset, where too small to make a weak pixel alone, is removed
    before the luma shift is measured (:func:`luma_bias`)."""
    line: bool = False
    """Whether the luma shift is also averaged along horizontal and vertical lines (:func:`line_shift`)."""
    border_noise: bool = False
    """Whether the window's noise factor at the borders is the pair's measured one where that is larger
    (:func:`imgdiff_gpu.border_noise.measured_window_factors`)."""
    luma_factor: float = 1.0
    """The window's luma threshold times this, and that alone (the line evidence, the offset and the
    contrast masking per unit of ``luma_shift`` keep theirs): a video clip's noise factor
    (:mod:`imgdiff_gpu.clip_noise`), 1 everywhere else."""

    @property
    def adapts_to_noise(self) -> bool:
        """True when the thresholds follow the pair's own noise (masking, coarse terms, a core, a bias)."""
        rules = (self.coarse_chroma is not None, self.min_core > 1, self.luma_bias, self.line, self.border_noise)
        return self.masking > 0 or any(rules)


_PRESETS = {
    "normal": Thresholds(luma_shift=6.0 / 255, chroma_shift=21.0 / 255, texture=20.0 / 255, ssim_ceiling=0.5),
    "high": Thresholds(luma_shift=4.0 / 255, chroma_shift=14.0 / 255, texture=12.0 / 255, ssim_ceiling=0.7),
    # for two lossy encodes of one source (the video default): codec noise grows with the
    # contrast both frames share and peaks in specks, so the luma threshold rises with that
    # contrast, a difference needs a core of 12 pixels at full strength, and a faint colour
    # change is seen at the coarse scale; chosen on benchmarks/video_set.py's seed 2026. The pair's
    # own luma offset (levels drifting through generations of encoding) is no local difference, and
    # a thin line is also seen averaged along itself, against the noise the pair keeps that way
    "low": Thresholds(
        luma_shift=7.0 / 255,
        chroma_shift=36.0 / 255,
        texture=32.0 / 255,
        ssim_ceiling=0.3,
        masking=0.8,
        coarse_chroma=10.0 / 255,
        min_core=12,
        luma_bias=True,
        line=True,
        border_noise=True,
    ),
    "exact": Thresholds(luma_shift=0.0, chroma_shift=0.0, texture=0.0, ssim_ceiling=1.0, exact=True),
}


@dataclass
class LumaEvidence:
    """What the low rules compute of a pair's luma before its masking, where it is already known
    (the video screen's, of a pair it could not clear: :class:`imgdiff_gpu.cpu.analysis.ScreenedPair`).

    The same functions of the same planes as :func:`difference_mask` would compute, so the
    same values; :func:`difference_mask` takes them instead of computing them again.
    """

    bias: float
    """The pair's luma offset (:func:`luma_bias`)."""
    shift: np.ndarray | None = None
    """``w * (Y1 - Y2)`` with the offset removed (:func:`luma_shift_map`); None: not computed."""
    ratio: float | None = None
    """The line noise ratio of ``shift`` (:func:`line_noise_ratio`)."""
    line: np.ndarray | None = None
    """:func:`line_over_threshold` of ``shift`` and ``ratio`` (not masked; handed over, so it is
    divided in place); None: not computed."""


def thresholds_for(sensitivity: str = "normal", *, ssim_threshold: float | None = None) -> Thresholds:
    """The preset for a sensitivity, optionally with an explicit SSIM threshold."""
    if sensitivity not in _PRESETS:
        raise ValueError(f"sensitivity must be one of {SENSITIVITY_PRESETS}, got {sensitivity!r}")
    if ssim_threshold is not None and not -1.0 <= ssim_threshold <= 1.0:
        raise ValueError(f"an SSIM threshold must lie in [-1, 1], got {ssim_threshold}")
    return replace(_PRESETS[sensitivity], ssim=ssim_threshold)


SSIM_HISTOGRAM_BINS = 256


def otsu_from_histogram(counts: np.ndarray, centres: np.ndarray) -> float | None:
    """Otsu's threshold of a histogram: the split maximising between-class variance.

    Works from the histogram alone, so the GPU path can count on the device and
    ship 256 numbers back. Returns None when there is nothing to split.
    """
    counts = counts.astype(np.float64)
    if np.count_nonzero(counts) < 2:
        return None
    weight_low = np.cumsum(counts)[:-1]
    weight_high = counts.sum() - weight_low
    sums = np.cumsum(counts * centres)
    mean_low = sums[:-1] / np.maximum(weight_low, 1)
    mean_high = (sums[-1] - sums[:-1]) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    best = int(np.argmax(between))
    return float((centres[best] + centres[best + 1]) / 2)


def ssim_histogram(ssim_map, valid, *, xp=np):
    """Counts of SSIM values in 256 equal bins over [-1, 1] (rounding strays clamped).

    ``xp`` is the array module of ``ssim_map`` and ``valid``: NumPy, or CuPy on the GPU.
    A 2-D NumPy map is counted by a compiled single pass (``cpu/histogram.py``).
    """
    if xp is np and ssim_map.ndim == 2 and np.dtype(ssim_map.dtype).kind == "f":
        from .cpu.histogram import ssim_histogram_cpu

        return ssim_histogram_cpu(ssim_map, valid, SSIM_HISTOGRAM_BINS)
    values = ssim_map[valid] if valid is not None else ssim_map.ravel()
    # bin = floor((s + 1) * 128), as numpy.histogram over [-1, 1] with 256 bins
    bins = ((values + 1.0) * (SSIM_HISTOGRAM_BINS / 2)).astype(xp.int32)
    xp.clip(bins, 0, SSIM_HISTOGRAM_BINS - 1, out=bins)
    return xp.bincount(bins, minlength=SSIM_HISTOGRAM_BINS)


def otsu_ssim_threshold(counts: np.ndarray, ceiling: float) -> float:
    """Otsu's SSIM threshold from the map's histogram, capped by ``ceiling``.

    Otsu always splits a histogram in two, even one of pure noise; the cap
    keeps that split from marking anything SSIM calls similar.
    """
    edges = np.linspace(-1.0, 1.0, SSIM_HISTOGRAM_BINS + 1)
    threshold = otsu_from_histogram(counts, (edges[:-1] + edges[1:]) / 2)
    return -1.0 if threshold is None else min(threshold, ceiling)


# Hysteresis: a difference must reach full strength somewhere, and then
# extends over the connected pixels at half strength or more, so a faint change
# is counted at its real size while noise, which never reaches 1, stays out.
HYSTERESIS_LOW = 0.5
HYSTERESIS_HIGH = 1.0


def hysteresis(weak: np.ndarray, strong: np.ndarray, min_core: int = 1) -> np.ndarray:
    """Weak pixels 8-connected to at least ``min_core`` strong ones.

    With ``min_core`` 1 this is skimage's apply_hysteresis_threshold (with OpenCV).
    """
    # a kept component holds min_core strong pixels, so fewer in all keep none: then there is
    # nothing to label (a frame pair of two encodes with a few specks of noise at full strength)
    needed = max(min_core, 1)
    if (np.count_nonzero(strong) if needed > 1 else strong.any()) < needed:
        return np.zeros(weak.shape, dtype=bool)
    return _connected_to_strong(weak.view(np.uint8), lambda box: strong[box], min_core)


def mask_from_levels(levels: np.ndarray, min_core: int = 1) -> np.ndarray:
    """Hysteresis over strength levels (0: < 0.5, 1: >= 0.5, 2: >= 1), as both strength passes write them.

    The mask of :func:`hysteresis` ``(levels >= 1, levels == 2, min_core)``, without either
    written out whole: the levels are labelled as they are (OpenCV labels what is not 0), and
    the strong pixels looked up within the weak pixels' box only.
    """
    if levels.max(initial=0) < 2:  # no pixel at full strength (most frames of a video)
        return np.zeros(levels.shape, dtype=bool)
    return _connected_to_strong(levels, lambda box: levels[box] == 2, min_core)


ROW_GAP = 64
"""Rows without a weak pixel that part two bands :func:`hysteresis` labels apart (nearer ones are one band)."""


def _connected_to_strong(weak: np.ndarray, strong_in, min_core: int) -> np.ndarray:
    """Pixels of ``weak`` (uint8, not 0: weak) 8-connected to at least ``min_core`` strong ones;
    ``strong_in(box)``: the strong pixels (bool) of a box of rows and columns that holds every weak
    one of its rows."""
    from .regions import bounding_box, connected_components

    # a component never leaves a run of rows that hold weak pixels, nor the columns that hold them
    # there: only those boxes are labelled (an image's few edits, rows apart, not the box of them all)
    weak_rows = weak.any(axis=1)
    mask = None
    for first, last in flag_runs(weak_rows, join=ROW_GAP):
        band = weak[first:last]
        box = bounding_box(np.arange(first, last), np.flatnonzero(band.any(axis=0)))
        strong = strong_in(box)
        if np.count_nonzero(strong) < max(min_core, 1):
            continue
        count, labels = connected_components(weak[box])
        strong_labels = labels[strong]
        if min_core <= 1:
            keep = np.zeros(count, dtype=bool)
            keep[strong_labels] = True
        else:
            keep = np.bincount(strong_labels, minlength=count) >= min_core
        keep[0] = False
        if labels.shape == weak.shape:
            return keep[labels]
        if mask is None:
            mask = np.zeros(weak.shape, dtype=bool)
        mask[box] = keep[labels]
    return mask if mask is not None else np.zeros(weak.shape, dtype=bool)


def evidence_strength(
    left: np.ndarray,
    right: np.ndarray,
    ssim_map: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    ssim_threshold: float,
    **evidence,
) -> np.ndarray:
    """Each pixel's difference strength (``cpu/strength.py``) under the preset's luma, chroma and texture
    thresholds. ``evidence``: :func:`imgdiff_gpu.cpu.strength.strength_map`'s optional keywords
    (``suppress``, ``luma_scale``, ``coarse``, ``luma_offset``: added to the right luma first, as
    :func:`unbiased` does; ``layout``: ``left`` and ``right`` are the pair's integer pixels)."""
    from .cpu.strength import strength_map

    return strength_map(left, right, ssim_map, weights, **_strength_settings(thresholds, ssim_threshold), **evidence)


def evidence_levels(
    left: np.ndarray,
    right: np.ndarray,
    ssim_map: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    ssim_threshold: float,
    **evidence,
) -> np.ndarray:
    """:func:`strength_levels` of :func:`evidence_strength` (the same keywords), written by the strength
    pass itself (uint8)."""
    from .cpu.strength import strength_levels_map

    settings = _strength_settings(thresholds, ssim_threshold)
    return strength_levels_map(left, right, ssim_map, weights, **settings, **evidence)


def _strength_settings(thresholds: Thresholds, ssim_threshold: float) -> dict:
    return dict(
        luma=thresholds.luma_shift * thresholds.luma_factor,
        chroma=thresholds.chroma_shift,
        texture=thresholds.texture,
        ssim_threshold=ssim_threshold,
    )


def strength_levels(strength: np.ndarray) -> np.ndarray:
    """Strength as levels (uint8: 0 below the weak cut-off, 1 weak, 2 strong), as the GPU writes them."""
    levels = (strength >= HYSTERESIS_LOW).view(np.uint8)
    levels += strength >= HYSTERESIS_HIGH
    return levels


def structural_threshold(ssim_map: np.ndarray, valid: np.ndarray | None, thresholds: Thresholds) -> float:
    """The SSIM threshold of the structural evidence: explicit, or Otsu's, capped."""
    if thresholds.ssim is not None:
        return thresholds.ssim
    return otsu_ssim_threshold(ssim_histogram(ssim_map, valid), thresholds.ssim_ceiling)


def changed_pixels(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pixels where any plane differs at all."""
    import cv2

    height, width, planes = left.shape
    delta = cv2.absdiff(left, right).reshape(height, width, planes)
    return delta.max(axis=2) > 0 if planes > 1 else delta[..., 0] > 0


def reads_whole_planes(thresholds: Thresholds, *, antialiasing: bool, colour: bool) -> bool:
    """Whether :func:`difference_mask` reads every plane of a pair whole (its stacks), not only the luma:
    ``exact``, ``antialiasing`` and the coarse chroma term of a colour pair."""
    return thresholds.exact or antialiasing or (thresholds.coarse_chroma is not None and colour)


def difference_mask(
    ssim_map: np.ndarray,
    left: np.ndarray | None,
    right: np.ndarray | None,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None = None,
    antialiasing: bool = False,
    known: LumaEvidence | None = None,
    pixels: PixelPair | None = None,
    evidence: MaskEvidence | None = None,
    keep: list | None = None,
) -> tuple[np.ndarray, float]:
    """The boolean mask of differing pixels of two plane stacks, and the SSIM threshold used.

    ``weights`` is the 1-D window the evidence is averaged over (the SSIM's).
    With ``antialiasing``, changes a sub-pixel edge shift explains do not count.
    ``known``: the luma terms already computed of these planes, taken as they are.
    ``pixels``: the pair's pixels instead of its stacks (``left`` and ``right`` None): each
    rule reads the planes it needs from them (:class:`imgdiff_gpu.planes.PixelPair`), the same values.
    ``evidence``: :func:`mask_evidence` of this pair, map, ignored pixels and these thresholds up to
    their ``luma_factor`` (a comparison of the pair at another factor), taken instead of computed;
    ``keep``: a list the evidence computed (or taken) is appended to.
    """
    from .planes import StackPair

    pair = pixels if pixels is not None else StackPair(left, right)
    if evidence is None:
        evidence = mask_evidence(
            ssim_map, pair, weights, thresholds, ignore=ignore, antialiasing=antialiasing, known=known
        )
    if keep is not None:
        keep.append(evidence)
    return mask_from_evidence(evidence, ssim_map, pair, weights, thresholds, ignore=ignore), evidence.ssim_threshold


@dataclass
class MaskEvidence:
    """What :func:`difference_mask` computes of a pair before its strength pass: every term but the
    luma threshold's factor (:attr:`Thresholds.luma_factor`) acts on, so a comparison of the pair at
    another factor (a video frame judged again with its clip's noise, :mod:`imgdiff_gpu.clip_noise`)
    takes it and runs the strength pass, the hysteresis and the regions alone (:func:`mask_from_evidence`)."""

    ssim_threshold: float
    """The structural evidence's SSIM threshold (:func:`structural_threshold`)."""
    bias: float
    """The pair's luma offset (:func:`luma_bias`)."""
    explained: np.ndarray | None = None
    """The changes an antialiased edge explains (bool), or None."""
    luma_scale: np.ndarray | None = None
    """The luma threshold's scale (:func:`_masking_where_it_counts`), or None."""
    coarse: np.ndarray | None = None
    """The coarse chroma and (masked) line evidence over their thresholds, or None."""
    luma_peaks: np.ndarray | None = None
    """Each row's largest ``|w * dY| / luma_scale`` (float32), from which :func:`_luma_rows` picks the rows the
    luma term can reach the weak cut-off from at a threshold; None: every row."""

    def detached(self) -> MaskEvidence:
        """A copy that owns its arrays (the ones computed are this thread's scratch planes, written again by
        its next pair)."""
        return replace(self, **{name: _copy(getattr(self, name)) for name in ("explained", "luma_scale", "coarse")})


def _copy(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None else array.copy()


def mask_evidence(
    ssim_map: np.ndarray,
    pair,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None = None,
    antialiasing: bool = False,
    known: LumaEvidence | None = None,
) -> MaskEvidence:
    """The :class:`MaskEvidence` of a pair (:class:`imgdiff_gpu.planes.PixelPair` or ``StackPair``) under
    ``thresholds``, its ``luma_factor`` aside; the arguments as :func:`difference_mask`'s."""
    from .cpu.rules import abs_peaks
    from .cpu.scratch import scratch

    valid = None if ignore is None else ~ignore
    explained = explained_by_antialiasing(*pair.stacks) if antialiasing else None
    if thresholds.exact:
        return MaskEvidence(ssim_threshold=1.0, bias=0.0, explained=explained)
    ssim_threshold = structural_threshold(ssim_map, valid, thresholds)
    # each luma plane contiguous once, for every OpenCV filter below, where a rule reads it: the
    # offset, the line evidence and the masking (the low rules)
    left_luma = right_luma = None
    if thresholds.luma_bias or thresholds.line or thresholds.masking > 0:
        left_luma, right_luma = pair.luma
    coarse = None
    if thresholds.coarse_chroma is not None and pair.colour:
        # into this thread's scratch (a fresh plane costs its page faults), over its threshold in place
        coarse = coarse_chroma_shift(*pair.stacks, out=scratch("coarse_chroma", ssim_map.shape))
        coarse /= thresholds.coarse_chroma
    bias = luma_bias(left_luma, right_luma, thresholds) if known is None else known.bias
    # w * dY with the offset removed, and the line evidence from it: as line_shift computes them
    shift, line = (known.shift, known.line) if known is not None else (None, None)
    if shift is None and (thresholds.line or thresholds.masking > 0):
        biased = right_luma  # with the offset added: unbiased's float32 sums, into scratch
        if bias != 0.0:
            biased = np.add(right_luma, np.float32(bias), out=scratch("biased_luma", right_luma.shape))
        shift = luma_shift_map(left_luma, biased, weights)
    if thresholds.line and line is None:
        ratio = known.ratio if known is not None and known.ratio is not None else line_noise_ratio(shift, weights)
        line = line_over_threshold(shift, weights, thresholds, ratio, out=scratch("line_evidence", shift.shape))
    row_peaks = None if shift is None or thresholds.masking <= 0 else abs_peaks(shift)[0]
    masking, luma_scale = _masking_where_it_counts(
        left_luma, right_luma, weights, thresholds, shift, line, row_peaks=row_peaks
    )
    from .clip_noise import record_peak  # the video path's noise peak, where it asks for it

    record_peak(shift, luma_scale, row_peaks, thresholds, valid)  # a luma scale has its row peaks
    if line is not None and masking is not None and coarse is not None:
        from .cpu.rules import masked_maximum

        masked_maximum(line, masking, coarse)  # line /= masking (as line_shift does), then the larger, in one pass
    elif line is not None:
        if masking is not None:
            line /= masking  # as line_shift does
        coarse = line if coarse is None else np.maximum(coarse, line, out=coarse)
    luma_peaks = _luma_peaks(shift, luma_scale, row_peaks)
    return MaskEvidence(ssim_threshold, bias, explained, luma_scale, coarse, luma_peaks)


def mask_from_evidence(
    evidence: MaskEvidence,
    ssim_map: np.ndarray,
    pair,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`difference_mask`'s mask from the pair's :func:`mask_evidence`: the strength pass (with the
    luma threshold times ``thresholds.luma_factor``), its levels' hysteresis, the ignored pixels cleared."""
    valid = None if ignore is None else ~ignore
    if thresholds.exact:
        mask = changed_pixels(*pair.stacks)
        if evidence.explained is not None:
            mask &= ~evidence.explained
    else:
        # the pass reads the pixels where it is given them and no rule has made their stacks already
        from_pixels = not pair.has_stacks
        sides = (pair.left, pair.right) if from_pixels else pair.stacks
        levels = evidence_levels(
            *sides,
            ssim_map,
            weights,
            thresholds,
            evidence.ssim_threshold,
            suppress=evidence.explained,
            luma_scale=evidence.luma_scale,
            coarse=evidence.coarse,
            luma_offset=evidence.bias,  # the right luma unbiased (:func:`unbiased`), read so by the pass
            layout=pair.layout if from_pixels else None,
            luma_rows=_luma_rows(evidence.luma_peaks, thresholds),
        )
        if valid is not None:
            levels[~valid] = 0  # the strength of an ignored pixel is 0
        mask = mask_from_levels(levels, thresholds.min_core)
    if valid is not None:
        mask &= valid
    return mask


LEVEL_MARGIN = 1e-2
"""How far below a level's cut-off a bound computed in float32 (OpenCV's filters) must stay to rule
out a value the strength pass computes in float64 reaching it (their difference: ~1e-4 of the cut-off)."""


def _masking_where_it_counts(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    shift: np.ndarray | None,
    line: np.ndarray | None,
    *,
    row_peaks: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(:func:`contrast_masking`, :func:`luma_threshold_scale`) on the rows where they can change a
    pixel's level, 1 elsewhere; (None, None) without masking.

    The masking only divides the luma shift and the line evidence, by a factor of at least 1
    (the scale: times border factors of at least 1), and the strength only counts as its levels
    (``HYSTERESIS_LOW``, ``HYSTERESIS_HIGH``). On a row where the unmasked luma shift
    ``|shift| / t_luma`` and the unmasked ``line`` stay below the low cut-off, both terms stay
    below it whatever they are divided by, so every level is the one the whole frame's
    masking gives; the masking is computed on the runs of the other rows only (each run with
    the window's reach of rows around it: the same values as those rows of the whole): 19-63 %
    of a 720p frame's rows between two encodes (``benchmarks/video_set.py``'s seed 2026).
    ``shift``: ``w * dY`` with the pair's offset removed (:func:`luma_shift_map`); ``line``:
    :func:`line_over_threshold` of it, or None. ``row_peaks``: the largest ``|shift|`` of each row,
    where already known.
    """
    from .cpu.rules import abs_peaks
    from .cpu.scratch import scratch

    if thresholds.masking <= 0:
        return None, None
    row_factors, column_factors = border_factors(shift, left_luma.shape, weights, thresholds)
    hot = _reaching(abs_peaks(shift)[0] if row_peaks is None else row_peaks, thresholds.luma_shift)
    reach = HYSTERESIS_LOW * (1.0 - LEVEL_MARGIN)
    if line is not None:
        hot |= line.max(axis=1) >= reach
    masking = scratch("masking_where_it_counts", left_luma.shape)
    luma_scale = scratch("scale_where_it_counts", left_luma.shape)
    runs = flag_runs(hot, join=len(weights))
    cool = 0  # the rows before the next run: 1 there
    for first, last in runs:
        masking[cool:first], luma_scale[cool:first] = 1.0, 1.0
        factors = (row_factors[first:last], column_factors)
        out = (masking[first:last], luma_scale[first:last])
        _masking_and_scale(left_luma, right_luma, weights, thresholds, rows=(first, last), factors=factors, out=out)
        cool = last
    masking[cool:], luma_scale[cool:] = 1.0, 1.0
    return masking, luma_scale


def _luma_peaks(
    shift: np.ndarray | None, luma_scale: np.ndarray | None, row_peaks: np.ndarray | None
) -> np.ndarray | None:
    """Each row's largest luma term ``|w * dY| / luma_scale`` (before the luma threshold), from which
    :func:`_luma_rows` picks its rows; None (every row) where the masking does not apply.

    ``luma_scale`` (>= 1) is 1 on the rows whose largest ``|shift|`` (``row_peaks``) cannot reach the weak
    cut-off (:func:`_masking_where_it_counts`); on the others the rows' largest ``|shift| / luma_scale``
    decides. Codec noise peaks where the contrast both frames share is high, so the masking keeps
    most of those rows below it too.
    """
    from .cpu.rules import abs_peaks

    if shift is None or row_peaks is None:
        return None
    return row_peaks if luma_scale is None else abs_peaks(shift, luma_scale)[0]


def _luma_rows(luma_peaks: np.ndarray | None, thresholds: Thresholds) -> np.ndarray | None:
    """The rows where the luma term ``|w * dY| / (t_luma * luma_scale)`` may reach the weak cut-off (for
    :func:`imgdiff_gpu.cpu.strength.strength_levels_map`), from :func:`_luma_peaks`; None: every row."""
    if luma_peaks is None:
        return None
    return _reaching(luma_peaks, thresholds.luma_shift * thresholds.luma_factor)  # as the strength pass divides


def _reaching(row_peaks: np.ndarray, luma_threshold: float) -> np.ndarray:
    """The rows whose largest ``|w * dY|`` (``row_peaks``, float32) over ``luma_threshold`` may reach the weak
    cut-off, with ``LEVEL_MARGIN`` over the float32 filter's rounding: elsewhere the luma term stays below it."""
    return row_peaks / np.float32(luma_threshold) >= HYSTERESIS_LOW * (1.0 - LEVEL_MARGIN)


def border_factors(
    shift: np.ndarray | None, shape: tuple[int, int], weights: np.ndarray, thresholds: Thresholds
) -> tuple[np.ndarray, np.ndarray]:
    """The luma threshold's border noise factors per row and per column: the pair's measured ones
    (:func:`imgdiff_gpu.border_noise.measured_window_factors`, of ``shift``) under ``border_noise``,
    else :func:`window_noise_factors`."""
    if thresholds.border_noise and shift is not None:
        from .border_noise import measured_window_factors

        return measured_window_factors(shift, weights)
    return window_noise_factors(shape, weights)


def flag_runs(flags: np.ndarray, join: int) -> list[tuple[int, int]]:
    """(first, last + 1) of the runs of True in ``flags``, runs less than ``join`` apart joined: each
    run of rows (or columns) a filter computes reads the window's reach around it, so near ones
    share those and are cheaper as one."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.view(np.int8), [0]))))
    runs: list[tuple[int, int]] = []
    for first, last in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if runs and first - runs[-1][1] < join:
            runs[-1] = (runs[-1][0], last)
        else:
            runs.append((first, last))
    return runs


def contiguous_luma(planes: np.ndarray) -> np.ndarray:
    """The luma plane of an H x W x P plane stack as a contiguous array (a copy unless P is 1), as OpenCV takes it."""
    return np.ascontiguousarray(planes[..., 0])


def explained_by_antialiasing(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pixels whose change a sub-pixel edge shift explains (pixelmatch's idea, simplified).

    A pixel is explained when, in every plane, each image's value lies within
    the range of the other image's 3 x 3 neighbourhood: the edge moved or was
    smoothed differently, nothing new appeared.
    """
    import cv2

    kernel = np.ones((3, 3), np.uint8)
    slack = np.float32(1.0 / 255)
    explained = np.ones(left.shape[:2], dtype=bool)
    for plane in range(left.shape[2]):
        a, b = left[..., plane], right[..., plane]
        for this, other in ((a, b), (b, a)):
            low = cv2.erode(other, kernel, borderType=cv2.BORDER_REFLECT) - slack
            high = cv2.dilate(other, kernel, borderType=cv2.BORDER_REFLECT) + slack
            explained &= (this >= low) & (this <= high)
    return explained


def luma_threshold_scale(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    rows: tuple[int, int] | None = None,
    noise_factor: np.ndarray | None = None,
) -> np.ndarray | None:
    """The factor (>= 1) on the luma-shift threshold at each pixel, or None where the preset has none.

    Shared-contrast masking (:func:`contrast_masking`) times the window's noise
    factor (1 away from the borders). With ``rows`` (first, last + 1) only those
    rows: the same values as those rows of the whole. ``noise_factor``: the
    window's noise factor for these pixels when they are a band of a taller image
    (default: for a whole image of their shape).
    """
    first, last = rows if rows is not None else (0, left_luma.shape[0])
    if noise_factor is None:
        row_factors, column_factors = window_noise_factors(left_luma.shape, weights)
        factors = (row_factors[first:last], column_factors)
        return _masking_and_scale(left_luma, right_luma, weights, thresholds, rows=rows, factors=factors)[1]
    scale = contrast_masking(left_luma, right_luma, weights, thresholds, rows=rows)
    if scale is None:
        return None
    scale *= noise_factor[first:last]
    return scale


def contrast_masking(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    rows: tuple[int, int] | None = None,
) -> np.ndarray | None:
    """``1 + masking * contrast / luma_shift`` (float32, >= 1), or None where the preset has no masking.

    ``contrast`` is :func:`shared_contrast`. With ``rows`` (first, last + 1) only those
    rows, computed from them and the window's reach around them.
    """
    return _masking_and_scale(left_luma, right_luma, weights, thresholds, rows=rows)[0]


def _masking_and_scale(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    rows: tuple[int, int] | None = None,
    factors: tuple[np.ndarray, np.ndarray] | None = None,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(:func:`contrast_masking`, that times the border noise factors ``factors`` (per row of
    ``rows``, per column), the :func:`luma_threshold_scale`), or (None, None) without masking;
    written into ``out`` (C-contiguous float32 planes of ``rows``' shape) where given.

    One compiled pass (``cpu/rules.py``) from :func:`shared_contrast`'s four filtered
    moments: the same float32 operations as ``contrast * k + 1`` and ``masking * factors``;
    where the compiled filters apply (:func:`imgdiff_gpu.cpu.filters.compiled_applies`) the
    moments are filtered in that pass too, a strip of rows at a time, and never written out.
    """
    from .cpu.filters import compiled_applies
    from .cpu.rules import contrast_of_planes, contrast_scale

    if thresholds.masking <= 0:
        return None, None
    height = left_luma.shape[0]
    first, last = rows if rows is not None else (0, height)
    radius = len(weights) // 2
    top, bottom = max(first - radius, 0), min(last + radius, height)  # the rows the window reads
    k = np.float32(thresholds.masking / thresholds.luma_shift)
    w = weights.astype(np.float32)
    if compiled_applies((bottom - top, left_luma.shape[1]), w, w):  # the moments never written out
        window = (left_luma[top:bottom], right_luma[top:bottom])
        return contrast_of_planes(*window, w, k, rows=(first - top, last - top), factors=factors, out=out)
    moments = _local_moments(left_luma[top:bottom], right_luma[top:bottom], weights)
    moments = tuple(m[first - top : last - top] for m in moments)
    these = contrast_scale(moments, k, factors=factors)
    if out is None:
        return these
    for target, values in zip(out, these, strict=True):
        target[...] = values
    return out


def shared_contrast(left_luma: np.ndarray, right_luma: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The smaller of the two images' local luma standard deviations over the SSIM window.

    Codec noise (ringing, mosquito noise) grows with the contrast of the edges
    both images share; an edit adds contrast to one image only, so the smaller
    of the two is the texture that can hide noise.
    """
    import cv2

    mean_x, square_x, mean_y, square_y = _local_moments(left_luma, right_luma, weights)
    variance = cv2.min(
        cv2.subtract(square_x, cv2.multiply(mean_x, mean_x)), cv2.subtract(square_y, cv2.multiply(mean_y, mean_y))
    )
    np.maximum(variance, 0.0, out=variance)  # rounding can take a flat patch's below 0
    return np.sqrt(variance, out=variance)


def _local_moments(left_luma: np.ndarray, right_luma: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mean_x, square_x, mean_y, square_y): each luma plane and its square averaged over the window
    (float32, OpenCV, borders reflected), in this thread's scratch planes (``cpu/rules.py``): valid
    until the next call on the thread."""
    from .cpu.filters import separable_filter
    from .cpu.scratch import scratch

    w = weights.astype(np.float32)
    moments = []
    for side, plane in (("x", left_luma), ("y", right_luma)):
        plane = np.ascontiguousarray(plane, np.float32)
        mean = separable_filter(plane, w, w, out=scratch(f"mean_{side}", plane.shape))
        square = separable_filter(plane, w, w, out=scratch(f"square_{side}", plane.shape), square=True)
        moments += [mean, square]
    return tuple(moments)


@functools.lru_cache(maxsize=8)
def _fold_factors(length: int, weights: tuple[float, ...]) -> np.ndarray:
    radius = len(weights) // 2
    w = np.asarray(weights)
    factors = np.ones(length, dtype=np.float32)
    for i in [*range(min(radius, length)), *range(max(length - radius, radius), length)]:
        folded = np.zeros(length)
        for k in range(-radius, radius + 1):
            j = (i + k) % (2 * length)  # scipy's 'reflect', again where the window is wider than the image
            j = j if j < length else 2 * length - 1 - j
            folded[j] += w[k + radius]
        factors[i] = np.sqrt((folded**2).sum() / (w**2).sum())
    return factors


def window_noise_factor(shape: tuple[int, int], weights: np.ndarray) -> np.ndarray:
    """How much more noise the window's average keeps at each pixel than inside the frame (1 there).

    The average of independent noise over the window has a standard deviation
    proportional to ``sqrt(sum w**2)``. Within ``radius`` of a border the
    reflected window folds onto fewer pixels, so the same noise averages out
    less (by ~1.38x at a border, ~1.9x at a corner, for sigma 1.5); a threshold
    set relative to the noise rises by as much. One rule for every pixel, so a
    codec's strip of noise along a border is judged like noise anywhere.
    """
    rows, columns = window_noise_factors(shape, weights)
    return np.outer(rows, columns)


def window_noise_factors(shape: tuple[int, int], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`window_noise_factor` as its two float32 factors, one per row and one per column."""
    key = tuple(float(v) for v in weights)
    return _fold_factors(shape[0], key), _fold_factors(shape[1], key)


GRID_CACHE_PIXELS = 1 << 22
"""Factor grids (:func:`factor_grid`) of images up to this many pixels (2560 x 1600) are kept for the
next pair of that size: a video's frames all take the same ones."""


def factor_grid(shape: tuple[int, int], weights: np.ndarray, kind: str, rows: slice = slice(None)) -> np.ndarray:
    """A float32 H x W grid of border noise factors, the outer product of a per-row and a per-column factor.

    ``kind``: ``"window"`` (:func:`window_noise_factor`), ``"line_rows"`` (the line average
    along rows: the window's factor per row, the combined line window's per column) or
    ``"line_columns"`` (the other way round); with ``rows``, those rows of it. The same
    values as ``np.outer`` of those factors (each element one float32 product); read-only,
    and the whole grid kept for the next call of the same shape where the image is at
    most ``GRID_CACHE_PIXELS`` (a larger one's rows are computed each time).
    """
    key = (tuple(shape), tuple(float(v) for v in weights), kind)
    if shape[0] * shape[1] <= GRID_CACHE_PIXELS:
        return _cached_grid(*key)[rows]
    return _grid(*key, rows)


@functools.lru_cache(maxsize=6)
def _cached_grid(shape: tuple[int, int], weights: tuple[float, ...], kind: str) -> np.ndarray:
    grid = _grid(shape, weights, kind)
    grid.flags.writeable = False
    return grid


def _grid(shape: tuple[int, int], weights: tuple[float, ...], kind: str, rows: slice = slice(None)) -> np.ndarray:
    row_factors, column_factors = window_noise_factors(shape, weights)
    if kind == "window":
        return np.outer(row_factors[rows], column_factors)
    line_rows, line_columns = line_factors(shape, weights)
    if kind == "line_rows":
        return np.outer(row_factors[rows], line_columns)
    if kind == "line_columns":
        return np.outer(line_rows[rows], column_factors)
    raise ValueError(f"no factor grid {kind!r}")


def luma_bias(left_luma: np.ndarray, right_luma: np.ndarray, thresholds: Thresholds) -> float:
    """The pair's own luma offset that the luma shift leaves out: 0 unless ``thresholds.luma_bias``.

    The median of ``Y1 - Y2`` over the 4 x 4 block means of the whole frame (OpenCV's
    ``INTER_AREA`` grid, which is :func:`coarse_chroma_shift`'s only where both sides are
    multiples of 4: elsewhere its blocks take fractions of rows), clipped to the luma threshold times
    ``HYSTERESIS_LOW``. Two encodes of one source can differ by a uniform offset
    (limited-range levels rounded through each generation's colour conversion: 2.3/255
    after three generations of x264), which adds to every pixel's luma shift and lifts
    codec noise, or hides a line of the other sign. The median is the pair's, not an
    edit's (an edit covers far less than half the frame); the clip keeps it to an
    offset too small to make even a weak pixel alone, so a visible change of the whole
    frame's brightness still counts by as much as it exceeds that.
    """
    if not thresholds.luma_bias:
        return 0.0
    height, width = left_luma.shape
    both_float32 = left_luma.dtype == np.float32 and right_luma.dtype == np.float32
    if not both_float32 or height % COARSE_FACTOR or width % COARSE_FACTOR:
        # OpenCV's, which keeps float64 planes float64 (the compiled pass is float32's alone)
        return luma_bias_of(luma_block_means(left_luma, right_luma), thresholds)
    from .cpu.block_means import difference_block_means

    # OpenCV's blocks in one compiled pass, bit for bit (~3x less time at 720p)
    return luma_bias_of(difference_block_means(left_luma, right_luma), thresholds)


def luma_block_means(left_luma: np.ndarray, right_luma: np.ndarray) -> np.ndarray:
    """``Y1 - Y2`` averaged over the 4 x 4 blocks of the coarse grid (float32, OpenCV's INTER_AREA).

    A band of rows that starts on a multiple of 4, of a multiple of 4 rows, gives the same
    blocks as those rows of the whole (at any width: the columns are resized alike).
    """
    import cv2

    from .cpu.scratch import scratch

    height, width = left_luma.shape
    left_luma, right_luma = np.ascontiguousarray(left_luma), np.ascontiguousarray(right_luma)
    return cv2.resize(
        cv2.subtract(left_luma, right_luma, dst=scratch("delta", left_luma.shape)),
        (max(width // COARSE_FACTOR, 1), max(height // COARSE_FACTOR, 1)),
        interpolation=cv2.INTER_AREA,
    )


def luma_block_means_of_rows(
    left_luma: np.ndarray, right_luma: np.ndarray, *, top: int, height: int, first_rows: tuple[int, int]
) -> np.ndarray:
    """:func:`luma_block_means` of a frame ``height`` rows high (any height), for the blocks whose
    first row lies in ``first_rows`` (first, last + 1): the whole frame's values, from some of its rows.

    ``left_luma`` and ``right_luma`` are the frame's rows ``top`` onwards, and hold every row those
    blocks read (a block reads at most the 5 rows below its first). Where ``height`` is no multiple of 4,
    OpenCV's INTER_AREA gives each block a fraction of the rows at its ends, with weights taken
    from the whole height: the columns are resized by OpenCV itself (rows stay apart), and the
    rows added here as OpenCV adds them (``computeResizeAreaTab``, then ``sum += beta * row``
    in float32, in row order); ``tests/test_bands.py`` holds this to ``cv2.resize`` bit for bit.
    """
    import cv2

    width = left_luma.shape[1]
    weights = _area_weights(height, max(height // COARSE_FACTOR, 1))
    first, last = first_rows
    wanted = weights[(weights["first"] >= first) & (weights["first"] < last)]
    if not len(wanted):
        return np.empty((0, max(width // COARSE_FACTOR, 1)), np.float32)
    rows = slice(int(wanted["source"].min()) - top, int(wanted["source"].max()) + 1 - top)
    delta = cv2.subtract(np.ascontiguousarray(left_luma[rows]), np.ascontiguousarray(right_luma[rows]))
    columns = cv2.resize(delta, (max(width // COARSE_FACTOR, 1), delta.shape[0]), interpolation=cv2.INTER_AREA)
    blocks = np.zeros((int(wanted["block"].max()) + 1 - int(wanted["block"].min()), columns.shape[1]), np.float32)
    offset, source_offset = int(wanted["block"].min()), rows.start + top
    started = np.zeros(len(blocks), dtype=bool)
    for source, block, weight in zip(wanted["source"], wanted["block"], wanted["weight"], strict=True):
        term = weight * columns[source - source_offset]
        if started[block - offset]:
            blocks[block - offset] += term
        else:
            blocks[block - offset], started[block - offset] = term, True
    return blocks


@functools.lru_cache(maxsize=4)
def _area_weights(size: int, small: int) -> np.ndarray:
    """OpenCV's ``computeResizeAreaTab`` from ``size`` rows to ``small``, as a table in its order:
    (source row, block, float32 weight, the block's first source row)."""
    scale = 1.0 / (small / size)  # OpenCV's scale_y, from its inv_scale_y
    entries = []
    for block in range(small):
        start = block * scale
        end = start + scale
        cell = min(scale, size - start)
        first, last = int(np.ceil(start)), int(np.floor(end))
        last = min(last, size - 1)
        first = min(first, last)
        these = []
        if first - start > 1e-3:
            these.append((first - 1, (first - start) / cell))
        these += [(row, 1.0 / cell) for row in range(first, last)]
        if end - last > 1e-3:
            these.append((last, min(min(end - last, 1.0), cell) / cell))
        entries += [(row, block, weight, these[0][0]) for row, weight in these]
    table = np.array(
        entries, dtype=[("source", np.int64), ("block", np.int64), ("weight", np.float32), ("first", np.int64)]
    )
    table.flags.writeable = False
    return table


def luma_bias_of(block_means: np.ndarray, thresholds: Thresholds) -> float:
    """:func:`luma_bias` from all the frame's block means (:func:`luma_block_means`, in any order)."""
    from .cpu.rules import median

    largest = HYSTERESIS_LOW * thresholds.luma_shift
    return float(np.clip(median(block_means), -largest, largest))


def unbiased(right: np.ndarray, bias: float) -> np.ndarray:
    """The right plane stack with ``bias`` added to its luma (a copy), so ``Y1 - Y2`` loses the bias."""
    if bias == 0.0:
        return right
    shifted = right.copy()
    shifted[..., 0] += np.float32(bias)
    return shifted


COARSE_FACTOR = 4
"""The coarse scale: differences averaged over 4 x 4 blocks, then the SSIM window's
sigma (1.5) at that resolution, about sigma 6 px at full resolution."""
COARSE_SIGMA = 1.5
"""The Gaussian on the coarse grid: the SSIM window's sigma, at 4 pixels a block."""
COARSE_TAPS = 13
"""OpenCV's kernel size for a float32 image and sigma 1.5 (``round(sigma * 8 + 1) | 1``)."""


@functools.cache
def coarse_gaussian_taps() -> np.ndarray:
    """The 13 float32 taps of the coarse Gaussian (``cv2.getGaussianKernel(13, 1.5, cv2.CV_32F)``, bit for bit)."""
    x = np.arange(COARSE_TAPS) - COARSE_TAPS // 2
    taps = np.exp(-(x * x) / (2 * COARSE_SIGMA * COARSE_SIGMA))
    taps = (taps / taps.sum()).astype(np.float32)
    taps.flags.writeable = False
    return taps


def coarse_chroma_shift(left: np.ndarray, right: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """``|(w6 * dCr, w6 * dCb)|`` at full resolution, averaged at the coarse scale (into ``out``, H x W
    float32, where given).

    A wide window averages codec chroma noise (subsampling, ringing at colour
    edges: thin and of both signs) far below a flat colour change of a 30 x 30
    patch, which keeps nearly all its value. Computed on a 4x smaller grid and
    interpolated back, so it costs a fraction of the fine pass.

    Notes
    -----
    On the chroma planes' difference ``d = left - right`` (float32):

    1. block means: ``max(H // 4, 1)`` rows by ``max(W // 4, 1)`` columns of 4 x 4
       blocks from the top left, the last row (column) of blocks also taking the
       ``H % 4`` rows (``W % 4`` columns) left over, or all of them below 4;
    2. a Gaussian of sigma 1.5 on that grid (13 taps, reflected at its edges);
    3. the magnitude of the two chroma planes;
    4. bilinear back to full size, half-pixel centres at exactly 4 pixels a block
       (pixel ``y`` reads blocks ``floor((y + 0.5) / 4 - 0.5)`` and the next, clamped).

    Each step's rounding is fixed in ``imgdiff_gpu/cpu/c/chroma.c``: the same value on
    any CPU, and, at a size that is a multiple of 4, OpenCV's ``INTER_AREA``,
    ``GaussianBlur``, ``magnitude`` (without IPP) and ``INTER_LINEAR``, bit for bit. A
    pixel reads the block rows within 7 of its own, so a band of rows that starts on a
    multiple of 4 with a halo of 8 block rows (``cpu/bands.py``) computes its rows as
    the whole image does, at any height.
    """
    from .cpu.chroma import coarse_chroma_shift_cpu

    return coarse_chroma_shift_cpu(left, right, out=out)


def coarse_block_means(array: np.ndarray) -> np.ndarray:
    """The means of an H x W [x C] array over the blocks of :func:`coarse_chroma_shift`'s grid (float32).

    ``max(H // 4, 1)`` x ``max(W // 4, 1)`` blocks of 4 x 4 from the top left, the last row
    (column) of blocks taking the rows (columns) left over; along the columns first, as
    ``c/chroma.c`` sums them. Where H and W are multiples of 4 that is OpenCV's ``INTER_AREA``,
    bit for bit, which takes a tenth of the time NumPy takes.
    """
    import cv2

    means = np.asarray(array, dtype=np.float32)
    height, width = means.shape[:2]
    if height % COARSE_FACTOR == 0 and width % COARSE_FACTOR == 0 and (means.ndim == 2 or means.shape[2] <= 4):
        small = (width // COARSE_FACTOR, height // COARSE_FACTOR)
        return cv2.resize(means, small, interpolation=cv2.INTER_AREA).reshape(small[1], small[0], *means.shape[2:])
    return _block_means_in_order(means)


def _block_means_in_order(means: np.ndarray) -> np.ndarray:
    """:func:`coarse_block_means` in NumPy, at any size."""
    for axis in (1, 0):
        along = np.moveaxis(means, axis, 0)
        blocks = max(along.shape[0] // COARSE_FACTOR, 1)
        full = along[: COARSE_FACTOR * (blocks - 1)].reshape(blocks - 1, COARSE_FACTOR, *along.shape[1:])
        rest = along[COARSE_FACTOR * (blocks - 1) :]
        sums = np.empty((blocks, *along.shape[1:]), np.float32)
        for block, part in ((sums[:-1], full.swapaxes(0, 1)), (sums[-1], rest)):
            block[...] = part[0]
            for row in part[1:]:  # in order, as chroma.c (np.add.reduce and reduceat are not)
                block += row
        sums[:-1] *= np.float32(1.0 / COARSE_FACTOR)
        sums[-1] *= np.float32(1.0) / np.float32(len(rest))
        means = np.moveaxis(sums, 0, axis)
    return means


LINE_SIGMA = COARSE_FACTOR * 1.5
"""A line's evidence is averaged along it at the coarse scale (sigma 6 px) and across it
over the SSIM window."""
LINE_SAMPLE = 4
"""The pair's noise ratio is taken from the medians over every 4th row and column."""


@functools.lru_cache(maxsize=8)
def _line_taps(weights: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """(extra, combined, white): the 1-D Gaussian that, after the SSIM window, makes sigma LINE_SIGMA
    along a line; the two combined (for the border noise factors); and the noise ratio of white noise.

    The window's sigma is read from its taps, so a window scaled down for a small image still combines
    to LINE_SIGMA.
    """
    w = np.asarray(weights, np.float64)
    offsets = np.arange(len(w)) - len(w) // 2
    window_sigma = float(np.sqrt((w * offsets**2).sum()))
    sigma = float(np.sqrt(max(LINE_SIGMA**2 - window_sigma**2, 1.0)))
    radius = int(np.ceil(4 * sigma))
    extra = np.exp(-((np.arange(-radius, radius + 1) / sigma) ** 2) / 2)
    extra /= extra.sum()
    combined = np.convolve(w, extra)
    white = float(np.sqrt((combined**2).sum() / (w**2).sum()))
    return extra.astype(np.float32), combined, white


def line_taps(weights: np.ndarray) -> np.ndarray:
    """The 1-D Gaussian (float32) that :func:`line_over_threshold` filters the luma shift with along a line."""
    return _line_taps(tuple(float(v) for v in weights))[0]


def line_factors(shape: tuple[int, int], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The window noise factors (:func:`window_noise_factor`) of the combined line window, per row and column."""
    _, combined, _ = _line_taps(tuple(float(v) for v in weights))
    key = tuple(float(v) for v in combined)
    return _fold_factors(shape[0], key), _fold_factors(shape[1], key)


def line_shift(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    masking: np.ndarray | None = None,
) -> np.ndarray | None:
    """The luma shift averaged along horizontal and vertical lines, over its threshold (float32), or None.

    A thin line keeps nearly all its luma shift when the window is stretched along it
    (sigma 6 px along, the SSIM window's 1.5 across), while compact codec noise keeps a
    fraction. Which fraction is the pair's own: ``ratio``, the median of this evidence
    over the median of the SSIM window's own (both over every 4th row and column, and
    each over its window's noise factor at the borders), is how much of its noise the
    pair keeps when averaged along a line; the threshold is the luma threshold times
    ``ratio`` (at least what white noise would keep, 0.5 for sigma 1.5), and times
    ``masking`` (:func:`contrast_masking`; None: 1). The longer window is the SSIM
    window followed by a 1-D Gaussian, so its average never exceeds the SSIM window's
    largest ``|w * dY|``. Give the right luma with the pair's offset already removed
    (:func:`unbiased`).
    """
    if not thresholds.line:
        return None
    shift = _luma_shift(left_luma, right_luma, weights)
    return line_over_threshold(shift, weights, thresholds, _line_noise_ratio(shift, weights), masking=masking)


def line_over_threshold(
    shift: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    ratio: float,
    *,
    shape: tuple[int, int] | None = None,
    top: int = 0,
    masking: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`line_shift` before the masking, from ``w * (Y1 - Y2)`` (unbiased) and the pair's ratio
    (into ``out``, a C-contiguous float32 plane of its shape, where given).

    With ``shape``, ``shift`` is rows ``top`` onwards of a map of that shape (a band of a
    taller image): the border noise factors are the whole map's, at those rows. With
    ``masking`` (:func:`contrast_masking`), divided by it too: :func:`line_shift`.

    The two averages are OpenCV's (compiled in ``cpu/filters.py``, the same values); the rest,
    ``max(|rows| / factors, |columns| / factors) / (t_luma * ratio)``, is one compiled pass of the
    same float32 operations (``cpu/rules.py``).
    """
    from .cpu.filters import compiled_applies, separable_filter
    from .cpu.rules import line_evidence, line_evidence_of_shift
    from .cpu.scratch import scratch

    extra, _, _ = _line_taps(tuple(float(v) for v in weights))
    one = np.ones(1, np.float32)
    shape = shift.shape if shape is None else shape
    these = slice(top, top + shift.shape[0])
    row_factors, column_factors = window_noise_factors(shape, weights)
    line_rows, line_columns = line_factors(shape, weights)
    factors = (row_factors[these], line_columns, line_rows[these], column_factors)
    threshold = thresholds.luma_shift * ratio
    if compiled_applies(shift.shape, extra, one) and compiled_applies(shift.shape, None, extra):
        # the averages a row at a time
        return line_evidence_of_shift(shift, extra, factors, threshold, masking=masking, out=out)
    along_rows = separable_filter(shift, extra, one, out=scratch("along_rows", shift.shape))
    along_columns = separable_filter(shift, None, extra, out=scratch("along_columns", shift.shape))
    evidence = line_evidence(along_rows, along_columns, factors, threshold, masking=masking)
    if out is None:
        return evidence
    out[...] = evidence
    return out


def line_noise_ratio(shift: np.ndarray, weights: np.ndarray) -> float:
    """The share of its noise the pair keeps averaged along a line (:func:`line_shift`'s ``ratio``),
    from ``w * (Y1 - Y2)`` with the pair's offset removed (:func:`luma_shift_map`)."""
    return _line_noise_ratio(shift, weights)


def luma_shift_map(left_luma: np.ndarray, right_luma: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``w * (Y1 - Y2)``, signed, float32, borders reflected (OpenCV)."""
    return _luma_shift(left_luma, right_luma, weights)


def _luma_shift(left_luma: np.ndarray, right_luma: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``w * (Y1 - Y2)``, signed, float32."""
    import cv2

    from .cpu.scratch import scratch

    w = np.asarray(weights, np.float32)
    left_luma, right_luma = np.ascontiguousarray(left_luma), np.ascontiguousarray(right_luma)
    delta = cv2.subtract(left_luma, right_luma, dst=scratch("delta", left_luma.shape))
    return cv2.sepFilter2D(delta, cv2.CV_32F, w, w, borderType=cv2.BORDER_REFLECT)


def _line_noise_ratio(shift: np.ndarray, weights: np.ndarray) -> float:
    """The medians' ratio over every LINE_SAMPLE-th row and column (:func:`line_noise_samples`)."""
    return line_noise_ratio_of(*line_noise_samples(shift, weights), weights)


def line_noise_ratio_of(line: np.ndarray, noise: np.ndarray, weights: np.ndarray) -> float:
    """The noise ratio from all the pair's samples (:func:`line_noise_samples`, in any order)."""
    from .cpu.rules import median

    _, _, white = _line_taps(tuple(float(v) for v in weights))
    noise = float(median(noise))
    return float(np.clip(median(line) / noise, white, 1.0)) if noise > 0 else 1.0


def line_noise_samples(
    shift: np.ndarray,
    weights: np.ndarray,
    *,
    shape: tuple[int, int] | None = None,
    top: int = 0,
    rows: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The line evidence and ``|shift|`` (float32, 1-D), each over its window's noise factor, at every
    LINE_SAMPLE-th row and column: the values whose medians make the pair's noise ratio.

    The line averages are computed there only: a row's average along rows reads that row
    alone, and a column's along columns that column alone, so filtering the sampled rows
    (columns) gives the whole map's values there. With ``shape``, ``shift`` is rows ``top``
    onwards of a map of that shape (a band with its halo), and ``rows`` (first, last + 1, of
    ``shift``) the rows sampled from: those at multiples of LINE_SAMPLE in the whole map.
    """
    from .cpu.filters import compiled_applies, separable_filter

    extra, _, _ = _line_taps(tuple(float(v) for v in weights))
    one = np.ones(1, np.float32)
    step = LINE_SAMPLE
    shape = shift.shape if shape is None else shape
    first, last = rows if rows is not None else (0, shift.shape[0])
    first += -(top + first) % step  # the first row at a multiple of the step in the whole map
    sampled = slice(top + first, top + last, step)
    row_factors, column_factors = window_noise_factors(shape, weights)
    line_rows, line_columns = line_factors(shape, weights)
    sampled_shape = (len(range(first, last, step)), len(range(0, shift.shape[1], step)))
    rows_shape, columns_shape = (sampled_shape[0], shift.shape[1]), (shift.shape[0], sampled_shape[1])
    if compiled_applies(rows_shape, extra, one) and compiled_applies(columns_shape, None, extra):
        # each sampled row filtered whole along and across (cpu/rules.py), no sampled plane copied out
        from .cpu.rules import line_samples_of

        factors = (row_factors[sampled], line_rows[sampled], line_columns[::step], column_factors[::step])
        line, noise = line_samples_of(shift, extra, first, step, factors, sampled_shape)
        return line.ravel(), noise.ravel()
    some_rows = np.ascontiguousarray(shift[first:last:step])
    some_columns = np.ascontiguousarray(shift[:, ::step])
    along_rows = np.abs(separable_filter(some_rows, extra, one))
    along_columns = np.abs(separable_filter(some_columns, None, extra))
    along_rows = along_rows[:, ::step] / np.outer(row_factors[sampled], line_columns[::step])
    along_columns = along_columns[first:last:step] / np.outer(line_rows[sampled], column_factors[::step])
    line = np.maximum(along_rows, along_columns)
    noise = np.abs(shift[first:last:step, ::step]) / np.outer(row_factors[sampled], column_factors[::step])
    return line.ravel(), noise.ravel()
