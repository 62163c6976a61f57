"""The reference noise peak of ``imgdiff video``'s clip noise rule (:mod:`imgdiff_gpu.clip_noise`).

For each clip of the tuning seed (``benchmarks/video_set.py``, seed 2026, six 720p clips of 120
frames, the pairs ``low``'s thresholds were chosen on), every frame's noise peak
(:func:`imgdiff_gpu.clip_noise.frame_peak_of`, as the video path measures it, with the regions fixed
on screen in the frame's own window left out, :func:`imgdiff_gpu.clip_noise.noise_levels`), and
the clip's median of them (the lower middle value of the 120, as the rule takes a median); the
reference is the largest of those medians: the noisiest pair the thresholds were tuned against.
A peak is exact from ``PEAK_CUT`` (0.6) up and 0 below, so a clip whose median is below it shows
0 (2026-11-26, with the wide regions left out: four of the six; the x265 rocket 0.6130, the VP9
astronaut 0.6298, the reference; 0.6181 and 0.6351 before; with the fixed regions left out too, the
astronaut's frames unchanged, 3 of the x265 rocket's lower, its median 0.6093:
``clip-noise-reference-s2026-720p-persist3.json``).

    python -m benchmarks.clip_noise_reference [--seed 2026] [--size 720p] [--out F.json]

Prints each clip's median and the reference, and writes every peak to ``--out``
(default ``benchmarks/results/clip-noise-reference-s2026-720p.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from benchmarks.video_set import clip_set


def clip_peaks(left: Path, right: Path, thresholds) -> list[float]:
    """Every frame pair's noise peak, in order, as ``imgdiff video`` measures it (decoded RGB frames)."""
    import av

    from imgdiff_gpu.clip_noise import frame_peak_of

    with av.open(str(left)) as a, av.open(str(right)) as b:
        pairs = zip(a.decode(a.streams.video[0]), b.decode(b.streams.video[0]), strict=False)
        return [
            frame_peak_of(x.to_ndarray(format="rgb24"), y.to_ndarray(format="rgb24"), thresholds, None)
            for x, y in pairs
        ]


def main() -> None:
    from imgdiff_gpu.clip_noise import _window_median, noise_levels
    from imgdiff_gpu.detection import thresholds_for

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--size", default="720p")
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    thresholds = thresholds_for("low")
    clips = []
    for clip in clip_set(args.seed, args.clips, size=args.size, frames=args.frames):
        peaks = [peak for peak, _ in noise_levels(clip_peaks(clip.left, clip.right, thresholds), 1.0)]
        median = _window_median(peaks)
        clips.append({"clip": clip.name, "median_peak": median, "peaks": peaks})
        print(f"{clip.name:<62} {len(peaks)} frames, median peak {median:.4f}")
    reference = max(c["median_peak"] for c in clips)
    print(f"reference (the largest median): {reference:.4f}")
    report = {"date": dt.date.today().isoformat(), "seed": args.seed, "size": args.size, "reference": reference}
    out = args.out or Path(__file__).parent / "results" / f"clip-noise-reference-s{args.seed}-{args.size}.json"
    out.write_text(json.dumps({**report, "clips": clips}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
