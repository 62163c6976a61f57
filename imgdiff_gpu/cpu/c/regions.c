/* Grouping a difference mask into regions: the C of imgdiff_gpu/cpu/regions.py (grow_mask,
 * label_components), for imgdiff_gpu/regions.py and detection's hysteresis. No CUDA twin: regions
 * are found on the CPU whatever device compared.
 *
 * What OpenCV did here before, so that a comparison that writes no picture need not load it (0.03 s
 * of CPU and 0.06 s of wall time a run): grow_mask is cv2.dilate of a 0/1 mask by a square of
 * 2 * reach + 1 (pixels outside the image take no part), label_components cv2.connectedComponents
 * with 8-connectivity. The labels give the same components; their numbers run in the order of
 * each component's first pixel, row by row (OpenCV's scan of 2 x 2 blocks may number them otherwise).
 */
#include "core.h"

/* out[y][x] = 1 where some pixel of `mask` (nonzero) lies within `reach` rows and columns, else 0.
 * Along each row, in a copy padded with `reach` zeros either side: a window of 2 * reach + 1 is the
 * OR of two overlapping windows of the largest power of two within it, each built by doubling (a
 * few passes of whole-row ORs, which vectorize, where a running count goes a pixel at a time); then
 * down the columns from a running count of the set pixels in each column's window. */
static int grow(const uint8_t *mask, Py_ssize_t row_stride, Py_ssize_t height, Py_ssize_t width, Py_ssize_t reach,
                uint8_t *out)
{
    const Py_ssize_t side = 2 * reach + 1, padded = width + 2 * reach;
    int32_t *counts = calloc((size_t)width, sizeof *counts);
    uint8_t *wide = malloc((size_t)width * (size_t)height); /* the rows grown along themselves */
    uint8_t *row_buffer = calloc((size_t)padded, 1);
    if (counts == NULL || wide == NULL || row_buffer == NULL) {
        free(counts);
        free(wide);
        free(row_buffer);
        return -1;
    }
    for (Py_ssize_t y = 0; y < height; y++) {
        const uint8_t *row = mask + y * row_stride;
        uint8_t *buffer = row_buffer;
        for (Py_ssize_t x = 0; x < width; x++) {
            buffer[reach + x] = row[x] != 0;
        }
        Py_ssize_t span = 1; /* buffer[x]: the OR of the padded row's [x, x + span) */
        for (; 2 * span <= side; span *= 2) {
            for (Py_ssize_t x = 0; x + span < padded; x++) {
                buffer[x] |= buffer[x + span];
            }
        }
        uint8_t *target = wide + y * width;
        for (Py_ssize_t x = 0; x < width; x++) {
            target[x] = buffer[x] | buffer[x + side - span];
        }
        memset(buffer, 0, (size_t)padded);
    }
    for (Py_ssize_t y = 0; y < reach && y < height; y++) {
        for (Py_ssize_t x = 0; x < width; x++) {
            counts[x] += wide[y * width + x];
        }
    }
    for (Py_ssize_t y = 0; y < height; y++) {
        if (y + reach < height) {
            const uint8_t *entering = wide + (y + reach) * width;
            for (Py_ssize_t x = 0; x < width; x++) {
                counts[x] += entering[x];
            }
        }
        if (y - reach - 1 >= 0) {
            const uint8_t *leaving = wide + (y - reach - 1) * width;
            for (Py_ssize_t x = 0; x < width; x++) {
                counts[x] -= leaving[x];
            }
        }
        uint8_t *target = out + y * width;
        for (Py_ssize_t x = 0; x < width; x++) {
            target[x] = counts[x] > 0;
        }
    }
    free(counts);
    free(wide);
    free(row_buffer);
    return 0;
}

PyObject *core_grow_mask(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *omask, *oout;
    Py_ssize_t reach;
    if (!PyArg_ParseTuple(args, "OnO", &omask, &reach, &oout)) {
        return NULL;
    }
    PyObject *result = NULL;
    array_t a[2] = {0};
    static const elem_t BYTES[] = {ELEM_U8, ELEM_BOOL};
    if (get_strided_array(omask, &a[0], "mask", 2) < 0 || expect_type(&a[0], "mask", BYTES, 2) < 0 ||
        get_array(oout, &a[1], "out", 2, 1, 0) < 0 || expect_type(&a[1], "out", BYTES, 1) < 0) {
        goto done;
    }
    const Py_ssize_t height = a[0].view.shape[0], width = a[0].view.shape[1];
    if (expect_shape(&a[1], "out", a[0].view.shape, 2) < 0) {
        goto done;
    }
    if (reach < 0 || a[0].view.strides[1] != 1) {
        PyErr_SetString(PyExc_ValueError, "grow_mask: reach >= 0 and a mask of contiguous rows");
        goto done;
    }
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = grow(a[0].view.buf, a[0].view.strides[0], height, width, reach, a[1].view.buf);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 2);
    return result;
}

/* Two passes for labels of type `type` (uint16_t or int32_t), the largest provisional label
 * `most`: provisional labels from the neighbours already seen (left, and the three above), their
 * equivalences in `parent`; then each label replaced by its component's number. */
#define LABEL_PASSES(type, most)                                                                               \
    static Py_ssize_t label_##type(const uint8_t *mask, Py_ssize_t row_stride, Py_ssize_t height,            \
                                   Py_ssize_t width, type *labels, int32_t **parent_io, int32_t *capacity)   \
    {                                                                                                          \
        int32_t *parent = *parent_io;                                                                          \
        int32_t next = 1;                                                                                      \
        for (Py_ssize_t y = 0; y < height; y++) {                                                             \
            const uint8_t *row = mask + y * row_stride;                                                        \
            type *here = labels + y * width;                                                                   \
            const type *above = y > 0 ? here - width : NULL;                                                   \
            for (Py_ssize_t x = 0; x < width; x++) {                                                          \
                if (!row[x]) {                                                                                 \
                    here[x] = 0;                                                                               \
                    continue;                                                                                  \
                }                                                                                              \
                int32_t up = above ? above[x] : 0;                                                             \
                int32_t left = x > 0 ? here[x - 1] : 0;                                                        \
                int32_t up_left = above && x > 0 ? above[x - 1] : 0;                                           \
                int32_t up_right = above && x + 1 < width ? above[x + 1] : 0;                                  \
                int32_t label;                                                                                 \
                if (up) { /* touches the other three: one component with them already */                     \
                    label = up;                                                                                \
                } else if (up_right) {                                                                         \
                    label = up_right;                                                                          \
                    if (left) {                                                                                \
                        label = union_join(parent, up_right, left);                                            \
                    } else if (up_left) {                                                                      \
                        label = union_join(parent, up_right, up_left);                                         \
                    }                                                                                          \
                } else if (left) {                                                                             \
                    label = left;                                                                              \
                } else if (up_left) {                                                                          \
                    label = up_left;                                                                           \
                } else {                                                                                       \
                    if ((int64_t)next > (int64_t)(most)) {                                                     \
                        return -2;                                                                             \
                    }                                                                                          \
                    if (next >= *capacity) {                                                                   \
                        int32_t grown = *capacity * 2;                                                         \
                        int32_t *bigger = realloc(parent, (size_t)grown * sizeof *parent);                     \
                        if (bigger == NULL) {                                                                  \
                            return -1;                                                                         \
                        }                                                                                      \
                        *parent_io = parent = bigger;                                                          \
                        *capacity = grown;                                                                     \
                    }                                                                                          \
                    parent[next] = next;                                                                       \
                    label = next++;                                                                            \
                }                                                                                              \
                here[x] = (type)label;                                                                         \
            }                                                                                                  \
        }                                                                                                      \
        for (int32_t i = 1; i < next; i++) { /* every label straight to its root, a smaller label */       \
            parent[i] = union_root(parent, i);                                                            \
        }                                                                                                      \
        int32_t count = 1; /* the background's 0 */                                                            \
        for (int32_t i = 1; i < next; i++) { /* a root's number, given before every label under it */      \
            int32_t root = parent[i];                                                                          \
            parent[i] = root == i ? count++ : parent[root];                                                    \
        }                                                                                                      \
        for (Py_ssize_t i = 0; i < height * width; i++) {                                                     \
            labels[i] = (type)parent[labels[i]];                                                               \
        }                                                                                                      \
        return count;                                                                                          \
    }

LABEL_PASSES(uint16_t, UINT16_MAX)
LABEL_PASSES(int32_t, INT32_MAX - 1)

PyObject *core_label_components(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *omask, *olabels;
    if (!PyArg_ParseTuple(args, "OO", &omask, &olabels)) {
        return NULL;
    }
    PyObject *result = NULL;
    array_t a[2] = {0};
    static const elem_t BYTES[] = {ELEM_U8, ELEM_BOOL};
    static const elem_t LABELS[] = {ELEM_U16, ELEM_I32};
    if (get_strided_array(omask, &a[0], "mask", 2) < 0 || expect_type(&a[0], "mask", BYTES, 2) < 0 ||
        get_array(olabels, &a[1], "labels", 2, 1, 0) < 0 || expect_type(&a[1], "labels", LABELS, 2) < 0) {
        goto done;
    }
    const Py_ssize_t height = a[0].view.shape[0], width = a[0].view.shape[1];
    if (expect_shape(&a[1], "labels", a[0].view.shape, 2) < 0) {
        goto done;
    }
    if (a[0].view.strides[1] != 1) {
        PyErr_SetString(PyExc_ValueError, "label_components: a mask of contiguous rows");
        goto done;
    }
    int32_t capacity = 1024;
    int32_t *parent = malloc((size_t)capacity * sizeof *parent);
    if (parent == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    parent[0] = 0;
    Py_ssize_t count;
    Py_BEGIN_ALLOW_THREADS
    if (a[1].type == ELEM_U16) {
        count = label_uint16_t(a[0].view.buf, a[0].view.strides[0], height, width, a[1].view.buf, &parent, &capacity);
    } else {
        count = label_int32_t(a[0].view.buf, a[0].view.strides[0], height, width, a[1].view.buf, &parent, &capacity);
    }
    Py_END_ALLOW_THREADS
    free(parent);
    if (count == -1) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyLong_FromSsize_t(count); /* -2: more provisional labels than the type holds */
done:
    release_arrays(a, 2);
    return result;
}
