"""Pictures of a comparison: marked inputs, filled regions, mask and heat map.

Everything returned here is an 8-bit BGR (or grey) array ready for OpenCV to
encode; 16-bit inputs are shown at 8 bits and transparent ones over white.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the command line parses --color with this module, before it needs the pipeline
    from .loading import LoadedImage
    from .pipeline import Comparison

# Named highlight colours, as (R, G, B).
NAMED_COLORS = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "magenta": (255, 0, 255),
    "cyan": (0, 255, 255),
    "orange": (255, 128, 0),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "lime": (36, 255, 12),  # the seed answer's green
}


def parse_color(text: str) -> tuple[int, int, int]:
    """A colour from a name (``red``), hex (``#ff0000``) or ``B,G,R`` triple.

    Returns (B, G, R), OpenCV's order. The comma form is B,G,R because that is
    what OpenCV users type; hex and names are RGB, as on the web.
    """
    value = text.strip().lower()
    if value in NAMED_COLORS:
        r, g, b = NAMED_COLORS[value]
        return (b, g, r)
    if re.fullmatch(r"#?[0-9a-f]{6}", value):
        digits = value.lstrip("#")
        r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
        return (b, g, r)
    parts = value.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() and int(p) <= 255 for p in parts):
        b, g, r = (int(p) for p in parts)
        return (b, g, r)
    raise ValueError(
        f"cannot read colour {text!r}: use a name ({', '.join(sorted(NAMED_COLORS))}), "
        "hex like #ff0000, or B,G,R like 0,0,255"
    )


def display_bgr(image: LoadedImage) -> np.ndarray:
    """An 8-bit BGR picture of an image: 16 bits scaled, alpha over white."""
    import cv2

    pixels = image.pixels
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.ndim == 2:
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3:4].astype(np.float32) / 255.0
        over_white = pixels[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        pixels = np.round(over_white).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(pixels[..., :3]), cv2.COLOR_RGB2BGR)


def _draw_boxes(out: np.ndarray, comparison: Comparison, color, thickness: int) -> np.ndarray:
    """``out`` with a box around each region, drawn in place."""
    import cv2

    for r in comparison.regions:
        # pad by the thickness so a box never covers the pixels it points at
        pad = thickness
        top_left = (max(r.x - pad, 0), max(r.y - pad, 0))
        bottom_right = (
            min(r.x + r.width - 1 + pad, out.shape[1] - 1),
            min(r.y + r.height - 1 + pad, out.shape[0] - 1),
        )
        cv2.rectangle(out, top_left, bottom_right, color, thickness)
    return out


def heat_map(ssim_map: np.ndarray) -> np.ndarray:
    """SSIM as colour: 1 (same) dark, 0 and below (different) bright.

    Values below 0 are clipped to 0, never wrapped around as the seed's
    ``(diff * 255).astype(uint8)`` did.
    """
    import cv2

    # round(clip(1 - S, 0, 1) * 255) in one buffer: a third less time at 4K, the same bytes
    levels = np.subtract(1.0, ssim_map)  # the map's own float type, as 1.0 - ssim_map gives
    np.clip(levels, 0.0, 1.0, out=levels)
    levels *= 255
    np.rint(levels, out=levels)  # what np.round does for 0 decimals: halves to even
    return cv2.applyColorMap(levels.astype(np.uint8), cv2.COLORMAP_INFERNO)


def render(comparison: Comparison, *, color=(0, 0, 255), thickness: int = 2) -> dict[str, np.ndarray]:
    """The output pictures by file name (``left_marked.png`` ...)."""
    if thickness < 1:
        raise ValueError(f"box thickness must be at least 1, got {thickness}")
    if comparison.mask is None and comparison.mismatch is None:
        raise ValueError("this comparison kept no maps to draw; compare it with keep_maps=True")
    # display_bgr makes new arrays, so the boxes are drawn on them in place: no copy of either but the fill
    left = display_bgr(comparison.left)
    right = display_bgr(comparison.right)
    filled = None
    if comparison.mask is not None:
        filled = right.copy()  # before the boxes go on
        filled[comparison.mask] = color
    pictures = {
        "left_marked.png": _draw_boxes(left, comparison, color, thickness),
        "right_marked.png": _draw_boxes(right, comparison, color, thickness),
    }
    if filled is None:  # sizes differ: nothing pixel-wise to show
        return pictures
    pictures["right_filled.png"] = filled
    pictures["mask.png"] = comparison.mask.view(np.uint8) * np.uint8(255)  # bool is one byte, 0 or 1
    pictures["diff.png"] = heat_map(comparison.ssim_map)
    return pictures
