"""The core's PNG unfiltering (cpu/c/png_unfilter.c) against the specification's arithmetic, written plainly."""

from __future__ import annotations

import numpy as np
import pytest

from imgdiff_gpu.cpu.png_unfilter import unfilter_in_place


def _paeth(a: int, b: int, c: int) -> int:
    # PNG specification, 9.4, as written there
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _filtered(pixels: np.ndarray, filters: list[int], width: int) -> bytearray:
    """The rows PNG stores for ``pixels`` (H x W*C), each with its filter, by the specification."""
    height, count = pixels.shape
    bpp = count // width
    rows = bytearray()
    for i in range(height):
        rows.append(filters[i])
        for j in range(count):
            x = int(pixels[i, j])
            a = int(pixels[i, j - bpp]) if j >= bpp else 0
            b = int(pixels[i - 1, j]) if i else 0
            c = int(pixels[i - 1, j - bpp]) if i and j >= bpp else 0
            predicted = (0, a, b, (a + b) // 2, _paeth(a, b, c))[filters[i]]
            rows.append((x - predicted) % 256)
    return rows


# widths: one pixel, two, and more than the vector loop's reach (it stops 4 bytes before a row's end)
@pytest.mark.parametrize("width", [1, 2, 9])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("first", [0, 1, 2, 3, 4])
def test_every_filter_after_every_filter_gives_back_the_pixels(channels, first, width):
    rng = np.random.default_rng(channels * 10 + first + 100 * width)
    # bright and dark noise, and flat runs: Paeth's ties and Average's carries both happen
    pixels = rng.integers(0, 256, (16, width * channels), dtype=np.uint8)
    pixels[5:9] = rng.choice([0, 1, 254, 255], (4, width * channels)).astype(np.uint8)
    filters = [first, *rng.permutation([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 4, 3, 2, 1, 4])]
    rows = _filtered(pixels, filters, width)
    unfilter_in_place(rows, 16, width, channels)
    assert np.array_equal(np.frombuffer(rows, np.uint8, count=pixels.size).reshape(pixels.shape), pixels)


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
def test_a_one_pixel_image_is_its_first_row(filter_type):
    rows = bytearray([filter_type, 7, 200, 13])
    unfilter_in_place(rows, 1, 1, 3)
    assert rows[:3] == bytearray([7, 200, 13])


def test_an_unknown_filter_type_is_refused():
    rows = bytearray([0, 1, 2, 3, 5, 1, 2, 3])
    with pytest.raises(ValueError, match="row 1 has filter type 5"):
        unfilter_in_place(rows, 2, 1, 3)
