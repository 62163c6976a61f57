/* PNG's row filters undone, in place: the C of imgdiff_gpu/cpu/png_unfilter.py (unfilter_in_place), the
 * decoding half of imgdiff_gpu/png.py. No CUDA twin: inputs are decoded on the CPU whatever the device.
 *
 * imgdiff_gpu/loading.py inflates a plain PNG's image data (libdeflate) into one buffer of
 * H rows, each a filter type byte and W * C bytes, and calls this to turn it into the H x W x C
 * pixels at the start of the same buffer: row i moves to offset i * W * C, a byte or more
 * forward of where it was filtered, so each byte is read before anything is written over it.
 * The arithmetic is the PNG specification's (section 9), byte by byte modulo 256; PNG is
 * lossless, so the pixels are those libpng or Pillow decode.
 */
#include "core.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The Paeth predictor of the specification (9.4): of left, up and up-left, the one nearest
 * left + up - up-left, ties in that order. The distances are the specification's, p - a = b - c and
 * so on, written without p; the choice compiles to conditional moves. */
IMGDIFF_INLINE int paeth(int a, int b, int c)
{
    int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    return (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
}

#if defined(__SSE2__)
/* Paeth for 3 or 4 bytes a pixel, a pixel at a time in the 16-bit lanes of one SSE2 register, as
 * libpng's filter_sse2_intrinsics.c does it: the three distances, their least, and the choice by
 * masks, in the specification's order (a where pa is least, else b where pb is, else c). Pixels
 * 1 .. while 4 bytes can be read from `in` and `up` without passing the end of the row; returns
 * the byte where the scalar loop takes over. The first pixel is done already (out[0 .. bpp)). */
IMGDIFF_INLINE __m128i load4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), _mm_setzero_si128());
}

IMGDIFF_INLINE __m128i abs16(__m128i x)
{
    __m128i negative = _mm_cmplt_epi16(x, _mm_setzero_si128());
    return _mm_sub_epi16(_mm_xor_si128(x, negative), negative);
}

IMGDIFF_INLINE __m128i select16(__m128i mask, __m128i yes, __m128i no)
{
    return _mm_or_si128(_mm_and_si128(mask, yes), _mm_andnot_si128(mask, no));
}

IMGDIFF_INLINE Py_ssize_t paeth_pixels(const uint8_t *in, uint8_t *out, const uint8_t *up, Py_ssize_t count,
                                       const int bpp)
{
    __m128i a = load4(out), c = load4(up); /* the first pixel, and the one above it */
    Py_ssize_t j = bpp;
    for (; j + 4 <= count; j += bpp) {
        __m128i b = load4(up + j);
        __m128i pa = _mm_sub_epi16(b, c), pb = _mm_sub_epi16(a, c); /* p - a = b - c, p - b = a - c */
        __m128i pc = abs16(_mm_add_epi16(pa, pb));
        pa = abs16(pa);
        pb = abs16(pb);
        __m128i least = _mm_min_epi16(pc, _mm_min_epi16(pa, pb));
        __m128i nearest = select16(_mm_cmpeq_epi16(least, pa), a, select16(_mm_cmpeq_epi16(least, pb), b, c));
        /* modulo 256 in each 16-bit lane: the byte adds carry nothing into the lane's high byte */
        a = _mm_and_si128(_mm_add_epi16(load4(in + j), nearest), _mm_set1_epi16(0xff));
        int32_t pixel = _mm_cvtsi128_si32(_mm_packus_epi16(a, a));
        memcpy(out + j, &pixel, (size_t)bpp);
        c = b;
    }
    return j;
}
#endif

/* One row, for `bpp` bytes a pixel (inlined with a constant 1, 3 or 4: the compiler unrolls the
 * channel loops). `in` its filtered bytes, `out` where its pixels go (at or before `in`), `up` the
 * pixels of the row above or NULL (the first row's is all zeros). Sub, Average and Paeth depend on
 * the pixel just made: it is kept in `left` (registers), not read back from `out`, whose store the
 * next pixel would wait for, and the first pixel of a row is done apart, so the loop over the others
 * has no test of the position. -1 for an unknown filter. */
IMGDIFF_INLINE int unfilter_row_bpp(int filter, const uint8_t *in, uint8_t *out, const uint8_t *up,
                                    Py_ssize_t count, const int bpp)
{
    uint8_t left[4];
    if (filter == 0 || (filter == 2 && !up)) {
        memmove(out, in, count);
        return 0;
    }
    if (filter == 2) {
        for (Py_ssize_t j = 0; j < count; j++) {
            out[j] = (uint8_t)(in[j] + up[j]);
        }
        return 0;
    }
    if (filter < 1 || filter > 4) {
        return -1;
    }
    /* the first pixel: left (and up-left) are zero, so Sub adds nothing, Average half of up, Paeth up */
    for (int k = 0; k < bpp; k++) {
        int above = up ? up[k] : 0;
        left[k] = out[k] = (uint8_t)(in[k] + (filter == 1 ? 0 : filter == 3 ? above >> 1 : above));
    }
    if (filter == 1 || (filter == 4 && !up)) { /* Paeth of zero up and up-left picks left: Sub */
        for (Py_ssize_t j = bpp; j < count; j += bpp) {
            for (int k = 0; k < bpp; k++) {
                left[k] = out[j + k] = (uint8_t)(in[j + k] + left[k]);
            }
        }
    } else if (filter == 3) {
        for (Py_ssize_t j = bpp; j < count; j += bpp) {
            for (int k = 0; k < bpp; k++) {
                left[k] = out[j + k] = (uint8_t)(in[j + k] + ((left[k] + (up ? up[j + k] : 0)) >> 1));
            }
        }
    } else {
        Py_ssize_t j = bpp;
#if defined(__SSE2__)
        if (bpp >= 3) {
            j = paeth_pixels(in, out, up, count, bpp);
            for (int k = 0; k < bpp; k++) {
                left[k] = out[j - bpp + k];
            }
        }
#endif
        for (; j < count; j += bpp) {
            for (int k = 0; k < bpp; k++) {
                left[k] = out[j + k] = (uint8_t)(in[j + k] + paeth(left[k], up[j + k], up[j - bpp + k]));
            }
        }
    }
    return 0;
}

static int unfilter_row(int filter, const uint8_t *in, uint8_t *out, const uint8_t *up, Py_ssize_t count, int bpp)
{
    switch (bpp) { /* 1 to 4, checked by the caller */
    case 1:
        return unfilter_row_bpp(filter, in, out, up, count, 1);
    case 2:
        return unfilter_row_bpp(filter, in, out, up, count, 2);
    case 3:
        return unfilter_row_bpp(filter, in, out, up, count, 3);
    default:
        return unfilter_row_bpp(filter, in, out, up, count, 4);
    }
}

PyObject *core_png_unfilter(PyObject *self, PyObject *args)
{
    PyObject *obuffer;
    Py_ssize_t height, width;
    int channels;
    if (!PyArg_ParseTuple(args, "Onni", &obuffer, &height, &width, &channels)) {
        return NULL;
    }
    array_t a[1] = {0};
    PyObject *result = NULL;
    static const elem_t BYTES[] = {ELEM_U8, ELEM_I8};
    if (get_array(obuffer, &a[0], "buffer", 1, 1, 0) < 0 || expect_type(&a[0], "buffer", BYTES, 2) < 0) {
        goto done;
    }
    if (height < 1 || width < 1 || channels < 1 || channels > 4 || width > PY_SSIZE_T_MAX / 8 ||
        a[0].view.len % height != 0 || a[0].view.len / height != 1 + width * channels) {
        PyErr_Format(PyExc_ValueError, "png_unfilter: a buffer of %zd bytes is not %zd rows of 1 + %zd x %d bytes",
                     a[0].view.len, height, width, channels);
        goto done;
    }
    uint8_t *buffer = a[0].view.buf;
    const Py_ssize_t count = width * channels;
    Py_ssize_t bad_row = -1;
    int bad_filter = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < height; i++) {
        const uint8_t *in = buffer + i * (count + 1);
        int filter = in[0];
        if (unfilter_row(filter, in + 1, buffer + i * count, i ? buffer + (i - 1) * count : NULL, count,
                         channels) < 0) {
            bad_row = i;
            bad_filter = filter;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad_row >= 0) {
        PyErr_Format(PyExc_ValueError, "png_unfilter: row %zd has filter type %d (0 to 4 exist)", bad_row, bad_filter);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 1);
    return result;
}
