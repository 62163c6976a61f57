/* Integer pixels to float32 planes (Y, Cr, Cb, A), each value the same wherever computed.
 *
 * C twin of the kernel behind imgdiff_gpu/cpu/planes.py (plane_stack), which explains the
 * exact integer numerators; mirrors kernels/planes.cu. Nothing here is contracted: every
 * numerator is an integer, exact in float64, and each plane value is one product (and one
 * sum) of it, as in the Numba kernel compiled without fastmath.
 */
#include "core.h"

typedef struct {
    plane_source source;
    float *out;
} planes_job;

#define PIXEL(T, index) ((double)((const T *)job->pixels)[index])

/* Any layout: grey or colour, with or without alpha, premultiplied. */
#define GENERAL_ROW(T) \
    do { \
        for (Py_ssize_t j = 0; j < width; j++) { \
            const Py_ssize_t p = (i * width + j) * channels; \
            float *planes = out + j * job->planes; \
            double a = has_alpha ? PIXEL(T, p + channels - 1) : 1.0; \
            double cr = 0.0, cb = 0.0; \
            if (channels <= 2) { \
                planes[0] = (float)((PIXEL(T, p) * a) * (1.0 / denominator)); \
            } else { \
                double r = PIXEL(T, p), g = PIXEL(T, p + 1), b = PIXEL(T, p + 2); \
                double n = 299 * r + 587 * g + 114 * b; \
                planes[0] = (float)((n * a) * to_luma); \
                cr = ((713 * (1000 * r - n)) * a) * to_chroma; \
                cb = ((564 * (1000 * b - n)) * a) * to_chroma; \
            } \
            if (job->colour) { \
                planes[1] = (float)(0.5 + cr); \
                planes[2] = (float)(0.5 + cb); \
            } \
            if (job->alpha) { \
                planes[job->planes - 1] = has_alpha ? (float)(a * (1.0 / job->scale)) : 1.0f; \
            } \
        } \
    } while (0)

/* The common case, opaque RGB to Y, Cr, Cb: the same expressions (a = 1 drops out
 * exactly), so the same values, in a loop without branches. */
#define OPAQUE_RGB_ROW(T) \
    do { \
        const T *row = (const T *)job->pixels + i * width * 3; \
        float *planes = out; \
        for (Py_ssize_t j = 0; j < width; j++) { \
            double r = (double)row[3 * j], g = (double)row[3 * j + 1], b = (double)row[3 * j + 2]; \
            double n = 299 * r + 587 * g + 114 * b; \
            planes[3 * j] = (float)(n * to_luma); \
            planes[3 * j + 1] = (float)(0.5 + (713 * (1000 * r - n)) * to_chroma); \
            planes[3 * j + 2] = (float)(0.5 + (564 * (1000 * b - n)) * to_chroma); \
        } \
    } while (0)

/* Opaque RGB to its luma alone: the same expression (planes.PixelPair's luma of a colour pair). */
#define OPAQUE_RGB_LUMA_ROW(T) \
    do { \
        const T *row = (const T *)job->pixels + i * width * 3; \
        for (Py_ssize_t j = 0; j < width; j++) { \
            double r = (double)row[3 * j], g = (double)row[3 * j + 1], b = (double)row[3 * j + 2]; \
            out[j] = (float)((299 * r + 587 * g + 114 * b) * to_luma); \
        } \
    } while (0)

IMGDIFF_CLONES void planes_of_row(const plane_source *job, Py_ssize_t i, float *out)
{
    const Py_ssize_t width = job->width;
    const int channels = job->channels, has_alpha = channels == 2 || channels == 4;
    if (!job->general && channels == 3 && !job->colour && !job->alpha) {
        const double to_luma = 1.0 / (1000.0 * job->scale);
        if (job->type == ELEM_U8) {
            OPAQUE_RGB_LUMA_ROW(uint8_t);
        } else {
            OPAQUE_RGB_LUMA_ROW(uint16_t);
        }
        return;
    }
    if (!job->general && channels == 3 && job->colour && !job->alpha) {
        const double to_luma = 1.0 / (1000.0 * job->scale), to_chroma = 1.0 / (1e6 * job->scale);
        if (job->type == ELEM_U8) {
            OPAQUE_RGB_ROW(uint8_t);
        } else {
            OPAQUE_RGB_ROW(uint16_t);
        }
        return;
    }
    /* premultiplying by alpha puts one more `scale` under every numerator */
    const double denominator = has_alpha ? job->scale * job->scale : job->scale;
    const double to_luma = 1.0 / (1000.0 * denominator), to_chroma = 1.0 / (1e6 * denominator);
    if (job->type == ELEM_U8) {
        GENERAL_ROW(uint8_t);
    } else {
        GENERAL_ROW(uint16_t);
    }
}

int plane_source_of(const array_t *pixels, plane_source *source)
{
    static const elem_t PIXELS[] = {ELEM_U8, ELEM_U16};
    if (expect_type(pixels, "pixels", PIXELS, 2) < 0) {
        return -1;
    }
    source->pixels = pixels->view.buf;
    source->type = pixels->type;
    source->height = pixels->view.shape[0];
    source->width = pixels->view.shape[1];
    source->channels = (int)pixels->view.shape[2];
    source->planes = 1 + (source->colour ? 2 : 0) + (source->alpha ? 1 : 0);
    if (source->channels < 1 || source->channels > 4) { /* grey gives colour planes too: Cr = Cb = 0.5 */
        PyErr_Format(PyExc_ValueError, "planes: needs 1 to 4 channels, got %d", source->channels);
        return -1;
    }
    return 0;
}

PyObject *core_planes(PyObject *self, PyObject *args)
{
    PyObject *opixels, *oout;
    planes_job job;
    plane_source *source = &job.source;
    source->general = 0;
    if (!PyArg_ParseTuple(args, "OdppO|p", &opixels, &source->scale, &source->colour, &source->alpha, &oout,
                          &source->general)) {
        return NULL;
    }
    array_t a[2] = {0};
    PyObject *result = NULL;
    static const elem_t F32[] = {ELEM_F32};
    if (get_array(opixels, &a[0], "pixels", 3, 0, 0) < 0 || get_array(oout, &a[1], "out", 3, 1, 0) < 0 ||
        expect_type(&a[1], "out", F32, 1) < 0) {
        goto done;
    }
    if (plane_source_of(&a[0], source) < 0) {
        goto done;
    }
    Py_ssize_t shape[3] = {source->height, source->width, source->planes};
    if (expect_shape(&a[1], "out", shape, 3) < 0) {
        goto done;
    }
    job.out = a[1].view.buf;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel
    {
        /* each thread's contiguous share of ceil(H / threads) rows, mapped in one call first */
        Py_ssize_t threads = 1, thread = 0;
#ifdef _OPENMP
        threads = omp_get_num_threads();
        thread = omp_get_thread_num();
#endif
        const Py_ssize_t height = source->height, row_floats = source->width * source->planes;
        Py_ssize_t share = (height + threads - 1) / threads;
        Py_ssize_t first = thread * share < height ? thread * share : height;
        Py_ssize_t last = first + share < height ? first + share : height;
        prefault(job.out + first * row_floats, (size_t)(last - first) * row_floats * sizeof(float));
        for (Py_ssize_t i = first; i < last; i++) {
            planes_of_row(source, i, job.out + i * row_floats);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 2);
    return result;
}
