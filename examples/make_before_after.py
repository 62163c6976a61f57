"""Draw examples/before_after.png: the seed answer's method against imgdiff-gpu.

Both run on the bundled pair saved as JPEG quality 90, as the seed question's
pictures were. Left: the accepted answer (grey SSIM, Otsu, contour area > 40);
right: ``imgdiff_gpu.pipeline`` with its defaults.

Run: python examples/make_before_after.py
"""

from pathlib import Path

import cv2
import numpy as np

from benchmarks.detection_set import jpeg
from benchmarks.eval_detection import seed_answer_boxes
from imgdiff_gpu.pipeline import compare

HERE = Path(__file__).parent


def _panel(image_rgb: np.ndarray, boxes, title: str) -> np.ndarray:
    panel = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    for x, y, w, h in boxes:
        cv2.rectangle(panel, (x, y), (x + w - 1, y + h - 1), (0, 0, 255), 2)
    banner = np.full((28, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(banner, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([banner, panel])


def main() -> None:
    left = cv2.cvtColor(cv2.imread(str(HERE / "left.png")), cv2.COLOR_BGR2RGB)
    right = cv2.cvtColor(cv2.imread(str(HERE / "right.png")), cv2.COLOR_BGR2RGB)
    left, right = jpeg(left, 90), jpeg(right, 90)
    seed = seed_answer_boxes(left, right)
    ours = [(r.x, r.y, r.width, r.height) for r in compare(left, right, device="cpu").regions]
    figure = np.hstack(
        [
            _panel(right, seed, f"seed answer: {len(seed)} boxes"),
            np.full((right.shape[0] + 28, 8, 3), 255, np.uint8),
            _panel(right, ours, f"imgdiff-gpu: {len(ours)} boxes"),
        ]
    )
    cv2.imwrite(str(HERE / "before_after.png"), figure)


if __name__ == "__main__":
    main()
