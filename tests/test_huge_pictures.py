"""Pictures of a huge pair, drawn and encoded a band of rows at a time, are the whole run's, byte for byte.

Small pairs are forced through the same paths: the analysis in bands (a lowered
``bands.CPU_BUDGET_BYTES``), pictures encoded one at a time (a lowered
``job.PICTURES_AT_ONCE_BYTES``) from bands of a few rows (a lowered ``png.BAND_BYTES``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pictures import PHOTOS

from imgdiff_gpu import job, png
from imgdiff_gpu.cpu import bands
from imgdiff_gpu.job import compare_files
from imgdiff_gpu.loading import LoadedImage
from imgdiff_gpu.options import CompareOptions
from imgdiff_gpu.pipeline import Comparison
from imgdiff_gpu.regions import Region
from imgdiff_gpu.rendering import heat_levels, pictures, render


def _region(x, y, width, height) -> Region:
    return Region(
        x=x, y=y, width=width, height=height, area=width * height, min_ssim=0.1, mean_ssim=0.5, mean_color_delta=0.1
    )


def _comparison(height: int, width: int, channels: int, boxes, *, banded: bool) -> Comparison:
    rng = np.random.default_rng(height * width + channels)
    shape = (height, width) if channels == 1 else (height, width, channels)
    dtype = np.uint16 if channels == 3 else np.uint8  # colour in 16 bits
    left, right = (rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True) for _ in range(2))
    ssim_map = rng.uniform(-1.2, 1.2, (height, width))
    mask = rng.random((height, width)) < 0.1
    comparison = Comparison(
        left=LoadedImage(pixels=left, path=None, format=None, mode="array", orientation=1),
        right=LoadedImage(pixels=right, path=None, format=None, mode="array", orientation=1),
        device="cpu",
        thresholds=None,
        mask=mask,
        regions=[_region(*box) for box in boxes],
    )
    if banded:
        comparison.heat_levels = heat_levels(ssim_map)
    else:
        comparison.ssim_map = ssim_map
    return comparison


# boxes at the picture's edges, across and along band boundaries, one row high, one inside another
BOXES = [(0, 0, 5, 5), (3, 6, 10, 1), (20, 9, 7, 14), (1, 30, 60, 20), (40, 47, 19, 3), (10, 12, 3, 3)]


@pytest.mark.parametrize("thickness", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_pictures_drawn_in_bands_are_the_whole_pictures(monkeypatch, thickness, channels):
    whole = render(_comparison(50, 61, channels, BOXES, banded=False), thickness=thickness, color=(10, 200, 30))
    assert sorted(whole) == ["diff.png", "left_marked.png", "mask.png", "right_filled.png", "right_marked.png"]
    monkeypatch.setattr(png, "BAND_BYTES", 61 * 3 * 3 + 5)  # three rows of a colour picture at a time
    drawn = pictures(_comparison(50, 61, channels, BOXES, banded=True), thickness=thickness, color=(10, 200, 30))
    assert list(drawn) == list(whole)
    for name, picture in drawn.items():
        assert picture.shape == whole[name].shape
        bands_of_rows = [picture.rows(top, min(top + 7, 50)) for top in range(0, 50, 7)]
        assert np.array_equal(np.concatenate(bands_of_rows), whole[name]), name
        encoded = job.encode_pictures({name: picture}, Path("out"))
        assert encoded == {Path("out", name): png.encode_png(whole[name])}, name


def test_the_boxes_show_in_the_pictures():
    comparison = _comparison(50, 61, 3, [(20, 9, 7, 14)], banded=False)
    plain = render(_comparison(50, 61, 3, [], banded=False))["left_marked.png"]
    marked = render(comparison, thickness=1, color=(1, 2, 3))["left_marked.png"]
    changed = np.argwhere((marked != plain).any(axis=2))
    assert changed[:, 0].min() == 9 - 1 and changed[:, 0].max() == 9 + 14
    assert changed[:, 1].min() == 20 - 1 and changed[:, 1].max() == 20 + 7


def _write_pair(tmp_path):
    photo = PHOTOS["astronaut"]()[:203]  # a height no band size divides
    edited = photo.copy()
    edited[40:44, 30:200] = 255 - edited[40:44, 30:200]
    edited[90:190, 300:330] //= 2  # tall: crosses bands
    edited[150:180, 420:460, 0] = np.clip(edited[150:180, 420:460, 0].astype(int) + 40, 0, 255)  # a colour patch
    left, right = tmp_path / "left.png", tmp_path / "right.png"
    cv2.imwrite(str(left), photo[..., ::-1])
    cv2.imwrite(str(right), edited[..., ::-1])
    return left, right


# low too: its coarse colour term bands at any height (203 rows here)
@pytest.mark.parametrize("sensitivity", ["normal", "high", "exact", "low"])
def test_the_command_writes_the_same_pictures_in_bands(tmp_path, monkeypatch, sensitivity):
    left, right = _write_pair(tmp_path)
    options = CompareOptions(sensitivity=sensitivity, device="cpu")
    whole = compare_files(left, right, options, out_dir=tmp_path / "whole")
    monkeypatch.setattr(bands, "CPU_BUDGET_BYTES", 512 * 40 * 100)
    monkeypatch.setattr(job, "PICTURES_AT_ONCE_BYTES", 0)
    monkeypatch.setattr(png, "BAND_BYTES", 512 * 3 * 10)
    banded = compare_files(left, right, options, out_dir=tmp_path / "banded")
    assert any("in bands of" in note for note in banded["notes"])
    assert not any("in bands of" in note for note in whole["notes"])
    assert banded["regions"] == whole["regions"] and whole["regions"]
    assert banded["outputs"] == whole["outputs"]
    pngs = sorted(path.name for path in (tmp_path / "whole").glob("*.png"))
    assert len(pngs) == 5
    for name in pngs:
        assert (tmp_path / "banded" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
