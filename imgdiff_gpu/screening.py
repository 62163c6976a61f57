"""Proving cheaply that two frames have no difference, so the full comparison runs only where one may be.

Most frame pairs of two encodes of one video differ by compression noise
alone. For those, everything :func:`imgdiff_gpu.pipeline.compare` reports
is known once the SSIM map is: the score is its mean, and there are no
regions, because no pixel's difference strength reaches 1 (a region needs a
pixel at full strength, see :mod:`imgdiff_gpu.detection`). Each term of the
strength has an upper bound that two passes over the frames yield: one over the
RGB frames (``cpu/screen.py``: luma planes, per-pixel steps, block sums of the
differences) and the SSIM pass, which computes the bounds alongside the map from
the window means it already has (``cpu/c/ssim.c``). The bounds need not be the
full path's values, only never below them (up to rounding, which ``MARGIN`` covers):
a pair they cannot clear goes to the full comparison, which computes everything exactly.

* luma shift ``|w * dY - b| / (t_luma * scale)``, with ``b`` the pair's own luma
  offset (:func:`imgdiff_gpu.detection.luma_bias`, 0 but for ``low``; here from the
  block sums, :func:`block_luma_bias`) and ``scale`` >= 1 (shared-contrast masking,
  the window's noise factor near borders): ``w * dY`` is ``ux - uy`` of the SSIM
  pass; where it reaches ``t_luma`` the pass bounds the scale from below at that
  pixel (the window variance of ``x`` summed directly, ``y``'s from the pass's
  ``x^2 + y^2``, each less ``VARIANCE_SLACK``) and takes the shift over it; "one
  strong pixel" remains a bound where a region needs a core of several;
* chroma shift ``|(w * dCr, w * dCb)| / t_chroma``: the window is a weighted
  average, so this is at most the largest per-pixel ``|(dCr, dCb)|``;
* coarse chroma shift over ``t_coarse``: its largest value, computed on the
  small grid from the block sums (:func:`coarse_chroma_bound`), only when the
  largest per-pixel step could reach it;
* structure ``min((1 - S) / (1 - t_ssim), (w * |dY - b|) / t_texture)``: Otsu's
  threshold never exceeds the preset's ceiling, so the first term is at most
  ``(1 - min S) / (1 - ceiling)``, and the second at most ``(max |dY| + |b|) / t_texture``;
* line shift (``low``: the luma shift averaged along rows and columns, over the
  luma threshold times the pair's own noise ratio, see
  :func:`imgdiff_gpu.detection.line_shift`): its window is the SSIM window followed
  by a 1-D Gaussian, so it is at most the row's (column's) largest shift over that ratio
  (the medians of every 4th row and column, :func:`imgdiff_gpu.cpu.screen.sampled_line_noise_ratio`,
  of the pass's shift); past that it is computed along the rows and columns whose largest
  shift reaches it (:func:`masked_line_shift`);
* ``exact`` sensitivity: no RGB value differs at all.

The per-pixel steps come first and decide without the SSIM pass where they
can: identical frames (a still scene rendered twice) score exactly 1, as the
full path computes it, and an ``exact`` or chroma bound that is already too
large sends the pair straight to the full comparison.

A pair whose bounds all stay below ``1 - MARGIN`` has no difference; the
margin covers the full path's float32 rounding (~1e-6). Any other pair goes
through the full comparison, so a frame's score, mask and regions are always
those the image path gives (the bounds only decide which path computes them).
"""

from __future__ import annotations

import cv2
import numpy as np

from .cpu.analysis import ScreenedPair
from .detection import LumaEvidence, Thresholds, flag_runs, luma_bias
from .pipeline import luma_ssim_params, score_of

MARGIN = 1e-3
# What each window variance loses, times the window's second moment, before the masking bound takes
# its root (``cpu/c/ssim.c``): the full path computes the variance from OpenCV's float32 moments, two
# 11-tap passes and a square (each within ~23 float32 roundings, 1.4e-6, of the value), so within
# ~4.5e-6 of the second moment of the float64 value the fused pass computes; the bound's contrast then
# never exceeds the full path's (tests/test_screening.py checks both ways on photographs).
VARIANCE_SLACK = 5e-6
# After this many pairs in a row that it could not clear, the screen stands aside
# for 8 pairs, then tries one; each further miss doubles the pause (to at most 64
# pairs) until it clears a pair again. Where every frame differs it would only add
# its cost to the full comparison's; the results are the same either way. A pair
# it cannot clear hands the full comparison its SSIM map and the pair's luma offset
# (:meth:`FrameScreen.measure_keeping`), so a miss costs ~5-10 ms of a 720p pair's
# ~55 (single-threaded), and a pair it clears saves ~40: 8 misses, not 4, since
# an edit spans several frames (3-7 in benchmarks/video_set.py's clips), and after
# 4 the pause kept the screen from the unchanged frames after it (screening every
# pair, which 8 amounts to on those clips, took 23 % and 27 % less CPU time in
# `imgdiff video` on two of them at 720p than pausing after 4).
MISSES_BEFORE_PAUSE = 8
FIRST_PAUSE, LONGEST_PAUSE = 8, 64


class FrameScreen:
    """Screens same-sized RGB uint8 frame pairs against one set of thresholds and ignored pixels."""

    def __init__(
        self, shape: tuple[int, int], thresholds: Thresholds, ignore: np.ndarray | None = None, *, peaks: bool = False
    ):
        """``peaks``: also measure each pair's noise peak (:meth:`measure_with_peak`)."""
        self.shape = tuple(shape)
        self.peaks = peaks
        self.thresholds = thresholds
        self.params = luma_ssim_params(np.empty(shape, dtype=np.float32))
        self.ignore = ignore
        self.counted = None if ignore is None else ~ignore
        self.reach = None
        if ignore is not None:
            # a counted pixel's strength reads every pixel its window covers
            size = 2 * self.params.radius + 1
            self.reach = cv2.dilate(self.counted.view(np.uint8), np.ones((size, size), np.uint8)).view(bool)
        self._misses = 0
        self._pause = 0  # pairs still to hand straight to the full comparison
        self._next_pause = FIRST_PAUSE

    def __call__(self, left: np.ndarray, right: np.ndarray) -> float | None:
        """The score of a pair proven to have no difference, or None when it may have one.

        One pair after another; :func:`imgdiff_gpu.video` screens several pairs at once
        by calling :meth:`wants`, :meth:`measure` and :meth:`record` itself.
        """
        if not self.wants():
            return None
        score = self.measure(left, right)
        self.record(score)
        return score

    def wants(self) -> bool:
        """Whether to screen the next pair, or stand aside while pairs keep differing.

        Called for the pairs in their order, as :meth:`record` is, so the decisions
        depend only on the pairs, never on which worker thread finished first.
        """
        if self._pause > 0:
            self._pause -= 1
            return False
        return True

    def record(self, score: float | None) -> None:
        """Remember whether the screen cleared a pair (``score`` not None)."""
        if score is not None:
            self._misses, self._next_pause = 0, FIRST_PAUSE
            return
        self._misses += 1
        if self._misses >= MISSES_BEFORE_PAUSE:
            # one more miss after the pause starts a longer one
            self._misses, self._pause = MISSES_BEFORE_PAUSE - 1, self._next_pause
            self._next_pause = min(2 * self._next_pause, LONGEST_PAUSE)

    def measure(self, left: np.ndarray, right: np.ndarray) -> float | None:
        """The screen itself, with no memory of earlier pairs: safe on several threads at once."""
        if not self._fits(left, right):
            return None  # not what this screen was built for (a stream can change size midway)
        return self._screen(left, right)

    def measure_keeping(self, left: np.ndarray, right: np.ndarray) -> tuple[float | None, ScreenedPair | None]:
        """:meth:`measure`, and for a pair it cannot clear what it computed that the full comparison
        needs too (None where it decided before the SSIM pass): hand it over with
        :func:`imgdiff_gpu.cpu.analysis.screened`."""
        return self.measure_with_peak(left, right)[:2]

    def measure_with_peak(
        self, left: np.ndarray, right: np.ndarray
    ) -> tuple[float | None, ScreenedPair | None, float | None]:
        """:meth:`measure_keeping`, and the noise peak of a pair it clears: the same value, bit for bit, as
        :func:`imgdiff_gpu.clip_noise.frame_peak_of` of the pair (None for a pair it does not clear, whose
        full comparison measures it, :func:`imgdiff_gpu.clip_noise.measuring_peaks`, or without ``peaks``)."""
        if not self._fits(left, right):
            return None, None, None
        return self._screen_keeping(left, right)

    def _fits(self, left: np.ndarray, right: np.ndarray) -> bool:
        return left.shape == right.shape == (*self.shape, 3) and left.dtype == np.uint8

    def _screen(self, left: np.ndarray, right: np.ndarray) -> float | None:
        return self._screen_keeping(left, right)[0]

    def _screen_keeping(
        self, left: np.ndarray, right: np.ndarray
    ) -> tuple[float | None, ScreenedPair | None, float | None]:
        from .clip_noise import PEAK_CUT, cleared_peak
        from .cpu.scratch import scratch
        from .cpu.screen import frame_steps, sampled_line_noise_ratio
        from .cpu.ssim import ssim_map_and_screen
        from .detection import COARSE_FACTOR, window_noise_factors

        t = self.thresholds
        height, width = self.shape
        # the luma planes live only within this call (what it hands over is computed from them),
        # so into this thread's scratch (:func:`imgdiff_gpu.cpu.scratch.keeping_scratch`)
        planes = (scratch("screen_luma_left", self.shape), scratch("screen_luma_right", self.shape))
        sums = None  # the block sums of the RGB differences, for the offset and the coarse chroma bound
        if (t.luma_bias or t.coarse_chroma is not None) and not (height % COARSE_FACTOR or width % COARSE_FACTOR):
            sums = scratch("screen_block_sums", (height // COARSE_FACTOR, width // COARSE_FACTOR, 3), np.int32)
        luma_left, luma_right, luma_step, chroma_step, channel_step = frame_steps(
            left, right, reach=self.reach, out=planes, block_sums=sums, factor=COARSE_FACTOR
        )
        if channel_step == 0:
            # every pixel a counted one's window reads is the same, so SSIM's numerator and
            # denominator are the same expressions there: every counted value is exactly 1 (and the
            # luma shift 0)
            return 1.0, None, 0.0
        if t.exact or chroma_step >= t.chroma_shift * (1.0 - MARGIN):
            return None, None, None  # decided without the SSIM pass (the bounds below need none for these)
        # the coarse term reads ~6 px beyond a pixel on its 4x grid, further than the counted pixels'
        # reach that chroma_step covers: with ignored pixels, a change they hide can still mark
        # counted ones, so the bound (over the whole frame) is computed whatever the step
        if t.coarse_chroma is not None and (self.ignore is not None or chroma_step >= t.coarse_chroma * (1.0 - MARGIN)):
            if coarse_chroma_bound(left, right, sums=sums) >= t.coarse_chroma * (1.0 - MARGIN):
                return None, None, None
        # the pair's offset b: from the block sums (bit for bit the luma's, where the full path's are
        # float32's: the same up to rounding, ~1e-7, as every bound below), else as the full path has it
        bias = block_luma_bias(sums, t) if sums is not None else luma_bias(luma_left, luma_right, t)
        p = self.params
        shift = scratch("screen_shift", self.shape)
        # with peaks, the pass bounds each luma term from the noise peak's cut up (a few pixels more, ~0.1 %
        # of a frame of VP9 noise), so that a pair whose terms all stay below it measures no peak
        peak_floor = PEAK_CUT * t.luma_shift * (1.0 - MARGIN) if self.peaks else np.inf
        ssim_map, bounds = ssim_map_and_screen(
            luma_left,
            luma_right,
            p,
            counted=self.counted,
            bias=bias,
            masking=t.masking / t.luma_shift if t.masking > 0 else 0.0,
            floor=min(t.luma_shift * (1.0 - MARGIN), peak_floor) if t.masking > 0 else np.inf,
            slack=VARIANCE_SLACK,
            factors=window_noise_factors(self.shape, p.weights),
            shift=shift,
            rows=self.peaks,
        )

        def not_cleared() -> tuple[None, ScreenedPair, None]:
            # the full comparison takes the map and the exact offset; it computes the shift and
            # the line noise ratio itself (the screen's are its own, equal only up to rounding),
            # and the peak from them (:func:`imgdiff_gpu.clip_noise.measuring_peaks`)
            exact = luma_bias(luma_left, luma_right, t) if sums is not None else bias
            return None, ScreenedPair(left, right, t, ssim_map, p, LumaEvidence(exact)), None

        def peak() -> float | None:
            if not self.peaks:
                return None
            if bounds.masked_shift < peak_floor:
                return 0.0  # the pass's bound on every luma term (over a scale never above the full one's)
            # from the offset and shift the full comparison computes (not the pass's, equal only up to
            # rounding), so that a pair's peak never depends on which path measured it; on the rows where
            # the pass's bound reaches the cut alone (no other row's term can), the pass's shift bounding
            # the border factors
            rows = bounds.row_masked >= np.float32(peak_floor)
            exact = None if sums is not None else bias  # the block sums' offset is the screen's own
            near = (shift, bias)
            return cleared_peak(luma_left, luma_right, p.weights, t, rows, counted=self.counted, bias=exact, near=near)

        # |w * dY - b| <= |w * dY| + |b|, likewise |dY - b|
        luma_step += abs(bias)
        if not self.no_difference(bounds.masked_shift, bounds.min_ssim, luma_step, chroma_step, channel_step):
            return not_cleared()  # first: the line bound below costs more
        if t.line:
            # the line's average is one of |w * dY - b|'s, over the pair's share of the threshold
            ratio = sampled_line_noise_ratio(shift, p.weights)
            if bounds.peaks[0].max() >= t.luma_shift * ratio * (1.0 - MARGIN):
                largest = masked_line_shift(luma_left, luma_right, p.weights, t, shift, ratio, bounds.peaks)
                if largest >= 1.0 - MARGIN:
                    return not_cleared()
        return score_of(ssim_map, p.crop, self.ignore), None, peak()

    def no_difference(
        self, luma_shift: float, min_ssim: float, luma_step: float, chroma_step: float, channel_step: float
    ) -> bool:
        """Whether these bounds (see the module docstring) rule out every region."""
        t = self.thresholds
        if t.exact:
            return channel_step == 0
        ssim_threshold = t.ssim if t.ssim is not None else t.ssim_ceiling
        structure = min((1.0 - min_ssim) / max(1.0 - ssim_threshold, 1e-12), luma_step / max(t.texture, 1e-12))
        strongest = max(luma_shift / t.luma_shift, chroma_step / t.chroma_shift, structure)
        return strongest < 1.0 - MARGIN


def masked_line_shift(
    left_luma: np.ndarray,
    right_luma: np.ndarray,
    weights: np.ndarray,
    t: Thresholds,
    shift: np.ndarray,
    ratio: float,
    peaks: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """The largest line evidence (:func:`imgdiff_gpu.detection.line_shift`) of two luma planes, or a
    bound on it below ``1 - MARGIN``.

    From the pair's unbiased ``w * dY`` and noise ratio. An average along a row reads that
    row of the shift alone, an average along a column that column alone, and each is a
    weighted average (weights > 0 summing to 1) over border factors >= 1: so neither
    exceeds its row's (column's) largest ``|shift|``, over ``t_luma * ratio``. Only the
    rows and columns whose largest ``|shift|`` reaches that are filtered (a few % of a frame
    of codec noise, whose ratio, near 1 between two encodes, keeps the threshold above
    nearly all of them), with OpenCV as :func:`~imgdiff_gpu.detection.line_over_threshold`
    filters the whole; elsewhere the row's or column's largest is the bound. Then, as the
    whole would be, divided by the contrast masking (a factor >= 1) on the bands of rows
    where the evidence reaches the threshold: exact there, up to float rounding. ``peaks``:
    the largest ``|shift|`` of each row and column where already known
    (:func:`imgdiff_gpu.cpu.rules.abs_peaks`).
    """
    from .cpu.rules import abs_peaks
    from .detection import contrast_masking, line_factors, line_taps, window_noise_factors

    height = shift.shape[0]
    threshold = t.luma_shift * ratio
    row_peaks, column_peaks = abs_peaks(shift) if peaks is None else peaks
    row_peaks, column_peaks = row_peaks / threshold, column_peaks / threshold
    rows = np.flatnonzero(row_peaks >= 1.0 - MARGIN)
    columns = np.flatnonzero(column_peaks >= 1.0 - MARGIN)
    largest = float(
        max(
            row_peaks.max(initial=0.0, where=row_peaks < 1.0 - MARGIN),
            column_peaks.max(initial=0.0, where=column_peaks < 1.0 - MARGIN),
        )
    )
    if not len(rows) and not len(columns):
        return largest
    extra, one = line_taps(weights), np.ones(1, np.float32)
    row_factors, column_factors = window_noise_factors(shift.shape, weights)
    line_rows, line_columns = line_factors(shift.shape, weights)
    # along the chosen rows (len(rows) x W) and along the chosen columns (H x len(columns)), over the threshold
    along_rows = np.abs(
        cv2.sepFilter2D(np.ascontiguousarray(shift[rows]), cv2.CV_32F, extra, one, borderType=cv2.BORDER_REFLECT)
    )
    along_rows /= np.outer(row_factors[rows], line_columns) * np.float32(threshold)
    along_columns = np.abs(
        cv2.sepFilter2D(np.ascontiguousarray(shift[:, columns]), cv2.CV_32F, one, extra, borderType=cv2.BORDER_REFLECT)
    )
    along_columns /= np.outer(line_rows, column_factors[columns]) * np.float32(threshold)
    peaks = along_columns.max(axis=1) if len(columns) else np.zeros(height, np.float32)
    if len(rows):
        peaks[rows] = np.maximum(peaks[rows], along_rows.max(axis=1))
    if t.masking <= 0:
        return max(largest, float(peaks.max()))
    over = peaks >= 1.0 - MARGIN
    largest = max(largest, float(peaks.max(initial=0.0, where=~over)))
    position = np.full(height, -1)
    position[rows] = np.arange(len(rows))
    for first, last in flag_runs(over, join=len(weights)):
        masking = contrast_masking(left_luma, right_luma, weights, t, rows=(first, last))
        if len(columns):
            largest = max(largest, float((along_columns[first:last] / masking[:, columns]).max()))
        these = position[first:last]
        chosen = these >= 0
        if chosen.any():
            largest = max(largest, float((along_rows[these[chosen]] / masking[chosen]).max()))
    return largest


def coarse_chroma_bound(left: np.ndarray, right: np.ndarray, *, sums: np.ndarray | None = None) -> float:
    """The largest coarse chroma shift (:func:`imgdiff_gpu.detection.coarse_chroma_shift`) of two RGB frames.

    Chroma is linear in RGB, so the 4 x 4 block means of its difference are
    those of the RGB difference, transformed; and bilinear interpolation back
    to full size never exceeds its grid's largest value. So the largest value
    on the small grid is the full path's largest, up to float rounding. Where the frame's
    sides are multiples of the block, the block means are exact integer sums (``cpu/screen.py``),
    without a float copy of either frame; ``sums``: those sums, where already known.
    """
    from .cpu.screen import block_chroma, block_difference_sums
    from .detection import COARSE_FACTOR, coarse_block_means

    if sums is None:
        sums = block_difference_sums(left, right, COARSE_FACTOR)
    if sums is not None:
        chroma = block_chroma(sums, COARSE_FACTOR)
    else:  # the real term's grid at any size: the last blocks take the rows and columns left over
        delta = cv2.subtract(coarse_block_means(left), coarse_block_means(right)) * np.float32(1.0 / 255)
        r, g, b = delta[..., 0], delta[..., 1], delta[..., 2]
        y = 0.299 * r + 0.587 * g + 0.114 * b
        chroma = np.dstack([0.713 * (r - y), 0.564 * (b - y)]).astype(np.float32)
    chroma = cv2.GaussianBlur(chroma, (0, 0), 1.5, borderType=cv2.BORDER_REFLECT)
    return float(cv2.magnitude(np.ascontiguousarray(chroma[..., 0]), np.ascontiguousarray(chroma[..., 1])).max())


def block_luma_bias(sums: np.ndarray, t: Thresholds) -> float:
    """:func:`imgdiff_gpu.detection.luma_bias` from the block sums of the RGB differences (int32,
    :func:`imgdiff_gpu.cpu.screen.frame_steps`): luma is linear in RGB, so each block's mean of
    ``Y1 - Y2`` is the same integer combination of its sums, exact where the full path's float32
    planes and OpenCV's area resize round (~1e-7)."""
    from .cpu.screen import block_luma_means
    from .detection import COARSE_FACTOR, luma_bias_of

    if not t.luma_bias:
        return 0.0
    return luma_bias_of(block_luma_means(sums, COARSE_FACTOR).reshape(-1), t)
