// Fused SSIM: mirrors imgdiff_gpu/cpu/ssim.py (ssim_map_2d and its cropped mean).
//
// One launch computes, for every plane of a batch (gridDim.z = planes), the SSIM
// map and the sum of the map over the cropped interior. Each block loads a
// tile plus a halo of both images into shared memory, filters four moments
// (x, y, x*x + y*y, x*y: the formula needs only vx + vy) separably in float64,
// evaluates the formula and reduces its share of the mean. Borders are
// reflected like scipy.ndimage's 'reflect' (d c b a | a b c d).
//
// Specialisation by macros set by the loader (imgdiff_gpu/gpu/ssim.py, after the
// dtype policy of imgdiff_gpu/_ssim_params.py): IMGDIFF_IN (input element type),
// IMGDIFF_SAMPLE (float or double: a type that holds every input value exactly),
// IMGDIFF_OUT (map element type), IMGDIFF_RADIUS (window radius).

#include "standalone.cuh"  // the constants, when compiled on its own (the loader sets them all)
#if !defined(IMGDIFF_IN) && !defined(IMGDIFF_SAMPLE) && !defined(IMGDIFF_OUT)
// compiled on its own: 8-bit pixels, Wang et al.'s 11-px window, a float64 map
#define IMGDIFF_IN unsigned char
#define IMGDIFF_SAMPLE float
#define IMGDIFF_OUT double
#endif
#ifndef IMGDIFF_RADIUS
#define IMGDIFF_RADIUS 5
#endif

#include "common.cuh"

extern "C" __global__ void __launch_bounds__(IMGDIFF_BLOCK_THREADS)
imgdiff_ssim(const IMGDIFF_IN* __restrict__ im1, const IMGDIFF_IN* __restrict__ im2,
             const double* __restrict__ weights, IMGDIFF_OUT* __restrict__ ssim_map,
             double* __restrict__ interior_sums, int height, int width, int stride, int crop,
             double C1, double C2, double cov_norm, int write_map) {
    __shared__ IMGDIFF_SAMPLE tile_x[IMGDIFF_HALO_H][IMGDIFF_HALO_W];
    __shared__ IMGDIFF_SAMPLE tile_y[IMGDIFF_HALO_H][IMGDIFF_HALO_W];
    // horizontally filtered moments: x, y, x^2 + y^2, xy
    __shared__ double row_m[4][IMGDIFF_HALO_H][IMGDIFF_TILE_W];
    __shared__ double w[2 * IMGDIFF_RADIUS + 1];
    __shared__ double warp_sums[IMGDIFF_BLOCK_THREADS / 32];

    const int plane = blockIdx.z;
    const long long plane_offset = (long long)plane * height * width;
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int thread = ty * IMGDIFF_TILE_W + tx;
    const int x0 = blockIdx.x * IMGDIFF_TILE_W, y0 = blockIdx.y * IMGDIFF_TILE_H;

    if (thread < 2 * IMGDIFF_RADIUS + 1) w[thread] = weights[thread];
    for (int i = thread; i < IMGDIFF_HALO_H * IMGDIFF_HALO_W; i += IMGDIFF_BLOCK_THREADS) {
        const int hy = i / IMGDIFF_HALO_W, hx = i % IMGDIFF_HALO_W;
        const int gy = imgdiff_reflect(y0 + hy - IMGDIFF_RADIUS, height);
        const int gx = imgdiff_reflect(x0 + hx - IMGDIFF_RADIUS, width);
        // stride > 1: the first plane of interleaved planes (the luma of Y, Cr, Cb, A), read in place
        const long long at = (plane_offset + (long long)gy * width + gx) * stride;
        tile_x[hy][hx] = (IMGDIFF_SAMPLE)im1[at];
        tile_y[hy][hx] = (IMGDIFF_SAMPLE)im2[at];
    }
    __syncthreads();

    // Horizontal pass over every halo row, in float64.
    for (int hy = ty; hy < IMGDIFF_HALO_H; hy += IMGDIFF_TILE_H) {
        double sx = 0.0, sy = 0.0, ssq = 0.0, sxy = 0.0;
#pragma unroll
        for (int k = 0; k <= 2 * IMGDIFF_RADIUS; ++k) {
            const double a = tile_x[hy][tx + k], b = tile_y[hy][tx + k];
            sx += w[k] * a;
            sy += w[k] * b;
            ssq += w[k] * (a * a + b * b);
            sxy += w[k] * (a * b);
        }
        row_m[0][hy][tx] = sx;
        row_m[1][hy][tx] = sy;
        row_m[2][hy][tx] = ssq;
        row_m[3][hy][tx] = sxy;
    }
    __syncthreads();

    // Vertical pass and the SSIM formula for this thread's pixel.
    const int gx = x0 + tx, gy = y0 + ty;
    double value = 0.0;
    if (gx < width && gy < height) {
        double ux = 0.0, uy = 0.0, usq = 0.0, uxy = 0.0;
#pragma unroll
        for (int k = 0; k <= 2 * IMGDIFF_RADIUS; ++k) {
            ux += w[k] * row_m[0][ty + k][tx];
            uy += w[k] * row_m[1][ty + k][tx];
            usq += w[k] * row_m[2][ty + k][tx];
            uxy += w[k] * row_m[3][ty + k][tx];
        }
        const double ux_uy = ux * uy, ux2_uy2 = ux * ux + uy * uy;
        const double twice_vxy_c2 = 2.0 * cov_norm * (uxy - ux_uy) + C2;
        const double vx_vy_c2 = cov_norm * (usq - ux2_uy2) + C2;
        const double s = ((2.0 * ux_uy + C1) * twice_vxy_c2) / ((ux2_uy2 + C1) * vx_vy_c2);
        if (write_map) ssim_map[plane_offset + (long long)gy * width + gx] = (IMGDIFF_OUT)s;
        if (gx >= crop && gx < width - crop && gy >= crop && gy < height - crop) value = s;
    }

    // Block reduction of the interior sum: warp shuffles, then one atomic per block.
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
    if ((thread & 31) == 0) warp_sums[thread >> 5] = value;
    __syncthreads();
    if (thread < 32) {
        value = thread < IMGDIFF_BLOCK_THREADS / 32 ? warp_sums[thread] : 0.0;
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
        if (thread == 0) atomicAdd(&interior_sums[plane], value);
    }
}
