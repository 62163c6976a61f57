"""Make the bundled example pair from scikit-image's photograph of Chelsea the cat.

The photograph is CC0 (Stefan van der Walt). ``right.png`` carries four known
edits, the kinds the seed answer missed or mishandled:

1. a small dark square in the top-right corner (tiny, strong, at a border);
2. a faint 2-px line, 18 grey levels lighter, across the wall (thin and faint);
3. a patch of fur under the eye recoloured, red and green swapped (mostly colour);
4. a patch of fur replaced by fur from elsewhere (texture).

Run: python examples/make_examples.py (rewrites examples/left.png and right.png).
"""

from pathlib import Path

import cv2
import numpy as np
from skimage import data

HERE = Path(__file__).parent


def main() -> None:
    left = data.chelsea()  # 300 x 451 RGB
    right = left.copy()
    right[4:11, 440:447] = (20, 20, 30)  # 1: 7x7 near the corner
    line = right[40:42, 60:200].astype(np.int16) + 18  # 2: faint line
    right[40:42, 60:200] = np.clip(line, 0, 255).astype(np.uint8)
    nose = right[180:200, 250:275].astype(np.float32)  # 3: swap R and G
    right[180:200, 250:275] = nose[..., [1, 0, 2]].astype(np.uint8)
    right[100:130, 150:190] = left[220:250, 320:360]  # 4: texture from elsewhere
    for name, image in (("left.png", left), ("right.png", right)):
        cv2.imwrite(str(HERE / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
