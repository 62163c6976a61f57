"""How far each region of ``low`` stands above the window's luma threshold, and the pair's noise around it.

For the frames of ``benchmarks/video_set.py``'s clips (the edited ones, every ``--step``-th
other one, and any named with ``--frames``), this recomputes what ``low`` computes of a pair
(:func:`imgdiff_gpu.detection.difference_mask` and the luma terms it builds on) and prints,
as one JSON line a frame:

* the pair's noise: quantiles of the window's luma term ``|w * dY| / (t * scale)`` (the value
  the strength pass compares with 1; ``scale`` is the contrast masking times the border
  factors) outside every edit's box (widened by ``EDIT_MARGIN`` px), its peak there, and the
  line noise ratio;
* each connected region of the mask: the edits it overlaps, its pixels at full strength from
  the luma term and from every other term (line, coarse and window chroma, structure), and its
  **critical factor**: the factor on the luma term's threshold at which it keeps fewer than
  ``min_core`` (12) pixels at full strength (:func:`critical_factor`; ``inf`` when the other
  terms alone hold the core).

A rule that only raises the luma threshold by a factor ``F`` clears a false region whose
critical factor is below ``F`` and loses an edit's frame where every region overlapping it
has a critical factor below ``F``. ``--summary`` prints, from the lines written, the false
regions and the edited frames whose margin is finite.

    python -m benchmarks.study_specks --seed 41 --clip 3 [--step 6] [--frames 3,14,15] --out F.jsonl
    python -m benchmarks.study_specks --summary F.jsonl [G.jsonl ...]

Written for seed 41's false frames (README "What remains"); findings in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np

EDIT_MARGIN = 24
"""px around an edit's box left out of the pair's noise (the window's and the line's reach)."""
QUANTILES = (0.5, 0.9, 0.99, 0.999, 0.9999)


def critical_factor(luma: np.ndarray, other: np.ndarray, min_core: int) -> float:
    """The factor on the luma term's threshold at which a region keeps fewer than ``min_core`` pixels at full strength.

    ``luma``: the window luma term over its threshold at the region's pixels; ``other``: the
    largest of every other term there. A pixel is at full strength while ``max(luma / F, other)
    >= 1``: the other terms hold ``n`` pixels whatever ``F`` is, and the region keeps its core
    while the ``(min_core - n)``-th largest luma term among the rest is at least ``F``. Returns
    ``inf`` where the other terms alone hold the core, 0 where the region has no core at all.

    The weak level (``HYSTERESIS_LOW``) is left as it is: a raised threshold also shrinks the
    region's weak pixels, so this is an upper bound on the factor that keeps the region.

    Examples
    --------
    >>> critical_factor(np.array([1.5, 1.2, 0.9]), np.array([0.0, 0.0, 1.0]), 2)
    1.5
    >>> critical_factor(np.array([1.5, 1.2]), np.array([1.0, 1.0]), 2)
    inf
    """
    held = other >= 1
    needed = min_core - int(np.count_nonzero(held))
    if needed <= 0:
        return math.inf
    rest = np.sort(luma[~held])[::-1]
    if rest.size < needed:
        return 0.0
    return float(rest[needed - 1])


def luma_terms(left_rgb: np.ndarray, right_rgb: np.ndarray, thresholds, factor: float = 1.0) -> dict:
    """``low``'s mask of a pair and the terms it is made of (float32 maps, H x W), as the CPU path computes them.

    With ``factor`` > 1 the mask is the one a rule raising the window's luma threshold by that factor
    would give (the whole strength pass and the hysteresis, weak level included), the terms as at 1.
    """
    from imgdiff_gpu import detection as d
    from imgdiff_gpu.cpu.analysis import luma_ssim_params
    from imgdiff_gpu.cpu.ssim import ssim_map_2d
    from imgdiff_gpu.cpu.strength import strength_map
    from imgdiff_gpu.planes import prepare_pair

    pair = prepare_pair(left_rgb, right_rgb)
    params = luma_ssim_params(pair.left.luma)
    weights = params.weights
    ssim = ssim_map_2d(pair.left.luma, pair.right.luma, params)
    mask, ssim_threshold = d.difference_mask(ssim, pair.left.planes, pair.right.planes, weights, thresholds)
    left, right = d.contiguous_luma(pair.left.planes), d.contiguous_luma(pair.right.planes)
    bias = d.luma_bias(left, right, thresholds)
    shift = d.luma_shift_map(left, np.add(right, np.float32(bias)), weights).copy()
    ratio = d.line_noise_ratio(shift, weights)
    line = d.line_over_threshold(shift, weights, thresholds, ratio).copy()
    factors = d.border_factors(shift, left.shape, weights, thresholds)
    masking, scale = (m.copy() for m in d._masking_and_scale(left, right, weights, thresholds, factors=factors))
    line /= masking
    coarse = np.maximum(d.coarse_chroma_shift(pair.left.planes, pair.right.planes) / thresholds.coarse_chroma, line)
    # every term but the window's luma shift: the same pass with that threshold out of reach
    other = strength_map(
        pair.left.planes,
        pair.right.planes,
        ssim,
        weights,
        luma=1e6,
        chroma=thresholds.chroma_shift,
        texture=thresholds.texture,
        ssim_threshold=ssim_threshold,
        luma_scale=scale,
        coarse=coarse,
        luma_offset=bias,
    )
    luma = np.abs(shift) / (np.float32(thresholds.luma_shift) * scale)
    if factor != 1.0:
        strength = strength_map(
            pair.left.planes,
            pair.right.planes,
            ssim,
            weights,
            luma=thresholds.luma_shift,
            chroma=thresholds.chroma_shift,
            texture=thresholds.texture,
            ssim_threshold=ssim_threshold,
            luma_scale=scale * np.float32(factor),
            coarse=coarse,
            luma_offset=bias,
        )
        mask = d.hysteresis(strength >= d.HYSTERESIS_LOW, strength >= d.HYSTERESIS_HIGH, thresholds.min_core)
    return {"mask": mask, "luma": luma, "other": other, "line": line, "ratio": ratio}


def luma_term(left_rgb: np.ndarray, right_rgb: np.ndarray, thresholds) -> np.ndarray:
    """:func:`luma_terms`' ``luma`` alone (the window's luma term over its threshold), cheaper, for every frame."""
    from imgdiff_gpu import detection as d
    from imgdiff_gpu.cpu.analysis import luma_ssim_params
    from imgdiff_gpu.planes import prepare_pair

    pair = prepare_pair(left_rgb, right_rgb)
    weights = luma_ssim_params(pair.left.luma).weights
    left, right = d.contiguous_luma(pair.left.planes), d.contiguous_luma(pair.right.planes)
    bias = d.luma_bias(left, right, thresholds)
    shift = d.luma_shift_map(left, np.add(right, np.float32(bias)), weights).copy()
    factors = d.border_factors(shift, left.shape, weights, thresholds)
    _, scale = d._masking_and_scale(left, right, weights, thresholds, factors=factors)
    return np.abs(shift) / (np.float32(thresholds.luma_shift) * scale)


def _overlaps(box, edit_box, slack: int = 2) -> bool:
    x, y, w, h = box
    ex, ey, ew, eh = edit_box
    return x < ex + ew + slack and ex < x + w + slack and y < ey + eh + slack and ey < y + h + slack


def frame_record(clip, index: int, terms: dict, min_core: int) -> dict:
    """One frame's JSON record: the pair's noise outside the edits, and each region's margins."""
    import cv2

    luma, other, line = terms["luma"], terms["other"], terms["line"]
    edits = [e for e in clip.edits if e.frames[0] <= index < e.frames[1]]
    outside = np.ones(luma.shape, dtype=bool)
    for edit in edits:
        x, y, w, h = edit.box
        outside[max(y - EDIT_MARGIN, 0) : y + h + EDIT_MARGIN, max(x - EDIT_MARGIN, 0) : x + w + EDIT_MARGIN] = False
    noise = luma[outside]
    record = {
        "clip": clip.name,
        "frame": index,
        "edited": bool(edits),
        "line_noise_ratio": terms["ratio"],
        "luma_quantiles": [float(v) for v in np.quantile(noise, QUANTILES)],
        "luma_peak_outside_edits": float(noise.max()),
        "regions": [],
    }
    count, labels = cv2.connectedComponents(terms["mask"].view(np.uint8), connectivity=8)
    for label in range(1, count):
        inside = labels == label
        rows, columns = np.nonzero(inside)
        box = [int(columns.min()), int(rows.min()), int(np.ptp(columns) + 1), int(np.ptp(rows) + 1)]
        these, held = luma[inside], other[inside]
        record["regions"].append(
            {
                "box": box,
                "edits": [e.kind for e in edits if _overlaps(box, e.box)],
                "luma_core": int(np.count_nonzero(these >= 1)),
                "other_core": int(np.count_nonzero(held >= 1)),
                "luma_peak": float(these.max()),
                "line_peak": float(line[inside].max()),
                "other_peak": float(held.max()),
                "critical_factor": critical_factor(these, held, min_core),
            }
        )
    return record


def peaks(seed: int, clip_index: int, out) -> None:
    """Every frame's peak of the window's luma term: over the whole frame (what a rule can measure, edits
    and all) and outside its edits (JSON lines)."""
    import av

    from benchmarks.video_set import clip_set
    from imgdiff_gpu.detection import thresholds_for

    thresholds = thresholds_for("low")
    clip = clip_set(seed, clip_index + 1, size="720p", frames=120)[clip_index]
    with av.open(str(clip.left)) as a, av.open(str(clip.right)) as b:
        decoded = zip(a.decode(a.streams.video[0]), b.decode(b.streams.video[0]), strict=False)
        for index, (left, right) in enumerate(decoded):
            luma = luma_term(left.to_ndarray(format="rgb24"), right.to_ndarray(format="rgb24"), thresholds)
            whole = float(luma.max())
            for edit in clip.edits:
                if edit.frames[0] <= index < edit.frames[1]:
                    x, y, w, h = edit.box
                    top, first = max(y - EDIT_MARGIN, 0), max(x - EDIT_MARGIN, 0)
                    luma[top : y + h + EDIT_MARGIN, first : x + w + EDIT_MARGIN] = 0
            record = {"clip": clip.name, "frame": index, "peak": whole, "peak_outside_edits": float(luma.max())}
            print(json.dumps(record), file=out, flush=True)


def study(seed: int, clip_index: int, step: int, named: set[int], out, factor: float = 1.0) -> None:
    import av

    from benchmarks.video_set import clip_set
    from imgdiff_gpu.detection import thresholds_for

    thresholds = thresholds_for("low")
    clip = clip_set(seed, clip_index + 1, size="720p", frames=120)[clip_index]
    edited = clip.edited_frames()
    with av.open(str(clip.left)) as a, av.open(str(clip.right)) as b:
        decoded = zip(a.decode(a.streams.video[0]), b.decode(b.streams.video[0]), strict=False)
        for index, (left, right) in enumerate(decoded):
            if index not in edited and index not in named and index % step:
                continue
            terms = luma_terms(left.to_ndarray(format="rgb24"), right.to_ndarray(format="rgb24"), thresholds, factor)
            line = json.dumps({**frame_record(clip, index, terms, thresholds.min_core), "factor": factor})
            print(line, file=out, flush=True)


def _lines(paths: list[Path]) -> list[dict]:
    return [json.loads(text) for path in paths for text in path.read_text().splitlines() if text.strip()]


def margins_of(frames: list[dict]) -> tuple[dict, list]:
    """({(clip, frame, edit kind): the largest critical factor of a region overlapping it}, [false regions])."""
    false, margins = [], {}
    for frame in frames:
        for region in frame["regions"]:
            key = (frame["clip"], frame["frame"])
            for kind in region["edits"]:
                margins[(*key, kind)] = max(margins.get((*key, kind), 0.0), region["critical_factor"])
            if not region["edits"]:
                false.append((*key, region))
    return margins, false


def typical_peaks(frames: list[dict]) -> dict[str, float]:
    """Each clip's typical frame peak: the median over its unedited studied frames of the luma term's peak."""
    by_clip: dict[str, list[float]] = {}
    for frame in frames:
        if not frame["edited"]:
            by_clip.setdefault(frame["clip"], []).append(frame["luma_peak_outside_edits"])
    return {clip: statistics.median(values) for clip, values in by_clip.items()}


def simulate(paths: list[Path], reference_seed: int = 2026) -> None:
    """The rule "the luma term's threshold times max(1, the pair's typical frame peak over the largest of
    the reference seed's pairs)", applied to the regions' critical factors: which false regions it clears,
    which edited frames it loses. An estimate (the weak level is left as it is), not the pipeline."""
    frames = _lines(paths)
    typical = typical_peaks(frames)
    reference = max(v for clip, v in typical.items() if clip.startswith(f"s{reference_seed}-"))
    print(f"reference: the largest typical peak of seed {reference_seed}'s clips, {reference:.3f}")
    for clip, value in sorted(typical.items()):
        print(f"  {clip}: typical peak {value:.3f}, factor {max(1.0, value / reference):.3f}")
    margins, false = margins_of(frames)
    lost = [(k, f) for k, f in margins.items() if f < max(1.0, typical.get(k[0], 0.0) / reference)]
    cleared = [(c, i, r) for c, i, r in false if r["critical_factor"] < max(1.0, typical.get(c, 0.0) / reference)]
    print(f"edited frames lost: {len(lost)} of {len(margins)}: {sorted(lost)}")
    print(f"false regions cleared: {len(cleared)} of {len(false)}: {[(c, i, r['box']) for c, i, r in cleared]}")


def windowed_factors(peak_records: list[dict], reach: int, reference: float) -> dict[tuple[str, int], float]:
    """Each frame's factor as ``imgdiff video`` computes it (:func:`imgdiff_gpu.clip_noise.noise_factors`:
    ``max(1, median of the whole-frame peaks of frames k - reach .. k + reach / reference)``, the window
    clamped to the clip, the lower middle value of an even count): the pair's typical peak measured as a
    video path can, blind to the edits."""
    from imgdiff_gpu.clip_noise import noise_factors

    by_clip: dict[str, dict[int, float]] = {}
    for record in peak_records:
        by_clip.setdefault(record["clip"], {})[record["frame"]] = record["peak"]
    factors = {}
    for clip, frames in by_clip.items():
        indices = sorted(frames)
        assert indices == list(range(len(indices))), f"{clip}: every frame's peak is needed"
        for index, factor in zip(indices, noise_factors([frames[i] for i in indices], reference, reach), strict=True):
            factors[(clip, index)] = factor
    return factors


def simulate_windowed(paths: list[Path], peak_paths: list[Path], reach: int, reference_seed: int = 2026) -> None:
    """:func:`simulate` with each frame's factor from :func:`windowed_factors` (clips with ``--peaks``
    records only; the reference: the largest clip-wide median of whole-frame peaks of the reference seed's)."""
    records = _lines(peak_paths)
    by_clip: dict[str, list[float]] = {}
    for record in records:
        by_clip.setdefault(record["clip"], []).append(record["peak"])
    medians = {clip: statistics.median(values) for clip, values in by_clip.items()}
    reference = max(v for clip, v in medians.items() if clip.startswith(f"s{reference_seed}-"))
    print(f"reference: {reference:.3f}; window: frames k - {reach} .. k + {reach}")
    factors = windowed_factors(records, reach, reference)
    for clip, value in sorted(medians.items()):
        these = [f for (c, _), f in factors.items() if c == clip]
        print(f"  {clip}: median whole-frame peak {value:.3f}, factors {min(these):.3f}-{max(these):.3f}")
    margins, false = margins_of([f for f in _lines(paths) if f["clip"] in medians])
    lost = [(k, f) for k, f in margins.items() if f < factors[k[:2]]]
    cleared = [(c, i, r) for c, i, r in false if r["critical_factor"] < factors[(c, i)]]
    print(f"edited frames lost: {len(lost)} of {len(margins)} (these clips): {sorted(lost)}")
    print(f"false regions cleared: {len(cleared)} of {len(false)}: {[(c, i, r['box']) for c, i, r in cleared]}")
    for c, i, r in false:
        print(f"  {c} frame {i}: critical factor {r['critical_factor']:.3f}, factor {factors[(c, i)]:.3f}")


def summary(paths: list[Path]) -> None:
    """The false regions, and every edited frame whose best region has a finite critical factor."""
    margins, false = margins_of(_lines(paths))
    print(f"edited frames found: {len(margins)}")
    for (clip, index, kind), factor in sorted(margins.items(), key=lambda item: item[1]):
        if math.isfinite(factor):
            print(f"  {clip} frame {index} {kind}: critical factor {factor:.3f}")
    print(f"false regions: {len(false)}")
    for clip, index, region in false:
        print(
            f"  {clip} frame {index} {region['box']}: critical factor {region['critical_factor']:.3f}, "
            f"luma peak {region['luma_peak']:.3f}, line peak {region['line_peak']:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=41)
    parser.add_argument("--clip", type=int, default=3)
    parser.add_argument("--step", type=int, default=6, help="every N-th unedited frame")
    parser.add_argument("--frames", default="", help="unedited frames to study as well, e.g. 3,14,15")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--factor", type=float, default=1.0, help="the mask with the luma threshold times this")
    parser.add_argument("--peaks", action="store_true", help="every frame's peak of the luma term instead")
    parser.add_argument("--summary", type=Path, nargs="+", help="summarise these JSON-lines files instead")
    parser.add_argument("--simulate", action="store_true", help="with --summary: the typical-peak rule's estimate")
    parser.add_argument("--windowed", type=Path, nargs="+", help="with --summary: --peaks files, the windowed rule")
    parser.add_argument("--reach", type=int, default=15, help="with --windowed: frames each side")
    args = parser.parse_args()
    if args.summary and args.windowed:
        simulate_windowed(args.summary, args.windowed, args.reach)
        return
    if args.summary and args.simulate:
        simulate(args.summary)
        return
    if args.summary:
        summary(args.summary)
        return
    named = {int(v) for v in args.frames.split(",") if v}
    with args.out.open("w") if args.out else contextlib.nullcontext(sys.stdout) as out:
        if args.peaks:
            peaks(args.seed, args.clip, out)
        else:
            study(args.seed, args.clip, args.step, named, out, args.factor)


if __name__ == "__main__":
    main()
