// Difference strength as levels: mirrors imgdiff_gpu/cpu/strength.py (strength_map; the C in cpu/c/strength.c).
//
// Per pixel, from two interleaved float32 plane stacks (Y; Y,A; Y,Cr,Cb; Y,Cr,Cb,A)
// and the SSIM map (a batch of pairs as grid z-slices, each with its SSIM threshold): window-averaged luma/opacity shift over the luma threshold,
// chroma shift over the chroma threshold, and the structural term
// min((1 - S) / (1 - t_ssim), (w * |dY|) / t_texture); with the noise-following
// rules of 'low' (detection.py), the luma shift is also divided by a per-pixel
// factor (luma_scale) and a coarse chroma shift (coarse, already over its
// threshold) joins the maximum, both read per pixel when their flags are set.
// The strength is the largest, zero unless a pixel that differs (and is not suppressed) lies within
// IMGDIFF_NEAR px (Chebyshev). Written as a level for hysteresis on the host:
// 0 below IMGDIFF_LEVEL_LOW, 1 from IMGDIFF_LEVEL_LOW, 2 from IMGDIFF_LEVEL_HIGH
// -- one byte per pixel crosses PCIe.
//
// Specialisation and constants by macros set by the loader (imgdiff_gpu/gpu/kernels.py):
// IMGDIFF_RADIUS (window radius, >= IMGDIFF_NEAR), IMGDIFF_NEAR, IMGDIFF_LEVEL_LOW/HIGH.

#include "standalone.cuh"  // the constants, when compiled on its own (the loader sets them all)
#ifndef IMGDIFF_RADIUS
#define IMGDIFF_RADIUS 5  // compiled on its own: Wang et al.'s 11-px window
#endif

#define IMGDIFF_QUANTITIES 5  // dY, |dY|, dCr, dCb, dA
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(IMGDIFF_BLOCK_THREADS)
imgdiff_strength(const float* __restrict__ left, const float* __restrict__ right,
                 const double* __restrict__ ssim_map, const double* __restrict__ weights,
                 const unsigned char* __restrict__ suppress, int use_suppress,
                 unsigned char* __restrict__ levels, int height, int width, int planes, double inv_luma, double inv_chroma,
                 double inv_texture, const double* __restrict__ inv_ssim,
                 const float* __restrict__ luma_scale, int use_luma_scale,
                 const float* __restrict__ coarse, int use_coarse) {
    __shared__ float raw[IMGDIFF_QUANTITIES][IMGDIFF_HALO_H][IMGDIFF_HALO_W];
    __shared__ unsigned char changed[IMGDIFF_HALO_H][IMGDIFF_HALO_W];
    __shared__ float filtered[IMGDIFF_QUANTITIES][IMGDIFF_HALO_H][IMGDIFF_TILE_W];
    __shared__ unsigned char near_row[IMGDIFF_HALO_H][IMGDIFF_TILE_W];
    __shared__ double w[2 * IMGDIFF_RADIUS + 1];

    const bool colour = planes >= 3;
    const bool alpha = planes == 2 || planes == 4;
    const int quantities = 2 + (colour ? 2 : 0) + (alpha ? 1 : 0);
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int thread = ty * IMGDIFF_TILE_W + tx;
    // a batch of pairs: one grid z-slice each, its own SSIM threshold
    const int pair = blockIdx.z;
    const long long pair_offset = (long long)pair * height * width;
    const int x0 = blockIdx.x * IMGDIFF_TILE_W, y0 = blockIdx.y * IMGDIFF_TILE_H;

    if (thread < 2 * IMGDIFF_RADIUS + 1) w[thread] = weights[thread];
    for (int i = thread; i < IMGDIFF_HALO_H * IMGDIFF_HALO_W; i += IMGDIFF_BLOCK_THREADS) {
        const int hy = i / IMGDIFF_HALO_W, hx = i % IMGDIFF_HALO_W;
        const int gy = imgdiff_reflect(y0 + hy - IMGDIFF_RADIUS, height);
        const int gx = imgdiff_reflect(x0 + hx - IMGDIFF_RADIUS, width);
        const long long pixel = pair_offset + (long long)gy * width + gx;
        const long long base = pixel * planes;
        const float d_y = left[base] - right[base];
        bool any_change = d_y != 0.0f;
        raw[0][hy][hx] = d_y;
        raw[1][hy][hx] = fabsf(d_y);
        for (int p = 1, q = 2; p < planes; ++p, ++q) {
            const float d = left[base + p] - right[base + p];
            any_change = any_change || d != 0.0f;
            raw[q][hy][hx] = d;
        }
        if (use_suppress && suppress[pixel]) any_change = false;
        changed[hy][hx] = any_change ? 1 : 0;
    }
    __syncthreads();

    for (int hy = ty; hy < IMGDIFF_HALO_H; hy += IMGDIFF_TILE_H) {
        for (int q = 0; q < quantities; ++q) {
            double acc = 0.0;
#pragma unroll
            for (int k = 0; k <= 2 * IMGDIFF_RADIUS; ++k) acc += w[k] * raw[q][hy][tx + k];
            filtered[q][hy][tx] = (float)acc;
        }
        unsigned char hit = 0;
        for (int k = IMGDIFF_RADIUS - IMGDIFF_NEAR; k <= IMGDIFF_RADIUS + IMGDIFF_NEAR; ++k) hit |= changed[hy][tx + k];
        near_row[hy][tx] = hit;
    }
    __syncthreads();

    const int gx = x0 + tx, gy = y0 + ty;
    if (gx >= width || gy >= height) return;
    unsigned char hit = 0;
    for (int k = IMGDIFF_RADIUS - IMGDIFF_NEAR; k <= IMGDIFF_RADIUS + IMGDIFF_NEAR; ++k) hit |= near_row[ty + k][tx];
    unsigned char level = 0;
    if (hit) {
        double sums[IMGDIFF_QUANTITIES] = {0.0, 0.0, 0.0, 0.0, 0.0};
        for (int q = 0; q < quantities; ++q) {
            double acc = 0.0;
#pragma unroll
            for (int k = 0; k <= 2 * IMGDIFF_RADIUS; ++k) acc += w[k] * filtered[q][ty + k][tx];
            sums[q] = acc;
        }
        const long long here = pair_offset + (long long)gy * width + gx;
        // the luma threshold of this pixel: the preset's times luma_scale (the alpha one stays the preset's)
        const double luma_mean = use_luma_scale ? sums[0] / (double)luma_scale[here] : sums[0];
        double strength = fabs(luma_mean) * inv_luma;
        if (use_coarse) strength = fmax(strength, (double)coarse[here]);
        if (colour) strength = fmax(strength, sqrt(sums[2] * sums[2] + sums[3] * sums[3]) * inv_chroma);
        if (alpha) strength = fmax(strength, fabs(sums[quantities - 1]) * inv_luma);
        const double s = ssim_map[here];
        strength = fmax(strength, fmin((1.0 - s) * inv_ssim[pair], sums[1] * inv_texture));
        level = strength >= IMGDIFF_LEVEL_HIGH ? 2 : (strength >= IMGDIFF_LEVEL_LOW ? 1 : 0);
    }
    levels[pair_offset + (long long)gy * width + gx] = level;
}
