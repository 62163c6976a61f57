"""compare_batch on the CPU: what compare gives pair by pair, and its argument checks.

The GPU half (one launch per stage) is in tests/test_gpu.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from gpu_parity import edited_pair

from imgdiff_gpu.pipeline import compare, compare_batch


def test_cpu_batch_equals_the_loop():
    pairs = [edited_pair((40, 72), channels=3), edited_pair((40, 72), channels=3)[::-1]]
    batch = compare_batch([p[0] for p in pairs], [p[1] for p in pairs], device="cpu")
    assert [r.device for r in batch] == ["cpu", "cpu"] and batch[0].ssim_map is None
    for (left, right), result in zip(pairs, batch, strict=True):
        single = compare(left, right, device="cpu")
        assert [r.as_dict() for r in result.regions] == [r.as_dict() for r in single.regions]
        assert result.score == single.score


def test_batches_of_different_sizes_are_refused():
    a = np.zeros((2, 20, 30), np.uint8)
    with pytest.raises(ValueError, match="batches must hold as many pairs of one size"):
        compare_batch(a, np.zeros((2, 20, 31), np.uint8), device="cpu")
    with pytest.raises(ValueError, match="ignore mask is"):
        compare_batch(a, a, device="cpu", ignore=np.zeros((3, 3), bool))
