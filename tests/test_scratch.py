"""Scratch planes: kept per thread within keeping_scratch, never shared between threads."""

from __future__ import annotations

import threading

import numpy as np

from imgdiff_gpu.cpu import scratch


def test_scratch_is_reused_on_a_thread_that_keeps_it_and_never_shared_between_threads():
    with scratch.keeping_scratch():
        first = scratch.scratch("test", (20, 30))
        again = scratch.scratch("test", (10, 30))  # smaller: the start of the same memory
        assert np.shares_memory(first, again) and again.flags.c_contiguous
        assert not np.shares_memory(first, scratch.scratch("other", (20, 30)))
        elsewhere = []
        thread = threading.Thread(target=lambda: elsewhere.append(scratch.scratch("test", (20, 30))))
        thread.start()
        thread.join()
        assert not np.shares_memory(first, elsewhere[0])
        huge = (scratch.SCRATCH_PIXELS + 1, 1)
        assert not np.shares_memory(scratch.scratch("test", huge), scratch.scratch("test", huge))
    # outside the block nothing is kept: a new array each call
    assert not np.shares_memory(scratch.scratch("test", (20, 30)), scratch.scratch("test", (20, 30)))
