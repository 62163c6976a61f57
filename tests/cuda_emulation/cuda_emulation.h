// CUDA's execution model on the CPU, so the tests can run the real kernels/*.cu.
//
// Force-included (g++ -include) before a kernel source; the source itself is
// compiled unchanged. What is mapped:
//   - a block's threads are OS threads (one std::thread per CUDA thread), its
//     warps groups of 32 consecutive threads; blocks run one after another, so
//     __shared__ variables can be function-local statics;
//   - threadIdx / blockIdx / blockDim / gridDim: a thread-local and three globals;
//   - __syncthreads(): a std::barrier of the block (a thread that returns
//     drops out of it, as an exited CUDA thread does);
//   - __shfl_*_sync: each lane writes its value to the warp's exchange slot,
//     the warp meets at a barrier, each lane reads its source lane, and the warp
//     meets again before the slots can be reused; only full-warp masks;
//   - atomicAdd / atomicMin / atomicMax: under one lock;
//   - __global__, __device__, __forceinline__, __launch_bounds__: defined away.
// It checks a kernel's logic (indexing, border rules, formula, reductions), not
// its timing, its shared-memory size or races that need true parallelism.
#pragma once

#include <math.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

namespace imgdiff_emulation {

constexpr unsigned kWarpSize = 32;

struct Block {
    explicit Block(unsigned threads) : sync(threads), warp_size((threads + kWarpSize - 1) / kWarpSize) {
        for (unsigned w = 0; w < warp_size.size(); ++w) {
            warp_size[w] = std::min(kWarpSize, threads - w * kWarpSize);
            warps.push_back(std::make_unique<std::barrier<>>(warp_size[w]));
        }
        slots.resize(warp_size.size());
    }
    std::barrier<> sync;
    std::vector<unsigned> warp_size;
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    std::vector<std::array<std::uint64_t, kWarpSize>> slots;
};

inline thread_local dim3 thread_index;
inline thread_local unsigned lane = 0, warp = 0;
inline thread_local Block* block = nullptr;
inline dim3 block_index, grid_size, block_size;
inline std::mutex atomic_lock;

[[noreturn]] inline void fail(const char* message) {
    std::fprintf(stderr, "CUDA emulation: %s\n", message);
    std::abort();
}

// Every lane of the warp writes `value`, then reads the slot of `source(lane)`
// (its own value when the source lies outside the warp).
template <class T, class Source>
T exchange(unsigned mask, T value, Source source) {
    static_assert(sizeof(T) <= sizeof(std::uint64_t), "shuffles move at most 8 bytes");
    const unsigned size = block->warp_size[warp];
    const unsigned full = size == kWarpSize ? 0xffffffffu : (1u << size) - 1u;
    if ((mask & full) != full) fail("warp shuffles with a partial mask are not emulated");
    auto& slot = block->slots[warp];
    std::memcpy(&slot[lane], &value, sizeof(T));
    block->warps[warp]->arrive_and_wait();
    const unsigned from = source(lane);
    T result = value;
    if (from < size) std::memcpy(&result, &slot[from], sizeof(T));
    block->warps[warp]->arrive_and_wait();
    return result;
}

// Runs `kernel(args...)` over the grid; args[i] points at the i-th argument's
// value, as cuLaunchKernel's kernelParams do.
template <class... Params, std::size_t... I>
void call(void (*kernel)(Params...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<std::remove_reference_t<Params>>*>(args[I])...);
}

template <class... Params>
void launch(void (*kernel)(Params...), dim3 grid, dim3 threads, void** args) {
    static std::mutex one_launch_at_a_time;  // __shared__ statics belong to one block at a time
    std::lock_guard<std::mutex> guard(one_launch_at_a_time);
    const unsigned count = threads.x * threads.y * threads.z;
    if (count == 0 || count > 1024) fail("a block needs 1 to 1024 threads");
    grid_size = grid;
    block_size = threads;
    // One team of threads serves every block in turn: the coordinator builds a
    // fresh Block (its barriers) between two meetings with the whole team.
    std::unique_ptr<Block> state;
    std::barrier<> start(count + 1), done(count + 1);
    const unsigned blocks = grid.x * grid.y * grid.z;
    std::vector<std::thread> team;
    team.reserve(count);
    for (unsigned t = 0; t < count; ++t)
        team.emplace_back([&, t] {
            thread_index = dim3{t % threads.x, (t / threads.x) % threads.y, t / (threads.x * threads.y)};
            lane = t % kWarpSize;
            warp = t / kWarpSize;
            for (unsigned b = 0; b < blocks; ++b) {
                start.arrive_and_wait();
                block = state.get();
                call(kernel, args, std::index_sequence_for<Params...>{});
                // An exited thread no longer holds the others back.
                block->sync.arrive_and_drop();
                block->warps[warp]->arrive_and_drop();
                done.arrive_and_wait();
            }
        });
    for (unsigned b = 0; b < blocks; ++b) {
        block_index = dim3{b % grid.x, (b / grid.x) % grid.y, b / (grid.x * grid.y)};
        state = std::make_unique<Block>(count);
        start.arrive_and_wait();
        done.arrive_and_wait();
    }
    for (auto& member : team) member.join();
}

}  // namespace imgdiff_emulation

#define threadIdx (imgdiff_emulation::thread_index)
#define blockIdx (imgdiff_emulation::block_index)
#define blockDim (imgdiff_emulation::block_size)
#define gridDim (imgdiff_emulation::grid_size)
#define warpSize (imgdiff_emulation::kWarpSize)

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

inline void __syncthreads() { imgdiff_emulation::block->sync.arrive_and_wait(); }

template <class T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta) {
    return imgdiff_emulation::exchange(mask, value, [delta](unsigned lane) { return lane + delta; });
}
template <class T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta) {
    return imgdiff_emulation::exchange(mask, value, [delta](unsigned lane) { return lane >= delta ? lane - delta : lane; });
}
template <class T>
T __shfl_xor_sync(unsigned mask, T value, unsigned lane_mask) {
    return imgdiff_emulation::exchange(mask, value, [lane_mask](unsigned lane) { return lane ^ lane_mask; });
}
template <class T>
T __shfl_sync(unsigned mask, T value, int source) {
    return imgdiff_emulation::exchange(mask, value, [source](unsigned) { return unsigned(source); });
}

template <class T, class U>
T atomicAdd(T* address, U value) {
    std::lock_guard<std::mutex> guard(imgdiff_emulation::atomic_lock);
    const T old = *address;
    *address = old + T(value);
    return old;
}
template <class T, class U>
T atomicMin(T* address, U value) {
    std::lock_guard<std::mutex> guard(imgdiff_emulation::atomic_lock);
    const T old = *address;
    *address = std::min(old, T(value));
    return old;
}
template <class T, class U>
T atomicMax(T* address, U value) {
    std::lock_guard<std::mutex> guard(imgdiff_emulation::atomic_lock);
    const T old = *address;
    *address = std::max(old, T(value));
    return old;
}

// Rounded products that the compiler may not fuse (the build passes -ffp-contract=off anyway).
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }

// CUDA's device min/max take mixed argument types.
template <class A, class B>
inline auto min(A a, B b) {
    return b < a ? b : a;
}
template <class A, class B>
inline auto max(A a, B b) {
    return a < b ? b : a;
}
