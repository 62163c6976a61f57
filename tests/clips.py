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


def pan_frames(changed: set[int] = frozenset()) -> list[np.ndarray]:
    """A slow pan across scikit-image's astronaut, 144 x 176, with a patch in ``changed`` frames."""
    photo = data.astronaut()
    frames = []
    for i in range(FRAMES):
        frame = photo[100 + 2 * i : 244 + 2 * i, 150 + 3 * i : 326 + 3 * i].copy()
        if i in changed:
            frame[40:52, 60:80] = (250, 30, 30)
        frames.append(frame)
    return frames


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
    photo = data.astronaut()
    pictures = []
    for i in range(frames):
        frame = photo[100 + 2 * i : 196 + 2 * i, 150 + 3 * i : 278 + 3 * i].copy()
        if i in changed:
            frame[30:42, 40:60] = (250, 30, 30)
        pictures.append(frame)
    return write_video(path, pictures, "ffv1")
