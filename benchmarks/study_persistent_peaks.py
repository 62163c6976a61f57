"""Study for issue 12: a frame peak that an edit on screen in every frame does not set.

The clip noise rule (``imgdiff_gpu/clip_noise.py``) takes a frame's peak as the largest window luma
term over the whole frame, so an edit present in every frame is its clip's noise. The candidate
studied here: group the pixels whose term reaches a cut into regions (8-connected, after a
dilation of ``join`` = 5 city-block steps, so pixels up to ~10 px apart join) and take the K-th
largest of the regions' peaks, so that one to K - 1 edits do not set it while codec noise, specks
over the whole frame, does. For each frame of
a clip this prints (as JSON lines) the regions' peaks and boxes, largest first, and their count.

    CUT=0.6 python benchmarks/study_persistent_peaks.py SEED p|n FRAMES CLIPS [STRIDE]

``p``: ``video_set.py``'s persistent clips, ``n``: the ordinary ones; CLIPS: indices, "0,3";
``CUT``: the cut (the rule's ``PEAK_CUT`` is 0.6). Summaries: ``--summary FILE.jsonl``. What a
factor would cost a persistent clip (48 frames): ``--found-at SEED INDEX 1,1.15,1.3`` prints, per
factor ``F``, the frames in which each edit is found by ``compare`` with the luma threshold times ``F``.
The term map is :func:`imgdiff_gpu.clip_noise.frame_peak`'s, on the rows whose unmasked shift
reaches the cut (0 elsewhere).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from scipy import ndimage

from benchmarks.video_set import build_clip, decode
from imgdiff_gpu.cpu.rules import abs_peaks
from imgdiff_gpu.detection import (
    _masking_and_scale,
    border_factors,
    flag_runs,
    luma_bias,
    luma_shift_map,
    thresholds_for,
)
from imgdiff_gpu.pipeline import luma_ssim_params
from imgdiff_gpu.planes import PixelPair

CUT = float(os.environ.get("CUT", "0.6"))
LOW = thresholds_for("low")
JOINS = (0, 5)


def term_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The window luma term ``|shift| / (t_luma * scale)`` of an RGB pair, on the rows that can reach ``CUT``."""
    left, right = PixelPair(a, b).luma
    weights = luma_ssim_params(left).weights
    bias = luma_bias(left, right, LOW)
    shift = luma_shift_map(left, np.add(right, np.float32(bias)) if bias != 0.0 else right, weights)
    t = np.float32(LOW.luma_shift)
    hot = abs_peaks(shift)[0] / t >= np.float32(CUT * (1 - 1e-3))
    term = np.zeros(shift.shape, np.float32)
    if hot.any():
        row_factors, column_factors = border_factors(shift, shift.shape, weights, LOW)
        for first, last in flag_runs(hot, join=len(weights)):
            factors = (row_factors[first:last], column_factors)
            _, scale = _masking_and_scale(left, right, weights, LOW, rows=(first, last), factors=factors)
            if scale is None:
                scale = np.outer(factors[0], factors[1])
            term[first:last] = np.abs(shift[first:last]) / (scale * t)
    return term


def region_peaks(term: np.ndarray, join: int) -> list:
    """[(peak, [x, y, width, height]) of the 6 largest regions, ..., region count]."""
    above = term >= CUT
    mask = ndimage.binary_dilation(above, iterations=join) if join else above
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if not count:
        return [0]
    peaks = np.asarray(ndimage.maximum(term, labels, range(1, count + 1)))
    boxes = ndimage.find_objects(labels)
    order = np.argsort(-peaks)[:6]
    rows = [
        (
            round(float(peaks[o]), 4),
            [
                boxes[o][1].start,
                boxes[o][0].start,
                boxes[o][1].stop - boxes[o][1].start,
                boxes[o][0].stop - boxes[o][0].start,
            ],
        )
        for o in order
    ]
    return [*rows, count]


def summary(path: str) -> None:
    """Each clip's median over its frames (the lower middle value) of the K-th region peak, K = 1..3."""
    for line in open(path):
        clip = json.loads(line)
        print(clip["clip"], clip["edits"])
        for join in map(str, JOINS):
            for k in (1, 2, 3):
                values = sorted((f[join][k - 1][0] if len(f[join]) > k else 0.0) for f in clip["frames"])
                print(f"  join {join} K={k}: median {values[(len(values) - 1) // 2]:.3f}")


def found_at(seed: int, index: int, factors: list[float]) -> dict:
    """Per factor, the frames of persistent clip ``index`` in which each edit overlaps a region of ``compare``."""
    from benchmarks.eval_video import _overlap
    from imgdiff_gpu.pipeline import compare

    clip = build_clip(seed, index, frames=48, persistent=True)
    found = {f: {e.kind: 0 for e in clip.edits} for f in factors}
    for k, (a, b) in enumerate(zip(decode(clip.left), decode(clip.right), strict=False)):
        for f in factors:
            regions = compare(a, b, device="cpu", sensitivity="low", luma_factor=f).regions
            for e in clip.edits:
                found[f][e.kind] += e.frames[0] <= k < e.frames[1] and any(_overlap(r, e.box) for r in regions)
    return {"clip": clip.name, "edits": [(e.kind, e.frames) for e in clip.edits], "found": found}


def main() -> None:
    if sys.argv[1] == "--summary":
        summary(sys.argv[2])
        return
    if sys.argv[1] == "--found-at":
        factors = [float(f) for f in sys.argv[4].split(",")]
        print(json.dumps(found_at(int(sys.argv[2]), int(sys.argv[3]), factors)), flush=True)
        return
    seed, persistent, frames = int(sys.argv[1]), sys.argv[2] == "p", int(sys.argv[3])
    stride = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    for index in map(int, sys.argv[4].split(",")):
        clip = build_clip(seed, index, frames=frames, persistent=persistent)
        pairs = list(zip(decode(clip.left), decode(clip.right), strict=False))[::stride]
        rows = [{str(j): region_peaks(term, j) for j in JOINS} for term in (term_map(a, b) for a, b in pairs)]
        edits = [(e.kind, e.box, e.frames) for e in clip.edits]
        print(json.dumps({"clip": clip.name, "cut": CUT, "stride": stride, "edits": edits, "frames": rows}), flush=True)


if __name__ == "__main__":
    main()
