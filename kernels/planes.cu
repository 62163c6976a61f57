// Integer pixels to float32 planes (Y, Cr, Cb, A): mirrors imgdiff_gpu/cpu/planes.py (_planes_kernel).
//
// One thread per pixel of interleaved uint8/uint16 pixels (1-4 channels, as
// stored), so pixels cross PCIe as they are and the planes are built here.
// Each plane value comes from integer numerators, exact in float64 whatever
// order or fusing the compiler picks (see cpu/planes.py), times a fixed
// reciprocal; the products that meet an addition are written __dmul_rn so the
// compiler cannot fuse them into the addition: the values are the CPU's, bit
// for bit.
//
// Specialisation by macro set by the loader (imgdiff_gpu/gpu/planes.py):
// IMGDIFF_PIXEL (unsigned char or unsigned short).

#include "standalone.cuh"  // the constants, when compiled on its own (the loader sets them all)
#ifndef IMGDIFF_PIXEL
#define IMGDIFF_PIXEL unsigned char  // compiled on its own: 8-bit pixels
#endif
#define IMGDIFF_RADIUS 0  // common.cuh's halo: none here
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(IMGDIFF_BLOCK_THREADS)
imgdiff_planes(const IMGDIFF_PIXEL* __restrict__ pixels, float* __restrict__ out, int height, int width,
               int channels, int colour, int alpha, double scale) {
    const int x = blockIdx.x * IMGDIFF_TILE_W + threadIdx.x, y = blockIdx.y * IMGDIFF_TILE_H + threadIdx.y;
    if (x >= width || y >= height) return;
    // a batch of images: one grid z-slice each
    const long long pixel = ((long long)blockIdx.z * height + y) * width + x;
    const IMGDIFF_PIXEL* p = pixels + pixel * channels;
    const bool has_alpha = channels == 2 || channels == 4;
    // premultiplying by alpha puts one more `scale` under every numerator
    const double denominator = has_alpha ? scale * scale : scale;
    const double to_luma = 1.0 / (1000.0 * denominator);
    const double to_chroma = 1.0 / (1e6 * denominator);
    const double a = has_alpha ? (double)p[channels - 1] : 1.0;
    double luma, cr = 0.0, cb = 0.0;
    if (channels <= 2) {
        luma = __dmul_rn(__dmul_rn((double)p[0], a), 1.0 / denominator);
    } else {
        const double r = p[0], g = p[1], b = p[2];
        const double n = 299.0 * r + 587.0 * g + 114.0 * b;
        luma = __dmul_rn(__dmul_rn(n, a), to_luma);
        cr = __dmul_rn(__dmul_rn(713.0 * (1000.0 * r - n), a), to_chroma);
        cb = __dmul_rn(__dmul_rn(564.0 * (1000.0 * b - n), a), to_chroma);
    }
    const int planes = 1 + (colour ? 2 : 0) + (alpha ? 1 : 0);
    float* o = out + pixel * planes;
    o[0] = (float)luma;
    if (colour) {
        o[1] = (float)(0.5 + cr);
        o[2] = (float)(0.5 + cb);
    }
    if (alpha) o[planes - 1] = has_alpha ? (float)__dmul_rn(a, 1.0 / scale) : 1.0f;
}
