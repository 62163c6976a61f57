"""Scratch planes: per-thread temporaries that a thread analysing one pair after another reuses.

The ``low`` rules' OpenCV filters write into planes that live only within one pair's
analysis. On a thread that analyses one pair after another (a video's workers, within
:func:`keeping_scratch`), the next pair of the same size takes the same memory again, since
a fresh plane costs its page faults before its first value is written. Elsewhere (an image
compared in a long-lived process) nothing is kept.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np

SCRATCH_PIXELS = 1 << 21
"""Scratch planes of up to this many pixels (1920 x 1080) are kept for the next pair: at most
~12 of them per thread analysing a video, ~100 MB at 1080p."""

_kept = threading.local()


@contextlib.contextmanager
def keeping_scratch() -> Iterator[None]:
    """Within this block, :func:`scratch` on this thread keeps its planes for the next call, until
    the thread ends: for a thread that analyses one pair after another (a video's workers)."""
    before = getattr(_kept, "enabled", False)
    _kept.enabled = True
    try:
        yield
    finally:
        _kept.enabled = before


def scratch(name: str, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """A C-contiguous array for this thread's temporary ``name`` (contents undefined). Within
    :func:`keeping_scratch`, the start of the same memory each call where small enough, so a
    video's frames (and smaller bands between them) reuse it; use it only until the next call
    with that name on this thread. Elsewhere a new array, so nothing outlives the call."""
    size = int(np.prod(shape))
    if size > SCRATCH_PIXELS or not getattr(_kept, "enabled", False):
        return np.empty(shape, dtype)
    kept = getattr(_kept, "buffers", None)
    if kept is None:
        kept = _kept.buffers = {}
    buffer = kept.get((name, np.dtype(dtype)))
    if buffer is None or buffer.size < size:
        buffer = kept[name, np.dtype(dtype)] = np.empty(size, dtype)
    return buffer[:size].reshape(shape)
