"""The window's noise factor at the frame's borders, measured on the pair (imgdiff_gpu/border_noise.py)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from imgdiff_gpu.border_noise import measured_window_factors
from imgdiff_gpu.cpu.analysis import analyse_cpu, luma_ssim_params
from imgdiff_gpu.detection import thresholds_for, window_noise_factors

LOW = thresholds_for("low")
WEIGHTS = luma_ssim_params(np.zeros((240, 320), np.float32)).weights


def _analyse(left, right, thresholds=LOW):
    options = dict(ignore=None, antialiasing=False, min_area=40, merge_distance=8, keep_maps=False)
    return [(r.x, r.y, r.width, r.height) for r in analyse_cpu(left, right, thresholds, **options).regions]


def _padded_pair(seed: int = 2, amplitude: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """A texture and its copy with noise of 1 level, whose last 5 columns are a flat extension of the
    column before: an encoder's padding kept at a high CRF (x265 CRF 28 on seed 7's slide,
    benchmarks/video_set.py), every row of the right border 5-15 levels off."""
    rng = np.random.default_rng(seed)
    height, width = 240, 320
    texture = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 2.0)
    texture *= amplitude / texture.std()
    left = np.repeat(np.clip(128 + texture, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    right = np.clip(left + rng.normal(0, 1.0, left.shape), 0, 255).astype(np.uint8)
    right[:, width - 5 :] = right[:, width - 6 : width - 5]
    return left, right


def test_the_factors_are_the_white_noise_ones_inside_and_never_lower():
    rng = np.random.default_rng(1)
    shift = (rng.standard_normal((240, 320)) * 0.01).astype(np.float32)
    rows, columns = measured_window_factors(shift, WEIGHTS)
    white_rows, white_columns = window_noise_factors(shift.shape, WEIGHTS)
    assert rows.dtype == columns.dtype == np.float32
    assert (rows >= white_rows).all() and (columns >= white_columns).all()
    radius = len(WEIGHTS) // 2
    assert np.array_equal(rows[radius:-radius], white_rows[radius:-radius])
    assert np.array_equal(columns[radius:-radius], white_columns[radius:-radius])
    # white noise folded by the reflected window keeps what the white-noise factor says (within the
    # medians' sampling error, here 15 %)
    assert rows[0] == pytest.approx(white_rows[0], rel=0.15)
    assert columns[-1] == pytest.approx(white_columns[-1], rel=0.15)


def test_a_noisier_border_raises_its_own_rows_and_columns_only():
    rng = np.random.default_rng(2)
    shift = (rng.standard_normal((240, 320)) * 0.01).astype(np.float32)
    shift[:, -3:] *= np.float32(3.0)
    rows, columns = measured_window_factors(shift, WEIGHTS)
    white_rows, white_columns = window_noise_factors(shift.shape, WEIGHTS)
    assert (columns[-3:] > 2.5).all() and np.array_equal(columns[5:-5], white_columns[5:-5])
    assert np.array_equal(rows[5:-5], white_rows[5:-5])
    # the median of a row is the pair's, not an edit's: a strong patch over a third of a border row
    # (100 times the noise) moves that row's factor within the noise's own quantiles, not by its size
    edited = shift.copy()
    edited[0, :100] = 1.0
    raised = measured_window_factors(edited, WEIGHTS)[0][0]
    assert rows[0] < raised < 1.5 * rows[0]


def test_no_noise_keeps_the_white_noise_factors():
    rows, columns = measured_window_factors(np.zeros((40, 50), np.float32), WEIGHTS)
    white_rows, white_columns = window_noise_factors((40, 50), WEIGHTS)
    assert np.array_equal(rows, white_rows) and np.array_equal(columns, white_columns)


def test_an_encoders_padding_along_the_border_is_noise_and_a_faint_line_is_still_found():
    left, right = _padded_pair()
    # without the measured factors the padded strip is flagged (so this test can fail) ...
    assert _analyse(left, right, replace(LOW, border_noise=False))
    # ... with them, it is noise as the pair's border keeps it
    assert _analyse(left, right) == []
    edited = right.copy()
    edited[100:102, 60:220] = np.clip(edited[100:102, 60:220].astype(int) + 20, 0, 255)  # a 2-px line, +20
    (region,) = _analyse(left, edited)
    assert region[1] <= 100 < region[1] + region[3] and region[0] <= 60 + 2 and region[0] + region[2] >= 220 - 2


def test_a_strong_patch_in_a_corner_is_still_found():
    left, right = _padded_pair()
    right[:8, -8:] = (250, 20, 200)
    (region,) = _analyse(left, right)
    assert region[0] + region[2] == 320 and region[1] == 0
