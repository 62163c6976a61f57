"""Detection quality: imgdiff-gpu against the seed answer's method, on known edits.

For each edit kind: edits found / total; false regions per positive pair
(regions touching no edit); and regions on negative pairs (identical, JPEG
quality 75 and 90, shifted by a few pixels and compared with --align).
An edit is found when a reported box overlaps its ground-truth box.

    python benchmarks/eval_detection.py [--pairs-per-photo 4] [--sensitivity normal] [--out PATH]

Targets (issue 4): >= 95 % of edits found including every colour-only one,
<= 1 false region per 4 pairs, zero regions on identical and re-encoded pairs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import structural_similarity as skimage_ssim

from benchmarks.detection_set import EDIT_KINDS, negative_pairs, positive_pairs
from imgdiff_gpu.pipeline import compare


def seed_answer_boxes(left: np.ndarray, right: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The accepted answer's method, as written: grey SSIM, uint8 cast, Otsu, contour area > 40."""
    grey = [cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) if im.ndim == 3 else im for im in (left, right)]
    _, diff = skimage_ssim(grey[0], grey[1], full=True)
    with np.errstate(invalid="ignore"):
        diff = (diff * 255).astype("uint8")  # wraps negative SSIM around, as the answer did
    thresh = cv2.threshold(diff, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]
    contours = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
    return [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > 40]


def imgdiff_boxes(left, right, **options) -> list[tuple[int, int, int, int]]:
    result = compare(left, right, device="cpu", **options)
    return [(r.x, r.y, r.width, r.height) for r in result.regions]


def _overlap(a, b, slack: int = 2) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw + slack and bx < ax + aw + slack and ay < by + bh + slack and by < ay + ah + slack


def evaluate(
    pairs_per_photo: int, jpeg_quality: int | None = None, seed: int = 2019, sensitivity: str = "normal"
) -> dict:
    def ours(left, right, **options):
        return imgdiff_boxes(left, right, sensitivity=sensitivity, **options)

    methods = {"imgdiff-gpu": ours, "seed answer": seed_answer_boxes}
    found = {m: Counter() for m in methods}
    total = Counter()
    false_regions = Counter()
    missed = defaultdict(list)
    positives = list(positive_pairs(pairs_per_photo=pairs_per_photo, jpeg_quality=jpeg_quality, seed=seed))
    timing = Counter()
    for pair in positives:
        for edit in pair.edits:
            total[edit.kind] += 1
        for method, boxes_of in methods.items():
            start = time.perf_counter()
            boxes = boxes_of(pair.left, pair.right)
            timing[method] += time.perf_counter() - start
            for edit in pair.edits:
                if any(_overlap(box, edit.box) for box in boxes):
                    found[method][edit.kind] += 1
                elif method == "imgdiff-gpu":
                    missed[edit.kind].append(f"{pair.name} {edit.box}")
            false_regions[method] += sum(not any(_overlap(b, e.box) for e in pair.edits) for b in boxes)

    negatives = defaultdict(lambda: Counter())
    negative_pairs_count = Counter()
    for pair in negative_pairs():
        negative_pairs_count[pair.negative_kind] += 1
        options = {"align": "translation"} if pair.shift else {}
        negatives["imgdiff-gpu"][pair.negative_kind] += len(ours(pair.left, pair.right, **options))
        negatives["seed answer"][pair.negative_kind] += len(seed_answer_boxes(pair.left, pair.right))

    return {
        "date": dt.date.today().isoformat(),
        "edited_pairs_jpeg_quality": jpeg_quality,
        "seed": seed,
        "sensitivity": sensitivity,
        "positive_pairs": len(positives),
        "edits": dict(total),
        "found": {m: {k: found[m][k] for k in EDIT_KINDS} for m in methods},
        "found_fraction": {m: sum(found[m].values()) / sum(total.values()) for m in methods},
        "false_regions_per_pair": {m: false_regions[m] / len(positives) for m in methods},
        "negative_pairs": dict(negative_pairs_count),
        "regions_on_negatives": {m: dict(negatives[m]) for m in methods},
        "seconds": dict(timing),
        "missed_by_imgdiff": {k: v for k, v in missed.items()},
    }


def print_table(result: dict) -> None:
    print(f"{result['positive_pairs']} edited pairs, 3 edits each; negatives: {result['negative_pairs']}")
    print(f"{'edit kind':<14}{'total':>7}{'imgdiff-gpu':>14}{'seed answer':>14}")
    for kind in EDIT_KINDS:
        total = result["edits"].get(kind, 0)
        print(
            f"{kind:<14}{total:>7}{result['found']['imgdiff-gpu'][kind]:>14}{result['found']['seed answer'][kind]:>14}"
        )
    for label, key in (("found (all)", "found_fraction"), ("false regions/pair", "false_regions_per_pair")):
        values = result[key]
        print(f"{label:<21}{values['imgdiff-gpu']:>14.3f}{values['seed answer']:>14.3f}")
    for kind in result["negative_pairs"]:
        print(
            f"regions on {kind:<10}{result['regions_on_negatives']['imgdiff-gpu'].get(kind, 0):>14}"
            f"{result['regions_on_negatives']['seed answer'].get(kind, 0):>14}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs-per-photo", type=int, default=4)
    parser.add_argument("--jpeg", type=int, metavar="QUALITY", help="save both sides of edited pairs as JPEG")
    parser.add_argument(
        "--seed", type=int, default=2019, help="edit placement seed (2019: the set thresholds were tuned on)"
    )
    parser.add_argument("--sensitivity", default="normal", help="imgdiff's preset (default: the images' default)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "detection.json")
    args = parser.parse_args()
    result = evaluate(args.pairs_per_photo, args.jpeg, args.seed, args.sensitivity)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
