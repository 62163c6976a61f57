/* What the C twins of the CPU kernels share: array arguments, Numba's min/max, reflection, the filters.
 *
 * Every kernel file (ssim.c, strength.c, planes.c, histogram.c, screen.c, chroma.c, rules.c, filters.c, png_unfilter.c) defines
 * Python-callable functions; module.c gathers them into imgdiff_gpu.cpu._core.
 *
 * Floating point: the build turns contraction off (-ffp-contract=off), and the kernels
 * write fma() exactly where the Numba kernels, compiled with fastmath={"contract"},
 * were contracted by LLVM (a product with one use, added), so every value is what the
 * Numba kernels gave on a CPU with FMA -- on every CPU. The hot functions are cloned
 * for x86-64-v3 (AVX2 + FMA) and chosen when the module loads; the baseline clone
 * computes the same values with libm's fma().
 */
#ifndef IMGDIFF_CORE_H
#define IMGDIFF_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && defined(__linux__)
#define IMGDIFF_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define IMGDIFF_CLONES
#endif
#define IMGDIFF_INLINE static inline __attribute__((always_inline))

/* Numba's max(acc, v) and min(acc, v) for floats: v replaces acc only when strictly larger
 * (smaller), so a NaN never replaces a number and the first NaN stays. */
#define NUMBA_MAX(acc, v) ((v) > (acc) ? (v) : (acc))
#define NUMBA_MIN(acc, v) ((v) < (acc) ? (v) : (acc))

/* Union-find over labels 0 .. n - 1 in `parent` (parent[i] == i at a root), for the labelling passes
 * (regions.c, term_regions.c). The root of label `i`, every label on the way pointed at it. */
static inline int32_t union_root(int32_t *parent, int32_t i)
{
    int32_t root = i;
    while (parent[root] != root) {
        root = parent[root];
    }
    while (parent[i] != root) {
        int32_t next = parent[i];
        parent[i] = root;
        i = next;
    }
    return root;
}

/* Joins the sets of labels a and b under the smaller root, so that a root is always its set's first
 * label in the order they were made; returns that root. */
static inline int32_t union_join(int32_t *parent, int32_t a, int32_t b)
{
    a = union_root(parent, a);
    b = union_root(parent, b);
    if (a < b) {
        parent[b] = a;
        return a;
    }
    parent[a] = b;
    return b;
}

typedef enum {
    ELEM_BOOL,
    ELEM_U8,
    ELEM_I8,
    ELEM_U16,
    ELEM_I16,
    ELEM_U32,
    ELEM_I32,
    ELEM_U64,
    ELEM_I64,
    ELEM_F32,
    ELEM_F64,
    ELEM_OTHER
} elem_t;

/* A C-contiguous array argument (any object with the buffer protocol); `present` is 0 for None. */
typedef struct {
    Py_buffer view;
    elem_t type;
    int present;
} array_t;

/* Fills `a` from `obj` (None allowed when `optional`): C-contiguous, `ndim` dimensions,
 * writable when `writable`. Returns 0, or -1 with a Python exception set. */
int get_array(PyObject *obj, array_t *a, const char *name, int ndim, int writable, int optional);
/* The same for a read-only array of any strides (whole elements; view.strides gives them). */
int get_strided_array(PyObject *obj, array_t *a, const char *name, int ndim);
void release_arrays(array_t *arrays, int count);

/* Maps the whole pages of [start, start + bytes) now, writable, in one call (Linux 5.14+'s
 * MADV_POPULATE_WRITE), where a kernel is about to write all of them: a new array's pages
 * cost a third less so than faulted in one at a time as they are first written (400 MB: 0.16
 * instead of 0.24 s here). Nothing elsewhere, and nothing changes if the kernel refuses. */
void prefault(void *start, size_t bytes);

/* One strip of rows of a kernel's job, computed with the scratch memory of the thread that runs it. */
typedef void (*strip_fn)(const void *job, Py_ssize_t strip, void *work);

/* Every strip of ``job`` on OpenMP's threads (dynamic: strips cost unequally), the GIL released,
 * each thread with ``work_bytes`` of scratch of its own: 0, or -1 with MemoryError raised. */
int run_strips(const void *job, Py_ssize_t strips, size_t work_bytes, strip_fn fn);
/* -1 with TypeError unless `a` holds one of the `count` types listed. */
int expect_type(const array_t *a, const char *name, const elem_t *types, int count);
int expect_shape(const array_t *a, const char *name, const Py_ssize_t *shape, int ndim);
const char *elem_name(elem_t type);

/* Integer pixels (uint8 or uint16, H x W x C, C-contiguous) read as float32 planes (planes.c). */
typedef struct {
    const void *pixels;
    elem_t type;
    Py_ssize_t height, width;
    int channels, colour, alpha, planes;
    int general; /* take the general loop even for opaque RGB (the tests compare the two) */
    double scale;
} plane_source;

/* Fills `source`'s pixels, type, sizes and plane count from `pixels` (its colour, alpha and scale
 * set already): 0, or -1 with a Python exception set. */
int plane_source_of(const array_t *pixels, plane_source *source);
/* Row i's planes (width x planes float32) into `out`: the values plane_stack gives. */
void planes_of_row(const plane_source *source, Py_ssize_t i, float *out);

/* One past the last row of strip `strip` of `rows` rows each, in an image of `height` rows. */
IMGDIFF_INLINE Py_ssize_t strip_end(Py_ssize_t strip, Py_ssize_t rows, Py_ssize_t height)
{
    return (strip + 1) * rows < height ? (strip + 1) * rows : height;
}

/* scipy.ndimage's 'reflect' (d c b a | a b c d | d c b a), repeated as far as needed. */
IMGDIFF_INLINE Py_ssize_t reflect(Py_ssize_t i, Py_ssize_t n)
{
    if (i >= 0 && i < n) {
        return i;
    }
    Py_ssize_t period = 2 * n;
    i %= period;
    if (i < 0) {
        i += period;
    }
    return i < n ? i : period - 1 - i;
}

/* target[j] = sum_k w[k] * source[j + k] for j < count, in float64, k in order: the
 * horizontal pass. Called with a literal `taps` so the tap loop unrolls and the j loop
 * vectorizes, four or eight pixels per instruction. */
IMGDIFF_INLINE void filter_along_d(int taps, const double *w, const double *source, double *target, Py_ssize_t count)
{
    for (Py_ssize_t j = 0; j < count; j++) {
        double acc = 0.0;
        for (int k = 0; k < taps; k++) {
            acc = fma(w[k], source[j + k], acc);
        }
        target[j] = acc;
    }
}

/* The same into float32 (each float32 input widened exactly beforehand, once rather than per tap). */
IMGDIFF_INLINE void filter_along_f(int taps, const double *w, const double *source, float *target, Py_ssize_t count)
{
    for (Py_ssize_t j = 0; j < count; j++) {
        double acc = 0.0;
        for (int k = 0; k < taps; k++) {
            acc = fma(w[k], source[j + k], acc);
        }
        target[j] = (float)acc;
    }
}

/* target[j] = sum_k w[k] * rows[(first + k) * stride + j]: the vertical pass. */
IMGDIFF_INLINE void filter_across_d(int taps, const double *w, const double *rows, Py_ssize_t stride, Py_ssize_t first,
                                    double *target, Py_ssize_t count)
{
    const double *top = rows + first * stride;
    for (Py_ssize_t j = 0; j < count; j++) {
        double acc = 0.0;
        for (int k = 0; k < taps; k++) {
            acc = fma(w[k], top[k * stride + j], acc);
        }
        target[j] = acc;
    }
}

IMGDIFF_INLINE void filter_across_f(int taps, const double *w, const float *rows, Py_ssize_t stride, Py_ssize_t first,
                                    double *target, Py_ssize_t count)
{
    const float *top = rows + first * stride;
    for (Py_ssize_t j = 0; j < count; j++) {
        double acc = 0.0;
        for (int k = 0; k < taps; k++) {
            acc = fma(w[k], (double)top[k * stride + j], acc);
        }
        target[j] = acc;
    }
}

/* The filters for any window, unrolled for the two people use (11 taps: Gaussian sigma 1.5;
 * 7: the uniform default). */
#define DISPATCH_TAPS(taps, call) \
    do { \
        if ((taps) == 11) { \
            call(11); \
        } else if ((taps) == 7) { \
            call(7); \
        } else { \
            call(taps); \
        } \
    } while (0)

/* The separable filters' steps (filters.c): a row reflected (squared where asked) into `padded`; the
 * filter along it (acc = fma(x[0], k[0], +0), then fma(x[t], k[t], acc)); the symmetric filter across the
 * rows rows[0 .. 2 reach] at columns begin .. end - 1; and the floats between filtered rows in a strip's
 * work (an odd number of cache lines). */
void pad_row(const float *row, Py_ssize_t width, int reach, int square, float *padded);
/* 1 when `count` taps are odd in number and symmetric, as filter_column (which adds a tap's two rows before
 * multiplying) needs them; else 0. */
IMGDIFF_INLINE int symmetric_taps(const float *taps, Py_ssize_t count)
{
    if (count % 2 == 0) {
        return 0;
    }
    for (Py_ssize_t t = 0; t < count / 2; t++) {
        if (taps[t] != taps[count - 1 - t]) {
            return 0;
        }
    }
    return 1;
}
void filter_row(const float *padded, const float *taps, int count, Py_ssize_t width, float *out);
void filter_column(const float *const *rows, const float *taps, int reach, Py_ssize_t begin, Py_ssize_t end,
                   float *out);
Py_ssize_t filtered_row_stride(Py_ssize_t width);

PyObject *core_ssim(PyObject *self, PyObject *args);
PyObject *core_ssim_screen(PyObject *self, PyObject *args);
PyObject *core_strength(PyObject *self, PyObject *args);
PyObject *core_planes(PyObject *self, PyObject *args);
PyObject *core_histogram(PyObject *self, PyObject *args);
PyObject *core_frame_steps(PyObject *self, PyObject *args);
PyObject *core_line_samples(PyObject *self, PyObject *args);
PyObject *core_coarse_chroma(PyObject *self, PyObject *args);
PyObject *core_block_differences(PyObject *self, PyObject *args);
PyObject *core_block_planes(PyObject *self, PyObject *args);
PyObject *core_contrast_scale(PyObject *self, PyObject *args);
PyObject *core_contrast_moments(PyObject *self, PyObject *args);
PyObject *core_line_evidence(PyObject *self, PyObject *args);
PyObject *core_line_of_shift(PyObject *self, PyObject *args);
PyObject *core_line_samples_of(PyObject *self, PyObject *args);
PyObject *core_masked_maximum(PyObject *self, PyObject *args);
PyObject *core_png_unfilter(PyObject *self, PyObject *args);
PyObject *core_heat_colours(PyObject *self, PyObject *args);
PyObject *core_grow_mask(PyObject *self, PyObject *args);
PyObject *core_term_regions(PyObject *self, PyObject *args);
PyObject *core_label_components(PyObject *self, PyObject *args);
PyObject *core_median(PyObject *self, PyObject *arg);
/* block_means.c's block side, detection.COARSE_FACTOR's: the module exports it, and cpu/block_means.py checks the
 * two agree once, where it loads. */
#define BLOCK_MEANS_SIDE 4
PyObject *core_block_means(PyObject *self, PyObject *args);
PyObject *core_abs_peaks(PyObject *self, PyObject *args);
PyObject *core_separable_filter(PyObject *self, PyObject *args);

#endif
