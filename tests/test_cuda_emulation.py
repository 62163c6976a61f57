"""The CUDA emulation itself (tests/cuda_emulation), on a small kernel with known answers.

If the emulation got a CUDA rule wrong, the parity tests of the real kernels
could pass for the wrong reason; this pins the rules they rely on.
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_emulation import compile_module, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

SOURCE = r"""
extern "C" __global__ void probe(int* where, double* sums, int* count, int* after_sync, int n) {
    __shared__ int seen[64];
    const int thread = threadIdx.y * blockDim.x + threadIdx.x;
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    where[block * 64 + thread] = block * 1000 + thread;
    seen[thread] = thread;
    __syncthreads();
    // every thread sees every other thread's write after the barrier
    after_sync[block * 64 + thread] = seen[63 - thread];
    double value = thread + 1;
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
    if ((thread & 31) == 0) atomicAdd(&sums[block], value);
    const int mirrored = __shfl_xor_sync(0xffffffffu, thread, 1);
    if (mirrored != (thread ^ 1)) atomicAdd(count, 1000);
    if (thread >= n) return;  // exited threads must not hold the others at the next barrier
    __syncthreads();
    atomicAdd(count, 1);
}
"""


def test_indices_barriers_shuffles_atomics_and_early_exit():
    module = compile_module(SOURCE)
    assert module.names == ["probe"]
    blocks = 2 * 3 * 2
    where = np.zeros(blocks * 64, np.int32)
    sums = np.zeros(blocks, np.float64)
    count = np.zeros(1, np.int32)
    after_sync = np.zeros(blocks * 64, np.int32)
    module.launch("probe", (2, 3, 2), (32, 2, 1), (where, sums, count, after_sync, np.int32(40)))
    expected = (np.arange(blocks)[:, None] * 1000 + np.arange(64)[None, :]).ravel()
    assert np.array_equal(where, expected)
    assert np.array_equal(after_sync.reshape(blocks, 64), np.tile(np.arange(63, -1, -1), (blocks, 1)))
    assert np.array_equal(sums, np.full(blocks, 64 * 65 / 2))  # both warps' shuffle reductions
    assert count[0] == blocks * 40


def test_the_library_is_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGDIFF_EMULATION_CACHE", str(tmp_path))
    first = compile_module(SOURCE, ("-DUNUSED=1",))
    again = compile_module(SOURCE, ("-DUNUSED=1",))
    other = compile_module(SOURCE, ("-DUNUSED=2",))
    assert first.path == again.path != other.path and first.path.parent == tmp_path
    assert len(list(tmp_path.glob("probe-*.so"))) == 2
