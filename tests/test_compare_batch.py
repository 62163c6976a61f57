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


def test_compare_pairs_on_the_cpu_reads_the_sequence_lazily():
    from imgdiff_gpu.pipeline import compare_pairs

    taken = []

    def pairs():
        for index in range(3):
            taken.append(index)
            yield edited_pair((40, 72), channels=3)

    results = compare_pairs(pairs(), device="cpu")
    first = next(results)
    assert taken == [0] and first.regions
    assert [r.as_dict() for r in first.regions] == [
        r.as_dict() for r in compare(*edited_pair((40, 72), channels=3)).regions
    ]
    assert len(list(results)) == 2


def test_rendering_a_comparison_without_maps_says_how_to_keep_them():
    from imgdiff_gpu.rendering import render

    result = compare(*edited_pair((40, 72), channels=3), device="cpu", keep_maps=False)
    assert result.ssim_map is None and result.mask is None and result.regions
    with pytest.raises(ValueError, match="keep_maps=True"):
        render(result)
