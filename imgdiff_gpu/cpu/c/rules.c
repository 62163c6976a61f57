/* The elementwise ends of the `low` rules, each one pass over OpenCV's filtered planes.
 *
 * C twins of the NumPy/OpenCV chains in imgdiff_gpu/detection.py that follow the
 * separable filters (imgdiff_gpu/cpu/rules.py wraps them):
 *
 * - contrast_scale: shared_contrast's "min of the two variances, >= 0, square root",
 *   contrast_masking's "1 + k * contrast" and luma_threshold_scale's "times the window's
 *   border noise factor", from the four local moments (mean and mean of squares of each
 *   luma plane);
 * - line_evidence: line_over_threshold's "|average| over its border noise factor, the
 *   larger of the two directions, over the threshold", and line_shift's "over the masking";
 * - abs_peaks: the largest |value| of each row and each column of the luma shift, which bound
 *   the video screen's line and masked luma evidence (screening.py) without |shift| written out;
 * - median: np.median of the float32 samples that the pair's luma offset and line noise
 *   ratio are medians of (luma_bias_of, line_noise_ratio_of), by selection on a copy.
 *
 * Every value is the float32 expression of its NumPy original, operation for operation
 * (-ffp-contract=off keeps each product and sum rounded on its own): bit for bit the same
 * planes, without a full-size temporary per step. The GPU twins are in
 * imgdiff_gpu/gpu/noise_rules.py (CuPy), whose planes kernels/strength.cu reads per pixel
 * as strength.c reads these.
 */
#include "core.h"

#define STRIP_ROWS 32

typedef struct {
    const float *mean_x, *square_x, *mean_y, *square_y;
    const float *row_factors, *column_factors; /* NULL: no scale wanted */
    float k;
    float *masking, *scale;
    Py_ssize_t height, width;
} contrast_job;

/* One row of the masking (and scale, where `scale` is not NULL) from the row's four moments. */
IMGDIFF_CLONES static void contrast_row(const float *restrict mx, const float *restrict sx, const float *restrict my,
                                        const float *restrict sy, float k, float row, const float *restrict columns,
                                        Py_ssize_t width, float *restrict masking, float *restrict scale)
{
    for (Py_ssize_t j = 0; j < width; j++) {
        float vx = sx[j] - mx[j] * mx[j];
        float vy = sy[j] - my[j] * my[j];
        float v = vy < vx ? vy : vx;
        v = v > 0.0f ? v : 0.0f; /* rounding can take a flat patch's below 0 */
        float m = sqrtf(v) * k;
        masking[j] = m + 1.0f;
    }
    if (scale != NULL) {
        for (Py_ssize_t j = 0; j < width; j++) {
            scale[j] = masking[j] * (row * columns[j]);
        }
    }
}

static void contrast_strip(const void *job_, Py_ssize_t strip, void *work)
{
    const contrast_job *job = job_;
    const Py_ssize_t end = strip_end(strip, STRIP_ROWS, job->height);
    for (Py_ssize_t i = strip * STRIP_ROWS; i < end; i++) {
        const Py_ssize_t at = i * job->width;
        contrast_row(job->mean_x + at, job->square_x + at, job->mean_y + at, job->square_y + at, job->k,
                     job->scale != NULL ? job->row_factors[i] : 0.0f, job->column_factors, job->width,
                     job->masking + at, job->scale != NULL ? job->scale + at : NULL);
    }
}

/* contrast_scale(mean_x, square_x, mean_y, square_y, k, row_factors, column_factors, masking, scale):
 * masking = 1 + k * sqrt(max(min(square_x - mean_x**2, square_y - mean_y**2), 0)), and where scale
 * is given, scale = masking * (row_factors[i] * column_factors[j]). */
PyObject *core_contrast_scale(PyObject *self, PyObject *args)
{
    PyObject *o[8];
    float k;
    if (!PyArg_ParseTuple(args, "OOOOfOOOO", &o[0], &o[1], &o[2], &o[3], &k, &o[4], &o[5], &o[6], &o[7])) {
        return NULL;
    }
    static const char *const names[8] = {"mean_x", "square_x", "mean_y", "square_y", "row_factors", "column_factors",
                                         "masking", "scale"};
    static const elem_t F32[] = {ELEM_F32};
    array_t a[8] = {0};
    PyObject *result = NULL;
    for (int n = 0; n < 8; n++) {
        const int ndim = (n == 4 || n == 5) ? 1 : 2, writable = n >= 6, optional = n == 4 || n == 5 || n == 7;
        if (get_array(o[n], &a[n], names[n], ndim, writable, optional) < 0 ||
            (a[n].present && expect_type(&a[n], names[n], F32, 1) < 0)) {
            goto done;
        }
    }
    const Py_ssize_t *shape = a[0].view.shape;
    for (int n = 1; n < 8; n++) {
        if (n == 4 || n == 5 || !a[n].present) {
            continue;
        }
        if (expect_shape(&a[n], names[n], shape, 2) < 0) {
            goto done;
        }
    }
    if (a[7].present && (!a[4].present || !a[5].present || expect_shape(&a[4], names[4], shape, 1) < 0 ||
                         expect_shape(&a[5], names[5], shape + 1, 1) < 0)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "contrast_scale: a scale needs the row and column factors");
        }
        goto done;
    }
    contrast_job job = {a[0].view.buf, a[1].view.buf, a[2].view.buf, a[3].view.buf,
                        a[7].present ? a[4].view.buf : NULL, a[7].present ? a[5].view.buf : NULL,
                        k, a[6].view.buf, a[7].present ? a[7].view.buf : NULL, shape[0], shape[1]};
    if (run_strips(&job, (shape[0] + STRIP_ROWS - 1) / STRIP_ROWS, sizeof(float), contrast_strip) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 8);
    return result;
}

typedef struct {
    const float *along_rows, *along_columns;
    const float *window_rows, *line_columns, *line_rows, *window_columns;
    const float *masking; /* NULL: none */
    float threshold;
    float *out;
    Py_ssize_t height, width;
} line_job;

/* One row of the line evidence from its two averages (the factors of its row given). */
IMGDIFF_CLONES static void line_row(const float *restrict ar, const float *restrict ac, float window_row, float line_row,
                                    const float *restrict line_columns, const float *restrict window_columns,
                                    float threshold, const float *restrict masking, Py_ssize_t width,
                                    float *restrict out)
{
    for (Py_ssize_t j = 0; j < width; j++) {
        float r = fabsf(ar[j]) / (window_row * line_columns[j]);
        float c = fabsf(ac[j]) / (line_row * window_columns[j]);
        out[j] = (c > r ? c : r) / threshold;
    }
    if (masking != NULL) {
        for (Py_ssize_t j = 0; j < width; j++) {
            out[j] /= masking[j];
        }
    }
}

static void line_strip(const void *job_, Py_ssize_t strip, void *work)
{
    const line_job *job = job_;
    const Py_ssize_t end = strip_end(strip, STRIP_ROWS, job->height);
    for (Py_ssize_t i = strip * STRIP_ROWS; i < end; i++) {
        const Py_ssize_t at = i * job->width;
        line_row(job->along_rows + at, job->along_columns + at, job->window_rows[i], job->line_rows[i],
                 job->line_columns, job->window_columns, job->threshold, job->masking ? job->masking + at : NULL,
                 job->width, job->out + at);
    }
}

typedef struct {
    const float *shift, *taps;
    int reach;
    const float *window_rows, *line_columns, *line_rows, *window_columns;
    const float *masking; /* NULL: none */
    float threshold;
    float *out;
    Py_ssize_t height, width;
} shift_line_job;

/* A row's two averages with 2 reach + 1 odd, symmetric taps, as filters.c computes OpenCV's sepFilter2D: along the
 * row, and along its column over the rows around it, reflected within the plane (line_of_shift's and
 * line_samples_of's). Each strip's scratch (row_averages_bytes) holds the row pointers, the padded row and the two. */
typedef struct {
    const float **rows;                /* 2 reach + 1 */
    float *padded;                     /* width + 2 reach */
    float *along_rows, *along_columns; /* width each */
} row_averages;

static size_t row_averages_bytes(int reach, Py_ssize_t width)
{
    return (size_t)(2 * reach + 1) * sizeof(float *) + (3 * (size_t)width + 2 * (size_t)reach) * sizeof(float);
}

static row_averages row_averages_in(void *work, int reach, Py_ssize_t width)
{
    row_averages r = {work};
    r.padded = (float *)(r.rows + 2 * reach + 1);
    r.along_rows = r.padded + width + 2 * reach;
    r.along_columns = r.along_rows + width;
    return r;
}

/* Row i's averages of the H x W plane into r's along_rows and along_columns. */
static void average_row(const row_averages *r, const float *plane, Py_ssize_t i, Py_ssize_t height, Py_ssize_t width,
                        const float *taps, int reach)
{
    pad_row(plane + i * width, width, reach, 0, r->padded);
    filter_row(r->padded, taps, 2 * reach + 1, width, r->along_rows); /* OpenCV's across of 1 tap of 1: |x| the same */
    for (int t = 0; t <= 2 * reach; t++) {
        r->rows[t] = plane + reflect(i - reach + t, height) * width;
    }
    filter_column(r->rows, taps, reach, 0, width, r->along_columns);
}

/* A strip of the line evidence from the shift, row by row: the row's average along it and along its column
 * (the 2 reach + 1 shift rows around it, reflected), then the evidence of the row from the two. */
static void shift_line_strip(const void *job_, Py_ssize_t strip, void *work)
{
    const shift_line_job *job = job_;
    const Py_ssize_t width = job->width, height = job->height, end = strip_end(strip, STRIP_ROWS, height);
    const row_averages averages = row_averages_in(work, job->reach, width);
    for (Py_ssize_t i = strip * STRIP_ROWS; i < end; i++) {
        average_row(&averages, job->shift, i, height, width, job->taps, job->reach);
        line_row(averages.along_rows, averages.along_columns, job->window_rows[i], job->line_rows[i],
                 job->line_columns, job->window_columns, job->threshold, job->masking ? job->masking + i * width : NULL,
                 width, job->out + i * width);
    }
}

/* The arguments of line_evidence and line_of_shift, (plane, second, window_rows, line_columns, line_rows,
 * window_columns, threshold, masking, out): all float32, ``second`` of ``second_ndim`` dimensions (its shape is
 * the caller's to check), the four border factors a row's or a column's of ``plane``, ``masking`` (optional)
 * and ``out`` (writable) of its shape. -1 with the error set; the caller releases ``a`` either way. */
static int line_arguments(PyObject *args, const char *const names[8], int second_ndim, array_t a[8], float *threshold)
{
    PyObject *o[8];
    if (!PyArg_ParseTuple(args, "OOOOOOfOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], threshold, &o[6], &o[7])) {
        return -1;
    }
    static const elem_t F32[] = {ELEM_F32};
    for (int n = 0; n < 8; n++) {
        const int ndim = n == 1 ? second_ndim : (n >= 2 && n <= 5) ? 1 : 2;
        if (get_array(o[n], &a[n], names[n], ndim, n == 7, n == 6) < 0 ||
            (a[n].present && expect_type(&a[n], names[n], F32, 1) < 0)) {
            return -1;
        }
    }
    const Py_ssize_t *shape = a[0].view.shape;
    if (expect_shape(&a[2], names[2], shape, 1) < 0 || expect_shape(&a[3], names[3], shape + 1, 1) < 0 ||
        expect_shape(&a[4], names[4], shape, 1) < 0 || expect_shape(&a[5], names[5], shape + 1, 1) < 0 ||
        expect_shape(&a[7], names[7], shape, 2) < 0 || (a[6].present && expect_shape(&a[6], names[6], shape, 2) < 0)) {
        return -1;
    }
    return 0;
}

/* line_of_shift(shift, taps, window_rows, line_columns, line_rows, window_columns, threshold, masking, out):
 * line_evidence of the shift's two averages with the odd symmetric float32 taps (along its rows, and along its
 * columns; reflected at the edges, as filters.c computes OpenCV's sepFilter2D), computed a row at a time: the
 * same values, without either average written out. */
PyObject *core_line_of_shift(PyObject *self, PyObject *args)
{
    static const char *const names[8] = {"shift", "taps", "window_rows", "line_columns",
                                         "line_rows", "window_columns", "masking", "out"};
    array_t a[8] = {0};
    float threshold;
    PyObject *result = NULL;
    if (line_arguments(args, names, 1, a, &threshold) < 0) {
        goto done;
    }
    const Py_ssize_t *shape = a[0].view.shape, taps = a[1].view.shape[0];
    const float *t = a[1].view.buf;
    if (!symmetric_taps(t, taps) || shape[0] < 1 || shape[1] < 1) {
        PyErr_SetString(PyExc_ValueError, "line_of_shift: taps odd and symmetric, the shift not empty");
        goto done;
    }
    const int reach = (int)(taps / 2);
    shift_line_job job = {a[0].view.buf, t, reach, a[2].view.buf, a[3].view.buf, a[4].view.buf, a[5].view.buf,
                          a[6].present ? a[6].view.buf : NULL, threshold, a[7].view.buf, shape[0], shape[1]};
    if (run_strips(&job, (shape[0] + STRIP_ROWS - 1) / STRIP_ROWS, row_averages_bytes(reach, shape[1]),
                   shift_line_strip) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 8);
    return result;
}

typedef struct {
    const float *shift, *taps;
    int reach;
    Py_ssize_t height, width, first, step, sampled_rows, sampled_columns;
    const float *window_rows, *line_rows;         /* per sampled row */
    const float *line_columns, *window_columns;   /* per sampled column */
    float *line, *noise;                          /* sampled_rows x sampled_columns */
} samples_job;

/* A strip of sampled rows of the line noise ratio's samples: the row's averages along it and along the
 * columns, each over the whole row (contiguous, as the filters vectorize), kept at the sampled columns. */
static void samples_strip(const void *job_, Py_ssize_t strip, void *work)
{
    const samples_job *job = job_;
    const Py_ssize_t width = job->width, end = strip_end(strip, STRIP_ROWS, job->sampled_rows);
    const row_averages averages = row_averages_in(work, job->reach, width);
    const float *along_rows = averages.along_rows, *along_columns = averages.along_columns;
    for (Py_ssize_t q = strip * STRIP_ROWS; q < end; q++) {
        const Py_ssize_t r = job->first + q * job->step;
        average_row(&averages, job->shift, r, job->height, width, job->taps, job->reach);
        const float *row = job->shift + r * width;
        float *line = job->line + q * job->sampled_columns, *noise = job->noise + q * job->sampled_columns;
        for (Py_ssize_t p = 0; p < job->sampled_columns; p++) {
            const Py_ssize_t c = p * job->step;
            const float a = fabsf(along_rows[c]) / (job->window_rows[q] * job->line_columns[p]);
            const float b = fabsf(along_columns[c]) / (job->line_rows[q] * job->window_columns[p]);
            line[p] = a != a ? a : (b != b ? b : (a >= b ? a : b)); /* np.maximum's: a NaN of either, else the larger */
            noise[p] = fabsf(row[c]) / (job->window_rows[q] * job->window_columns[p]);
        }
    }
}

/* line_samples_of(shift, taps, first, step, window_rows, line_rows, line_columns, window_columns, line, noise):
 * at rows first, first + step, ... and columns 0, step, ... of an H x W float32 shift, the line evidence
 * max(|along rows| / (window_rows * line_columns), |along columns| / (line_rows * window_columns)) and
 * |shift| / (window_rows * window_columns), the factors given per sampled row and column and multiplied in
 * float32; the averages with the odd symmetric taps, reflected within the shift (as filters.c computes
 * OpenCV's sepFilter2D). */
PyObject *core_line_samples_of(PyObject *self, PyObject *args)
{
    PyObject *o[9];
    Py_ssize_t first, step;
    if (!PyArg_ParseTuple(args, "OOnnOOOOOO", &o[0], &o[1], &first, &step, &o[2], &o[3], &o[4], &o[5], &o[6], &o[7])) {
        return NULL;
    }
    static const char *const names[8] = {"shift", "taps", "window_rows", "line_rows",
                                         "line_columns", "window_columns", "line", "noise"};
    static const elem_t F32[] = {ELEM_F32};
    array_t a[8] = {0};
    PyObject *result = NULL;
    for (int n = 0; n < 8; n++) {
        const int ndim = n == 0 || n >= 6 ? 2 : 1;
        if (get_array(o[n], &a[n], names[n], ndim, n >= 6, 0) < 0 || expect_type(&a[n], names[n], F32, 1) < 0) {
            goto done;
        }
    }
    const Py_ssize_t *shape = a[0].view.shape, taps = a[1].view.shape[0];
    const float *t = a[1].view.buf;
    const Py_ssize_t *sampled = a[6].view.shape;
    if (!symmetric_taps(t, taps) || step < 1 || first < 0 || shape[1] < 1 ||
        (sampled[0] > 0 && first + (sampled[0] - 1) * step >= shape[0]) || (sampled[1] - 1) * step >= shape[1]) {
        PyErr_SetString(PyExc_ValueError, "line_samples_of: taps odd and symmetric, the samples within the shift");
        goto done;
    }
    if (expect_shape(&a[7], names[7], sampled, 2) < 0 || expect_shape(&a[2], names[2], sampled, 1) < 0 ||
        expect_shape(&a[3], names[3], sampled, 1) < 0 || expect_shape(&a[4], names[4], sampled + 1, 1) < 0 ||
        expect_shape(&a[5], names[5], sampled + 1, 1) < 0) {
        goto done;
    }
    const int reach = (int)(taps / 2);
    samples_job job = {a[0].view.buf, t, reach, shape[0], shape[1], first, step, sampled[0], sampled[1],
                       a[2].view.buf, a[3].view.buf, a[4].view.buf, a[5].view.buf, a[6].view.buf, a[7].view.buf};
    if (run_strips(&job, (sampled[0] + STRIP_ROWS - 1) / STRIP_ROWS, row_averages_bytes(reach, shape[1]),
                   samples_strip) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 8);
    return result;
}

IMGDIFF_CLONES static void masked_maximum_of(float *restrict line, const float *restrict masking, float *restrict coarse,
                                             Py_ssize_t count)
{
    for (Py_ssize_t j = 0; j < count; j++) {
        const float value = line[j] / masking[j], first = coarse[j];
        line[j] = value;
        coarse[j] = first != first ? first : (value != value ? value : (first > value ? first : value));
    }
}

/* masked_maximum(line, masking, coarse): line /= masking, then coarse = np.maximum(coarse, line) (NumPy's: a NaN
 * of either, else the larger; of two zeros, which NumPy's paths pick differently, the second: the rule's planes
 * are magnitudes, never -0), in place, float32 planes of one shape. */
PyObject *core_masked_maximum(PyObject *self, PyObject *args)
{
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2])) {
        return NULL;
    }
    static const char *const names[3] = {"line", "masking", "coarse"};
    static const elem_t F32[] = {ELEM_F32};
    array_t a[3] = {0};
    PyObject *result = NULL;
    for (int n = 0; n < 3; n++) {
        if (get_array(o[n], &a[n], names[n], 2, n != 1, 0) < 0 || expect_type(&a[n], names[n], F32, 1) < 0 ||
            (n > 0 && expect_shape(&a[n], names[n], a[0].view.shape, 2) < 0)) {
            goto done;
        }
    }
    float *line = a[0].view.buf, *coarse = a[2].view.buf;
    const float *masking = a[1].view.buf;
    const Py_ssize_t count = a[0].view.shape[0] * a[0].view.shape[1];
    Py_BEGIN_ALLOW_THREADS
    masked_maximum_of(line, masking, coarse, count);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 3);
    return result;
}

/* line_evidence(along_rows, along_columns, window_rows, line_columns, line_rows, window_columns, threshold,
 * masking, out): out = max(|along_rows| / (window_rows[i] * line_columns[j]),
 * |along_columns| / (line_rows[i] * window_columns[j])) / threshold, then / masking where given. */
PyObject *core_line_evidence(PyObject *self, PyObject *args)
{
    static const char *const names[8] = {"along_rows", "along_columns", "window_rows", "line_columns",
                                         "line_rows",  "window_columns", "masking",   "out"};
    array_t a[8] = {0};
    float threshold;
    PyObject *result = NULL;
    if (line_arguments(args, names, 2, a, &threshold) < 0 ||
        expect_shape(&a[1], names[1], a[0].view.shape, 2) < 0) {
        goto done;
    }
    const Py_ssize_t *shape = a[0].view.shape;
    line_job job = {a[0].view.buf, a[1].view.buf, a[2].view.buf, a[3].view.buf, a[4].view.buf, a[5].view.buf,
                    a[6].present ? a[6].view.buf : NULL, threshold, a[7].view.buf, shape[0], shape[1]};
    if (run_strips(&job, (shape[0] + STRIP_ROWS - 1) / STRIP_ROWS, sizeof(float), line_strip) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 8);
    return result;
}

/* A float's bits as an unsigned key in the floats' order (negatives flipped whole, the others'
 * sign bit set), and back. */
IMGDIFF_INLINE uint32_t order_key(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits ^ ((uint32_t)((int32_t)bits >> 31) | 0x80000000u);
}

IMGDIFF_INLINE float key_value(uint32_t key)
{
    const uint32_t bits = key ^ (((key >> 31) - 1u) | 0x80000000u);
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

#define DIGIT_BITS 11
#define DIGIT_BINS (1 << DIGIT_BITS)

/* The key of the k-th smallest of keys[0..n) (0-based), found a digit of 11 bits at a time from
 * the top: a histogram of the candidates' digit picks the digit of rank k, and the candidates
 * with that digit are kept (compacted at the front of `keys`, which this overwrites). No
 * comparisons that depend on the data, so no mispredicted branches (a quickselect of an
 * image's correlated samples spends most of its time on those). */
static uint32_t select_key(uint32_t *keys, Py_ssize_t n, Py_ssize_t k)
{
    Py_ssize_t counts[DIGIT_BINS];
    uint32_t prefix = 0;
    for (int shift = 32 - DIGIT_BITS; n > 0; shift = shift > DIGIT_BITS ? shift - DIGIT_BITS : 0) {
        memset(counts, 0, sizeof counts);
        for (Py_ssize_t i = 0; i < n; i++) {
            counts[(keys[i] >> shift) & (DIGIT_BINS - 1)]++;
        }
        uint32_t digit = 0;
        while (k >= counts[digit]) {
            k -= counts[digit++];
        }
        prefix |= digit << shift;
        Py_ssize_t kept = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            keys[kept] = keys[i];
            kept += ((keys[i] >> shift) & (DIGIT_BINS - 1)) == digit;
        }
        n = kept;
        if (shift == 0) {
            break;
        }
    }
    return prefix;
}

/* median(values): np.median of a 1-D float32 array with at least one value, as a float: the
 * middle value, or the float32 mean of the two middle ones ((a + b) / 2, as np.mean of two
 * float32 values rounds it); NaN where any value is NaN. */
PyObject *core_median(PyObject *self, PyObject *arg)
{
    array_t a = {0};
    static const elem_t F32[] = {ELEM_F32};
    if (get_array(arg, &a, "values", 1, 0, 0) < 0 || expect_type(&a, "values", F32, 1) < 0) {
        release_arrays(&a, 1);
        return NULL;
    }
    const Py_ssize_t n = a.view.shape[0];
    if (n == 0) {
        release_arrays(&a, 1);
        PyErr_SetString(PyExc_ValueError, "values: the median of no values is undefined");
        return NULL;
    }
    uint32_t *keys = malloc((size_t)n * sizeof(uint32_t));
    if (keys == NULL) {
        release_arrays(&a, 1);
        return PyErr_NoMemory();
    }
    double median;
    Py_BEGIN_ALLOW_THREADS
    const float *values = a.view.buf;
    int nan = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        keys[i] = order_key(values[i]);
        nan |= values[i] != values[i];
    }
    if (nan) {
        median = NAN;
    } else {
        const Py_ssize_t k = n / 2;
        const uint32_t upper = select_key(keys, n, k);
        if (n % 2) {
            median = key_value(upper);
        } else {
            /* the (k-1)-th: the largest value below the k-th where k of them are below it, else the k-th */
            Py_ssize_t below = 0;
            uint32_t largest_below = 0;
            for (Py_ssize_t i = 0; i < n; i++) {
                const uint32_t key = order_key(values[i]);
                const int less = key < upper;
                below += less;
                largest_below = less && key > largest_below ? key : largest_below;
            }
            const float lower = key_value(below >= k ? largest_below : upper);
            const float sum = lower + key_value(upper);
            median = sum / 2.0f;
        }
    }
    Py_END_ALLOW_THREADS
    free(keys);
    release_arrays(&a, 1);
    return PyFloat_FromDouble(median);
}

#define MOMENT_ROWS 128 /* output rows a strip of the fused moments */

typedef struct {
    const float *left, *right; /* the luma planes' rows the window reads: height x width */
    Py_ssize_t height, width, first, last; /* the output rows first .. last - 1 of them */
    const float *taps;
    int reach;
    float k;
    const float *row_factors, *column_factors; /* per output row, per column; NULL: no scale */
    float *masking, *scale;                    /* (last - first) x width */
} moments_job;

/* Row r of the four planes (x, x^2, y, y^2: reflected within the planes' rows) filtered along, into its slot of
 * each plane's ring of 2 reach + 1 filtered rows. */
static void moments_row(const moments_job *job, Py_ssize_t r, float *ring, float *padded)
{
    const Py_ssize_t width = job->width, stride = filtered_row_stride(width), slots = 2 * job->reach + 1;
    const Py_ssize_t source = reflect(r, job->height), slot = ((r % slots) + slots) % slots;
    for (int m = 0; m < 4; m++) { /* mean_x, square_x, mean_y, square_y */
        const float *plane = m < 2 ? job->left : job->right;
        pad_row(plane + source * width, width, job->reach, m % 2, padded);
        filter_row(padded, job->taps, 2 * job->reach + 1, width, ring + (m * slots + slot) * stride);
    }
}

/* A strip of the fused moments, row by row: the four planes filtered along each row once, into rings that
 * hold the 2 reach + 1 rows the filter across reads (in the second-level cache, where whole filtered planes
 * would not be), then each output row's four moments across and its masking from them. */
static void moments_strip(const void *job_, Py_ssize_t strip, void *work)
{
    const moments_job *job = job_;
    const Py_ssize_t width = job->width, stride = filtered_row_stride(width);
    const int reach = job->reach;
    const Py_ssize_t slots = 2 * reach + 1;
    const Py_ssize_t first = job->first + strip * MOMENT_ROWS;
    const Py_ssize_t end = first + MOMENT_ROWS < job->last ? first + MOMENT_ROWS : job->last;
    const float **rows = work; /* 4 x slots pointers */
    float *ring = (float *)(rows + 4 * slots);
    float *padded = ring + 4 * slots * stride, *moments = padded + width + 2 * reach;
    for (Py_ssize_t r = first - reach; r < first + reach; r++) {
        moments_row(job, r, ring, padded);
    }
    for (Py_ssize_t i = first; i < end; i++) {
        moments_row(job, i + reach, ring, padded);
        for (int m = 0; m < 4; m++) {
            for (Py_ssize_t t = 0; t < slots; t++) {
                const Py_ssize_t r = i - reach + t;
                rows[m * slots + t] = ring + (m * slots + ((r % slots) + slots) % slots) * stride;
            }
            filter_column(rows + m * slots, job->taps, reach, 0, width, moments + m * width);
        }
        const Py_ssize_t at = (i - job->first) * width;
        contrast_row(moments, moments + width, moments + 2 * width, moments + 3 * width, job->k,
                     job->scale != NULL ? job->row_factors[i - job->first] : 0.0f, job->column_factors, width,
                     job->masking + at, job->scale != NULL ? job->scale + at : NULL);
    }
}

/* contrast_moments(left, right, taps, k, first, last, row_factors, column_factors, masking, scale): contrast_scale
 * of the four local moments of the H x W float32 luma planes left and right (each plane and its squares
 * filtered with the odd symmetric float32 taps along and across, reflected at the planes' edges, as
 * filters.c computes OpenCV's sepFilter2D), for their rows first .. last - 1 only: masking (and scale, where
 * given, with row_factors for those rows) are (last - first) x W. The same values as the moments written out
 * whole and contrast_scale of those rows. */
PyObject *core_contrast_moments(PyObject *self, PyObject *args)
{
    PyObject *o[7];
    float k;
    Py_ssize_t first, last;
    if (!PyArg_ParseTuple(args, "OOOfnnOOOO", &o[0], &o[1], &o[2], &k, &first, &last, &o[3], &o[4], &o[5], &o[6])) {
        return NULL;
    }
    static const char *const names[7] = {"left", "right", "taps", "row_factors", "column_factors", "masking", "scale"};
    static const elem_t F32[] = {ELEM_F32};
    array_t a[7] = {0};
    PyObject *result = NULL;
    for (int n = 0; n < 7; n++) {
        const int ndim = n == 0 || n == 1 || n >= 5 ? 2 : 1, optional = n == 3 || n == 4 || n == 6;
        if (get_array(o[n], &a[n], names[n], ndim, n >= 5, optional) < 0 ||
            (a[n].present && expect_type(&a[n], names[n], F32, 1) < 0)) {
            goto done;
        }
    }
    const Py_ssize_t height = a[0].view.shape[0], width = a[0].view.shape[1], taps = a[2].view.shape[0];
    const float *t = a[2].view.buf;
    if (!symmetric_taps(t, taps) || first < 0 || last > height || first >= last || width < 1) {
        PyErr_SetString(PyExc_ValueError, "contrast_moments: taps odd and symmetric, 0 <= first < last <= height");
        goto done;
    }
    const Py_ssize_t out_shape[2] = {last - first, width};
    if (expect_shape(&a[1], names[1], a[0].view.shape, 2) < 0 || expect_shape(&a[5], names[5], out_shape, 2) < 0 ||
        (a[6].present && expect_shape(&a[6], names[6], out_shape, 2) < 0)) {
        goto done;
    }
    if (a[6].present && (!a[3].present || !a[4].present || expect_shape(&a[3], names[3], out_shape, 1) < 0 ||
                         expect_shape(&a[4], names[4], out_shape + 1, 1) < 0)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "contrast_moments: a scale needs the row and column factors");
        }
        goto done;
    }
    const int reach = (int)(taps / 2);
    moments_job job = {a[0].view.buf, a[1].view.buf, height, width, first, last, t, reach, k,
                       a[6].present ? a[3].view.buf : NULL, a[6].present ? a[4].view.buf : NULL,
                       a[5].view.buf, a[6].present ? a[6].view.buf : NULL};
    const size_t lines = 4 * (size_t)(2 * reach + 1);
    const size_t work = lines * sizeof(float *) +
                        (lines * (size_t)filtered_row_stride(width) + (size_t)width + 2 * (size_t)reach + 4 * (size_t)width) *
                            sizeof(float);
    if (run_strips(&job, (last - first + MOMENT_ROWS - 1) / MOMENT_ROWS, work, moments_strip) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 7);
    return result;
}

/* abs_peaks_of with each |value| over the divisor's value at its pixel (float32 division): the rows and
 * columns where a term |plane| / divisor (the luma shift over its masked threshold scale) is largest. */
IMGDIFF_CLONES static void abs_ratio_peaks_of(const float *restrict plane, const float *restrict divisor, Py_ssize_t height,
                                              Py_ssize_t width, float *restrict rows, float *restrict columns)
{
    for (Py_ssize_t j = 0; j < width; j++) {
        columns[j] = 0.0f;
    }
    for (Py_ssize_t i = 0; i < height; i++) {
        const float *row = plane + i * width, *under = divisor + i * width;
        float lanes[16] = {0.0f};
        Py_ssize_t j = 0;
        for (; j + 16 <= width; j += 16) {
            for (int l = 0; l < 16; l++) {
                const float ratio = fabsf(row[j + l]) / under[j + l];
                lanes[l] = ratio > lanes[l] ? ratio : lanes[l];
                columns[j + l] = ratio > columns[j + l] ? ratio : columns[j + l];
            }
        }
        for (; j < width; j++) {
            const float ratio = fabsf(row[j]) / under[j];
            lanes[0] = ratio > lanes[0] ? ratio : lanes[0];
            columns[j] = ratio > columns[j] ? ratio : columns[j];
        }
        float peak = 0.0f;
        for (int l = 0; l < 16; l++) {
            peak = lanes[l] > peak ? lanes[l] : peak;
        }
        rows[i] = peak;
    }
}

IMGDIFF_CLONES static void abs_peaks_of(const float *restrict plane, Py_ssize_t height, Py_ssize_t width, float *restrict rows,
                                        float *restrict columns)
{
    for (Py_ssize_t j = 0; j < width; j++) {
        columns[j] = 0.0f;
    }
    for (Py_ssize_t i = 0; i < height; i++) {
        const float *row = plane + i * width;
        /* the row's peak in 16 lanes, so the loop vectorizes (a largest value is the same in any order) */
        float lanes[16] = {0.0f};
        Py_ssize_t j = 0;
        for (; j + 16 <= width; j += 16) {
            for (int l = 0; l < 16; l++) {
                const float magnitude = fabsf(row[j + l]);
                lanes[l] = magnitude > lanes[l] ? magnitude : lanes[l];
                columns[j + l] = magnitude > columns[j + l] ? magnitude : columns[j + l];
            }
        }
        for (; j < width; j++) {
            const float magnitude = fabsf(row[j]);
            lanes[0] = magnitude > lanes[0] ? magnitude : lanes[0];
            columns[j] = magnitude > columns[j] ? magnitude : columns[j];
        }
        float peak = 0.0f;
        for (int l = 0; l < 16; l++) {
            peak = lanes[l] > peak ? lanes[l] : peak;
        }
        rows[i] = peak;
    }
}

/* abs_peaks(plane, row_peaks, column_peaks[, divisor]): the largest |value| of each row of a float32 plane
 * into row_peaks, of each column into column_peaks (np.abs(plane).max(axis=1) and .max(axis=0), exactly:
 * a largest value is one of the values, whatever the order; no NaN expected, none propagated); with a
 * float32 divisor of the plane's shape, of |value| / divisor (np.abs(plane) / divisor, likewise). */
PyObject *core_abs_peaks(PyObject *self, PyObject *args)
{
    PyObject *o[4] = {NULL, NULL, NULL, Py_None};
    if (!PyArg_ParseTuple(args, "OOO|O", &o[0], &o[1], &o[2], &o[3])) {
        return NULL;
    }
    static const char *const names[4] = {"plane", "row_peaks", "column_peaks", "divisor"};
    static const elem_t F32[] = {ELEM_F32};
    array_t a[4] = {0};
    PyObject *result = NULL;
    for (int n = 0; n < 4; n++) {
        if (get_array(o[n], &a[n], names[n], n == 0 || n == 3 ? 2 : 1, n == 1 || n == 2, n == 3) < 0 ||
            (a[n].present && expect_type(&a[n], names[n], F32, 1) < 0)) {
            goto done;
        }
    }
    const Py_ssize_t *shape = a[0].view.shape;
    if (expect_shape(&a[1], names[1], shape, 1) < 0 || expect_shape(&a[2], names[2], shape + 1, 1) < 0 ||
        (a[3].present && expect_shape(&a[3], names[3], shape, 2) < 0)) {
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    if (a[3].present) {
        abs_ratio_peaks_of(a[0].view.buf, a[3].view.buf, shape[0], shape[1], a[1].view.buf, a[2].view.buf);
    } else {
        abs_peaks_of(a[0].view.buf, shape[0], shape[1], a[1].view.buf, a[2].view.buf);
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 4);
    return result;
}
