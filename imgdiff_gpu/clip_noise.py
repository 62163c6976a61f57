"""A video clip's own noise level, and the factor on the luma threshold that it calls for.

Two encodes of one clip keep codec noise whose level is the pair's: a VP9 encode at a high
CRF leaves motion-compensation specks in the middle of a frame as strong, against the
window's luma threshold, as a real blur edit in a quieter pair (``benchmarks/RESULTS.md``,
"What does separate them"). No rule of one frame tells them apart; how high the pair's noise
peaks, frame after frame, does. So for each frame ``k`` of a clip (``low`` only, the preset
the reference was measured on):

* its **peak** ``p_k``: the largest value over the frame's counted pixels of the window's luma
  term ``|w * dY - b| / (t_luma * scale)``, the value the strength pass compares with 1
  (:func:`frame_peak`), but for the two wide regions with the largest values (:func:`region_peak`):
  a rule cannot know where the edits are, but codec noise is specks all over the frame, and an
  edit on screen in every frame (a subtitle, a blurred face, a watermark) one wide region that
  would otherwise be its clip's noise and raise its own threshold;
* its clip's **noise** ``P_k``: the median of the peaks of frames ``k - REACH .. k + REACH``,
  the window cut at the clip's ends (the lower of the two middle values when it holds an even
  number): the same rule everywhere, no special pass for a clip's first or last frames; each of those
  peaks leaves out, whatever their width, the regions *fixed* in that window (regions of more than
  ``FIXED`` of its frames overlap their box, :func:`window_peaks`): an overlay edit (a logo, a subtitle,
  a watermark) stays at one place in the frame, codec specks move with the content on a pan or a zoom.
  On content that does not move, the specks stay too and are left out: the frame keeps ``F = 1``, the
  result it has without the rule;
* its **factor** ``F_k = max(1, P_k / REFERENCE_PEAKS[preset])``: the frame is judged with the
  window's luma threshold times ``F_k`` (:attr:`imgdiff_gpu.detection.Thresholds.luma_factor`;
  the line evidence, the offset and the other terms keep their thresholds).

The reference is the noise the thresholds were tuned against: the largest median frame peak
among the tuning seed's pairs. A frame whose window is no noisier than that keeps ``F = 1`` and
the result it had without the rule; an edit in a noisier clip must stand out from that clip's noise.

Raising a threshold only clears evidence, so a frame proven unchanged at ``F = 1`` (the video
screen, :mod:`imgdiff_gpu.screening`) stays unchanged: only a frame flagged at ``F = 1`` in
a clip with ``F_k > 1`` is compared again, from what its first comparison computed that ``F`` does
not act on (:class:`imgdiff_gpu.cpu.analysis.FirstComparison`: the strength pass, hysteresis and
regions alone). A peak matters only where it reaches the
reference, so it is exact only from ``PEAK_CUT`` up and recorded as 0 below: the lower median
of a window is then the same order statistic as with every peak exact.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._context import bound
from .detection import Thresholds

REACH = 15
"""Frames each side of a frame whose peaks make its noise level (31 in all, ~1 s at 30 fps)."""

REFERENCE_PEAKS = {"low": 0.6298}
"""Per preset, the largest median over a clip's frames of the frame peak among the tuning seed's
pairs (``benchmarks/video_set.py`` seed 2026, its six 720p clips of 120 frames): the astronaut pan,
x264 vs VP9 CRF 33 (0.6351 before the wide regions were left out). Derived by
``python -m benchmarks.clip_noise_reference`` (the frame peaks ``imgdiff video`` records,
``benchmarks/results/clip-noise-reference-s2026-720p.json``; the same with the fixed regions left out,
``…-persist3.json``); only ``low`` has one, so only ``low`` applies the rule."""

PEAK_CUT = 0.6
"""A frame's peak is exact from here up and recorded as 0 below (the rows whose luma shift alone, unmasked,
reaches it are computed; a frame whose screen bound stays below it computes none): every reference lies
above it (a test checks), so the lower median of a window is the same order statistic either way."""


REGIONS_LEFT_OUT = 2
"""How many regions of a frame's luma term (its pixels reaching ``PEAK_CUT``, joined within ``JOIN``) wider
than ``WIDE`` its peak leaves out, those with the largest peaks: one or two edits on screen in every frame
do not set their clip's noise, while codec noise, specks all over the frame, does (``benchmarks/RESULTS.md``,
"edits that last the whole clip")."""

JOIN = 5
"""City-block steps by which the pixels reaching the cut are dilated before they are grouped (8-connected):
pixels up to ~10 px apart are one region, so a word or a blurred patch is one or a few."""

WIDE = 40
"""A region whose box, dilated, is this many px wide or high is an edit's, not a speck's: codec specks
make regions of 11-27 px (a few up to 61 on a VP9 rocket), subtitles, blurs and lines 75-175 px."""

FIXED = 0.5
"""A region of a frame of ``k``'s window is left out of ``k``'s noise when regions of more than this share of
the window's frames overlap its box (:func:`window_peaks`): an overlay edit (a logo, a subtitle, a fixed
blurred patch) stays at one place in the frame, whatever its width, while codec specks sit on the moving
content's edges and move with them on a pan or a zoom (on seed 41's VP9 rocket, mostly 10-40 % of a window's
frames; 3 of its 661 regions more than half; ``benchmarks/RESULTS.md``, "edits fixed on screen"). The median
of a window is set by more than half of its frames, so an edit in fewer cannot set it either. A region that no
other frame's overlaps is never fixed: a window of one frame (a selection of one) keeps its noise."""


class FramePeak(float):
    """A frame's peak (:func:`region_peak`'s value, a float wherever a peak is one) with the regions it was
    taken from: ``regions``, one row ``[peak, top, left, bottom, right]`` a region (its box after the
    joining, in the frame's pixels), largest peak first, so that a frame's noise can leave out, of each frame
    of its window, the regions fixed in the window (:func:`window_peaks`). A plain float is a peak without
    regions: nothing of it is fixed."""

    regions: np.ndarray

    def __new__(cls, peak: float, regions: np.ndarray) -> FramePeak:
        self = super().__new__(cls, peak)
        self.regions = regions
        return self

    def __reduce__(self):  # a cluster's workers send it to the client, regions and all
        return FramePeak, (float(self), self.regions)


def region_peak(term: np.ndarray, *, frame_rows: np.ndarray | None = None) -> float:
    """The largest peak of ``term``'s regions but the ``REGIONS_LEFT_OUT`` wide ones with the largest peaks
    (0 where none is left), as a :class:`FramePeak` holding every region: ``term`` holds the luma term
    wherever it reaches ``PEAK_CUT``. ``frame_rows``: the frame's row that each row of ``term`` is, where ``term``
    holds some of the frame's rows (:func:`packed_rows`): the regions, their boxes' rows the frame's, are then the
    whole frame's."""
    from .cpu.term_regions import term_regions

    # as scipy.ndimage's binary_dilation, label, maximum and find_objects give them, from the pixels reaching
    # the cut alone (scipy's passes over their band of rows took ~6 ms a VP9 frame)
    found = term_regions(term, PEAK_CUT, JOIN)
    if not len(found):
        return 0.0
    regions = found[np.argsort(-found[:, 0], kind="stable")]
    if frame_rows is not None:
        tops, bottoms = regions[:, 1].astype(np.intp), regions[:, 3].astype(np.intp)
        regions[:, 1], regions[:, 3] = frame_rows[tops], frame_rows[bottoms - 1] + 1
    return FramePeak(_leaving_out_wide(regions), regions)


def packed_rows(runs: list[tuple[int, int]], height: int) -> tuple[np.ndarray, list[int]]:
    """The rows of a frame ``height`` rows high that :func:`region_peak` needs where the terms reaching the cut
    lie on ``runs`` (first, last + 1) alone: each run and the ``JOIN`` rows about it, two runs further apart
    than their dilated pixels can join with ``2 * JOIN + 2`` rows between them (no region spans those, and each
    half keeps its side's rows, which a region's box reaches). Returns the frame's row of each packed row, and
    where each run's first row lies among them."""
    gap = 2 * JOIN + 2
    pieces, starts, packed = [], [], 0
    previous = max(runs[0][0] - JOIN, 0)  # the frame row after the last one packed
    for first, last in runs:
        if first - previous > gap:  # the two halves of a wide gap, each beside its own run
            before = [np.arange(previous, previous + gap // 2), np.arange(first - gap // 2, first)]
        else:
            before = [np.arange(previous, first)]
        packed += sum(len(rows) for rows in before)
        starts.append(packed)
        pieces += [*before, np.arange(first, last)]
        packed += last - first
        previous = last
    pieces.append(np.arange(previous, min(previous + JOIN, height)))
    return np.concatenate(pieces), starts


def _leaving_out_wide(regions: np.ndarray) -> float:
    """The first peak of ``regions`` (largest first) but the ``REGIONS_LEFT_OUT`` first wide ones; 0 if none."""
    left_out = 0
    for peak, top, left, bottom, right in regions:
        if max(bottom - top, right - left) >= WIDE and left_out < REGIONS_LEFT_OUT:
            left_out += 1
            continue
        return float(peak)
    return 0.0


def window_peaks(peaks: list[float]) -> list[float]:
    """The peaks of a window's frames with the regions fixed in the window left out: a region of one of its
    frames is fixed when regions of more than ``FIXED`` of the window's frames (its own included) overlap
    its box. Each frame's peak is then :func:`region_peak`'s over the regions it keeps; a plain float (a peak
    without regions) stays as it is."""
    overlaps = _Overlaps(span=len(peaks))
    for peak in peaks:
        overlaps.add(peak)
    return overlaps.kept_peaks(0, len(peaks))


@dataclass(slots=True)
class _Region:
    """A region of a frame, as :class:`_Overlaps` tracks it: its peak, whether it is wide (``WIDE``), and the
    frames holding a region over its box, as the bits of an int (bit ``span + d``: the frame ``d`` after it)."""

    peak: float
    wide: bool
    frames: int


class _Frame(NamedTuple):
    """A frame of the clip as :class:`_Overlaps` holds it: its peak, its regions' rows ``[peak, top, left, bottom,
    right]`` (:class:`FramePeak`), and those regions tracked, in the same order (largest peak first)."""

    peak: float
    boxes: np.ndarray
    regions: list[_Region]


class _Overlaps:
    """The frames of a clip as they arrive, and for each region of each, which of the frames up to ``span``
    before or after it hold a region overlapping its box: each pair of frames is compared once, when the
    later one arrives, so a window's fixed regions cost a count per region, not a comparison of every box with
    every other (a static pair with 100 regions a frame: ~230 ms a frame that way). Each region's frames are the
    bits of an int (bit ``span + d``: the frame ``d`` after it), so that a window's count is one ``&`` and a bit
    count, and a frame's boxes are compared with those of every frame before it in one NumPy pass: NumPy's calls
    per frame and region took ~9 times as long on the VP9 astronaut pan (0.45 against 0.05 ms a frame)."""

    def __init__(self, span: int):
        self.span = span
        self.frames: dict[int, _Frame] = {}  # by position in the clip
        self.added = 0

    def add(self, peak: float) -> None:
        regions = peak.regions if isinstance(peak, FramePeak) else np.empty((0, 5))
        itself = 1 << self.span  # a region overlaps itself
        own = [_Region(float(r[0]), max(r[3] - r[1], r[4] - r[2]) >= WIDE, itself) for r in regions.tolist()]
        position = self.added
        others = [o for o in range(max(position - self.span, 0), position) if o in self.frames]
        others = [o for o in others if len(self.frames[o].boxes)] if len(regions) else []
        if others:  # every box of the frames within span before it at once
            counts = [len(self.frames[o].boxes) for o in others]
            theirs = np.concatenate([self.frames[o].boxes[:, 1:] for o in others])
            mine, their = regions[:, None, 1:], theirs[None]
            overlap = (
                (mine[..., 0] < their[..., 2])
                & (their[..., 0] < mine[..., 2])
                & (mine[..., 1] < their[..., 3])
                & (their[..., 1] < mine[..., 3])
            )
            # each of its regions: which of those frames hold one over it; each of theirs: whether it holds one
            starts = np.cumsum([0, *counts[:-1]])
            over_mine = np.nonzero(np.logical_or.reduceat(overlap, starts, axis=1))
            for i, f in zip(*(index.tolist() for index in over_mine), strict=True):
                own[i].frames |= 1 << (self.span + others[f] - position)
            overlapped = np.flatnonzero(overlap.any(axis=0))  # their regions that one of mine overlaps
            frame_of = np.repeat(np.arange(len(others)), counts)[overlapped].tolist()
            for k, f in zip((overlapped - starts[frame_of]).tolist(), frame_of, strict=True):
                self.frames[others[f]].regions[k].frames |= 1 << (self.span + position - others[f])
        self.frames[position] = _Frame(peak, regions, own)
        self.added += 1

    def forget_before(self, position: int) -> None:
        for old in [p for p in self.frames if p < position]:
            del self.frames[old]

    def kept_peaks(self, first: int, last: int) -> list[float]:
        """:func:`window_peaks` of the window of frames ``first .. last - 1`` (within ``span`` of each other)."""
        need = FIXED * (last - first)
        frames = (1 << (last - first)) - 1
        kept = []
        for position in range(first, last):
            frame = self.frames[position]
            if not isinstance(frame.peak, FramePeak):
                kept.append(float(frame.peak))
                continue
            window = frames << (self.span + first - position)  # the window's frames among each region's
            kept_peak, left_out = 0.0, 0
            for region in frame.regions:  # _leaving_out_wide of the regions not fixed
                count = (region.frames & window).bit_count()  # frames of the window over it (itself too)
                if count > need and count > 1:  # fixed (alone, in a window of one frame, it is the frame's noise)
                    continue
                if region.wide and left_out < REGIONS_LEFT_OUT:
                    left_out += 1
                    continue
                kept_peak = region.peak
                break
            kept.append(kept_peak)
        return kept


def _hot_rows(row_peaks: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """The rows whose largest ``|shift|`` (``row_peaks``) over ``t_luma`` may reach ``PEAK_CUT``, with a
    margin over float32 rounding: the term's scale is >= 1, so no other row's term can."""
    return row_peaks / np.float32(thresholds.luma_shift) >= np.float32(PEAK_CUT * (1.0 - 1e-3))


def _counted(term: np.ndarray, counted: np.ndarray | None) -> np.ndarray:
    """``term`` where its pixels count, 0 where they are ignored."""
    return term if counted is None else np.where(counted, term, 0)


def frame_peak(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    shift: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    counted: np.ndarray | None = None,
    row_peaks: np.ndarray | None = None,
) -> float:
    """:func:`region_peak` of the window luma term ``|shift| / (t_luma * scale)`` over the counted pixels
    where it reaches ``PEAK_CUT``: the largest term but for the wide regions left out; 0 where none is left.

    ``shift``: ``w * dY`` with the pair's offset removed (:func:`imgdiff_gpu.detection.luma_shift_map`,
    or the video screen's); ``scale`` as the strength pass has it (contrast masking times the border
    noise factors, :func:`imgdiff_gpu.detection.border_factors`), computed, as the full comparison
    computes it, on the runs of rows whose largest ``|shift| / t_luma`` reaches the cut (the scale
    is >= 1, so no other row can). ``row_peaks``: each row's largest ``|shift|``, where known. A pair the
    video screen clears has its peak from the rows its bound says can reach the cut alone (:func:`cleared_peak`).
    """
    from .cpu.rules import abs_peaks
    from .detection import _masking_and_scale, border_factors, flag_runs

    t = np.float32(thresholds.luma_shift)
    hot = _hot_rows(abs_peaks(shift)[0] if row_peaks is None else row_peaks, thresholds)
    if not hot.any():
        return 0.0
    row_factors, column_factors = border_factors(shift, shift.shape, weights, thresholds)
    terms = np.zeros(shift.shape, np.float32)
    for first, last in flag_runs(hot, join=len(weights)):
        factors = (row_factors[first:last], column_factors)
        _, scale = _masking_and_scale(left_luma, right_luma, weights, thresholds, rows=(first, last), factors=factors)
        if scale is None:  # no masking: the border factors alone
            scale = np.outer(factors[0], factors[1])
        term = np.abs(shift[first:last]) / (scale * t)
        terms[first:last] = _counted(term, None if counted is None else counted[first:last])
    return region_peak(terms)


def frame_peak_of(left: np.ndarray, right: np.ndarray, thresholds: Thresholds, ignore: np.ndarray | None) -> float:
    """:func:`frame_peak` of two same-sized RGB frames (for the frames the video screen did not measure)."""
    from .pipeline import luma_ssim_params
    from .planes import PixelPair

    left_luma, right_luma = PixelPair(left, right).luma
    weights = luma_ssim_params(left_luma).weights
    return luma_peak(left_luma, right_luma, weights, thresholds, None if ignore is None else ~ignore)[0]


def luma_peak(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    counted: np.ndarray | None = None,
) -> tuple[float, float, np.ndarray]:
    """(:func:`frame_peak`, the pair's offset, its shift) of two luma planes, the offset and shift computed
    as the full comparison computes them (:func:`imgdiff_gpu.detection.difference_mask`): so the peak is
    the same, bit for bit, whichever path measures it (the screen's luma planes are the stacks')."""
    from .detection import luma_bias, luma_shift_map

    bias = luma_bias(left_luma, right_luma, thresholds)
    shift = luma_shift_map(left_luma, np.add(right_luma, np.float32(bias)) if bias != 0.0 else right_luma, weights)
    return frame_peak(left_luma, right_luma, shift, weights, thresholds, counted=counted), bias, shift


NEAR = 1e-5
"""How far the video screen's luma shift (:attr:`imgdiff_gpu.cpu.ssim.ScreenBounds.shift`: ``ux - uy`` of float64
window means less its own offset, rounded once to float32), its offset replaced by the exact one, may lie from
OpenCV's float32 shift of the same planes (:func:`imgdiff_gpu.detection.luma_shift_map`), both in [0, 1]: the
offset added to the right plane rounds within ``u (1 + |b|)`` (``u = 2**-24``), the float32 taps within ``2u`` of
the window's mean ``|dY - b|`` (at most ``1 + |b|``), each 11-tap pass within ``~12u`` of it, the screen's one
rounding within ``u`` of its value: in all below ``30u (1 + |b|)``, 2e-6. Five times that; measured on the VP9 and
x265 pairs of ``benchmarks/video_set.py``: 6e-8."""


def cleared_peak(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    rows: np.ndarray,
    *,
    counted: np.ndarray | None = None,
    bias: float | None = None,
    near: tuple[np.ndarray, float] | None = None,
) -> float:
    """:func:`luma_peak`'s peak, bit for bit, of a pair whose terms reach ``PEAK_CUT`` on ``rows`` alone (bool,
    one per row; the video screen's bound, :attr:`imgdiff_gpu.cpu.ssim.ScreenBounds.row_masked`), computing the
    shift and masking on those rows alone.

    The offset is the whole frame's (:func:`imgdiff_gpu.detection.luma_bias`; ``bias``, where already known). OpenCV
    filters each run of ``rows`` from the rows its window reads about it (the frame's edge reflected as the whole
    frame's filter reflects it): the same values as those rows of the whole frame's shift and masking
    (``tests/test_clip_noise.py`` holds them to it bit for bit). What needs the whole frame's shift is the border
    noise factors (:func:`imgdiff_gpu.detection.border_factors`: its medians along the border rows and columns and
    over every 4th row and column), on the frame's outer ``radius`` rows and columns alone. A factor only raises the
    scale (each float32 product and quotient is monotonic), so where no term of those pixels reaches the cut over a
    lower bound of their factors, none does over the factors themselves and the peak leaves them out either way:
    first the window's own factors (:func:`imgdiff_gpu.detection.window_noise_factors`, which the measured ones
    never go below), then, with ``near`` (the screen's shift and offset, within ``NEAR`` of OpenCV's), the measured
    ones' lower bounds from the screen's shift; only where a term still reaches it, the measured factors from the
    whole frame's shift, as :func:`luma_peak` computes them.
    """
    from .border_noise import border_indices
    from .detection import (
        _masking_and_scale,
        border_factors,
        flag_runs,
        luma_bias,
        luma_shift_map,
        window_noise_factors,
    )

    height, width = left_luma.shape
    radius = len(weights) // 2
    runs = flag_runs(rows, join=len(weights))
    if not runs:
        return 0.0
    if bias is None:
        bias = luma_bias(left_luma, right_luma, thresholds)

    def shift_of(first: int, last: int) -> np.ndarray:
        above, below = max(first - radius, 0), min(last + radius, height)  # the rows the window reads
        right = right_luma[above:below]
        right = np.add(right, np.float32(bias)) if bias != 0.0 else right
        return luma_shift_map(left_luma[above:below], right, weights)[first - above : last - above]

    magnitudes = [np.abs(shift_of(first, last)) for first, last in runs]
    maskings = [_masking_and_scale(left_luma, right_luma, weights, thresholds, rows=run)[0] for run in runs]
    # the rows the regions can reach: the runs and the JOIN rows about them, with no wide gap between them
    frame_rows, starts = packed_rows(runs, height)
    t = np.float32(thresholds.luma_shift)
    terms = np.zeros((len(frame_rows), width), np.float32)

    def terms_over(factors: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        # frame_peak's terms: scale = masking * (row * column) as the compiled pass has it
        for (first, last), start, magnitude, masking in zip(runs, starts, magnitudes, maskings, strict=True):
            scale = np.outer(factors[0][first:last], factors[1])
            if masking is not None:
                scale = masking * scale
            term = magnitude / (scale * t)
            terms[start : start + last - first] = _counted(term, None if counted is None else counted[first:last])
        return terms

    border_columns = border_indices(width, radius)
    border_rows = np.flatnonzero(np.isin(frame_rows, border_indices(height, radius)))

    def border_reaches(terms: np.ndarray) -> bool:
        cut = np.float32(PEAK_CUT)  # as term_regions compares
        return bool((terms[:, border_columns] >= cut).any() or (terms[border_rows] >= cut).any())

    terms = terms_over(window_noise_factors((height, width), weights))
    if thresholds.border_noise and border_reaches(terms):
        below = None if near is None else _border_factors_below(*near, bias, weights)
        if below is not None:
            terms = terms_over(below)
        if below is None or border_reaches(terms):
            right = np.add(right_luma, np.float32(bias)) if bias != 0.0 else right_luma
            shift = luma_shift_map(left_luma, right, weights)
            terms = terms_over(border_factors(shift, shift.shape, weights, thresholds))
    return region_peak(terms, frame_rows=frame_rows)


def _border_factors_below(
    near_shift: np.ndarray, near_bias: float, bias: float, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Lower bounds (float32) of :func:`imgdiff_gpu.border_noise.measured_window_factors` of OpenCV's shift, from
    a shift within ``NEAR`` of it once its offset ``near_bias`` is replaced by ``bias`` (:func:`cleared_peak`); None
    where the pair's noise inside the frame may be 0 (the factors are then the window's own).

    A median of values each within ``NEAR`` of the exact ones is within ``NEAR`` of theirs (the inside samples are
    divided by window factors >= 1, which only brings them closer); each float32 operation here rounds within 1e-7
    of its value, which the relative slack covers."""
    from .border_noise import border_indices
    from .cpu.rules import median
    from .detection import LINE_SAMPLE, window_noise_factors

    height, width = near_shift.shape
    radius = len(weights) // 2
    rows, columns = (f.copy() for f in window_noise_factors((height, width), weights))
    correction = np.float32(near_bias - bias)
    step = LINE_SAMPLE
    inside = np.abs(near_shift[::step, ::step] + correction) / np.outer(rows[::step], columns[::step])
    noise = float(median(inside))
    if not noise * (1 - 1e-6) - NEAR > 0:
        return None
    noise_high = (noise + NEAR) * (1 + 1e-6)
    for factors, lines in (
        (rows, [(i, near_shift[i]) for i in border_indices(height, radius)]),
        (columns, [(j, near_shift[:, j]) for j in border_indices(width, radius)]),
    ):
        for index, line in lines:
            low = max(float(median(np.abs(line + correction))) * (1 - 1e-6) - NEAR, 0.0)
            factors[index] = max(factors[index], np.float32(low / noise_high * (1 - 1e-6)))
    return rows, columns


_peaks: contextvars.ContextVar[list | None] = contextvars.ContextVar("clip_noise_peaks", default=None)


def measuring_peaks() -> contextlib.AbstractContextManager[list[float]]:
    """Within this block (on this thread), the full comparison (:func:`imgdiff_gpu.detection.difference_mask`)
    appends each pair's noise peak to the list it yields, from the luma shift and scale it computes
    anyway: the video path's peak of a pair the screen did not measure, at no extra filtering."""
    return bound(_peaks, [])


def record_peak(
    shift: np.ndarray | None,
    luma_scale: np.ndarray | None,
    row_peaks: np.ndarray | None,
    thresholds: Thresholds,
    counted,
) -> None:
    """The full comparison's hook (:func:`measuring_peaks`; nothing outside one): :func:`frame_peak` from its
    ``shift``, each row's largest ``|shift|`` (``row_peaks``) and ``luma_scale``, which it computes on every
    row whose ``|shift| / t_luma`` reaches the weak cut-off (below ``PEAK_CUT``), there by the same functions
    of the same planes, so the same values."""
    found = _peaks.get()
    if found is None or shift is None or luma_scale is None:
        return
    rows = np.flatnonzero(_hot_rows(row_peaks, thresholds))
    term = np.abs(shift[rows]) / (luma_scale[rows] * np.float32(thresholds.luma_shift))
    terms = np.zeros(shift.shape, np.float32)
    terms[rows] = _counted(term, None if counted is None else counted[rows])
    found.append(region_peak(terms))


def noise_factors(peaks: list[float], reference: float, reach: int = REACH) -> list[float]:
    """Each frame's factor ``max(1, P_k / reference)`` for a whole clip's peaks (the module docstring)."""
    return [factor for _, factor in noise_levels(peaks, reference, reach)]


def noise_levels(peaks: list[float], reference: float, reach: int = REACH) -> list[tuple[float, float]]:
    """Each frame's (peak, factor) for a whole clip's peaks: its peak with the regions fixed in its window
    left out (:func:`window_peaks`, a plain float), and its factor (:func:`noise_factors`)."""
    noise, levels = ClipNoise(reference, reach), []
    for peak in peaks:  # streamed, so that a long clip's frames are forgotten once no window needs them
        noise.add(peak)
        levels.extend(noise.ready())
    noise.end()
    levels.extend(noise.ready())
    return levels


def _level(overlaps: _Overlaps, k: int, first: int, last: int, reference: float) -> tuple[float, float]:
    """(peak, factor) of frame ``k`` whose window is frames ``first .. last - 1``."""
    kept = overlaps.kept_peaks(first, last)
    return kept[k - first], max(1.0, _window_median(kept) / reference)


def _window_median(values: list[float]) -> float:
    # the lower middle value of an even count: an order statistic, so peaks below PEAK_CUT (known only
    # to lie below it) can never move it while it is above the cut
    return sorted(values)[(len(values) - 1) // 2]


class ClipNoise:
    """:func:`noise_factors` as the frames arrive: each frame's factor once the peaks of the ``reach``
    frames after it (or the clip's end) are known, so it depends on the clip alone, never on how many
    frames were analysed ahead."""

    def __init__(self, reference: float, reach: int = REACH):
        self.reference = reference
        self.reach = reach
        self._overlaps = _Overlaps(span=2 * reach)  # the frames still needed, their regions' overlaps
        self._next = 0  # the position of the next frame whose factor is handed out
        self._ended = False

    def add(self, peak: float) -> None:
        """The peak of the next frame of the clip."""
        self._overlaps.add(peak if isinstance(peak, FramePeak) else float(peak))

    def end(self) -> None:
        """No frame follows: the last frames' windows are cut at the clip's end."""
        self._ended = True

    def ready(self) -> Iterator[tuple[float, float]]:
        """(peak, factor) of each frame, in order, whose window is now complete: :func:`noise_levels`'."""
        added = self._overlaps.added
        while self._next < added and (self._ended or added > self._next + self.reach):
            k = self._next
            yield _level(self._overlaps, k, max(k - self.reach, 0), min(k + self.reach + 1, added), self.reference)
            self._next += 1
            # a frame added later lies past k + reach, so it compares with nothing before k + 1 - reach
            self._overlaps.forget_before(self._next - self.reach)
