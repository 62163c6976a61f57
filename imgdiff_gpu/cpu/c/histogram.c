/* The SSIM map's histogram in one parallel pass: each strip of rows counts into its own row.
 *
 * C twin of the kernel behind imgdiff_gpu/cpu/histogram.py (ssim_histogram_cpu), which sums
 * the strips' rows; mirrors kernels/histogram.cu. bin = (s + 1) * bins / 2 truncated, as
 * x86's conversion does it (NaN and values past 2**63 give the smallest integer), then
 * clamped to the bins: exactly what the Numba kernel gave.
 */
#include "core.h"

#define STRIP_ROWS 64

IMGDIFF_INLINE int64_t truncated(double v)
{
    return (v > -9223372036854775808.0 && v < 9223372036854775808.0) ? (int64_t)v : INT64_MIN;
}

/* Counts into LANES tables, pixel j into table j % LANES, summed into the strip's row at the end: the same
 * counts, but a run of pixels in one bin (most of a map sits near 1) no longer waits on each increment of
 * one counter before the next. */
#define LANES 4
#define COUNT_STRIP(T) \
    do { \
        for (Py_ssize_t i = strip * STRIP_ROWS; i < end; i++) { \
            const T *row = (const T *)map + i * width; \
            const uint8_t *valid_row = valid ? valid + i * width : NULL; \
            Py_ssize_t j = 0; \
            if (valid_row == NULL) { \
                for (; j + LANES <= width; j += LANES) { \
                    for (int l = 0; l < LANES; l++) { \
                        lanes[l][bin_of((double)row[j + l], half, bins)] += 1; \
                    } \
                } \
            } \
            for (; j < width; j++) { \
                if (valid_row == NULL || valid_row[j]) { \
                    lanes[0][bin_of((double)row[j], half, bins)] += 1; \
                } \
            } \
        } \
    } while (0)

IMGDIFF_INLINE Py_ssize_t bin_of(double s, double half, Py_ssize_t bins)
{
    int64_t b = truncated((s + 1.0) * half);
    b = b < 0 ? 0 : b;
    return b < bins - 1 ? (Py_ssize_t)b : bins - 1;
}

PyObject *core_histogram(PyObject *self, PyObject *args)
{
    PyObject *omap, *ovalid, *ocounts;
    Py_ssize_t bins;
    if (!PyArg_ParseTuple(args, "OOnO", &omap, &ovalid, &bins, &ocounts)) {
        return NULL;
    }
    array_t a[3] = {0};
    PyObject *result = NULL;
    static const elem_t MAPS[] = {ELEM_F32, ELEM_F64}, BOOL[] = {ELEM_BOOL, ELEM_U8}, I64[] = {ELEM_I64};
    if (get_array(omap, &a[0], "ssim_map", 2, 0, 0) < 0 || get_array(ovalid, &a[1], "valid", 2, 0, 1) < 0 ||
        get_array(ocounts, &a[2], "counts", 2, 1, 0) < 0 || expect_type(&a[0], "ssim_map", MAPS, 2) < 0 ||
        expect_type(&a[2], "counts", I64, 1) < 0 ||
        (a[1].present && (expect_type(&a[1], "valid", BOOL, 2) < 0 || expect_shape(&a[1], "valid", a[0].view.shape, 2) < 0))) {
        goto done;
    }
    const Py_ssize_t height = a[0].view.shape[0], width = a[0].view.shape[1];
    Py_ssize_t counts_shape[2] = {(height + STRIP_ROWS - 1) / STRIP_ROWS, bins};
    if (bins < 1 || expect_shape(&a[2], "counts", counts_shape, 2) < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "histogram: needs at least one bin");
        }
        goto done;
    }
    const void *map = a[0].view.buf;
    const int is_double = a[0].type == ELEM_F64;
    const uint8_t *valid = a[1].present ? a[1].view.buf : NULL;
    int64_t *counts = a[2].view.buf;
    const double half = (double)bins / 2;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel
    {
        int64_t *tables = malloc(sizeof(int64_t) * LANES * (size_t)bins);
        int64_t *lanes[LANES];
        for (int l = 0; l < LANES; l++) {
            lanes[l] = tables + l * bins;
        }
        if (tables == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (Py_ssize_t strip = 0; strip < counts_shape[0]; strip++) {
            if (tables == NULL) {
                continue;
            }
            const Py_ssize_t end = strip_end(strip, STRIP_ROWS, height);
            memset(tables, 0, sizeof(int64_t) * LANES * (size_t)bins);
            if (is_double) {
                COUNT_STRIP(double);
            } else {
                COUNT_STRIP(float);
            }
            int64_t *counts_row = counts + strip * bins;
            for (Py_ssize_t b = 0; b < bins; b++) {
                int64_t sum = counts_row[b]; /* counted into, as before */
                for (int l = 0; l < LANES; l++) {
                    sum += lanes[l][b];
                }
                counts_row[b] = sum;
            }
        }
        free(tables);
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 3);
    return result;
}
