"""A context variable set for the length of a ``with`` block, then restored.

How the video path hands the full comparison what it has already computed (the screen's
maps, a frame's first comparison) and collects what it measures (noise peaks, first
comparisons), without widening :func:`imgdiff_gpu.compare`'s signature: the hooks in
``cpu/analysis.py`` and ``clip_noise.py``. Per thread, as context variables are.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def bound(variable: contextvars.ContextVar[T], value: T) -> Iterator[T]:
    """``variable`` holds ``value`` within the block (which receives ``value``), what it held before after."""
    token = variable.set(value)
    try:
        yield value
    finally:
        variable.reset(token)
