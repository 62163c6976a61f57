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
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.ndim == 2:  # grey: BGR and RGB are the same bytes
        return np.repeat(pixels[..., np.newaxis], 3, axis=2)
    if pixels.shape[2] == 2:  # grey and alpha (arrays given to compare(); files load as RGBA): as RGBA
        grey, alpha = pixels[..., :1], pixels[..., 1:]
        pixels = np.concatenate([grey, grey, grey, alpha], axis=2)
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3:4].astype(np.float32) / 255.0
        over_white = pixels[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        pixels = np.round(over_white).astype(np.uint8)
    if rgb:
        return np.array(pixels[..., :3], order="C")  # a copy of its own, in the order the pixels have
    import cv2  # its swap: ten times NumPy's strided copy

    return cv2.cvtColor(np.ascontiguousarray(pixels[..., :3]), cv2.COLOR_RGB2BGR)


def _draw_boxes(
    out: np.ndarray, comparison: Comparison, color, thickness: int, *, top: int = 0, height: int | None = None
) -> np.ndarray:
    """``out``, rows ``top`` onwards of a picture ``height`` rows high (all of it by default),
    with a box around each region, drawn in place in ``color`` (in ``out``'s channel order)."""
    height = out.shape[0] if height is None else height
    for r in comparison.regions:
        # pad by the thickness so a box never covers the pixels it points at
        pad = thickness
        top_left = (max(r.x - pad, 0), max(r.y - pad, 0) - top)
        bottom_right = (
            min(r.x + r.width - 1 + pad, out.shape[1] - 1),
            min(r.y + r.height - 1 + pad, height - 1) - top,
        )
        # what falls outside the band is clipped, as at the picture's edges (one integer raster,
        # moved by whole rows): the band's rows come out as the whole's
        if bottom_right[1] + thickness >= 0 and top_left[1] - thickness < out.shape[0]:
            _rectangle(out, top_left, bottom_right, color, thickness)
    return out


def _rectangle(out: np.ndarray, top_left, bottom_right, color, thickness: int) -> None:
    """``cv2.rectangle(out, top_left, bottom_right, color, thickness)`` (8-connected lines), pixel for
    pixel, without loading OpenCV (0.03 s of CPU a run here).

    For a rectangle on the pixel grid OpenCV's drawing comes down to this: a thickness of 1 is the
    outline; a greater one draws each side as a band ``(thickness + thickness % 2) // 2`` pixels
    either side of it, ending at the corners, and a filled circle of radius ``(thickness + 1) // 2``
    at each corner (the round caps of its thick lines), by its own integer circle (``Circle`` in
    ``drawing.cpp``). Everything clipped at the picture's edges. ``tests/test_rendering.py``
    holds it to OpenCV on thousands of rectangles, thicknesses, clippings and degenerate boxes.
    """
    (x1, y1), (x2, y2) = top_left, bottom_right
    corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    sides = list(zip(corners, corners[1:] + corners[:1], strict=True))
    if thickness <= 1:
        for (xa, ya), (xb, yb) in sides:
            _fill(out, min(ya, yb), max(ya, yb), min(xa, xb), max(xa, xb), color)
        return
    half = (thickness + thickness % 2) // 2
    for (xa, ya), (xb, yb) in sides:
        if (xa, ya) == (xb, yb):  # a side of no length: its caps alone
            continue
        if ya == yb:
            _fill(out, ya - half, ya + half, min(xa, xb), max(xa, xb), color)
        else:
            _fill(out, min(ya, yb), max(ya, yb), xa - half, xa + half, color)
    for x, y in corners:
        for dy, dx in _circle_rows((thickness + 1) // 2):
            _fill(out, y + dy, y + dy, x - dx, x + dx, color)


def _fill(out: np.ndarray, top: int, bottom: int, left: int, right: int, color) -> None:
    """Rows ``top`` to ``bottom`` and columns ``left`` to ``right`` (both ends in) of ``out`` set to
    ``color``, as far as they lie in it."""
    top, left = max(top, 0), max(left, 0)
    bottom, right = min(bottom, out.shape[0] - 1), min(right, out.shape[1] - 1)
    if top <= bottom and left <= right:
        out[top : bottom + 1, left : right + 1] = color


@functools.cache
def _circle_rows(radius: int) -> tuple[tuple[int, int], ...]:
    """OpenCV's filled circle of ``radius`` (``Circle`` in its ``drawing.cpp``, integer steps from
    the rightmost point up to 45 degrees, mirrored) as (row offset, half width) pairs."""
    widest: dict[int, int] = {}
    err, dx, dy, plus, minus = 0, radius, 0, 1, 2 * radius - 1
    while dx >= dy:
        for row, half_width in ((dy, dx), (-dy, dx), (dx, dy), (-dx, dy)):
            widest[row] = max(widest.get(row, -1), half_width)
        dy += 1
        err += plus
        plus += 2
        mask = (err <= 0) - 1  # 0 while the error stays at or below 0, else -1: step dx in
        err -= minus & mask
        dx += mask
        minus -= mask & 2
    return tuple(sorted(widest.items()))


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
    """``cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO)`` (RGB with ``rgb``): the table's row of each level."""
    return (_inferno_rgb() if rgb else _inferno_bgr()).reshape(256, 3)[levels]


# OpenCV's COLORMAP_INFERNO, BGR, level 0 to 255: cv2.applyColorMap of 0 ... 255 (OpenCV 4.x), kept
# here so that drawing a heat map needs no OpenCV; tests/test_rendering.py holds it to OpenCV's.
_INFERNO_BGR_HEX = (
    "0400000500010601010801010a01020c02020e02021002031203041403041704051904061b05071d05081f060922070a"
    "24070b26080c29080d2b090e2d0910300a11320a12340b14370b15390b163c0c183e0c19410c1b430c1c450c1e480c1f"
    "4a0c214c0c234f0c24510c26530b28550b29570b2b590b2d5b0a2f5c0a315e0a325f0a3461093662093863093964093b"
    "65093d66093e670a40680a42680a44690a456a0b476a0b496b0c4a6b0c4c6c0d4d6c0d4f6c0e516d0e526d0f546d0f55"
    "6e10576e10596e115a6e125c6e125d6e135f6e13616e14626e15646e15656e16676e16696e176a6e186c6e186d6e196f"
    "6e19716e1a726e1a746e1b756d1c776d1c786d1d7a6d1d7c6d1e7d6c1e7f6c1f806c20826b20846b21856b21876a2288"
    "6a228a69238c69238d69248f68259068259267269367269566279766279865289a64299b64299d632a9f632aa0622ba2"
    "612ca3602ca5602da65f2ea85e2ea95e2fab5d30ad5c30ae5b31b05a32b15a32b35933b45834b65735b75635b95536ba"
    "5437bc5338bd5239bf513ac0503ac14f3bc34e3cc44d3dc64c3ec74b3fc84a40ca4941cb4842cc4743ce4644cf4545d0"
    "4446d24347d34248d4414ad53f4bd73e4cd83d4dd93c4eda3b50db3a51dd3852de3753df3655e03556e13457e23359e3"
    "315ae4305ce52f5de62e5ee72d60e82b61e92a63ea2964eb2866eb2667ec2569ed246aee236cef216eef206ff01f71f1"
    "1d73f11c74f21b76f31978f31879f4177bf5157df5147ef61380f61282f71084f70f85f80e87f80c89f80b8bf90a8cf9"
    "098ef90890fa0792fa0794fa0696fb0697fb0699fb069bfb079dfb079ffc08a1fc09a3fc0aa5fc0ca6fc0da8fc0faafc"
    "11acfc12aefc14b0fc16b2fc18b4fc1ab6fb1db8fb1fbafb21bcfb23befb26c0fa28c2fa2ac4fa2dc6fa2fc7f932c9f9"
    "35cbf937cdf83acff83dd1f740d3f743d5f646d7f649d9f54cdbf54fddf453dff456e1f45ae3f35de5f361e6f265e8f2"
    "69eaf26decf171edf175eff179f1f17df2f282f4f286f5f38af6f38ef8f492f9f596faf69afbf89dfcf9a1fdfaa4fffc"
)


@functools.cache
def _inferno_bgr() -> np.ndarray:
    """OpenCV's inferno colour map as a 256 x 1 table, BGR: applied, :func:`heat_map`."""
    table = np.frombuffer(bytes.fromhex("".join(_INFERNO_BGR_HEX)), dtype=np.uint8).reshape(256, 1, 3)
    table.flags.writeable = False
    return table


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
    twice (the pixels come RGB, OpenCV's pictures are BGR); None where that is ``rows``. For the
    encoder, which only reads them: where nothing is drawn, the input's own rows (no copy)."""
    family: str | None = None
    """Pictures of one family are drawn from one pair of images and mostly share rows (those
    outside the regions): the encoder deflates a run of rows they share once."""
    shows: tuple[np.ndarray, tuple[tuple[int, int], ...]] | None = None
    """(pixels, spans): the picture is :func:`plain_picture` of these pixels but in the row spans
    [top, bottom), where something is drawn over them; the encoder takes the other rows as they were
    deflated ahead, if they were (:class:`imgdiff_gpu.png.DeflatedAhead`). None: not known."""

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

        def png_rows(top: int, bottom: int) -> np.ndarray:
            if _shown_as_they_are(pixels, boxes, top, bottom):
                return pixels[top:bottom]
            return rows(top, bottom, rgb=True)

        # a box's rows, with room for its thickness and round corners (_rectangle): at most 2 t past the region
        reach = 2 * thickness + 1
        boxes = tuple((max(r.y - reach, 0), min(r.y + r.height + reach, height)) for r in comparison.regions)
        return Picture((height, width, 3), rows, png_rows, family="pair", shows=(pixels, boxes))

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

    def filled_png_rows(top: int, bottom: int) -> np.ndarray:
        if _shown_as_they_are(right, spans, top, bottom):
            return right[top:bottom]
        return filled(top, bottom, rgb=True)

    shape = mask.shape
    edges = np.flatnonzero(np.diff(mask.any(axis=1).view(np.int8), prepend=0, append=0)).tolist()
    spans = tuple(zip(edges[0::2], edges[1::2], strict=True))  # runs of rows holding region pixels
    drawn["right_filled.png"] = Picture((*shape, 3), filled, filled_png_rows, family="pair", shows=(right, spans))
    # bool is one byte, 0 or 1
    drawn["mask.png"] = Picture(shape, lambda top, bottom: mask[top:bottom].view(np.uint8) * np.uint8(255))
    drawn["diff.png"] = Picture((*shape, 3), heat, functools.partial(heat, rgb=True))
    return drawn


def _shown_as_they_are(pixels: np.ndarray, spans: tuple[tuple[int, int], ...], top: int, bottom: int) -> bool:
    """Whether rows [top, bottom) of a picture drawn over ``pixels`` in the row ``spans`` are the pixels
    themselves in PNG's order: 8-bit RGB, and nothing drawn there. The encoder then filters them where
    they lie (it only reads them): no copy of a band in which nothing is drawn."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        return False
    return not any(first < bottom and top < last for first, last in spans)


def plain_picture(pixels: np.ndarray) -> Picture:
    """An image's pixels as the pictures show them (:func:`display_bgr`), nothing drawn over them: what
    the marked and filled pictures are outside their boxes and regions, deflated ahead of them."""

    def rows(top: int, bottom: int, rgb: bool = False) -> np.ndarray:
        return _display_rows(pixels[top:bottom], rgb=rgb)

    return Picture((*pixels.shape[:2], 3), rows, functools.partial(rows, rgb=True), family="pair", shows=(pixels, ()))


def render(comparison: Comparison, *, color=(0, 0, 255), thickness: int = 2) -> dict[str, np.ndarray]:
    """The output pictures by file name (``left_marked.png`` ...), whole (:func:`pictures`)."""
    return {name: picture.whole() for name, picture in pictures(comparison, color=color, thickness=thickness).items()}
