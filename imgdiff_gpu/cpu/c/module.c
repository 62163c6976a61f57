/* imgdiff_gpu.cpu._core: the CPU kernels, compiled ahead of time (no JIT at run time).
 *
 * The functions of each kernel file, each the twin of a Python wrapper that validates and
 * prepares its arrays (imgdiff_gpu/cpu/{ssim,strength,planes,histogram,screen,chroma,rules,png_unfilter,heat,regions}.py)
 * and of a CUDA kernel (kernels/NAME.cu; CuPy operations for chroma.c; none for png_unfilter.c, heat.c and regions.c, as
 * inputs are decoded and pictures drawn on the CPU); plus the thread count, per calling thread as OpenMP keeps it.
 *
 * Arrays arrive through the buffer protocol, so the module needs no NumPy headers to
 * build and no NumPy C API at import: it loads in well under a millisecond and works
 * with whatever NumPy is installed.
 */
#include "core.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; an older kernel answers EINVAL */
#endif
#endif

static const char *const NAMES[] = {"bool",   "uint8",  "int8",   "uint16",  "int16",   "uint32",
                                    "int32",  "uint64", "int64",  "float32", "float64", "another type"};

const char *elem_name(elem_t type) { return NAMES[type]; }

static elem_t elem_of(const char *format, Py_ssize_t itemsize)
{
    if (format == NULL) {
        return ELEM_U8;
    }
    if (*format == '@' || *format == '=' || *format == '<' || *format == '|') {
        format++;
    }
    if (format[0] == '\0' || format[1] != '\0') {
        return ELEM_OTHER;
    }
    switch (format[0]) {
    case '?':
        return ELEM_BOOL;
    case 'B':
    case 'H':
    case 'I':
    case 'L':
    case 'Q':
        return itemsize == 1 ? ELEM_U8 : itemsize == 2 ? ELEM_U16 : itemsize == 4 ? ELEM_U32 : itemsize == 8 ? ELEM_U64 : ELEM_OTHER;
    case 'b':
    case 'h':
    case 'i':
    case 'l':
    case 'q':
        return itemsize == 1 ? ELEM_I8 : itemsize == 2 ? ELEM_I16 : itemsize == 4 ? ELEM_I32 : itemsize == 8 ? ELEM_I64 : ELEM_OTHER;
    case 'f':
        return itemsize == 4 ? ELEM_F32 : ELEM_OTHER;
    case 'd':
        return itemsize == 8 ? ELEM_F64 : ELEM_OTHER;
    default:
        return ELEM_OTHER;
    }
}

/* The buffer of `obj` with `flags` into `a`, which must have `ndim` dimensions; `a` is released
 * by release_arrays however this ends. */
static int get_buffer(PyObject *obj, array_t *a, const char *name, int ndim, int flags)
{
    if (PyObject_GetBuffer(obj, &a->view, flags | PyBUF_FORMAT) < 0) {
        return -1;
    }
    a->present = 1;
    a->type = elem_of(a->view.format, a->view.itemsize);
    if (a->view.ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s must have %d dimensions, got %d", name, ndim, a->view.ndim);
        return -1;
    }
    return 0;
}

int get_array(PyObject *obj, array_t *a, const char *name, int ndim, int writable, int optional)
{
    a->present = 0;
    if (obj == Py_None && optional) {
        return 0;
    }
    return get_buffer(obj, a, name, ndim, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0));
}

int get_strided_array(PyObject *obj, array_t *a, const char *name, int ndim)
{
    a->present = 0;
    if (get_buffer(obj, a, name, ndim, PyBUF_STRIDES) < 0) {
        return -1;
    }
    for (int d = 0; d < ndim; d++) {
        if (a->view.strides[d] % a->view.itemsize != 0) {
            PyErr_Format(PyExc_ValueError, "%s: strides must be whole elements", name);
            return -1;
        }
    }
    return 0;
}

void release_arrays(array_t *arrays, int count)
{
    for (int i = 0; i < count; i++) {
        if (arrays[i].present) {
            PyBuffer_Release(&arrays[i].view);
            arrays[i].present = 0;
        }
    }
}

int expect_type(const array_t *a, const char *name, const elem_t *types, int count)
{
    for (int i = 0; i < count; i++) {
        if (a->type == types[i]) {
            return 0;
        }
    }
    PyErr_Format(PyExc_TypeError, "%s: no kernel for %s elements", name, elem_name(a->type));
    return -1;
}

int expect_shape(const array_t *a, const char *name, const Py_ssize_t *shape, int ndim)
{
    for (int d = 0; d < ndim; d++) {
        if (a->view.shape[d] != shape[d]) {
            PyErr_Format(PyExc_ValueError, "%s: axis %d has %zd elements, expected %zd", name, d, a->view.shape[d],
                         shape[d]);
            return -1;
        }
    }
    return 0;
}

void prefault(void *start, size_t bytes)
{
#if defined(__linux__)
    long page = sysconf(_SC_PAGESIZE); /* per call: callers run on many threads at once */
    if (page <= 0 || bytes < (size_t)page) {
        return;
    }
    uintptr_t first = ((uintptr_t)start + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t last = ((uintptr_t)start + bytes) / (uintptr_t)page * (uintptr_t)page;
    if (last > first) {
        (void)madvise((void *)first, last - first, MADV_POPULATE_WRITE);
    }
#else
    (void)start;
    (void)bytes;
#endif
}

int run_strips(const void *job, Py_ssize_t strips, size_t work_bytes, strip_fn fn)
{
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel
    {
        void *work = malloc(work_bytes);
        if (work == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (Py_ssize_t strip = 0; strip < strips; strip++) {
            if (work != NULL) {
                fn(job, strip, work);
            }
        }
        free(work);
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *core_get_num_threads(PyObject *self, PyObject *unused)
{
#ifdef _OPENMP
    return PyLong_FromLong(omp_get_max_threads());
#else
    return PyLong_FromLong(1);
#endif
}

static PyObject *core_set_num_threads(PyObject *self, PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 1) {
        PyErr_Format(PyExc_ValueError, "the thread count must be at least 1, got %ld", n);
        return NULL;
    }
#ifdef _OPENMP
    omp_set_num_threads((int)n);
#endif
    Py_RETURN_NONE;
}

static PyMethodDef METHODS[] = {
    {"ssim", core_ssim, METH_VARARGS,
     "ssim(x, y, counted, weights, C1, C2, cov_norm, strip_rows, out, stats): the SSIM map into out."},
    {"strength", core_strength, METH_VARARGS,
     "strength(left, right, ssim_map, weights, inv_luma, inv_chroma, inv_texture, inv_ssim, suppress, "
     "luma_scale, coarse, out, luma_offset, level_low, level_high): the difference strength into a float32 out, "
     "or its levels (0, 1 from level_low, 2 from level_high) into a uint8 one."},
    {"planes", core_planes, METH_VARARGS, "planes(pixels, scale, colour, alpha, out, general=False): float32 planes into out."},
    {"histogram", core_histogram, METH_VARARGS,
     "histogram(ssim_map, valid, bins, counts): per strip of rows, counts of the map's values."},
    {"ssim_screen", core_ssim_screen, METH_VARARGS,
     "ssim_screen(x, y, counted, weights, C1, C2, cov_norm, strip_rows, out, stats, bias, masking, floor, slack, "
     "row_factors, column_factors, shift, row_peaks, column_peaks): ssim with the video screen's bounds."},
    {"line_samples", core_line_samples, METH_VARARGS,
     "line_samples(shift, taps, row_factors, column_factors, line_rows, line_columns, step, line, noise, "
     "sampled): the line noise ratio's samples (sampled: an H x W / step float32 workspace)."},
    {"frame_steps", core_frame_steps, METH_VARARGS,
     "frame_steps(left, right, reach, to_luma, luma_left, luma_right, steps, factor, sums): luma planes, per-row "
     "steps and (sums not None) per block the sums of the RGB differences."},
    {"coarse_chroma", core_coarse_chroma, METH_VARARGS,
     "coarse_chroma(left, right, taps, out): the coarse chroma shift of two plane stacks into out."},
    {"block_planes", core_block_planes, METH_VARARGS,
     "block_planes(sums, factor, chroma, luma): the blocks' float32 (dCr, dCb) and mean Y1 - Y2 from their sums."},
    {"block_differences", core_block_differences, METH_VARARGS,
     "block_differences(left, right, factor, sums): per block of two RGB frames, the sums of their differences."},
    {"contrast_scale", core_contrast_scale, METH_VARARGS,
     "contrast_scale(mean_x, square_x, mean_y, square_y, k, row_factors, column_factors, masking, scale): "
     "shared-contrast masking into masking, and times the border noise factors into scale (optional)."},
    {"contrast_moments", core_contrast_moments, METH_VARARGS,
     "contrast_moments(left, right, taps, k, first, last, row_factors, column_factors, masking, scale): contrast_scale "
     "of the luma planes' local moments, filtered in the same pass, for their rows first .. last - 1."},
    {"line_evidence", core_line_evidence, METH_VARARGS,
     "line_evidence(along_rows, along_columns, window_rows, line_columns, line_rows, window_columns, threshold, "
     "masking, out): the line evidence over its threshold (and the masking, optional) into out."},
    {"line_of_shift", core_line_of_shift, METH_VARARGS,
     "line_of_shift(shift, taps, window_rows, line_columns, line_rows, window_columns, threshold, masking, out): "
     "line_evidence of the shift's averages along its rows and columns, filtered in the same pass."},
    {"line_samples_of", core_line_samples_of, METH_VARARGS,
     "line_samples_of(shift, taps, first, step, window_rows, line_rows, line_columns, window_columns, line, noise): "
     "the line noise ratio's samples at every step-th row from first and every step-th column."},
    {"masked_maximum", core_masked_maximum, METH_VARARGS,
     "masked_maximum(line, masking, coarse): line /= masking, then coarse = np.maximum(coarse, line), in place."},
    {"png_unfilter", core_png_unfilter, METH_VARARGS,
     "png_unfilter(buffer, height, width, channels): a PNG's inflated rows, unfiltered into pixels in place."},
    {"heat_colours", core_heat_colours, METH_VARARGS,
     "heat_colours(ssim_map, table, out): the heat map's colours, table[level of each pixel], into out."},
    {"grow_mask", core_grow_mask, METH_VARARGS,
     "grow_mask(mask, reach, out): 1 in out wherever mask has a nonzero pixel within reach rows and columns."},
    {"label_components", core_label_components, METH_VARARGS,
     "label_components(mask, labels): the 8-connected components of mask's nonzero pixels numbered into labels "
     "(uint16 or int32); their count with the background, or -2 when uint16 cannot hold the labels."},
    {"term_regions", core_term_regions, METH_VARARGS,
     "term_regions(term, cut, join): the regions of a float32 term's pixels reaching cut, dilated by join "
     "city-block steps, 8-connected: bytes of float64 rows [peak, top, left, bottom, right], in scipy's label order."},
    {"median", core_median, METH_O, "median(values): np.median of a 1-D float32 array, as a float."},
    {"block_means", core_block_means, METH_VARARGS,
     "block_means(left, right, out): the 4 x 4 block means of left - right (float32), as OpenCV's area resize."},
    {"abs_peaks", core_abs_peaks, METH_VARARGS,
     "abs_peaks(plane, row_peaks, column_peaks[, divisor]): the largest |value| (over divisor) of each row and "
     "column of a float32 plane."},
    {"separable_filter", core_separable_filter, METH_VARARGS,
     "separable_filter(source, row_taps, column_taps, out, square): OpenCV's float32 sepFilter2D with reflected "
     "borders (of the squares with square) into out."},
    {"get_num_threads", core_get_num_threads, METH_NOARGS,
     "The threads a kernel called from this thread runs on (OMP_NUM_THREADS, else every core)."},
    {"set_num_threads", core_set_num_threads, METH_O, "Set the threads kernels called from this thread run on."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_core", "The CPU kernels of imgdiff-gpu, compiled ahead of time.", -1, METHODS,
};

PyMODINIT_FUNC PyInit__core(void)
{
    PyObject *module = PyModule_Create(&MODULE);
    if (module == NULL) {
        return NULL;
    }
#ifdef _OPENMP
    if (PyModule_AddIntConstant(module, "openmp", 1) < 0) {
#else
    if (PyModule_AddIntConstant(module, "openmp", 0) < 0) {
#endif
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "block_means_side", BLOCK_MEANS_SIDE) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
