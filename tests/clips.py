"""Test helpers for video: short clips made from a real photograph, with known changed frames.

Imported by test modules (``from clips import ...``); nothing is downloaded or checked in.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from skimage import data

FRAMES = 18
VIDEO_CHANGED = {3, 4, 9}
"""The changed frames of the report tests' clip (``write_marked_video``)."""


def _pan(count: int, height: int, width: int, changed: set[int], patch: tuple[int, int]) -> list[np.ndarray]:
    """``count`` frames of a slow pan across scikit-image's astronaut (2 px down, 3 px right a frame),
    height x width, with a red 12 x 20 patch at ``patch`` (row, column) in the ``changed`` frames."""
    photo = data.astronaut()
    top, left = patch
    frames = []
    for i in range(count):
        frame = photo[100 + 2 * i : 100 + height + 2 * i, 150 + 3 * i : 150 + width + 3 * i].copy()
        if i in changed:
            frame[top : top + 12, left : left + 20] = (250, 30, 30)
        frames.append(frame)
    return frames


def pan_frames(changed: set[int] = frozenset()) -> list[np.ndarray]:
    """A slow pan across scikit-image's astronaut, 144 x 176, with a patch in ``changed`` frames."""
    return _pan(FRAMES, 144, 176, changed, patch=(40, 60))


def bump_frames(
    amplitudes: list[float], height: int = 96, width: int = 128, seed: int = 5, *, moving: bool = True
) -> tuple[list, list]:
    """Left and right frames (RGB, grey) of a flat clip with +-1 level of noise on each side: right has a
    luma bump (sigma 3.5 px) of each frame's amplitude in grey levels. The clip noise rule's test clip
    (tests/test_clip_noise.py gives the peaks the amplitudes make). ``moving``: frame k's bump at the
    (k mod 9)-th of nine places 30 px apart across and 24 px down, the first the middle, as a codec's specks
    move with the content (so none is fixed on screen, ``clip_noise.FIXED``); else every bump in the middle."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    lefts, rights = [], []
    for k, amplitude in enumerate(amplitudes):
        across, down = ((0, 30, -30)[k % 3], (0, 24, -24)[k // 3 % 3]) if moving else (0, 0)
        bump = np.exp(-((y - height / 2 - down) ** 2 + (x - width / 2 - across) ** 2) / (2 * 3.5**2))
        left = 120.0 + rng.integers(-1, 2, (height, width))
        right = 120.0 + rng.integers(-1, 2, (height, width)) + amplitude * bump
        lefts.append(np.repeat(np.rint(left).astype(np.uint8)[..., None], 3, axis=2))
        rights.append(np.repeat(np.rint(right).astype(np.uint8)[..., None], 3, axis=2))
    return lefts, rights


def write_video(path: Path, frames: list[np.ndarray], codec: str, *, gop: int | None = None, rotation: int = 0) -> Path:
    """``frames`` (RGB) as a video: H.264 4:2:0 at CRF 18, or ``codec`` (FFV1, ...) at 4:4:4.

    ``gop``: a keyframe every ``gop`` frames (None: the encoder's choice); ``rotation``:
    the display rotation the container states, in degrees.
    """
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p" if codec == "libx264" else "yuv444p"
        if codec == "libx264":
            stream.options = {"crf": "18"}
        if gop is not None:
            stream.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_marked_video(path: Path, changed: set[int], frames: int = 12) -> Path:
    """12 lossless frames (FFV1, 4:4:4) of a pan across the astronaut, 96 x 128, a red patch in ``changed``."""
    return write_video(path, _pan(frames, 96, 128, changed, patch=(30, 40)), "ffv1")
