/* Video screening: both RGB frames' luma planes and per row the largest luma, chroma and RGB steps.
 *
 * C twin of the kernel behind imgdiff_gpu/cpu/screen.py (frame_steps); the GPU path has no
 * screen (kernels/ssim.cu gives the map there). Luma from the same integer numerators as
 * planes.c, so bit for bit the image path's luma; the steps in int64 (the squared chroma
 * step needs it), counted only within reach of a counted pixel. Also the sums of the RGB
 * differences over blocks (block_differences), for the screen's coarse chroma bound.
 */
#include "core.h"

IMGDIFF_INLINE void steps_row_of(const uint8_t *left, const uint8_t *right, const uint8_t *within, Py_ssize_t width,
                                 double to_luma, float *luma_x, float *luma_y, int64_t *steps, int reaching)
{
    /* Every numerator but the squared chroma step fits int32 (|713 (1000 dR - dN)| < 2**29),
     * and int32 lanes vectorize where int64 products do not; the squares are widened. A pixel
     * out of reach counts 0, as the steps are never negative. */
    int32_t d_luma = 0, d_rgb = 0;
    int64_t d_chroma = 0;
    for (Py_ssize_t j = 0; j < width; j++) {
        int32_t r_x = left[3 * j], g_x = left[3 * j + 1], b_x = left[3 * j + 2];
        int32_t r_y = right[3 * j], g_y = right[3 * j + 1], b_y = right[3 * j + 2];
        int32_t n_x = 299 * r_x + 587 * g_x + 114 * b_x;
        int32_t n_y = 299 * r_y + 587 * g_y + 114 * b_y;
        luma_x[j] = (float)((double)n_x * to_luma);
        luma_y[j] = (float)((double)n_y * to_luma);
        int32_t dr = r_x - r_y, dg = g_x - g_y, db = b_x - b_y;
        int32_t d_n = 299 * dr + 587 * dg + 114 * db;
        int32_t d_cr = 713 * (1000 * dr - d_n), d_cb = 564 * (1000 * db - d_n);
        int32_t counts = reaching ? within[j] != 0 : 1;
        int32_t luma_step = counts ? abs(d_n) : 0;
        int64_t chroma_step = counts ? (int64_t)d_cr * d_cr + (int64_t)d_cb * d_cb : 0;
        int32_t largest = abs(dr) > abs(dg) ? abs(dr) : abs(dg);
        largest = abs(db) > largest ? abs(db) : largest;
        largest = counts ? largest : 0;
        d_luma = luma_step > d_luma ? luma_step : d_luma;
        d_chroma = chroma_step > d_chroma ? chroma_step : d_chroma;
        d_rgb = largest > d_rgb ? largest : d_rgb;
    }
    steps[0] = d_luma;
    steps[1] = d_chroma;
    steps[2] = d_rgb;
}

/* steps_row_of with the reach known to be there or not, so the loop has no branch. */
IMGDIFF_CLONES static void steps_row(const uint8_t *left, const uint8_t *right, const uint8_t *within,
                                     Py_ssize_t width, double to_luma, float *luma_x, float *luma_y, int64_t *steps)
{
    if (within != NULL) {
        steps_row_of(left, right, within, width, to_luma, luma_x, luma_y, steps, 1);
    } else {
        steps_row_of(left, right, NULL, width, to_luma, luma_x, luma_y, steps, 0);
    }
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

typedef struct {
    const uint8_t *left, *right;
    int32_t *sums;
    Py_ssize_t width, blocks;
    int factor;
} block_job;

/* One row of blocks: the factor rows' differences summed down each column first (one int32 per
 * level, a loop that vectorizes), then across each block's columns. At most 255 * factor**2. */
IMGDIFF_CLONES static void block_row(const void *job_, Py_ssize_t strip, void *work)
{
    const block_job *job = job_;
    const Py_ssize_t levels = job->width * 3;
    int32_t *down = work;
    const uint8_t *left = job->left + strip * job->factor * levels, *right = job->right + strip * job->factor * levels;
    for (Py_ssize_t j = 0; j < levels; j++) {
        down[j] = (int32_t)left[j] - (int32_t)right[j];
    }
    for (int k = 1; k < job->factor; k++) {
        const uint8_t *l = left + k * levels, *r = right + k * levels;
        for (Py_ssize_t j = 0; j < levels; j++) {
            down[j] += (int32_t)l[j] - (int32_t)r[j];
        }
    }
    int32_t *sums = job->sums + strip * job->blocks * 3;
    for (Py_ssize_t b = 0; b < job->blocks; b++) {
        const int32_t *block = down + b * job->factor * 3;
        int32_t red = 0, green = 0, blue = 0;
        for (int j = 0; j < job->factor; j++) {
            red += block[3 * j];
            green += block[3 * j + 1];
            blue += block[3 * j + 2];
        }
        sums[3 * b] = red;
        sums[3 * b + 1] = green;
        sums[3 * b + 2] = blue;
    }
}

/* block_differences(left, right, factor, sums): per block of factor x factor pixels of two
 * H x W x 3 uint8 frames (H and W multiples of factor), the sums of the RGB differences (int32,
 * H / factor x W / factor x 3): exact, where OpenCV's area resize of float frames rounds. */
PyObject *core_block_differences(PyObject *self, PyObject *args)
{
    PyObject *oleft, *oright, *osums;
    int factor;
    if (!PyArg_ParseTuple(args, "OOiO", &oleft, &oright, &factor, &osums)) {
        return NULL;
    }
    array_t a[3] = {0};
    PyObject *result = NULL;
    static const elem_t U8[] = {ELEM_U8}, I32[] = {ELEM_I32};
    if (get_array(oleft, &a[0], "left", 3, 0, 0) < 0 || get_array(oright, &a[1], "right", 3, 0, 0) < 0 ||
        get_array(osums, &a[2], "sums", 3, 1, 0) < 0 || expect_type(&a[0], "left", U8, 1) < 0 ||
        expect_type(&a[1], "right", U8, 1) < 0 || expect_type(&a[2], "sums", I32, 1) < 0 ||
        expect_shape(&a[1], "right", a[0].view.shape, 3) < 0) {
        goto done;
    }
    const Py_ssize_t height = a[0].view.shape[0], width = a[0].view.shape[1];
    if (factor < 1 || factor > 64 || a[0].view.shape[2] != 3 || height % factor || width % factor) {
        PyErr_SetString(PyExc_ValueError, "block_differences: needs RGB frames whose sides are multiples of factor");
        goto done;
    }
    const Py_ssize_t sums_shape[3] = {height / factor, width / factor, 3};
    if (expect_shape(&a[2], "sums", sums_shape, 3) < 0) {
        goto done;
    }
    block_job job = {a[0].view.buf, a[1].view.buf, a[2].view.buf, width, sums_shape[1], factor};
    if (run_strips(&job, sums_shape[0], (size_t)width * 3 * sizeof(int32_t), block_row) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 3);
    return result;
}
