// The SSIM map's histogram: mirrors imgdiff_gpu/cpu/histogram.py (ssim_histogram_cpu; the C in cpu/c/histogram.c).
//
// IMGDIFF_BINS equal bins over [-1, 1], bin = floor((s + 1) * IMGDIFF_BINS / 2),
// strays from rounding clamped into the end bins, only at valid pixels. Each
// block counts its tile into shared bins and adds them to its map's row of
// `counts` (a batch of maps: one grid z-slice each, one mask of valid pixels
// for all). No full-size temporary; only the counts go back to the host, for Otsu.
//
// Constants from Python (imgdiff_gpu/gpu/kernels.py): IMGDIFF_BINS, the tile.

#include "standalone.cuh"  // the constants, when compiled on its own (the loader sets them all)
#define IMGDIFF_RADIUS 0  // common.cuh's halo: none here
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(IMGDIFF_BLOCK_THREADS)
imgdiff_histogram(const double* __restrict__ ssim_map, const unsigned char* __restrict__ valid, int use_valid,
                  unsigned long long* __restrict__ counts, int height, int width) {
    __shared__ unsigned int local[IMGDIFF_BINS];
    const int thread = threadIdx.y * IMGDIFF_TILE_W + threadIdx.x;
    for (int b = thread; b < IMGDIFF_BINS; b += IMGDIFF_BLOCK_THREADS) local[b] = 0;
    __syncthreads();

    const int x = blockIdx.x * IMGDIFF_TILE_W + threadIdx.x, y = blockIdx.y * IMGDIFF_TILE_H + threadIdx.y;
    const long long pixel = (long long)y * width + x;
    if (x < width && y < height && (!use_valid || valid[pixel])) {
        const double s = ssim_map[(long long)blockIdx.z * height * width + pixel];
        long long b = (long long)((s + 1.0) * (IMGDIFF_BINS / 2.0));  // truncation, as the CPU's int64()
        b = b < 0 ? 0 : (b > IMGDIFF_BINS - 1 ? IMGDIFF_BINS - 1 : b);
        atomicAdd(&local[b], 1u);
    }
    __syncthreads();

    for (int b = thread; b < IMGDIFF_BINS; b += IMGDIFF_BLOCK_THREADS)
        if (local[b]) atomicAdd(&counts[(long long)blockIdx.z * IMGDIFF_BINS + b], (unsigned long long)local[b]);
}
