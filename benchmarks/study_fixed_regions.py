"""Study for issue 12: leave out of a frame's noise the regions that stay at one place in the frame.

The clip noise rule (``imgdiff_gpu/clip_noise.py``) takes each frame's peak from the joined regions of
its window luma term above ``PEAK_CUT`` (:func:`imgdiff_gpu.clip_noise.region_peak`), leaving out the two
wide ones. An overlay edit (a logo, subtitle, watermark, fixed blurred patch) stays at the same place in
frame coordinates whatever its width; codec specks sit on the moving content's edges and move with it on
a pan or a zoom. The candidate: a region of a frame in ``k``'s window is left out of ``k``'s noise when
regions of most frames of that window cover the same place.

Two steps:

    python -m benchmarks.study_fixed_regions dump SEED p|n CLIPS > FILE.jsonl
    python -m benchmarks.study_fixed_regions simulate FILE.jsonl [FILE.jsonl ...] [--wide] [--share=0.5] [--frames]

``dump``: every frame's joined regions (peak, box) of the term map :func:`frame_peak` computes, as JSON
lines, one per clip (``p``: ``video_set.py``'s persistent clips of 48 frames, ``n``: the ordinary ones of
120; CLIPS: indices, "0,3"). ``simulate``: each frame's factor under the wide-region rule and under the
candidate (the reference re-derived from seed 2026's clips, as ``clip_noise_reference.py`` does), per
clip; ``--wide``: the candidate then applies the wide-region rule to the regions it keeps (the variant
built, ``clip_noise.window_peaks``); ``--frames``: every frame's two factors. The functions here are
written apart from ``clip_noise``'s on purpose: the built rule's factors were checked equal to them.
2026-11-26's dumps and simulation: ``benchmarks/results/fixed-regions-*-persist3.*``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from scipy import ndimage

from imgdiff_gpu import clip_noise
from imgdiff_gpu.clip_noise import JOIN, PEAK_CUT, REACH, REGIONS_LEFT_OUT, WIDE


def regions(term: np.ndarray) -> list[list]:
    """[peak, top, left, bottom, right] of each region :func:`region_peak` groups, boxes after the joining."""
    above = term >= PEAK_CUT
    if not above.any():
        return []
    joined = ndimage.binary_dilation(above, iterations=JOIN)
    labels, count = ndimage.label(joined, structure=np.ones((3, 3), dtype=bool))
    peaks = np.asarray(ndimage.maximum(term, labels, np.arange(1, count + 1)))
    return [
        [round(float(p), 5), r.start, c.start, r.stop, c.stop]
        for p, (r, c) in zip(peaks, ndimage.find_objects(labels), strict=True)
    ]


def dump(seed: int, persistent: bool, indices: list[int]) -> None:
    from benchmarks.study_persistent_peaks import term_map
    from benchmarks.video_set import build_clip, decode

    for index in indices:
        clip = build_clip(seed, index, frames=48 if persistent else 120, persistent=persistent)
        frames = [regions(term_map(a, b)) for a, b in zip(decode(clip.left), decode(clip.right), strict=False)]
        edits = [(e.kind, e.box, e.frames) for e in clip.edits]
        print(json.dumps({"clip": clip.name, "edits": edits, "frames": frames}), flush=True)


# -- the simulation ---------------------------------------------------------------------------------


def today_peak(frame: list[list]) -> float:
    """:func:`region_peak` from the dumped regions (the two widest-peaked wide ones left out)."""
    left_out = 0
    for peak, top, left, bottom, right in sorted(frame, key=lambda r: -r[0]):
        if max(bottom - top, right - left) >= WIDE and left_out < REGIONS_LEFT_OUT:
            left_out += 1
            continue
        return peak
    return 0.0


def _overlaps(a, b) -> bool:
    return a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]


def fixed_peaks(frames: list[list[list]], k: int, share: float, wide: bool, reach: int = REACH) -> list[float]:
    """The peaks of ``k``'s window's frames, each region left out that overlaps a region in more than
    ``share`` of the window's frames (itself included); ``wide``: then today's rule on the rest."""
    window = range(max(k - reach, 0), min(k + reach + 1, len(frames)))
    need = share * len(window)
    peaks = []
    for j in window:
        kept = [r for r in frames[j] if sum(any(_overlaps(r, o) for o in frames[i]) for i in window) <= need]
        peaks.append(today_peak(kept) if wide else max((r[0] for r in kept), default=0.0))
    return peaks


def lower_median(values: list[float]) -> float:
    return sorted(values)[(len(values) - 1) // 2]


def simulate(paths: list[str], share: float = 0.5, wide: bool = False) -> None:
    clips = [json.loads(line) for path in paths for line in open(path)]
    today = {c["clip"]: [today_peak(f) for f in c["frames"]] for c in clips}
    candidate = {
        c["clip"]: [lower_median(fixed_peaks(c["frames"], k, share, wide)) for k in range(len(c["frames"]))]
        for c in clips
    }
    tuning = [c["clip"] for c in clips if c["clip"].startswith("s2026-")]
    reference_today = clip_noise.REFERENCE_PEAKS["low"]
    # as today's: the largest over the tuning clips of the whole clip's lower median of its frame peaks,
    # each frame's peak with the regions fixed in its own window left out
    own = {
        c["clip"]: [fixed_peaks(c["frames"], k, share, wide)[min(k, REACH)] for k in range(len(c["frames"]))]
        for c in clips
        if c["clip"] in tuning
    }
    reference = max((lower_median(own[name]) for name in tuning), default=reference_today)
    print(f"share {share}, wide {wide}: reference today {reference_today}, candidate {reference:.4f}")
    for c in clips:
        name = c["clip"]
        f_today = clip_noise.noise_factors(today[name], reference_today)
        f_new = [max(1.0, p / reference) for p in candidate[name]]
        print(
            f"{name[:60]:60s} F today {min(f_today):.2f}-{max(f_today):.2f}"
            f"  candidate {min(f_new):.2f}-{max(f_new):.2f} (>1: {sum(f > 1 for f in f_new)},"
            f" above today: {sum(b > a + 1e-9 for a, b in zip(f_today, f_new, strict=True))})"
            f"  {[e[0] for e in c['edits']]}"
        )
        if len(sys.argv) > 1 and "--frames" in sys.argv:
            print("   ", " ".join(f"{k}:{a:.2f}/{b:.2f}" for k, (a, b) in enumerate(zip(f_today, f_new, strict=True))))


def main() -> None:
    if sys.argv[1] == "dump":
        dump(int(sys.argv[2]), sys.argv[3] == "p", [int(i) for i in sys.argv[4].split(",")])
    else:
        paths = [a for a in sys.argv[2:] if not a.startswith("--")]
        share = next((float(a.split("=")[1]) for a in sys.argv if a.startswith("--share=")), 0.5)
        simulate(paths, share, "--wide" in sys.argv)


if __name__ == "__main__":
    main()
