"""Huge pairs on the CPU: the analysis in bands of rows, in bounded memory, with the same result.

The whole-image analysis (``cpu/analysis.py``) holds about 40 bytes a pixel of
working planes at once: two float32 plane stacks, the float64 SSIM map, the
float32 strength and their temporaries. A pair whose working set is over
:data:`CPU_BUDGET_BYTES` goes through here instead, in bands of rows, each read
with a halo of the rows its kept rows see (the SSIM window's radius, the
strength's reach, the coarse scale and the line average of ``low``), so that
every kept row is computed from the same pixels, by the same kernels, as in a
whole-image run.
What is global stays global, accumulated band by band in the unbanded order:

* Otsu's SSIM threshold: the 256-bin histogram, summed over the bands (integer
  counts, exact); so the strength needs a second pass over the bands, after it.
* The score: NumPy's float64 summation of the cropped map, reproduced row for
  row (:class:`CroppedMean`), so the mean is bit for bit that of ``score_of``.
* ``low``'s luma offset: the median of the 4 x 4 block means of ``Y1 - Y2``, gathered
  in the first pass, each block from the band it starts in, with the whole frame's
  weights (at a height that is no multiple of 4, OpenCV's blocks overlap by fractions
  of rows).
* ``low``'s line noise ratio: medians over every 4th row and column of the line
  evidence and of the luma shift, with that offset removed; their samples are
  gathered in a pass of their own, between the offset and the strength, with a halo
  of the rows the average along a column reads (:data:`LINE_REACH`).
* Hysteresis and the regions: the bands leave one byte a pixel (the strength
  levels), and the regions are found once, on the whole mask. What the regions'
  statistics read of the SSIM map and the planes, at their pixels only, is
  recomputed band by band (:class:`RowsOnDemand`).

Nothing full-size in floating point is kept: where the caller keeps the maps
(for pictures), the SSIM map is kept as the heat map's 8-bit levels, computed
band by band (``Analysis.heat_levels``), and the mask as bool. Peak memory is
then the inputs, the budget, and about 7 bytes a pixel of masks and labels
while the regions are found (``benchmarks/bench_huge.py``: 5.21 GiB for a
20000 x 20000 RGB pair, 2.24 GiB of it the decoded inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .._ssim_params import GAUSSIAN_TRUNCATE, SSIMParams
from ..border_noise import border_samples, factors_of
from ..detection import (
    COARSE_FACTOR,
    LINE_SIGMA,
    Thresholds,
    changed_pixels,
    coarse_chroma_shift,
    contrast_masking,
    evidence_levels,
    explained_by_antialiasing,
    line_noise_ratio_of,
    line_noise_samples,
    line_over_threshold,
    luma_bias_of,
    luma_block_means_of_rows,
    luma_shift_map,
    mask_from_levels,
    otsu_ssim_threshold,
    ssim_histogram,
    window_noise_factors,
)
from ..planes import PairLayout, pair_layout
from ..regions import find_regions
from ..rendering import heat_levels
from .analysis import WINDOW_SIGMA, Analysis, luma_ssim_params
from .strength import NEAR

CPU_BUDGET_BYTES = 1 << 30
"""Working memory of the CPU analysis beyond the decoded pixels: a pair whose whole-image
working set fits is analysed whole, a larger one in bands of rows that fit. Lower it
(``imgdiff_gpu.cpu.bands.CPU_BUDGET_BYTES = ...``) for smaller bands; it is no option of
the command line, since bands change the memory and the time, never the result."""

BAND_ROWS_STEP = COARSE_FACTOR
"""Bands start on multiples of the coarse scale's block, so its grid is the whole image's."""

COARSE_HALO = 8 * COARSE_FACTOR
"""Rows the coarse chroma term of a row reads (a 4 x 4 block average, a Gaussian of
radius 6 on that grid and a linear interpolation back: 7 block rows, and one more, whose
block may take the rows left over below it in the whole image, at any height;
``c/chroma.c``). A band's halo with this term is a multiple of 4, so its blocks are the
whole image's."""

BLOCK_REACH = COARSE_FACTOR + 1
"""Rows below its first that a block of the luma offset's coarse grid reads (at a height that is no
multiple of 4 a block spans up to 4.75 rows, from a fraction of the row above its first whole one)."""

LINE_REACH = int(np.ceil(4 * LINE_SIGMA))
"""Rows the average along a column reaches beyond the SSIM window (the 1-D Gaussian that
follows it has sigma at most LINE_SIGMA, truncated at 4 sigma): 24."""

SMALLEST_BANDED_SIDE = 16
FULL_WINDOW_RADIUS = int(GAUSSIAN_TRUNCATE * WINDOW_SIGMA + 0.5)
"""The SSIM window's radius (5) on every image wide enough to be banded."""

GATHER_FRACTION = 8
"""The regions' statistics recompute rows in bands this many times smaller than the analysis's."""


def bytes_per_pixel(planes: int, thresholds: Thresholds, *, antialiasing: bool) -> int:
    """Working bytes a pixel of one band holds at once (measured, rounded up)."""
    total = 2 * 4 * planes + 8 + 4 + 4  # two plane stacks, the SSIM map, the strength, its levels and masks
    if antialiasing:
        total += 12  # the explained mask and its float32 erosions
    if thresholds.masking > 0:
        total += 28  # the contrast's filtered planes and the luma factor
    if thresholds.coarse_chroma is not None:
        total += 4 + 1  # the coarse term, and its block rows widened to full width (a quarter of the rows)
    if thresholds.line:
        total += 8  # the line evidence, alive through the strength (measured: +4 at the peak)
    return total


def rows_per_band(
    shape: tuple[int, ...], planes: int, thresholds: Thresholds, *, antialiasing: bool, budget: int | None = None
) -> int:
    """Rows per band for a pair of this shape under ``budget`` bytes; the height when it fits whole.

    ``budget`` defaults to :data:`CPU_BUDGET_BYTES`, read at the call, so it can be lowered at run time.
    """
    height, width = shape[:2]
    budget = CPU_BUDGET_BYTES if budget is None else budget
    row = width * bytes_per_pixel(planes, thresholds, antialiasing=antialiasing)
    if height * row <= budget or min(height, width) < SMALLEST_BANDED_SIDE:
        return height
    halo = band_halo(thresholds, antialiasing=antialiasing, radius=FULL_WINDOW_RADIUS)
    rows = budget // row - 2 * halo
    return max(rows - rows % BAND_ROWS_STEP, BAND_ROWS_STEP)


def band_halo(thresholds: Thresholds, *, antialiasing: bool, radius: int) -> int:
    """Rows above and below a band that its kept rows read (``radius``: the SSIM window's)."""
    # the strength reads the window's radius of planes and NEAR rows of "changed";
    # the antialiasing test of those rows reads one row further
    halo = max(radius, NEAR + 1 if antialiasing else NEAR)
    if thresholds.line:  # the average along a column, of the luma shift over the window
        halo = max(halo, LINE_REACH + radius)
    if thresholds.coarse_chroma is not None:  # its blocks start on multiples of 4 of the whole image
        halo = max(halo, COARSE_HALO)
        halo += -halo % COARSE_FACTOR
    return halo


def bands(height: int, band_rows: int, halo: int) -> Iterator[tuple[int, int, int, int]]:
    """(top, bottom, lo, hi): rows [top, bottom) computed from rows [lo, hi)."""
    for top in range(0, height, band_rows):
        bottom = min(top + band_rows, height)
        yield top, bottom, max(top - halo, 0), min(bottom + halo, height)


# -- the score, in NumPy's order ---------------------------------------------------------------

PAIRWISE_BLOCK = 128  # NumPy's PW_BLOCKSIZE: below it a sum is one unrolled loop


class PairwiseSum:
    """NumPy's pairwise float64 sum of a 1-D array that arrives in pieces, bit for bit.

    ``np.add.reduce`` of a contiguous array of n values halves n (rounded to a
    multiple of 8) until a block has at most 128 values. Every subtree whose
    values have all arrived is one ``np.add.reduce`` of them; only the subtrees
    that straddle two pieces are split here, so this costs O(log n) per piece.
    """

    def __init__(self, total: int):
        self._buffer = np.empty(0, dtype=np.float64)
        self._position = 0
        self._task = self._sum(total)
        self._value: float | None = None
        self._advance()

    def add(self, values: np.ndarray) -> None:
        """The next values of the array, in order."""
        values = np.asarray(values, dtype=np.float64).ravel()
        rest = self._buffer[self._position :]  # fewer than a block: the rest waits for these
        self._buffer = np.concatenate([rest, values]) if rest.size else values
        self._position = 0
        self._advance()

    def value(self) -> float:
        if self._value is None:
            raise RuntimeError("fewer values arrived than the sum was announced with")
        return self._value

    def _advance(self) -> None:
        if self._value is None:
            try:
                next(self._task)
            except StopIteration as done:
                self._value = done.value

    def _sum(self, n: int):
        while self._buffer.size - self._position < n:
            if n > PAIRWISE_BLOCK:
                half = n // 2
                half -= half % 8
                first = yield from self._sum(half)
                second = yield from self._sum(n - half)
                return first + second
            yield  # wait for the next piece
        block = self._buffer[self._position : self._position + n]
        self._position += n
        return np.add.reduce(block)


class CroppedMean:
    """:func:`imgdiff_gpu.cpu.analysis.score_of`, fed the SSIM map's rows band by band, in order.

    ``score_of`` takes ``mean(dtype=float64)`` of the cropped map, or of its
    values outside ``ignore``. The latter is one contiguous array: one pairwise
    sum (:class:`PairwiseSum`). The former is a 2-D strided view, which NumPy's
    reduction copies into its buffer (``np.getbufsize()`` values) a whole number
    of rows at a time, sums each buffer pairwise and adds the buffers in order;
    a row longer than the buffer is summed alone. This does the same.
    """

    def __init__(self, shape: tuple[int, int], crop: int, ignore: np.ndarray | None):
        height, width = shape
        self._rows = slice(crop, height - crop)
        self._columns = slice(crop, width - crop)
        self._ignore = ignore
        inner_width = max(width - 2 * crop, 0)
        if ignore is not None:
            self._count = sum(
                int(np.count_nonzero(~ignore[top : min(top + 4096, height - crop), self._columns]))
                for top in range(crop, height - crop, 4096)
            )
            self._pairwise = PairwiseSum(self._count)
        elif crop == 0:  # a contiguous map: NumPy sums it as one array
            self._count = height * width
            self._pairwise = PairwiseSum(self._count)
        else:
            self._count = max(height - 2 * crop, 0) * inner_width
            self._pairwise = None
            self._rows_per_buffer = max(1, np.getbufsize() // max(inner_width, 1))
            self._pending: list[np.ndarray] = []
            self._total = np.float64(0.0)

    def add(self, top: int, band: np.ndarray) -> None:
        """Rows ``top`` to ``top + len(band)`` of the map, the next rows after the last ones added."""
        first = max(self._rows.start, top)
        last = min(self._rows.stop, top + band.shape[0])
        if last <= first:
            return
        rows = band[first - top : last - top, self._columns]
        if self._ignore is not None:
            self._pairwise.add(rows[~self._ignore[first:last, self._columns]])
        elif self._pairwise is not None:
            self._pairwise.add(rows)
        else:
            self._pending.extend(rows)
            while len(self._pending) >= self._rows_per_buffer:
                self._flush(self._rows_per_buffer)

    def _flush(self, count: int) -> None:
        buffer = np.concatenate(self._pending[:count]) if count > 1 else self._pending[0]
        self._total += np.add.reduce(buffer)
        del self._pending[:count]

    def value(self) -> float:
        if self._count == 0:
            return 1.0 if self._ignore is not None else float("nan")
        if self._pairwise is not None:
            total = self._pairwise.value()
        else:
            if self._pending:
                self._flush(len(self._pending))
            total = self._total
        return float(np.float64(total) / self._count)


# -- the passes over the bands -----------------------------------------------------------------


class BandedPair:
    """Two images as bands of plane stacks: what a band of rows needs, computed on demand."""

    def __init__(self, left: np.ndarray, right: np.ndarray, layout: PairLayout, params: SSIMParams):
        self.left, self.right, self.layout, self.params = left, right, layout, params
        self.height, self.width = left.shape[:2]

    def planes(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Both plane stacks of rows [lo, hi)."""
        return self.side_planes("left", lo, hi), self.side_planes("right", lo, hi)

    def side_planes(self, side: str, lo: int, hi: int) -> np.ndarray:
        """One side's plane stack (H x W x P float32) of rows [lo, hi), as ``planes.prepare_pair`` makes it."""
        from .planes import plane_stack

        pixels, scale = (self.left, self.layout.left_scale) if side == "left" else (self.right, self.layout.right_scale)
        return plane_stack(pixels[lo:hi], colour=self.layout.colour, alpha=self.layout.alpha, scale=scale)

    def ssim(self, left_planes: np.ndarray, right_planes: np.ndarray) -> np.ndarray:
        from .ssim import ssim_map_2d

        return ssim_map_2d(left_planes[..., 0], right_planes[..., 0], self.params)

    def ssim_rows(self, top: int, bottom: int) -> np.ndarray:
        """The SSIM map's rows [top, bottom), from planes with the window's halo."""
        lo, hi = max(top - self.params.radius, 0), min(bottom + self.params.radius, self.height)
        return self.ssim(*self.planes(lo, hi))[top - lo : bottom - lo]


class RowsOnDemand:
    """Stands in for a full-size array where :func:`~imgdiff_gpu.regions.find_regions` reads it.

    ``find_regions`` reads the SSIM map and the plane stacks only at the pixels
    of the mask, as ``array[ys, xs]``; this computes the rows that hold such
    pixels, a band at a time, and gathers from them.
    """

    def __init__(self, rows: Callable[[int, int], np.ndarray], height: int, band_rows: int):
        self._rows, self._height, self._band_rows = rows, height, band_rows

    def __getitem__(self, index: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        ys, xs = index
        order = np.argsort(ys, kind="stable")
        sorted_ys = ys[order]
        out = None
        for top in range(0, self._height, self._band_rows):
            bottom = min(top + self._band_rows, self._height)
            start, stop = np.searchsorted(sorted_ys, [top, bottom])
            if start == stop:
                continue
            picked = order[start:stop]
            values = self._rows(top, bottom)[ys[picked] - top, xs[picked]]
            if out is None:
                out = np.empty((len(ys), *values.shape[1:]), dtype=values.dtype)
            out[picked] = values
        return out


def analyse_in_bands(
    left: np.ndarray,
    right: np.ndarray,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None,
    antialiasing: bool,
    min_area: int,
    merge_distance: int,
    keep_maps: bool,
    band_rows: int,
) -> Analysis:
    """:func:`imgdiff_gpu.cpu.analysis.analyse_cpu` in bands of ``band_rows`` rows: the same result."""
    layout = pair_layout(left, right)
    height, width = left.shape[:2]
    params = luma_ssim_params(np.broadcast_to(np.float32(0), (height, width)))
    pair = BandedPair(left, right, layout, params)
    valid = None if ignore is None else ~ignore
    score = CroppedMean((height, width), params.crop, ignore)
    heat = np.empty((height, width), dtype=np.uint8) if keep_maps else None

    # Otsu's threshold needs the whole map's histogram before any strength, and the line
    # evidence the pair's noise ratio, which needs the pair's offset removed
    otsu = not (thresholds.exact or thresholds.ssim is not None)
    threshold, bias = _first_pass(pair, band_rows, valid, thresholds, score, heat, otsu=otsu)
    if not otsu:
        threshold = 1.0 if thresholds.exact else thresholds.ssim
    ratio, factors = _noise_pass(pair, band_rows, bias, thresholds)
    to_score = None if otsu else score  # without Otsu, the score's pass is the strength's
    marks = _marks_pass(
        pair,
        band_rows,
        valid,
        thresholds,
        threshold,
        antialiasing,
        to_score,
        heat,
        bias=bias,
        ratio=ratio,
        factors=factors,
    )
    if thresholds.exact:
        mask = marks
    else:
        mask = mask_from_levels(marks, thresholds.min_core)
        del marks
    if valid is not None:
        mask &= valid

    # the regions' own labels (4 bytes a pixel) are alive while their statistics are
    # gathered: smaller bands for those
    gather_rows = max(band_rows // GATHER_FRACTION, BAND_ROWS_STEP)
    regions, kept_mask = find_regions(
        mask,
        RowsOnDemand(pair.ssim_rows, height, gather_rows),
        RowsOnDemand(lambda top, bottom: pair.side_planes("left", top, bottom), height, gather_rows),
        RowsOnDemand(lambda top, bottom: pair.side_planes("right", top, bottom), height, gather_rows),
        min_area=min_area,
        merge_distance=merge_distance,
    )
    return Analysis(
        score=score.value(),
        regions=regions,
        ssim_threshold=float(threshold),
        device="cpu",
        mask=kept_mask if keep_maps else None,
        heat_levels=heat,
        notes=[*layout.notes, f"processed on the CPU in bands of {band_rows} rows"],
    )


def _first_pass(pair: BandedPair, band_rows, valid, thresholds: Thresholds, score: CroppedMean, heat, *, otsu):
    """What the strength needs of the whole pair before it: (Otsu's SSIM threshold or None, the luma offset).

    With ``otsu``, the SSIM map band by band: the threshold from its histogram, and the
    score and the kept heat levels (``heat``, None: none kept) on the way. With
    ``thresholds.luma_bias``, the 4 x 4 block means of ``Y1 - Y2`` of the blocks that start
    in every band, as the whole frame's (:func:`~imgdiff_gpu.detection.luma_block_means_of_rows`,
    at any height), and the offset from all of them.
    """
    if not otsu and not thresholds.luma_bias:
        return None, 0.0
    counts, blocks = 0, []
    halo = max(pair.params.radius if otsu else 0, BLOCK_REACH if thresholds.luma_bias else 0)
    for top, bottom, lo, hi in bands(pair.height, band_rows, halo):
        left_planes, right_planes = pair.planes(lo, hi)
        kept = slice(top - lo, bottom - lo)
        if otsu:
            band = pair.ssim(left_planes, right_planes)[kept]
            counts = counts + ssim_histogram(band, None if valid is None else valid[top:bottom])
            score.add(top, band)
            if heat is not None:
                heat[top:bottom] = heat_levels(band)
        if thresholds.luma_bias:
            rows = dict(top=lo, height=pair.height, first_rows=(top, bottom))
            blocks.append(luma_block_means_of_rows(left_planes[..., 0], right_planes[..., 0], **rows))
    threshold = otsu_ssim_threshold(counts, thresholds.ssim_ceiling) if otsu else None
    bias = luma_bias_of(np.concatenate(blocks), thresholds) if blocks else 0.0
    return threshold, bias


def _noise_pass(pair: BandedPair, band_rows: int, bias: float, thresholds: Thresholds):
    """(the pair's line noise ratio or None, its measured border noise factors or None), from the
    samples of all its bands (:func:`noise_samples_in_bands`)."""
    # the border factors scale the masked luma threshold only (detection._masking_where_it_counts)
    border = thresholds.border_noise and thresholds.masking > 0
    if not (thresholds.line or border):
        return None, None
    line, noise, row_values, column_values = noise_samples_in_bands(pair, band_rows, bias)
    weights, shape = pair.params.weights, (pair.height, pair.width)
    ratio = line_noise_ratio_of(line, noise, weights) if thresholds.line else None
    factors = factors_of(noise, row_values, column_values, shape, weights) if border else None
    return ratio, factors


def line_samples_in_bands(pair: BandedPair, band_rows: int, bias: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~imgdiff_gpu.detection.line_noise_samples` of the pair with ``bias`` removed, band by band
    (each band's rows at multiples of LINE_SAMPLE): the whole's samples, in another order."""
    return noise_samples_in_bands(pair, band_rows, bias)[:2]


def noise_samples_in_bands(pair: BandedPair, band_rows: int, bias: float):
    """:func:`line_samples_in_bands`, and :func:`~imgdiff_gpu.border_noise.border_samples` of the
    pair's border rows and columns gathered from the bands (each band its own rows)."""
    weights = pair.params.weights
    lines, noises = [], []
    row_values: dict[int, np.ndarray] = {}
    column_parts: dict[int, list[np.ndarray]] = {}
    for top, bottom, lo, hi in bands(pair.height, band_rows, LINE_REACH + pair.params.radius):
        left_luma = pair.side_planes("left", lo, hi)[..., 0]
        right_luma = pair.side_planes("right", lo, hi)[..., 0]
        if bias != 0.0:  # as detection.unbiased
            right_luma += np.float32(bias)
        shift = luma_shift_map(left_luma, right_luma, weights)
        del left_luma, right_luma
        line, noise = line_noise_samples(
            shift, weights, shape=(pair.height, pair.width), top=lo, rows=(top - lo, bottom - lo)
        )
        lines.append(line)
        noises.append(noise)
        kept = dict(shape=(pair.height, pair.width), top=lo, rows=(top - lo, bottom - lo))
        rows, columns = border_samples(shift, weights, **kept)
        row_values.update(rows)
        for column, values in columns.items():
            column_parts.setdefault(column, []).append(values)
    column_values = {column: np.concatenate(parts) for column, parts in column_parts.items()}
    return np.concatenate(lines), np.concatenate(noises), row_values, column_values


def _marks_pass(
    pair: BandedPair, band_rows, valid, thresholds, threshold, antialiasing, score, heat, *, bias, ratio, factors=None
):
    """Strength levels (uint8, H x W: 0, 1 at >= low, 2 at >= high) band by band, or for ``exact`` the mask.

    With ``score``, the SSIM map is computed here for the first time: into the
    score, and into ``heat`` as the heat map's levels when they are kept.
    ``bias`` and ``ratio``: the pair's luma offset and line noise ratio (:func:`_first_pass`,
    :func:`_noise_pass`); ``factors``: the pair's measured border noise factors (per row, per
    column; None: the window's own).
    """
    params = pair.params
    marks = np.zeros((pair.height, pair.width), dtype=bool if thresholds.exact else np.uint8)
    if factors is None:
        factors = window_noise_factors((pair.height, pair.width), params.weights)
    rows_factor, columns_factor = factors
    halo = band_halo(thresholds, antialiasing=antialiasing, radius=params.radius)
    for top, bottom, lo, hi in bands(pair.height, band_rows, halo):
        left_planes, right_planes = pair.planes(lo, hi)
        kept = slice(top - lo, bottom - lo)
        # the strength reads the map at every row it computes, halo rows too (thrown away)
        band_map = pair.ssim(left_planes, right_planes)
        if score is not None:
            score.add(top, band_map[kept])
            if heat is not None:
                heat[top:bottom] = heat_levels(band_map[kept])
        band_marks = _band_marks(
            left_planes,
            right_planes,
            band_map,
            params,
            thresholds,
            threshold,
            antialiasing=antialiasing,
            noise_factor=np.outer(rows_factor[lo:hi], columns_factor) if thresholds.masking > 0 else None,
            bias=bias,
            line=None if ratio is None else (ratio, lo, (pair.height, pair.width)),
        )[kept]
        if valid is not None and not thresholds.exact:
            band_marks[~valid[top:bottom]] = 0  # the strength of an ignored pixel is 0
        marks[top:bottom] = band_marks
    return marks


def _band_marks(
    left_planes, right_planes, band_map, params, thresholds, threshold, *, antialiasing, noise_factor, bias, line
):
    """A band's strength levels (uint8: 0, 1 at >= low, 2 at >= high), or for ``exact`` its mask.

    ``bias``: the pair's luma offset, added to ``right_planes``' luma in place once what reads
    the planes as they are has read them. ``line``: (the pair's noise ratio, the band's first
    row, the whole image's shape), or None where the preset has no line evidence.
    """

    explained = explained_by_antialiasing(left_planes, right_planes) if antialiasing else None
    if thresholds.exact:
        changed = changed_pixels(left_planes, right_planes)
        if explained is not None:
            changed &= ~explained
        return changed
    # the noise rules of 'low', on the band itself: the band's halo covers their reach; in
    # detection.difference_mask's order, the pair's offset removed after the masking and the
    # coarse chroma term, before the luma and line evidence
    masking = contrast_masking(left_planes[..., 0], right_planes[..., 0], params.weights, thresholds)
    luma_scale = None if masking is None else masking * noise_factor
    coarse = None
    if thresholds.coarse_chroma is not None and left_planes.shape[2] >= 3:
        coarse = coarse_chroma_shift(left_planes, right_planes) / thresholds.coarse_chroma
    if bias != 0.0:  # as detection.unbiased, on the band's own planes
        right_planes[..., 0] += np.float32(bias)
    if line is not None:
        ratio, top, shape = line
        shift = luma_shift_map(left_planes[..., 0], right_planes[..., 0], params.weights)
        evidence = line_over_threshold(shift, params.weights, thresholds, ratio, shape=shape, top=top)
        del shift
        if masking is not None:
            evidence /= masking
        coarse = evidence if coarse is None else np.maximum(coarse, evidence, out=coarse)
        del evidence
    return evidence_levels(
        left_planes,
        right_planes,
        band_map,
        params.weights,
        thresholds,
        threshold,
        suppress=explained,
        luma_scale=luma_scale,
        coarse=coarse,
    )
