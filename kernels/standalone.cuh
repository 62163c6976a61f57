// Mirrors imgdiff_gpu/gpu/kernels.py (shared_defines), which writes it: python -m imgdiff_gpu.gpu.kernels
// The loader passes each of these as -D; they apply only when a kernel is compiled on its own
// (nvcc -arch=sm_90 -c kernels/ssim.cu), as a check that it compiles.
#pragma once
#ifndef IMGDIFF_TILE_W
#define IMGDIFF_TILE_W 32
#endif
#ifndef IMGDIFF_TILE_H
#define IMGDIFF_TILE_H 8
#endif
#ifndef IMGDIFF_NEAR
#define IMGDIFF_NEAR 3
#endif
#ifndef IMGDIFF_LEVEL_LOW
#define IMGDIFF_LEVEL_LOW 0.5
#endif
#ifndef IMGDIFF_LEVEL_HIGH
#define IMGDIFF_LEVEL_HIGH 1.0
#endif
#ifndef IMGDIFF_BINS
#define IMGDIFF_BINS 256
#endif
