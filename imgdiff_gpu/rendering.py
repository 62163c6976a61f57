"""Pictures of a comparison: marked inputs, filled regions, mask and heat map.

Everything returned here is an 8-bit BGR (or grey) array ready for OpenCV to
encode; 16-bit inputs are shown at 8 bits and transparent ones over white.
:func:`pictures` gives each picture as a :class:`Picture` that draws any band of
its rows alone, the same bytes as those rows of the whole: a huge pair's
pictures are drawn, encoded and let go one band and one picture at a time.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
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
    return _display_rows(image.pixels)


def _display_rows(pixels: np.ndarray, *, rgb: bool = False) -> np.ndarray:
    """:func:`display_bgr` of some rows of an image's pixels (a new array: the boxes go on it in place);
    with ``rgb``, the same picture in RGB order, as PNG stores it."""
    import cv2

    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.ndim == 2:
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)  # grey: BGR and RGB are the same bytes
    if pixels.shape[2] == 2:  # grey and alpha (arrays given to compare(); files load as RGBA): as RGBA
        grey, alpha = pixels[..., :1], pixels[..., 1:]
        pixels = np.concatenate([grey, grey, grey, alpha], axis=2)
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3:4].astype(np.float32) / 255.0
        over_white = pixels[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        pixels = np.round(over_white).astype(np.uint8)
    if rgb:
        return np.array(pixels[..., :3], order="C")  # a copy of its own, in the order the pixels have
    return cv2.cvtColor(np.ascontiguousarray(pixels[..., :3]), cv2.COLOR_RGB2BGR)


def _draw_boxes(
    out: np.ndarray, comparison: Comparison, color, thickness: int, *, top: int = 0, height: int | None = None
) -> np.ndarray:
    """``out``, rows ``top`` onwards of a picture ``height`` rows high (all of it by default),
    with a box around each region, drawn in place in ``color`` (in ``out``'s channel order)."""
    import cv2

    height = out.shape[0] if height is None else height
    for r in comparison.regions:
        # pad by the thickness so a box never covers the pixels it points at
        pad = thickness
        top_left = (max(r.x - pad, 0), max(r.y - pad, 0) - top)
        bottom_right = (
            min(r.x + r.width - 1 + pad, out.shape[1] - 1),
            min(r.y + r.height - 1 + pad, height - 1) - top,
        )
        # OpenCV clips what falls outside the band, as it clips at the picture's edges (one
        # integer raster, moved by whole rows): the band's rows come out as the whole's
        if bottom_right[1] + thickness >= 0 and top_left[1] - thickness < out.shape[0]:
            cv2.rectangle(out, top_left, bottom_right, color, thickness)
    return out


def heat_levels(ssim_map: np.ndarray) -> np.ndarray:
    """The heat map's 8-bit levels: round(clip(1 - S, 0, 1) * 255), uint8, row by row of the map."""
    # in one buffer: a third less time at 4K, the same bytes
    levels = np.subtract(1.0, ssim_map)  # the map's own float type, as 1.0 - ssim_map gives
    np.clip(levels, 0.0, 1.0, out=levels)
    levels *= 255
    np.rint(levels, out=levels)  # what np.round does for 0 decimals: halves to even
    return levels.astype(np.uint8)


def heat_map(ssim_map: np.ndarray) -> np.ndarray:
    """SSIM as colour: 1 (same) dark, 0 and below (different) bright.

    Values below 0 are clipped to 0, never wrapped around as the seed's
    ``(diff * 255).astype(uint8)`` did.
    """
    return _heat_colours(heat_levels(ssim_map))


def _heat_colours(levels: np.ndarray, *, rgb: bool = False) -> np.ndarray:
    import cv2

    return cv2.applyColorMap(levels, _inferno_rgb() if rgb else cv2.COLORMAP_INFERNO)


@functools.cache
def _inferno_bgr() -> np.ndarray:
    """OpenCV's inferno colour map as a 256 x 1 table, BGR: applied, :func:`heat_map`."""
    import cv2

    return cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(256, 1), cv2.COLORMAP_INFERNO)


@functools.cache
def _inferno_rgb() -> np.ndarray:
    """OpenCV's inferno colour map as a 256 x 1 table in RGB order: applied, the heat map as PNG stores it."""
    return np.ascontiguousarray(_inferno_bgr()[..., ::-1])


@dataclass(frozen=True)
class Picture:
    """One output picture, drawn a band of rows at a time (a huge one is never whole in memory)."""

    shape: tuple[int, ...]
    """H x W x 3 (BGR) or H x W (grey)."""
    rows: Callable[[int, int], np.ndarray]
    """Rows [top, bottom) of the picture: uint8, as :func:`render` gives them."""
    png_rows: Callable[[int, int], np.ndarray] | None = None
    """The same rows in the order PNG stores them (RGB), drawn so without swapping channels
    twice (the pixels come RGB, OpenCV's pictures are BGR); None where that is ``rows``."""
    family: str | None = None
    """Pictures of one family are drawn from one pair of images and mostly share rows (those
    outside the regions): the encoder deflates a run of rows they share once."""

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape)

    def whole(self) -> np.ndarray:
        return self.rows(0, self.shape[0])


def pictures(comparison: Comparison, *, color=(0, 0, 255), thickness: int = 2) -> dict[str, Picture]:
    """The output pictures by file name (``left_marked.png`` ...), each to be drawn a band at a time.

    Every band is drawn from the comparison's pixels, mask and SSIM map (or, for a pair
    analysed in bands, its heat levels) by row-wise operations, so the rows of any
    band are those of the whole picture (:func:`render`), byte for byte.
    """
    if thickness < 1:
        raise ValueError(f"box thickness must be at least 1, got {thickness}")
    if comparison.mask is None and comparison.mismatch is None:
        raise ValueError("this comparison kept no maps to draw; compare it with keep_maps=True")

    if len(color := tuple(np.ravel(color).astype(int).tolist())) != 3:
        raise ValueError(f"color is three channels (blue, green, red), got {color}")
    rgb_color = color[::-1]

    def marked(pixels: np.ndarray) -> Picture:
        height, width = pixels.shape[:2]

        def rows(top: int, bottom: int, rgb: bool = False) -> np.ndarray:
            band = _display_rows(pixels[top:bottom], rgb=rgb)
            return _draw_boxes(band, comparison, rgb_color if rgb else color, thickness, top=top, height=height)

        return Picture((height, width, 3), rows, functools.partial(rows, rgb=True), family="pair")

    drawn = {
        "left_marked.png": marked(comparison.left.pixels),
        "right_marked.png": marked(comparison.right.pixels),
    }
    if comparison.mask is None:  # sizes differ: nothing pixel-wise to show
        return drawn
    mask, right = comparison.mask, comparison.right.pixels

    def filled(top: int, bottom: int, rgb: bool = False) -> np.ndarray:
        band = _display_rows(right[top:bottom], rgb=rgb)
        # by the flat indices of the region's pixels: a third of the time of a boolean index
        band.reshape(-1, 3)[np.flatnonzero(mask[top:bottom])] = rgb_color if rgb else color
        return band

    def heat(top: int, bottom: int, rgb: bool = False) -> np.ndarray:
        source = comparison.heat_levels if comparison.heat_levels is not None else comparison.ssim_map
        if source.dtype in (np.uint8, np.float32, np.float64):  # levels and colours in one pass, the same bytes
            from .cpu.heat import heat_colours

            return heat_colours(source[top:bottom], _inferno_rgb() if rgb else _inferno_bgr())
        return _heat_colours(heat_levels(source[top:bottom]), rgb=rgb)

    shape = mask.shape
    drawn["right_filled.png"] = Picture((*shape, 3), filled, functools.partial(filled, rgb=True), family="pair")
    # bool is one byte, 0 or 1
    drawn["mask.png"] = Picture(shape, lambda top, bottom: mask[top:bottom].view(np.uint8) * np.uint8(255))
    drawn["diff.png"] = Picture((*shape, 3), heat, functools.partial(heat, rgb=True))
    return drawn


def render(comparison: Comparison, *, color=(0, 0, 255), thickness: int = 2) -> dict[str, np.ndarray]:
    """The output pictures by file name (``left_marked.png`` ...), whole (:func:`pictures`)."""
    return {name: picture.whole() for name, picture in pictures(comparison, color=color, thickness=thickness).items()}
