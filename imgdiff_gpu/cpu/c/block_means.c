/* The 4 x 4 block means of the difference of two float32 luma planes, as OpenCV's area resize
 * gives them: the pair's luma offset's samples (imgdiff_gpu/detection.py's luma_bias, whose
 * luma_block_means is cv2.resize(cv2.subtract(left, right), INTER_AREA)); imgdiff_gpu/cpu/block_means.py
 * wraps it.
 *
 * Where both sides are multiples of the block, OpenCV takes its "area fast" path for float32:
 * per block, sum = 0, then for each of its rows sum += ((d0 + d1) + d2) + d3 (its loop unrolled by 4)
 * over the float32 differences d, in float32, times 1 / 16 (a power of two: exact). The same
 * operations here, in the same order (-ffp-contract=off: no product or sum fused), read from both
 * planes without the difference written out: bit for bit cv2.resize's (tests/test_clip_noise.py
 * holds them to it), in one pass where OpenCV makes two (subtract, then resize). The GPU's offset is
 * imgdiff_gpu/gpu/noise_rules.py's unbiased_gpu (CuPy's own operations).
 */
#include "core.h"

#define BLOCK BLOCK_MEANS_SIDE /* the row's sum below is unrolled for it */

IMGDIFF_CLONES static void block_means_of(const float *left, const float *right, Py_ssize_t height, Py_ssize_t width,
                                          float *out)
{
    const Py_ssize_t columns = width / BLOCK;
    const float scale = 1.0f / (BLOCK * BLOCK);
    for (Py_ssize_t bi = 0; bi < height / BLOCK; bi++) {
        float *means = out + bi * columns;
        for (Py_ssize_t bj = 0; bj < columns; bj++) {
            means[bj] = 0.0f;
        }
        for (Py_ssize_t r = 0; r < BLOCK; r++) {
            const float *x = left + (bi * BLOCK + r) * width, *y = right + (bi * BLOCK + r) * width;
            for (Py_ssize_t bj = 0; bj < columns; bj++) {
                const float *a = x + bj * BLOCK, *b = y + bj * BLOCK;
                means[bj] += (((a[0] - b[0]) + (a[1] - b[1])) + (a[2] - b[2])) + (a[3] - b[3]);
            }
        }
        for (Py_ssize_t bj = 0; bj < columns; bj++) {
            means[bj] *= scale;
        }
    }
}

/* block_means(left, right, out): out (float32, H / 4 x W / 4) the 4 x 4 block means of left - right (float32,
 * H x W, both multiples of 4), as cv2.resize(cv2.subtract(left, right), (W / 4, H / 4), INTER_AREA). */
PyObject *core_block_means(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2])) {
        return NULL;
    }
    static const char *const names[3] = {"left", "right", "out"};
    static const elem_t F32[] = {ELEM_F32};
    array_t a[3] = {0};
    PyObject *result = NULL;
    for (int n = 0; n < 3; n++) {
        if (get_array(o[n], &a[n], names[n], 2, n == 2, 0) < 0 || expect_type(&a[n], names[n], F32, 1) < 0) {
            goto done;
        }
    }
    const Py_ssize_t *shape = a[0].view.shape;
    if (expect_shape(&a[1], names[1], shape, 2) < 0) {
        goto done;
    }
    if (shape[0] % BLOCK || shape[1] % BLOCK) {
        PyErr_Format(PyExc_ValueError, "left: %zd x %zd is no multiple of %d x %d (cv2.resize's general path applies)",
                     shape[0], shape[1], BLOCK, BLOCK);
        goto done;
    }
    const Py_ssize_t blocks[2] = {shape[0] / BLOCK, shape[1] / BLOCK};
    if (expect_shape(&a[2], names[2], blocks, 2) < 0) {
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    block_means_of(a[0].view.buf, a[1].view.buf, shape[0], shape[1], a[2].view.buf);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 3);
    return result;
}
