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

import functools
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


class StackPair:
    """Two plane stacks read as :class:`PixelPair` reads a pair (``stacks``, ``luma``, ``colour``), for
    callers that made the stacks themselves (the GPU path's host fallback, tests)."""

    has_stacks = True

    def __init__(self, left: np.ndarray, right: np.ndarray):
        self.stacks = (left, right)

    @functools.cached_property
    def luma(self) -> tuple[np.ndarray, np.ndarray]:
        """The two luma planes, contiguous (a copy unless a stack has one plane), as OpenCV takes them."""
        return tuple(np.ascontiguousarray(planes[..., 0]) for planes in self.stacks)

    @property
    def colour(self) -> bool:
        return self.stacks[0].shape[2] >= 3


class PixelPair:
    """Two same-sized images' pixels in their common layout, each plane computed where it is read.

    The CPU analysis of a pair that needs no whole plane stack (every preset but ``exact``,
    without ``antialiasing``, and ``low`` only in grey) reads the luma whole (the SSIM, the low
    rules), the planes of the pixels of its regions, and every plane once, row by row, in the
    strength pass (``cpu/strength.py``): 8 bytes a pixel of luma instead of 24 of two colour
    stacks. Every value is the stacks' (:func:`prepare_pair`): a plane value is a function of
    its pixel alone (``cpu/planes.py``).
    """

    def __init__(self, left: np.ndarray, right: np.ndarray, layout: PairLayout | None = None, *, whole: bool = False):
        """``whole``: compute the stacks at once (a rule will read every plane whole), the luma then
        copied from them rather than computed from the pixels again."""
        self.left, self.right = left, right
        self.layout = layout if layout is not None else pair_layout(left, right)
        self._stacks: tuple[np.ndarray, np.ndarray] | None = None
        if whole:
            self._stacks = self.stacks

    @functools.cached_property
    def luma(self) -> tuple[np.ndarray, np.ndarray]:
        """The two luma planes (H x W float32, contiguous): the stacks' plane 0, bit for bit (copied
        from the stacks where they have been computed)."""
        from .cpu.planes import plane_stack

        if self.has_stacks:
            from .cpu.scratch import scratch

            # into this thread's scratch: a video's worker reuses the two planes from one pair to the next
            planes = []
            for side, stack in zip(("left", "right"), self.stacks, strict=True):
                plane = scratch(f"pair_luma_{side}", stack.shape[:2], stack.dtype)
                np.copyto(plane, stack[..., 0])
                planes.append(plane)
            return tuple(planes)
        scales = (self.layout.left_scale, self.layout.right_scale)
        # without chroma and alpha planes, the luma's own expression (premultiplied where the pixel has alpha)
        return tuple(
            plane_stack(pixels, colour=False, alpha=False, scale=scale)[..., 0]
            for pixels, scale in zip((self.left, self.right), scales, strict=True)
        )

    @property
    def stacks(self) -> tuple[np.ndarray, np.ndarray]:
        """The two whole plane stacks (H x W x P float32), as :func:`prepare_pair` makes them (once)."""
        if self._stacks is None:
            pair = prepare_pair(self.left, self.right)
            self._stacks = pair.left.planes, pair.right.planes
        return self._stacks

    @property
    def has_stacks(self) -> bool:
        """Whether :attr:`stacks` has been computed (a rule that reads whole planes asked for them)."""
        return self._stacks is not None

    @property
    def colour(self) -> bool:
        """Whether the planes hold chroma (Cr, Cb after the luma)."""
        return self.layout.colour

    def planes_at(self, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The planes of the pixels at (``ys``, ``xs``) (N x P float32 each), as the stacks hold them there."""
        from .cpu.planes import plane_stack

        layout = self.layout
        return tuple(
            plane_stack(pixels[ys, xs][:, None], colour=layout.colour, alpha=layout.alpha, scale=scale)[:, 0]
            for pixels, scale in zip((self.left, self.right), (layout.left_scale, layout.right_scale), strict=True)
        )
