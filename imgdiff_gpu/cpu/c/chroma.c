/* The coarse chroma term of 'low': |(w * dCr, w * dCb)| averaged at the coarse scale, at full size.
 *
 * C twin of imgdiff_gpu/detection.py's coarse_chroma_shift (wrapper imgdiff_gpu/cpu/chroma.py),
 * mirrored by imgdiff_gpu/gpu/chroma.py's coarse_chroma_shift_gpu. Every step is defined
 * here to the rounding, the same whatever the CPU, the threads or the buffers' addresses:
 *
 *  1. Block means of d = left - right, planes 1 and 2: blocks of 4 x 4 pixels from the top left,
 *     h = max(H / 4, 1) rows and w = max(W / 4, 1) columns of them, the last row (column) of
 *     blocks also taking the 1 to 3 rows (columns) left over. Each pixel row of a block is summed
 *     left to right and multiplied by float32(1 / its columns); those are summed top to bottom
 *     and multiplied by float32(1 / its rows). For 4 x 4 blocks that is OpenCV's INTER_AREA.
 *  2. The Gaussian of sigma 1.5 on that grid, 13 float32 taps k, reflected at the edges (OpenCV's
 *     BORDER_REFLECT): along a row acc = x[-6] * k[0], then acc = fma(x[t - 6], k[t], acc); across
 *     the rows acc = x[0] * k[6], then acc = fma(x[t] + x[-t], k[6 + t], acc). That is OpenCV's
 *     vector path of sepFilter2D for float32 (its scalar tail, unfused, differs by an ulp).
 *  3. sqrt(fma(cr, cr, cb * cb)), as cv2.magnitude without IPP.
 *  4. Bilinear back to H x W with half-pixel centres at exactly 4 pixels a block: pixel y reads
 *     blocks s = floor((y + 0.5) / 4 - 0.5) and s + 1 with weight f = {0.625, 0.875, 0.125, 0.375}
 *     for y % 4 = 0..3 on the second; s < 0 gives s = 0, f = 0, and s >= h - 1 gives s = h - 1,
 *     f = 0. Along the rows first, then across; each value fma(f, b - a, a). For a size that is
 *     a multiple of 4 that is OpenCV's INTER_LINEAR (through IPP), bit for bit.
 *
 * So a pixel's value reads the block rows within 7 of its own (1 of the interpolation, 6 of the
 * Gaussian), and those read only their own pixel rows: a band of rows starting on a multiple of
 * 4, with a halo of 8 block rows each side, computes its kept rows as the whole image does.
 */
#include "core.h"

#define COARSE 4 /* detection.COARSE_FACTOR */
#define TAPS 13
#define REACH 6

static const float FRACTION[COARSE] = {0.625f, 0.875f, 0.125f, 0.375f};

/* The first block (row or column) full-size position p reads, before clamping. */
IMGDIFF_INLINE Py_ssize_t first_block(Py_ssize_t p) { return (p + 2) / COARSE - 1; }

typedef struct {
    const float *left, *right;
    Py_ssize_t height, width, planes, small_height, small_width;
    const float *taps;
    float *means, *along, *magnitude, *wide, *out;
    Py_ssize_t *first_column;
    float *column_fraction;
} job_t;

/* d = left - right of plane 1 + c at pixel x of a row (P planes a pixel). */
#define DELTA(x, c) (left[(x) * planes + 1 + (c)] - right[(x) * planes + 1 + (c)])

/* Step 1 for block row i: means[i, :, 0..1]. */
IMGDIFF_CLONES static void block_means_row(const job_t *job, Py_ssize_t i)
{
    const Py_ssize_t w = job->small_width, planes = job->planes, width = job->width;
    const Py_ssize_t first = i * COARSE, last = i == job->small_height - 1 ? job->height : first + COARSE;
    const Py_ssize_t last_start = (w - 1) * COARSE; /* the last block takes the columns left over */
    const float inv_last = (float)(1.0 / (double)(width - last_start));
    float *means = job->means + i * w * 2;
    for (Py_ssize_t y = first; y < last; y++) {
        const float *left = job->left + y * width * planes, *right = job->right + y * width * planes;
        const int add = y != first;
        for (Py_ssize_t j = 0; j < w - 1; j++) {
            const Py_ssize_t x = j * COARSE;
            for (int c = 0; c < 2; c++) {
                const float mean = (((DELTA(x, c) + DELTA(x + 1, c)) + DELTA(x + 2, c)) + DELTA(x + 3, c)) * 0.25f;
                means[j * 2 + c] = add ? means[j * 2 + c] + mean : mean;
            }
        }
        for (int c = 0; c < 2; c++) {
            float sum = DELTA(last_start, c);
            for (Py_ssize_t x = last_start + 1; x < width; x++) {
                sum += DELTA(x, c);
            }
            const float mean = sum * inv_last;
            means[(w - 1) * 2 + c] = add ? means[(w - 1) * 2 + c] + mean : mean;
        }
    }
    const float inv_rows = (float)(1.0 / (double)(last - first));
    for (Py_ssize_t j = 0; j < 2 * w; j++) {
        means[j] *= inv_rows;
    }
}

/* Step 2 along block row i: along[i] from means[i]. The two planes interleave, so value k = 2 j + c
 * of a row reads k - 12, k - 10, ..., k + 12: away from the ends, one contiguous loop over k. */
IMGDIFF_CLONES static void blur_along_row(const job_t *job, Py_ssize_t i)
{
    const Py_ssize_t w = job->small_width;
    const float *k = job->taps, *means = job->means + i * w * 2;
    float *along = job->along + i * w * 2;
    const Py_ssize_t inner_first = w > 2 * REACH ? REACH : w, inner_last = w > 2 * REACH ? w - REACH : w;
    for (Py_ssize_t q = 2 * inner_first; q < 2 * inner_last; q++) {
        const float *source = means + q - 2 * REACH;
        float acc = source[0] * k[0];
        for (int t = 1; t < TAPS; t++) {
            acc = fmaf(source[2 * t], k[t], acc);
        }
        along[q] = acc;
    }
    for (Py_ssize_t j = 0; j < w; j++) {
        if (j == inner_first) {
            j = inner_last;
            if (j >= w) {
                break;
            }
        }
        for (int c = 0; c < 2; c++) {
            float acc = means[reflect(j - REACH, w) * 2 + c] * k[0];
            for (int t = 1; t < TAPS; t++) {
                acc = fmaf(means[reflect(j - REACH + t, w) * 2 + c], k[t], acc);
            }
            along[j * 2 + c] = acc;
        }
    }
}

/* Steps 2 (across) and 3 for block row i: magnitude[i] from along (means[i] holds the blurred pair). */
IMGDIFF_CLONES static void blur_across_row(const job_t *job, Py_ssize_t i)
{
    const Py_ssize_t w = job->small_width, h = job->small_height;
    const float *k = job->taps, *centre = job->along + i * w * 2;
    const float *below[REACH + 1], *above[REACH + 1];
    for (int t = 1; t <= REACH; t++) {
        below[t] = job->along + reflect(i + t, h) * w * 2;
        above[t] = job->along + reflect(i - t, h) * w * 2;
    }
    float *value = job->means + i * w * 2; /* step 1's row: only step 2 along read it, and it is done */
    for (Py_ssize_t q = 0; q < 2 * w; q++) {
        float acc = centre[q] * k[REACH];
        for (int t = 1; t <= REACH; t++) {
            acc = fmaf(below[t][q] + above[t][q], k[REACH + t], acc);
        }
        value[q] = acc;
    }
    float *magnitude = job->magnitude + i * w;
    for (Py_ssize_t j = 0; j < w; j++) {
        magnitude[j] = sqrtf(fmaf(value[2 * j], value[2 * j], value[2 * j + 1] * value[2 * j + 1]));
    }
}

/* Step 4's table along a row: the first block each pixel reads, and the weight of the next. */
static void widen_table(Py_ssize_t blocks, Py_ssize_t width, Py_ssize_t *first, float *fraction)
{
    for (Py_ssize_t x = 0; x < width; x++) {
        Py_ssize_t s = first_block(x);
        float f = FRACTION[x % COARSE];
        if (s < 0) {
            s = 0, f = 0.0f;
        }
        if (s >= blocks - 1) {
            s = blocks - 1, f = 0.0f;
        }
        first[x] = s, fraction[x] = f;
    }
}

/* Step 4 along block row i: wide[i] (W values) from magnitude[i]. */
IMGDIFF_CLONES static void widen_row(const job_t *job, Py_ssize_t i)
{
    const Py_ssize_t w = job->small_width, width = job->width;
    const float *magnitude = job->magnitude + i * w;
    float *wide = job->wide + i * width;
    for (Py_ssize_t x = 0; x < width; x++) {
        const Py_ssize_t s = job->first_column[x];
        const float a = magnitude[s], b = magnitude[s + 1 < w ? s + 1 : s];
        wide[x] = fmaf(job->column_fraction[x], b - a, a);
    }
}

/* Step 4 across, for pixel row y: out[y] from wide. */
IMGDIFF_CLONES static void heighten_row(const job_t *job, Py_ssize_t y)
{
    const Py_ssize_t width = job->width;
    Py_ssize_t s = first_block(y);
    float f = FRACTION[y % COARSE];
    if (s < 0) {
        s = 0, f = 0.0f;
    }
    if (s >= job->small_height - 1) {
        s = job->small_height - 1, f = 0.0f;
    }
    const float *a = job->wide + s * width, *b = job->wide + (s + (f != 0.0f)) * width;
    float *out = job->out + y * width;
    for (Py_ssize_t x = 0; x < width; x++) {
        out[x] = fmaf(f, b[x] - a[x], a[x]);
    }
}

PyObject *core_coarse_chroma(PyObject *self, PyObject *args)
{
    PyObject *oleft, *oright, *otaps, *oout, *owork = Py_None;
    if (!PyArg_ParseTuple(args, "OOOO|O", &oleft, &oright, &otaps, &oout, &owork)) {
        return NULL;
    }
    array_t a[5] = {0};
    PyObject *result = NULL;
    float *scratch = NULL;
    Py_ssize_t *first_column = NULL;
    static const elem_t F32[] = {ELEM_F32};
    if (get_array(oleft, &a[0], "left", 3, 0, 0) < 0 || get_array(oright, &a[1], "right", 3, 0, 0) < 0 ||
        get_array(otaps, &a[2], "taps", 1, 0, 0) < 0 || get_array(oout, &a[3], "out", 2, 1, 0) < 0 ||
        expect_type(&a[0], "left", F32, 1) < 0 || expect_type(&a[1], "right", F32, 1) < 0 ||
        expect_type(&a[2], "taps", F32, 1) < 0 || expect_type(&a[3], "out", F32, 1) < 0 ||
        expect_shape(&a[1], "right", a[0].view.shape, 3) < 0 || expect_shape(&a[3], "out", a[0].view.shape, 2) < 0) {
        goto done;
    }
    const Py_ssize_t taps_shape[1] = {TAPS};
    if (expect_shape(&a[2], "taps", taps_shape, 1) < 0) {
        goto done;
    }
    job_t job = {
        .left = a[0].view.buf,
        .right = a[1].view.buf,
        .height = a[0].view.shape[0],
        .width = a[0].view.shape[1],
        .planes = a[0].view.shape[2],
        .taps = a[2].view.buf,
        .out = a[3].view.buf,
    };
    if (job.planes < 3 || job.height < 1 || job.width < 1) {
        PyErr_Format(PyExc_ValueError, "coarse_chroma: needs H x W x P planes with H, W >= 1 and P >= 3, got %zd x %zd x %zd",
                     job.height, job.width, job.planes);
        goto done;
    }
    const Py_ssize_t h = job.height / COARSE > 1 ? job.height / COARSE : 1;
    const Py_ssize_t w = job.width / COARSE > 1 ? job.width / COARSE : 1;
    job.small_height = h, job.small_width = w;
    const Py_ssize_t work_floats = h * w * 5 + (h + 1) * job.width;
    float *work = NULL;
    if (get_array(owork, &a[4], "work", 1, 1, 1) < 0 || (a[4].present && expect_type(&a[4], "work", F32, 1) < 0)) {
        goto done;
    }
    if (a[4].present) { /* the caller's (a thread's kept scratch: no fresh pages to fault in each call) */
        if (a[4].view.shape[0] < work_floats) {
            PyErr_Format(PyExc_ValueError, "coarse_chroma: work needs %zd floats, got %zd", work_floats,
                         a[4].view.shape[0]);
            goto done;
        }
        work = a[4].view.buf;
    } else {
        work = scratch = malloc(sizeof(float) * (size_t)work_floats);
    }
    first_column = malloc(sizeof(Py_ssize_t) * (size_t)job.width);
    if (work == NULL || first_column == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    job.means = work;
    job.along = work + h * w * 2, job.magnitude = work + h * w * 4;
    job.wide = work + h * w * 5, job.column_fraction = work + h * w * 5 + h * job.width;
    job.first_column = first_column;
    widen_table(w, job.width, job.first_column, job.column_fraction);
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (Py_ssize_t i = 0; i < h; i++) {
            block_means_row(&job, i);
        }
#pragma omp for schedule(static)
        for (Py_ssize_t i = 0; i < h; i++) {
            blur_along_row(&job, i);
        }
#pragma omp for schedule(static)
        for (Py_ssize_t i = 0; i < h; i++) {
            blur_across_row(&job, i);
        }
#pragma omp for schedule(static)
        for (Py_ssize_t i = 0; i < h; i++) {
            widen_row(&job, i);
        }
#pragma omp for schedule(static)
        for (Py_ssize_t y = 0; y < job.height; y++) {
            heighten_row(&job, y);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(scratch);
    free(first_column);
    release_arrays(a, 5);
    return result;
}
