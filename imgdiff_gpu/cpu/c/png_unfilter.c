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

/* The Paeth predictor of the specification (9.4): of left, up and up-left, the one nearest
 * left + up - up-left, ties in that order. */
IMGDIFF_INLINE int paeth(int a, int b, int c)
{
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
}

/* One row: `in` its filtered bytes, `out` where its pixels go (at or before `in`), `up` the
 * pixels of the row above or NULL (the first row's is all zeros). -1 for an unknown filter. */
static int unfilter_row(int filter, const uint8_t *in, uint8_t *out, const uint8_t *up, Py_ssize_t count, int bpp)
{
    switch (filter) {
    case 0:
        memmove(out, in, count);
        return 0;
    case 1:
        for (Py_ssize_t j = 0; j < count; j++) {
            out[j] = (uint8_t)(in[j] + (j >= bpp ? out[j - bpp] : 0));
        }
        return 0;
    case 2:
        for (Py_ssize_t j = 0; j < count; j++) {
            out[j] = (uint8_t)(in[j] + (up ? up[j] : 0));
        }
        return 0;
    case 3:
        for (Py_ssize_t j = 0; j < count; j++) {
            int left = j >= bpp ? out[j - bpp] : 0, above = up ? up[j] : 0;
            out[j] = (uint8_t)(in[j] + ((left + above) >> 1));
        }
        return 0;
    case 4:
        for (Py_ssize_t j = 0; j < count; j++) {
            int left = j >= bpp ? out[j - bpp] : 0, above = up ? up[j] : 0;
            int corner = (up && j >= bpp) ? up[j - bpp] : 0;
            out[j] = (uint8_t)(in[j] + paeth(left, above, corner));
        }
        return 0;
    default:
        return -1;
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
