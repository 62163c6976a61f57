"""Bringing two decoded images to one comparable form.

Both images become the same stack of float32 planes in units of their data
range (0..1): luma Y, and for colour pairs the chroma Cr and Cb (BT.601, the
space JPEG codes in, so its chroma noise stays in the chroma planes; OpenCV's
chroma scales and centre 0.5, left as is because only differences of chroma
are ever used), and for pairs where either side has transparency, alpha.
Colour is premultiplied by alpha, so a change hidden under a fully transparent
pixel is no change, while a change of opacity is one.

Grey against colour compares the grey as colour with zero chroma; 8-bit against
16-bit compares both on the 16-bit scale.

Each plane value is computed from the integer pixel with a single rounding
(see ``cpu/planes.py``), so it is the same wherever it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PlaneStack:
    """Float32 planes (H x W x P) of one image: Y, then Cr, Cb if colour, then A."""

    planes: np.ndarray
    names: tuple[str, ...]

    @property
    def luma(self) -> np.ndarray:
        return self.planes[..., 0]


@dataclass
class PreparedPair:
    left: PlaneStack
    right: PlaneStack
    notes: list[str] = field(default_factory=list)


def _max_value(pixels: np.ndarray) -> float:
    return float(np.iinfo(pixels.dtype).max)


def _to_planes(pixels: np.ndarray, *, colour: bool, alpha: bool, scale: float) -> PlaneStack:
    """The plane stack of one H x W (x C) integer image; ``scale`` maps to 0..1."""
    from .cpu.planes import plane_stack

    names = ("Y", "Cr", "Cb") if colour else ("Y",)
    if alpha:
        names = (*names, "A")
    return PlaneStack(plane_stack(pixels, colour=colour, alpha=alpha, scale=scale), names)


@dataclass(frozen=True)
class PairLayout:
    """How two images become plane stacks: which planes, each side's scale, and what to tell the user."""

    colour: bool
    alpha: bool
    left_scale: float
    right_scale: float
    notes: tuple[str, ...]


def pair_layout(left: np.ndarray, right: np.ndarray) -> PairLayout:
    """The common plane layout of two same-sized integer images (no pixel is touched)."""
    if left.shape[:2] != right.shape[:2]:
        raise ValueError(f"sizes differ: {left.shape[:2]} vs {right.shape[:2]}")
    for side, pixels in (("left", left), ("right", right)):
        if pixels.dtype.kind != "u":
            raise TypeError(f"{side} image must be uint8 or uint16, got {pixels.dtype}")
    notes = []
    channels = [1 if p.ndim == 2 else p.shape[2] for p in (left, right)]
    colour = any(c >= 3 for c in channels)
    alpha = any(c in (2, 4) for c in channels)
    if colour and min(channels) < 3:
        notes.append("grey image compared as colour with no chroma")
    if alpha and not all(c in (2, 4) for c in channels):
        notes.append("image without transparency compared as fully opaque")
    if left.dtype != right.dtype:
        notes.append("8-bit image compared on the 16-bit scale")
    return PairLayout(colour, alpha, _max_value(left), _max_value(right), tuple(notes))


def prepare_pair(left: np.ndarray, right: np.ndarray) -> PreparedPair:
    """Planes of two same-sized images, on a common scale and layout."""
    layout = pair_layout(left, right)
    return PreparedPair(
        left=_to_planes(left, colour=layout.colour, alpha=layout.alpha, scale=layout.left_scale),
        right=_to_planes(right, colour=layout.colour, alpha=layout.alpha, scale=layout.right_scale),
        notes=list(layout.notes),
    )
