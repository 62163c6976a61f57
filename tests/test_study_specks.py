"""The margins ``benchmarks/study_specks.py`` reports: a region's critical factor on the luma threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.study_specks import critical_factor, margins_of, typical_peaks, windowed_factors
from imgdiff_gpu.detection import hysteresis


@pytest.mark.parametrize(
    ("luma", "other", "min_core", "expected"),
    [
        ([1.5, 1.2, 0.9], [0.0, 0.0, 1.0], 2, 1.5),  # the other terms hold one pixel: the luma term's best one
        ([1.5, 1.2, 0.9], [0.0, 0.0, 0.0], 2, 1.2),  # the second largest
        ([1.5, 1.2], [1.0, 1.0], 2, math.inf),  # the other terms alone hold the core
        ([1.5], [0.0], 2, 0.0),  # no core at all
    ],
)
def test_critical_factor(luma, other, min_core, expected):
    assert critical_factor(np.array(luma), np.array(other), min_core) == expected


def test_critical_factor_is_where_hysteresis_lets_go():
    """Below the factor the region keeps its core under low's hysteresis, at it or above it does not."""
    rng = np.random.default_rng(3)
    luma = rng.uniform(0.5, 1.6, size=(6, 6)).astype(np.float32)
    other = np.where(rng.uniform(size=(6, 6)) < 0.1, 1.2, 0.6).astype(np.float32)
    factor = critical_factor(luma.ravel(), other.ravel(), 12)
    assert 1.0 < factor < 1.6
    for scale, kept in ((factor * 0.999, True), (factor * 1.001, False)):
        strength = np.maximum(luma / np.float32(scale), other)
        mask = hysteresis(strength >= 0.5, strength >= 1.0, 12)  # every pixel weak: one region
        assert mask.any() == kept


def test_margins_and_typical_peaks():
    region = {"edits": ["blur"], "critical_factor": 1.1}
    frames = [
        {"clip": "c", "frame": 4, "edited": True, "luma_peak_outside_edits": 0.9, "regions": [region]},
        {
            "clip": "c",
            "frame": 5,
            "edited": True,
            "luma_peak_outside_edits": 0.9,
            "regions": [{"edits": ["blur"], "critical_factor": 1.3}, {"edits": ["blur"], "critical_factor": 1.05}],
        },
        {
            "clip": "c",
            "frame": 6,
            "edited": False,
            "luma_peak_outside_edits": 0.4,
            "regions": [{"edits": [], "critical_factor": 1.02, "box": [1, 2, 3, 4]}],
        },
        {"clip": "c", "frame": 12, "edited": False, "luma_peak_outside_edits": 0.6, "regions": []},
        {"clip": "c", "frame": 18, "edited": False, "luma_peak_outside_edits": 0.5, "regions": []},
    ]
    margins, false = margins_of(frames)
    assert margins == {("c", 4, "blur"): 1.1, ("c", 5, "blur"): 1.3}  # an edited frame keeps its best region
    assert [(clip, index) for clip, index, _ in false] == [("c", 6)]
    assert typical_peaks(frames) == {"c": 0.5}  # the unedited frames only


def test_windowed_factors_are_the_median_of_the_frames_around():
    peaks = [0.2, 0.9, 1.0, 0.3, 2.0]
    records = [{"clip": "c", "frame": i, "peak": p} for i, p in enumerate(peaks)]
    factors = windowed_factors(records, reach=1, reference=0.5)
    # as imgdiff video takes it (imgdiff_gpu/clip_noise.py): the lower middle value of an even count,
    # so frame 0: (0.2, 0.9) -> 0.2; frame 2: (0.9, 1.0, 0.3) -> 0.9; frame 3: (1.0, 0.3, 2.0) -> 1.0;
    # frame 4: (0.3, 2.0) -> 0.3
    assert factors[("c", 0)] == 1.0
    assert factors[("c", 2)] == pytest.approx(1.8)
    assert factors[("c", 3)] == pytest.approx(2.0)
    assert factors[("c", 4)] == 1.0
    assert windowed_factors(records, reach=1, reference=5.0)[("c", 2)] == 1.0  # never below 1


def test_luma_terms_factor_recomputes_low_s_mask():
    """Just above 1 the recomputed mask is low's own; past its critical factor the luma-held region goes."""
    from benchmarks.study_specks import luma_terms
    from imgdiff_gpu.detection import thresholds_for

    rng = np.random.default_rng(7)
    left = np.clip(rng.normal(128, 1, size=(96, 128, 3)), 0, 255).astype(np.uint8)
    right = left.copy()
    right[40:46, 60:66] += 14  # a 6 x 6 speck: the luma term alone holds it (critical factor ~1.48)
    thresholds = thresholds_for("low")
    own = luma_terms(left, right, thresholds)
    assert own["mask"].any()
    assert np.array_equal(luma_terms(left, right, thresholds, 1.0 + 1e-6)["mask"], own["mask"])
    rows, columns = np.nonzero(own["mask"])
    inside = np.zeros(own["mask"].shape, dtype=bool)
    inside[rows, columns] = True
    factor = critical_factor(own["luma"][inside], own["other"][inside], thresholds.min_core)
    assert 1.2 < factor < 2.0
    assert luma_terms(left, right, thresholds, factor * 0.98)["mask"].any()
    assert not luma_terms(left, right, thresholds, factor * 1.02)["mask"].any()
