/* Video screening: both RGB frames' luma planes and per row the largest luma, chroma and RGB steps.
 *
 * C twin of the kernel behind imgdiff_gpu/cpu/screen.py (frame_steps); the GPU path has no
 * screen (kernels/ssim.cu gives the map there). Luma from the same integer numerators as
 * planes.c, so bit for bit the image path's luma; the steps in int64 (the squared chroma
 * step needs it), counted only within reach of a counted pixel.
 */
#include "core.h"

IMGDIFF_CLONES static void steps_row(const uint8_t *left, const uint8_t *right, const uint8_t *within,
                                     Py_ssize_t width, double to_luma, float *luma_x, float *luma_y, int64_t *steps)
{
    int64_t d_luma = 0, d_chroma = 0, d_rgb = 0;
    for (Py_ssize_t j = 0; j < width; j++) {
        int32_t r_x = left[3 * j], g_x = left[3 * j + 1], b_x = left[3 * j + 2];
        int32_t r_y = right[3 * j], g_y = right[3 * j + 1], b_y = right[3 * j + 2];
        int64_t n_x = 299 * (int64_t)r_x + 587 * (int64_t)g_x + 114 * (int64_t)b_x;
        int64_t n_y = 299 * (int64_t)r_y + 587 * (int64_t)g_y + 114 * (int64_t)b_y;
        luma_x[j] = (float)((double)n_x * to_luma);
        luma_y[j] = (float)((double)n_y * to_luma);
        int64_t counts = within ? within[j] : 1;
        int64_t dr = r_x - r_y, dg = g_x - g_y, db = b_x - b_y;
        int64_t d_n = 299 * dr + 587 * dg + 114 * db;
        int64_t d_cr = 713 * (1000 * dr - d_n), d_cb = 564 * (1000 * db - d_n);
        int64_t luma_step = llabs(d_n) * counts, chroma_step = (d_cr * d_cr + d_cb * d_cb) * counts;
        int64_t largest = llabs(dr) > llabs(dg) ? llabs(dr) : llabs(dg);
        largest = (llabs(db) > largest ? llabs(db) : largest) * counts;
        d_luma = luma_step > d_luma ? luma_step : d_luma;
        d_chroma = chroma_step > d_chroma ? chroma_step : d_chroma;
        d_rgb = largest > d_rgb ? largest : d_rgb;
    }
    steps[0] = d_luma;
    steps[1] = d_chroma;
    steps[2] = d_rgb;
}

PyObject *core_frame_steps(PyObject *self, PyObject *args)
{
    PyObject *oleft, *oright, *oreach, *oluma_left, *oluma_right, *osteps;
    double to_luma;
    if (!PyArg_ParseTuple(args, "OOOdOOO", &oleft, &oright, &oreach, &to_luma, &oluma_left, &oluma_right, &osteps)) {
        return NULL;
    }
    array_t a[6] = {0};
    PyObject *result = NULL;
    static const elem_t U8[] = {ELEM_U8}, BOOL[] = {ELEM_BOOL, ELEM_U8}, F32[] = {ELEM_F32}, I64[] = {ELEM_I64};
    if (get_array(oleft, &a[0], "left", 3, 0, 0) < 0 || get_array(oright, &a[1], "right", 3, 0, 0) < 0 ||
        get_array(oreach, &a[2], "reach", 2, 0, 1) < 0 || get_array(oluma_left, &a[3], "luma_left", 2, 1, 0) < 0 ||
        get_array(oluma_right, &a[4], "luma_right", 2, 1, 0) < 0 || get_array(osteps, &a[5], "steps", 2, 1, 0) < 0) {
        goto done;
    }
    const Py_ssize_t *shape = a[0].view.shape;
    const Py_ssize_t height = shape[0], width = shape[1];
    Py_ssize_t steps_shape[2] = {height, 3};
    if (expect_type(&a[0], "left", U8, 1) < 0 || expect_type(&a[1], "right", U8, 1) < 0 ||
        expect_shape(&a[1], "right", shape, 3) < 0 || expect_type(&a[3], "luma_left", F32, 1) < 0 ||
        expect_shape(&a[3], "luma_left", shape, 2) < 0 || expect_type(&a[4], "luma_right", F32, 1) < 0 ||
        expect_shape(&a[4], "luma_right", shape, 2) < 0 || expect_type(&a[5], "steps", I64, 1) < 0 ||
        expect_shape(&a[5], "steps", steps_shape, 2) < 0 ||
        (a[2].present && (expect_type(&a[2], "reach", BOOL, 2) < 0 || expect_shape(&a[2], "reach", shape, 2) < 0))) {
        goto done;
    }
    if (shape[2] != 3) {
        PyErr_SetString(PyExc_ValueError, "frame_steps: needs RGB frames");
        goto done;
    }
    const uint8_t *left = a[0].view.buf, *right = a[1].view.buf;
    const uint8_t *reach = a[2].present ? a[2].view.buf : NULL;
    float *luma_left = a[3].view.buf, *luma_right = a[4].view.buf;
    int64_t *steps = a[5].view.buf;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for schedule(static)
    for (Py_ssize_t i = 0; i < height; i++) {
        steps_row(left + i * width * 3, right + i * width * 3, reach ? reach + i * width : NULL, width, to_luma,
                  luma_left + i * width, luma_right + i * width, steps + 3 * i);
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 6);
    return result;
}
