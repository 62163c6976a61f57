"""Undoing PNG's row filters in place, compiled ahead of time (``c/png_unfilter.c``).

The decoding half of :mod:`imgdiff_gpu.png`: :mod:`imgdiff_gpu.loading` inflates a
plain PNG's image data with libdeflate and turns the rows into pixels here, in the
buffer they were inflated into. It has no GPU twin: inputs are decoded on the CPU,
whatever device compares them.
"""

from __future__ import annotations

from .compiled import core


def unfilter_in_place(rows: bytearray, height: int, width: int, channels: int) -> None:
    """Turn ``height`` inflated PNG rows (a filter type byte, then ``width * channels`` bytes each,
    8 bits a sample) into the H x W x C pixels at the start of ``rows``.

    Raises
    ------
    ValueError
        When ``rows`` is not that many bytes, or a row's filter type is none of PNG's five.
    """
    core.png_unfilter(rows, height, width, channels)
