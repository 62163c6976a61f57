/* Separable float32 filters with reflected borders: OpenCV's sepFilter2D, to the rounding, faster.
 *
 * C twin of the OpenCV calls of imgdiff_gpu/detection.py's low rules (wrapper
 * imgdiff_gpu/cpu/filters.py): the local moments of the contrast masking and the line
 * evidence's two 49-tap averages. Each value is computed in the order of OpenCV's vector
 * path for float32 (AVX2 with FMA, the path it takes on such a CPU):
 *
 *  1. along the row, from the row reflected at its ends (BORDER_REFLECT: d c b a | a b c d | d c b a),
 *     acc = fma(x[0], k[0], +0), then acc = fma(x[t], k[t], acc) for every tap t in order; no row
 *     kernel (a 1-tap kernel of 1 in OpenCV) takes the row as it is;
 *  2. across the rows (kernel odd and symmetric), from the rows of step 1 reflected at the top and
 *     bottom: acc = fma(x[0], k[0], +0) at the centre, then acc = fma(x[t] + x[-t], k[t], acc) for
 *     t = 1 .. reach.
 *
 * That is OpenCV's sepFilter2D bit for bit wherever its vector path computes every value: rows of a
 * multiple of 16 values (its scalar tails, unfused, differ by an ulp; the wrapper leaves other
 * widths to OpenCV). OpenCV keeps one accumulator a vector along a row, so each output waits on its
 * chain of taps; here 64 outputs run side by side. Each value is its own function of the source, so
 * strips of rows on any number of threads give the same plane, on any CPU (the baseline clone with
 * libm's fma()): on a CPU where OpenCV takes another path (no AVX2), these values are the ones it
 * gives with AVX2, not its own there, as chroma.c fixes its steps' rounding.
 *
 * rules.c builds its fused passes from these steps (pad_row, filter_row, filter_column: the moments
 * of the masking and the line evidence a row at a time, with no filtered plane written out). The GPU
 * twins are CuPy's own filters, cupyx.scipy.ndimage.correlate1d rows first, in imgdiff_gpu/gpu/noise_rules.py.
 */
#include "core.h"

#define STRIP_ROWS 64
#define LANES 64   /* outputs computed side by side: 8 vectors of AVX2, each a chain of its own */

typedef struct {
    const float *source;
    float *out;
    Py_ssize_t height, width;
    const float *row_taps, *column_taps;
    int row_count, column_count; /* row_count 0: the rows as they are */
    int square;                  /* filter the source's squares (each x * x rounded) */
} filter_job;

/* Step 1 on one reflected row `padded` (width + row_count - 1 values) into `out`. */
IMGDIFF_CLONES void filter_row(const float *restrict padded, const float *restrict taps, int count,
                                      Py_ssize_t width, float *restrict out)
{
    Py_ssize_t x = 0;
    for (; x + LANES <= width; x += LANES) {
        float acc[LANES];
        for (int l = 0; l < LANES; l++) {
            acc[l] = fmaf(padded[x + l], taps[0], 0.0f);
        }
        for (int t = 1; t < count; t++) {
            const float k = taps[t];
            const float *from = padded + x + t;
            for (int l = 0; l < LANES; l++) {
                acc[l] = fmaf(from[l], k, acc[l]);
            }
        }
        memcpy(out + x, acc, sizeof(acc));
    }
    for (; x < width; x++) {
        float acc = fmaf(padded[x], taps[0], 0.0f);
        for (int t = 1; t < count; t++) {
            acc = fmaf(padded[x + t], taps[t], acc);
        }
        out[x] = acc;
    }
}

/* Step 2 at columns begin .. end - 1: out = the symmetric column filter of the rows `rows[0 .. 2 * reach]`
 * (centre rows[reach]). */
IMGDIFF_CLONES void filter_column(const float *const *rows, const float *restrict taps, int reach,
                                         Py_ssize_t begin, Py_ssize_t end, float *restrict out)
{
    const float *centre = rows[reach];
    const float *k = taps + reach;
    Py_ssize_t x = begin;
    for (; x + LANES <= end; x += LANES) {
        float acc[LANES];
        for (int l = 0; l < LANES; l++) {
            acc[l] = fmaf(centre[x + l], k[0], 0.0f);
        }
        for (int t = 1; t <= reach; t++) {
            const float *below = rows[reach + t] + x, *above = rows[reach - t] + x;
            const float f = k[t];
            for (int l = 0; l < LANES; l++) {
                acc[l] = fmaf(below[l] + above[l], f, acc[l]);
            }
        }
        memcpy(out + x, acc, sizeof(acc));
    }
    for (; x < end; x++) {
        float acc = fmaf(centre[x], k[0], 0.0f);
        for (int t = 1; t <= reach; t++) {
            acc = fmaf(rows[reach + t][x] + rows[reach - t][x], k[t], acc);
        }
        out[x] = acc;
    }
}

/* `row` (width values) reflected into `padded` (its squares where asked), `reach` values each side. */
void pad_row(const float *restrict row, Py_ssize_t width, int reach, int square, float *restrict padded)
{
    if (square) {
        for (Py_ssize_t j = 0; j < width; j++) {
            padded[j + reach] = row[j] * row[j];
        }
    } else {
        memcpy(padded + reach, row, (size_t)width * sizeof(float));
    }
    for (Py_ssize_t j = 1; j <= reach; j++) { /* the ends, from the row as padded */
        padded[reach - j] = padded[reach + reflect(-j, width)];
        padded[reach + width - 1 + j] = padded[reach + reflect(width - 1 + j, width)];
    }
}

/* The floats from one filtered row to the next in a strip's work: an odd number of cache lines, so that
 * the rows a column reads fall in different sets of the first-level cache (a 720p row is 80 lines: 49 of
 * them, a line each, would share 4 sets). */
Py_ssize_t filtered_row_stride(Py_ssize_t width) { return (width + 15) / 16 * 16 + (((width + 15) / 16) % 2 == 0) * 16; }

/* Work a strip: the pointers to the rows its column filter reads (STRIP_ROWS + 2 * column reach), those rows
 * filtered along (where the rows are filtered or squared) and a padded row. */
static size_t work_bytes(const filter_job *job)
{
    const int reach = job->column_count / 2, row_reach = job->row_count / 2;
    const size_t rows = STRIP_ROWS + 2 * (size_t)reach;
    return (rows * (size_t)filtered_row_stride(job->width) + (size_t)job->width + 2 * (size_t)row_reach) * sizeof(float) +
           rows * sizeof(float *);
}

static void filter_strip(const void *job_, Py_ssize_t strip, void *work)
{
    const filter_job *job = job_;
    const Py_ssize_t width = job->width, height = job->height;
    const Py_ssize_t first = strip * STRIP_ROWS, end = strip_end(strip, STRIP_ROWS, height);
    const int reach = job->column_count / 2, row_reach = job->row_count / 2;
    const Py_ssize_t stride = filtered_row_stride(width);
    const Py_ssize_t count = end - first + 2 * reach; /* the rows first - reach .. end + reach - 1 */
    const float **rows = work;
    float *filtered_rows = (float *)(rows + STRIP_ROWS + 2 * reach);
    float *padded = filtered_rows + count * stride;
    for (Py_ssize_t r = 0; r < count; r++) {
        const Py_ssize_t source = reflect(first - reach + r, height);
        float *target = filtered_rows + r * stride;
        pad_row(job->source + source * width, width, row_reach, job->square, padded);
        if (job->row_count > 0) {
            filter_row(padded, job->row_taps, job->row_count, width, target);
        } else {
            memcpy(target, padded, (size_t)width * sizeof(float));
        }
        rows[r] = target;
    }
    /* a block of columns down the whole strip, then the next: the 2 * reach + 1 rows' slices a value reads
     * stay in the first-level cache from one row to the next */
    for (Py_ssize_t x = 0; x < width; x += LANES) {
        const Py_ssize_t stop = x + 2 * LANES <= width ? x + LANES : width;
        for (Py_ssize_t i = first; i < end; i++) {
            filter_column(rows + (i - first), job->column_taps, reach, x, stop, job->out + i * width);
        }
        if (stop == width) {
            break;
        }
    }
}

/* separable_filter(source, row_taps, column_taps, out, square): out = OpenCV's sepFilter2D(source, CV_32F,
 * row_taps, column_taps, borderType=BORDER_REFLECT) of a float32 H x W plane (of its squares with
 * square), as the file's comment says. row_taps None: the rows as they are (a 1-tap kernel of 1);
 * column_taps odd and symmetric (checked). */
PyObject *core_separable_filter(PyObject *self, PyObject *args)
{
    PyObject *o[4];
    int square;
    if (!PyArg_ParseTuple(args, "OOOOp", &o[0], &o[1], &o[2], &o[3], &square)) {
        return NULL;
    }
    static const char *const names[4] = {"source", "row_taps", "column_taps", "out"};
    static const elem_t F32[] = {ELEM_F32};
    array_t a[4] = {0};
    PyObject *result = NULL;
    for (int n = 0; n < 4; n++) {
        if (get_array(o[n], &a[n], names[n], n == 0 || n == 3 ? 2 : 1, n == 3, n == 1) < 0 ||
            (a[n].present && expect_type(&a[n], names[n], F32, 1) < 0)) {
            goto done;
        }
    }
    const Py_ssize_t *shape = a[0].view.shape;
    if (expect_shape(&a[3], names[3], shape, 2) < 0) {
        goto done;
    }
    const Py_ssize_t row_count = a[1].present ? a[1].view.shape[0] : 0;
    const Py_ssize_t column_count = a[2].view.shape[0];
    const float *column_taps = a[2].view.buf;
    if (!symmetric_taps(column_taps, column_count) || (a[1].present && row_count == 0) || row_count > INT32_MAX ||
        shape[0] < 1 || shape[1] < 1) {
        PyErr_SetString(PyExc_ValueError, "column_taps must be odd and symmetric, row_taps not empty, the plane not empty");
        goto done;
    }
    filter_job job = {a[0].view.buf, a[3].view.buf, shape[0], shape[1], a[1].present ? a[1].view.buf : NULL,
                      column_taps, (int)row_count, (int)column_count, square};
    if (run_strips(&job, (shape[0] + STRIP_ROWS - 1) / STRIP_ROWS, work_bytes(&job), filter_strip) < 0) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release_arrays(a, 4);
    return result;
}
