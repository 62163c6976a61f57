// Shared by the tile kernels (ssim.cu, strength.cu): tile geometry and the border rule.
// Include after defining IMGDIFF_RADIUS, the window radius.
#pragma once

#define IMGDIFF_TILE_W 32
#define IMGDIFF_TILE_H 8
#define IMGDIFF_HALO_W (IMGDIFF_TILE_W + 2 * IMGDIFF_RADIUS)
#define IMGDIFF_HALO_H (IMGDIFF_TILE_H + 2 * IMGDIFF_RADIUS)

// scipy.ndimage's 'reflect' (d c b a | a b c d) for one reflection; the caller
// guarantees radius < n.
__device__ __forceinline__ int imgdiff_reflect(int i, int n) {
    if (i < 0) return -i - 1;
    if (i >= n) return 2 * n - i - 1;
    return i;
}
