/* The heat map's colours: the C of imgdiff_gpu/cpu/heat.py (heat_colours), for the pictures of
 * imgdiff_gpu/rendering.py. No CUDA twin: pictures are drawn on the CPU whatever device compared.
 *
 * A pixel's level is round(clip(1 - S, 0, 1) * 255), computed in the map's own float type one
 * operation at a time, as NumPy computes rendering.heat_levels (the difference, the clip, the product,
 * rint: halves to even), so every level is the same byte; NaN, which NumPy's cast turns into 0 on
 * x86-64, is 0 here everywhere. The colour is the table's row for the level. A map already of uint8
 * levels (a huge pair's, kept in bands) is looked up as it is. Levels and colours a few thousand
 * pixels at a time, in the L1 cache, instead of NumPy's five passes and OpenCV's look-up.
 */
#include "core.h"

/* The levels of `n` values. rint of 0 <= v <= 255 without a call into libm (x86-64's baseline has
 * no rounding instruction): adding 2^23 (2^52 for double) leaves no bits for a fraction, so the sum
 * is rounded to an integer as every sum is, to nearest with halves to even, as rint rounds; taking it
 * back off is exact (-ffp-contract=off, no -ffast-math: the compiler keeps both steps). The clip's
 * comparisons are false for NaN, which comes out 0. No trapping math for these loops alone: it
 * changes no value (only whether a comparison of NaN may raise the invalid flag, which nothing here
 * reads) and lets GCC turn the selects into vector blends: 4 levels an instruction. */
#define HEAT_LEVELS(type, shift)                                                                             \
    IMGDIFF_CLONES __attribute__((optimize("no-trapping-math"))) static void heat_levels_##type(            \
        const type *restrict map, uint8_t *restrict levels, Py_ssize_t n)                                   \
    {                                                                                                        \
        for (Py_ssize_t i = 0; i < n; i++) {                                                                 \
            type v = (type)1 - map[i];                                                                       \
            v = v > 0 ? v : 0;                                                                               \
            v = v < 1 ? v : 1;                                                                               \
            v = (v * (type)255 + (type)shift) - (type)shift;                                                 \
            levels[i] = (uint8_t)(int32_t)v;                                                                 \
        }                                                                                                    \
    }

HEAT_LEVELS(float, 8388608.0f)
HEAT_LEVELS(double, 4503599627370496.0)

enum { HEAT_CHUNK = 4096 }; /* pixels whose levels are made, then looked up, at once */

/* out[i] = table[levels[i]] for `n` pixels: each colour written as 4 bytes (the fourth overwritten
 * by the next pixel's first), the last one as 3. */
static void heat_lookup(const uint8_t *levels, const uint32_t *wide, const uint8_t *table, uint8_t *out,
                        Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        memcpy(out + 3 * i, &wide[levels[i]], 4);
    }
    if (n > 0) {
        memcpy(out + 3 * (n - 1), table + 3 * levels[n - 1], 3);
    }
}

PyObject *core_heat_colours(PyObject *self, PyObject *args)
{
    PyObject *omap, *otable, *oout;
    if (!PyArg_ParseTuple(args, "OOO", &omap, &otable, &oout)) {
        return NULL;
    }
    array_t a[3] = {0};
    PyObject *result = NULL;
    static const elem_t MAPS[] = {ELEM_F32, ELEM_F64, ELEM_U8};
    static const elem_t BYTES[] = {ELEM_U8};
    if (get_array(omap, &a[0], "ssim_map", 2, 0, 0) < 0 || expect_type(&a[0], "ssim_map", MAPS, 3) < 0 ||
        get_array(otable, &a[1], "table", 2, 0, 0) < 0 || expect_type(&a[1], "table", BYTES, 1) < 0 ||
        get_array(oout, &a[2], "out", 3, 1, 0) < 0 || expect_type(&a[2], "out", BYTES, 1) < 0) {
        goto done;
    }
    const Py_ssize_t height = a[0].view.shape[0], width = a[0].view.shape[1];
    const Py_ssize_t table_shape[] = {256, 3}, out_shape[] = {height, width, 3};
    if (expect_shape(&a[1], "table", table_shape, 2) < 0 || expect_shape(&a[2], "out", out_shape, 3) < 0) {
        goto done;
    }
    const uint8_t *table = a[1].view.buf;
    uint8_t *out = a[2].view.buf;
    const Py_ssize_t count = height * width;
    const void *map = a[0].view.buf;
    const elem_t type = a[0].type;
    Py_BEGIN_ALLOW_THREADS
    uint32_t wide[256];
    for (int k = 0; k < 256; k++) {
        wide[k] = 0;
        memcpy(&wide[k], table + 3 * k, 3);
    }
    uint8_t chunk[HEAT_CHUNK];
    for (Py_ssize_t start = 0; start < count; start += HEAT_CHUNK) {
        Py_ssize_t n = count - start < HEAT_CHUNK ? count - start : HEAT_CHUNK;
        const uint8_t *levels = chunk;
        if (type == ELEM_F32) {
            heat_levels_float((const float *)map + start, chunk, n);
        } else if (type == ELEM_F64) {
            heat_levels_double((const double *)map + start, chunk, n);
        } else {
            levels = (const uint8_t *)map + start;
        }
        heat_lookup(levels, wide, table, out + 3 * start, n);
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 3);
    return result;
}
