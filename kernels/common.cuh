// Shared by the tile kernels (ssim.cu, strength.cu): tile geometry and the border rule.
// Mirrors imgdiff_gpu/cpu/ssim.py (ssim_map_2d: reflect, in cpu/c/core.h). The constants come from Python
// (imgdiff_gpu/gpu/kernels.py, shared_defines) as -D flags, so both languages agree.
#pragma once

#if !defined(IMGDIFF_TILE_W) || !defined(IMGDIFF_TILE_H) || !defined(IMGDIFF_RADIUS)
#error "IMGDIFF_TILE_W, IMGDIFF_TILE_H and IMGDIFF_RADIUS are set by imgdiff_gpu/gpu/kernels.py"
#endif

#define IMGDIFF_HALO_W (IMGDIFF_TILE_W + 2 * IMGDIFF_RADIUS)
#define IMGDIFF_HALO_H (IMGDIFF_TILE_H + 2 * IMGDIFF_RADIUS)
#define IMGDIFF_BLOCK_THREADS (IMGDIFF_TILE_W * IMGDIFF_TILE_H)

// scipy.ndimage's 'reflect' (d c b a | a b c d) for one reflection; the caller
// guarantees radius < n.
__device__ __forceinline__ int imgdiff_reflect(int i, int n) {
    if (i < 0) return -i - 1;
    if (i >= n) return 2 * n - i - 1;
    return i;
}
